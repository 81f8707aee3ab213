//! Policy (pure): what a well-formed Queue may still not ask for on a cluster that several
//! teams share: an image from outside the allowed registries (a Queue could otherwise run any
//! image with every credential the platform hands workers), and a data topic that is one of the
//! platform's own. The install's ValidatingAdmissionPolicy refuses the same at `kubectl apply`
//! (`charts/streamforge/templates/queue-policy.yaml`); this check holds where it is not installed.

use streamforge_api::Queue;

use super::validate::Identity;
use crate::config::WorkerDefaults;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("image {image:?} is not allowed here: an image must start with {allowed}")]
    Image { image: String, allowed: String },
    #[error("kafkaTopic {0:?} is the platform's own topic; a Queue's data topic must be another")]
    ReservedTopic(String),
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
}
