//! Validate (pure): checks the API server cannot make, and the identity every later step uses.
//!
//! The CRD schema refuses most bad input at `kubectl apply`; this step repeats the checks that
//! matter (a CRD installed without its rules must not crash anything) and adds the cross-field
//! rules: a target runs only the types it serves, a historical type needs a range, a trainer
//! and a graph type need a graph, a generic loader needs its source.

use chrono::{DateTime, Utc};
use kube::{Resource, ResourceExt};
use streamforge_api::{Queue, Target, TimeRange, datatype, naming, served};

/// What a valid Queue is called on the wire and in storage.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub queue_id: String,
    pub telemetry_id: String,
    pub kafka_topic: String,
    pub collection_name: String,
    pub time_range: Option<TimeRange>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidSpec {
    #[error("the Queue has no namespace, uid or creation time yet")]
    NotPersisted,
    #[error("symbol {0:?} must be upper-case letters and digits, 2 to 20 long")]
    Symbol(String),
    #[error("type {0:?} must be lower snake case, 2 to 48 long")]
    Type(String),
    #[error(transparent)]
    TimeRange(#[from] streamforge_api::TimeRangeError),
    #[error("type {0} loads history and needs a timeRange")]
    RangeRequired(String),
    #[error("target {target} cannot run type {data_type}; it serves {expected}")]
    TargetType {
        target: Target,
        data_type: String,
        expected: String,
    },
    #[error("sinks can only be attached to a loader Queue, not {0}")]
    SinksOnNonLoader(Target),
    #[error("{0} needs graphName")]
    GraphRequired(Target),
    #[error("a graph needs a timeRange: the stored data it reads")]
    GraphRangeRequired,
    #[error("type {0} needs graphName")]
    GraphNameRequired(String),
    #[error("type {0} needs source: where to read")]
    SourceRequired(String),
    #[error("{0}")]
    Source(String),
}

fn symbol_ok(s: &str) -> bool {
    (2..=20).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn type_ok(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=48).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// The generic loader's source has what its type needs.
fn source_ok(spec: &streamforge_api::QueueSpec) -> Result<(), InvalidSpec> {
    let source = spec
        .source
        .as_ref()
        .ok_or_else(|| InvalidSpec::SourceRequired(spec.data_type.clone()))?;
    let scheme = source.url.split("://").next().unwrap_or_default();
    let (schemes, needs): (&[&str], Option<&str>) = if spec.data_type == datatype::MANUAL_UPLOAD {
        (
            &["s3", "http", "https"],
            source
                .records
                .is_none()
                .then_some("source.records (candles or trades)"),
        )
    } else {
        (
            &["ws", "wss", "http", "https"],
            source.key_field.is_none().then_some("source.keyField"),
        )
    };
    if !source.url.contains("://") || !schemes.contains(&scheme) {
        return Err(InvalidSpec::Source(format!(
            "{} reads from {} URLs, not {:?}",
            spec.data_type,
            schemes.join("://, ") + "://",
            source.url
        )));
    }
    if let Some(field) = needs {
        return Err(InvalidSpec::Source(format!(
            "{} needs {field}",
            spec.data_type
        )));
    }
    Ok(())
}

pub fn validate(queue: &Queue) -> Result<Identity, InvalidSpec> {
    let spec = &queue.spec;
    let (Some(namespace), Some(uid), Some(created)) = (
        queue.namespace(),
        queue.meta().uid.as_deref(),
        queue.meta().creation_timestamp.as_ref(),
    ) else {
        return Err(InvalidSpec::NotPersisted);
    };
    if !symbol_ok(&spec.symbol) {
        return Err(InvalidSpec::Symbol(spec.symbol.clone()));
    }
    if !type_ok(&spec.data_type) {
        return Err(InvalidSpec::Type(spec.data_type.clone()));
    }
    if !served::serves(spec.target, &spec.data_type) {
        return Err(InvalidSpec::TargetType {
            target: spec.target,
            data_type: spec.data_type.clone(),
            expected: served::listed(spec.target),
        });
    }
    let time_range = spec
        .time_range
        .as_deref()
        .map(TimeRange::parse)
        .transpose()?;
    if time_range.is_none() && datatype::loads_history(&spec.data_type) {
        return Err(InvalidSpec::RangeRequired(spec.data_type.clone()));
    }
    if !spec.sinks.is_empty() && !spec.target.is_loader() {
        return Err(InvalidSpec::SinksOnNonLoader(spec.target));
    }
    let graph_worker = matches!(spec.target, Target::GnnTrainer | Target::GraphBuilder);
    if graph_worker && spec.graph_name.is_none() {
        return Err(InvalidSpec::GraphRequired(spec.target));
    }
    let graph_type = datatype::is_graph_type(&spec.data_type);
    if graph_type && spec.graph_name.is_none() {
        return Err(InvalidSpec::GraphNameRequired(spec.data_type.clone()));
    }
    if (spec.target == Target::GraphBuilder || graph_type) && time_range.is_none() {
        return Err(InvalidSpec::GraphRangeRequired);
    }
    if datatype::is_generic_type(&spec.data_type) {
        source_ok(spec)?;
    }

    let day: DateTime<Utc> =
        time_range.map_or_else(|| crate::time::to_chrono(created), |r| r.start);
    let queue_id = naming::queue_id(spec.target, &spec.symbol, &spec.data_type, day, uid);
    Ok(Identity {
        name: queue.name_any(),
        namespace,
        telemetry_id: naming::telemetry_id(spec.target, uid),
        kafka_topic: spec
            .kafka_topic
            .clone()
            .unwrap_or_else(|| naming::data_topic(&queue_id)),
        collection_name: spec
            .collection_name
            .clone()
            .unwrap_or_else(|| naming::collection_name(&spec.symbol, &spec.data_type, day)),
        queue_id,
        uid: uid.to_owned(),
        time_range,
    })
}

/// The queue id of a Queue as the telemetry folder needs it, without the other checks.
pub fn queue_id_of(queue: &Queue) -> Option<String> {
    validate(queue).ok().map(|i| i.queue_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::QueueExt;

    #[test]
    fn identity_follows_the_naming_rules() {
        let q = Queue::test();
        let id = validate(&q).unwrap();
        assert_eq!(id.queue_id, "wf-btcusdt-api_candles_5m-20240801-a1b2c3");
        assert_eq!(id.telemetry_id, "loader-producer__a1b2c3");
        assert_eq!(
            id.kafka_topic,
            "wf-btcusdt-api_candles_5m-20240801-a1b2c3-data"
        );
        assert_eq!(id.collection_name, "btcusdt_api_candles_5m_2024_08_01");
        assert_eq!(queue_id_of(&q).as_deref(), Some(id.queue_id.as_str()));
    }

    #[test]
    fn overrides_win_over_derived_names() {
        let mut q = Queue::test();
        q.spec.kafka_topic = Some("btc-klines-5m".into());
        q.spec.collection_name = Some("candles".into());
        let id = validate(&q).unwrap();
        assert_eq!(id.kafka_topic, "btc-klines-5m");
        assert_eq!(id.collection_name, "candles");
    }

    #[test]
    fn queues_without_a_range_use_their_creation_day() {
        let q = Queue::test()
            .with_type(Target::LoaderWsTrades, "ws_trades")
            .without_range();
        let id = validate(&q).unwrap();
        assert_eq!(id.queue_id, "wf-btcusdt-ws_trades-20240805-a1b2c3");
    }

    #[test]
    fn cross_field_rules_give_clear_errors() {
        let q = Queue::test().without_range();
        assert_eq!(
            validate(&q).unwrap_err().to_string(),
            "type api_candles_5m loads history and needs a timeRange"
        );
        let q = Queue::test().with_type(Target::LoaderApiTrades, "api_candles_5m");
        assert_eq!(
            validate(&q).unwrap_err().to_string(),
            "target loader-api-trades cannot run type api_candles_5m; it serves api_trades"
        );
        let mut q = Queue::test().with_type(Target::GnnTrainer, "gnn_trainer");
        q.spec.sinks.clear();
        q.spec.graph_name = None;
        assert_eq!(
            validate(&q).unwrap_err(),
            InvalidSpec::GraphRequired(Target::GnnTrainer)
        );
        let mut q = Queue::test().with_type(Target::GraphBuilder, "graph_build");
        q.spec.graph_name = Some("g".into());
        q.spec.time_range = None;
        assert_eq!(validate(&q).unwrap_err(), InvalidSpec::GraphRangeRequired);
        let q = Queue::test()
            .with_type(Target::GraphBuilder, "graph_build")
            .with_sinks(&[streamforge_api::SinkKind::Lake]);
        assert!(matches!(
            validate(&q),
            Err(InvalidSpec::SinksOnNonLoader(_))
        ));
        let mut q = Queue::test().with_type(Target::ArangoConnector, "graph_rsi_vol");
        q.spec.graph_name = None;
        assert_eq!(
            validate(&q).unwrap_err().to_string(),
            "type graph_rsi_vol needs graphName"
        );
        q.spec.graph_name = Some("g".into());
        assert!(validate(&q).is_ok());
    }

    #[test]
    fn the_generic_loader_needs_a_source_it_can_read() {
        use streamforge_api::{GenericSource, SourceRecords};
        let mut q = Queue::test()
            .with_type(Target::LoaderGeneric, "manual_upload")
            .without_range();
        assert_eq!(
            validate(&q).unwrap_err().to_string(),
            "type manual_upload needs source: where to read"
        );
        q.spec.source = Some(GenericSource {
            url: "wss://feed.example/ws".into(),
            records: Some(SourceRecords::Candles),
            ..GenericSource::default()
        });
        assert_eq!(
            validate(&q).unwrap_err().to_string(),
            "manual_upload reads from s3://, http://, https:// URLs, not \"wss://feed.example/ws\""
        );
        q.spec.source.as_mut().unwrap().url = "s3://uploads/btc.csv".into();
        assert!(validate(&q).is_ok());
        q.spec.source.as_mut().unwrap().records = None;
        assert_eq!(
            validate(&q).unwrap_err().to_string(),
            "manual_upload needs source.records (candles or trades)"
        );
        let mut q = Queue::test()
            .with_type(Target::LoaderProducer, "json_feed")
            .without_range();
        q.spec.source = Some(GenericSource {
            url: "wss://feed.example/ws".into(),
            ..GenericSource::default()
        });
        assert_eq!(
            validate(&q).unwrap_err().to_string(),
            "json_feed needs source.keyField"
        );
        q.spec.source.as_mut().unwrap().key_field = Some("data.id".into());
        assert!(validate(&q).is_ok());
    }

    #[test]
    fn a_type_no_worker_of_the_target_serves_is_refused_with_the_list() {
        let q = Queue::test().with_type(Target::GnnTrainer, "graph_build");
        assert_eq!(
            validate(&q).unwrap_err().to_string(),
            "target gnn-trainer cannot run type graph_build; it serves gnn_trainer"
        );
        let q = Queue::test().with_type(Target::LoaderProducer, "api_manual_upload");
        assert!(matches!(validate(&q), Err(InvalidSpec::TargetType { .. })));
    }

    #[test]
    fn bad_fields_that_slipped_past_the_schema_are_refused() {
        let mut q = Queue::test();
        q.spec.symbol = "btc usdt".into();
        assert!(matches!(validate(&q), Err(InvalidSpec::Symbol(_))));
        let mut q = Queue::test();
        q.spec.data_type = "API-candles".into();
        assert!(matches!(validate(&q), Err(InvalidSpec::Type(_))));
        let mut q = Queue::test();
        q.spec.time_range = Some("2024-08-02:2024-08-01".into());
        assert!(
            validate(&q)
                .unwrap_err()
                .to_string()
                .contains("is not before end")
        );
        let mut q = Queue::test();
        q.metadata.uid = None;
        assert_eq!(validate(&q), Err(InvalidSpec::NotPersisted));
    }
}
