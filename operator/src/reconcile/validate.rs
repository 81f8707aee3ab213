//! Validate (pure): checks the API server cannot make, and the identity every later step uses.
//!
//! The CRD schema refuses most bad input at `kubectl apply`; this step repeats the checks that
//! matter (a CRD installed without its rules must not crash anything) and adds the cross-field
//! rules: a historical type needs a range, a family-specific loader needs its own types, a
//! trainer needs a graph.

use chrono::{DateTime, Utc};
use kube::{Resource, ResourceExt};
use streamforge_api::{Family, Queue, Target, TimeRange, datatype, naming};

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
    #[error("target {target} cannot run type {data_type}; it takes {expected}")]
    TargetType {
        target: Target,
        data_type: String,
        expected: &'static str,
    },
    #[error("sinks can only be attached to a loader Queue, not {0}")]
    SinksOnNonLoader(Target),
    #[error("{0} needs graphName")]
    GraphRequired(Target),
    #[error("graph-builder needs a timeRange: the stored data it reads")]
    GraphRangeRequired,
}

/// Types a family-specific loader accepts: its family's shape (an interval is checked by the
/// loader), or any `api_*`/`ws_*` type for the generic loader.
fn loader_accepts(target: Target, data_type: &str) -> Option<&'static str> {
    let family = match target {
        Target::LoaderApiCandles => Family::ApiCandles,
        Target::LoaderApiTrades => Family::ApiTrades,
        Target::LoaderWsCandles => Family::WsCandles,
        Target::LoaderWsTrades => Family::WsTrades,
        Target::LoaderWsOrderbook => Family::WsOrderbook,
        Target::LoaderProducer => {
            return (!datatype::is_loader_type(data_type)).then_some("an api_* or ws_* type");
        }
        _ => return None,
    };
    (Family::of(data_type) != Some(family)).then_some(family.pattern())
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
    if let Some(expected) = loader_accepts(spec.target, &spec.data_type) {
        return Err(InvalidSpec::TargetType {
            target: spec.target,
            data_type: spec.data_type.clone(),
            expected,
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
    if spec.target == Target::GraphBuilder && time_range.is_none() {
        return Err(InvalidSpec::GraphRangeRequired);
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
            "target loader-api-trades cannot run type api_candles_5m; it takes api_trades"
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
