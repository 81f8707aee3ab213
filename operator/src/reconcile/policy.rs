//! Policy (pure): what a well-formed Queue may still not ask for on a cluster that several
//! teams share: an image from outside the allowed registries (a Queue could otherwise run any
//! image with every credential the platform hands workers), and a data topic that is one of the
//! platform's own. The install's ValidatingAdmissionPolicy refuses the same at `kubectl apply`
//! (`charts/streamforge/templates/queue-policy.yaml`); this check holds where it is not installed.
//! And, before a loader's first run, a data topic another loader is writing: two writers would
//! mix their records in one topic (a sink Queue reading another's topic is the point, and
//! passes).

use kube::ResourceExt;
use streamforge_api::{Phase, Queue};

use super::validate::Identity;
use crate::config::WorkerDefaults;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("image {image:?} is not allowed here: an image must start with {allowed}")]
    Image { image: String, allowed: String },
    #[error("kafkaTopic {0:?} is the platform's own topic; a Queue's data topic must be another")]
    ReservedTopic(String),
    #[error(
        "kafkaTopic {topic:?} is written by Queue {owner}, which is still running; two loaders would mix their records (use another topic, or wait until it ends)"
    )]
    TopicInUse { topic: String, owner: String },
}

/// The older loader Queue (`namespace/name`) still writing `id`'s data topic, among `others`,
/// if `queue` is a loader. Older: created earlier, then by namespace and name. A Queue that
/// Succeeded or Failed, or is being deleted, writes nothing any more.
pub fn topic_writer<'a>(
    queue: &Queue,
    id: &Identity,
    others: impl IntoIterator<Item = &'a Queue>,
) -> Option<String> {
    if !queue.spec.target.is_loader() {
        return None;
    }
    let age = |q: &Queue| {
        (
            q.creation_timestamp().map(|t| crate::time::to_chrono(&t)),
            q.namespace().unwrap_or_default(),
            q.name_any(),
        )
    };
    let mine = age(queue);
    others
        .into_iter()
        .filter(|o| o.uid() != queue.uid() && o.spec.target.is_loader())
        .filter(|o| o.metadata.deletion_timestamp.is_none())
        .filter(|o| {
            !matches!(
                o.status.as_ref().and_then(|s| s.phase),
                Some(Phase::Succeeded | Phase::Failed)
            )
        })
        .filter(|o| age(o) < mine)
        .filter(|o| {
            super::validate::validate(o).is_ok_and(|other| other.kafka_topic == id.kafka_topic)
        })
        .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
        .min()
}

/// The image prefixes Queues may use: the configured ones, or the operator's own registry.
pub fn allowed_images(cfg: &WorkerDefaults) -> Vec<String> {
    let configured: Vec<String> = cfg
        .allowed_images
        .iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if !configured.is_empty() {
        return configured;
    }
    let registry = cfg.image_registry.trim_end_matches('/');
    if registry.is_empty() {
        // Images named without a registry resolve on Docker Hub; the table's own names only.
        return Vec::new();
    }
    vec![format!("{registry}/")]
}

pub fn check(queue: &Queue, id: &Identity, cfg: &WorkerDefaults) -> Result<(), PolicyViolation> {
    if let Some(image) = &queue.spec.image {
        let allowed = allowed_images(cfg);
        if !allowed.iter().any(|p| image.starts_with(p.as_str())) {
            return Err(PolicyViolation::Image {
                image: image.clone(),
                allowed: if allowed.is_empty() {
                    "nothing (no ALLOWED_IMAGES and no IMAGE_REGISTRY are set)".into()
                } else {
                    allowed
                        .iter()
                        .map(|p| format!("{p:?}"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                },
            });
        }
    }
    let topic = id.kafka_topic.as_str();
    if topic == cfg.control_topic || topic == cfg.events_topic || topic.starts_with("__") {
        return Err(PolicyViolation::ReservedTopic(topic.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::QueueExt;
    use crate::reconcile::validate::validate;

    fn checked(
        image: Option<&str>,
        topic: Option<&str>,
        cfg: &WorkerDefaults,
    ) -> Result<(), PolicyViolation> {
        let mut q = Queue::test();
        q.spec.image = image.map(str::to_owned);
        q.spec.kafka_topic = topic.map(str::to_owned);
        let id = validate(&q).unwrap();
        check(&q, &id, cfg)
    }

    #[test]
    fn images_from_the_operators_registry_pass_and_others_are_refused() {
        let cfg = WorkerDefaults::for_tests();
        assert_eq!(checked(None, None, &cfg), Ok(()));
        assert_eq!(
            checked(Some("streamforge/loader-api-candles:dev"), None, &cfg),
            Ok(())
        );
        let err = checked(Some("docker.io/evil/miner:1"), None, &cfg).unwrap_err();
        assert_eq!(
            err.to_string(),
            "image \"docker.io/evil/miner:1\" is not allowed here: an image must start with \"streamforge/\""
        );
        // A look-alike registry name is not a prefix match of the path.
        assert!(checked(Some("streamforge-evil/x:1"), None, &cfg).is_err());
    }

    #[test]
    fn configured_prefixes_replace_the_default() {
        let mut cfg = WorkerDefaults::for_tests();
        cfg.allowed_images = vec![
            "registry.example.com/sf/".into(),
            " registry.example.com/team-a/ ".into(),
        ];
        assert_eq!(
            checked(Some("registry.example.com/team-a/trainer:2"), None, &cfg),
            Ok(())
        );
        let err = checked(Some("streamforge/loader:1"), None, &cfg).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"registry.example.com/sf/\" or \"registry.example.com/team-a/\""),
            "{err}"
        );
        cfg.allowed_images = vec![];
        cfg.image_registry = String::new();
        let err = checked(Some("anything:1"), None, &cfg).unwrap_err();
        assert!(err.to_string().contains("nothing"), "{err}");
    }

    #[test]
    fn the_platforms_own_topics_are_not_a_data_topic() {
        let cfg = WorkerDefaults::for_tests();
        for topic in ["queue-control", "queue-events", "__consumer_offsets"] {
            assert_eq!(
                checked(None, Some(topic), &cfg),
                Err(PolicyViolation::ReservedTopic(topic.into()))
            );
        }
        assert_eq!(checked(None, Some("btc-candles"), &cfg), Ok(()));
    }

    fn loader(name: &str, uid: &str, created_secs: i64, topic: &str) -> Queue {
        let mut q = Queue::test();
        q.metadata.name = Some(name.into());
        q.metadata.uid = Some(uid.into());
        q.metadata.creation_timestamp = Some(crate::time::from_chrono(
            chrono::DateTime::from_timestamp(1_722_470_400 + created_secs, 0).unwrap(),
        ));
        q.spec.kafka_topic = Some(topic.into());
        q
    }

    #[test]
    fn a_second_loader_may_not_write_a_topic_a_running_one_writes() {
        let first = loader("first", "u1", 0, "btc-candles");
        let second = loader("second", "u2", 10, "btc-candles");
        let other_topic = loader("third", "u3", 5, "eth-candles");
        let all = [first.clone(), second.clone(), other_topic.clone()];
        let id = |q: &Queue| validate(q).unwrap();
        assert_eq!(
            topic_writer(&second, &id(&second), &all).as_deref(),
            Some("default/first")
        );
        // The older one keeps its topic; another topic is free.
        assert_eq!(topic_writer(&first, &id(&first), &all), None);
        assert_eq!(topic_writer(&other_topic, &id(&other_topic), &all), None);
        let err = PolicyViolation::TopicInUse {
            topic: "btc-candles".into(),
            owner: "default/first".into(),
        };
        assert!(
            err.to_string().contains("written by Queue default/first"),
            "{err}"
        );

        // A finished writer, or a sink reading the topic, leaves it free.
        let mut done = first.clone();
        done.status = Some(streamforge_api::QueueStatus {
            phase: Some(Phase::Succeeded),
            ..Default::default()
        });
        assert_eq!(topic_writer(&second, &id(&second), [&done]), None);
        let mut sink = second.clone();
        sink.spec.target = streamforge_api::Target::ArangoConnector;
        assert_eq!(topic_writer(&sink, &id(&sink), &all), None);
    }
}
