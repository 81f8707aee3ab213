//! Naming rules shared by the operator and workers, as in the original services:
//!
//! | what | example |
//! |---|---|
//! | queue id | `wf-btcusdt-api_candles_5m-20240801-a1b2c3` |
//! | telemetry id | `loader-producer__a1b2c3` |
//! | data topic | `<queue id>-data` |
//! | collection | `btcusdt_api_candles_5m_2024_08_01` |
//!
//! The six-character suffix comes from the Queue's UID, so every name is stable for the life of
//! the Queue and distinct between two Queues with the same symbol and type.

use chrono::{DateTime, Utc};

use crate::queue::Target;

/// Length of the id suffix taken from the Queue's UID.
pub const SUFFIX_LEN: usize = 6;
/// Longest Kubernetes object name that can also be a label value.
pub const MAX_K8S_NAME: usize = 63;

/// The suffix shared by a Queue's ids: the first six hex digits of its UID (lower case).
pub fn suffix(uid: &str) -> String {
    let hex: String = uid
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .take(SUFFIX_LEN)
        .collect();
    format!("{hex:0<width$}", width = SUFFIX_LEN)
}

/// Prefix of the queue id by worker family, as the original services used.
pub fn queue_id_prefix(target: Target) -> &'static str {
    match target {
        Target::GnnTrainer => "gnn",
        Target::GraphBuilder => "graph",
        Target::Visualizer => "visual",
        Target::DummyService => "dummy",
        _ => "wf",
    }
}

/// `wf-btcusdt-api_candles_5m-20240801-a1b2c3`. `day` is the range start, or the creation day
/// for Queues without a range.
pub fn queue_id(
    target: Target,
    symbol: &str,
    data_type: &str,
    day: DateTime<Utc>,
    uid: &str,
) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        queue_id_prefix(target),
        symbol.to_ascii_lowercase(),
        data_type,
        day.format("%Y%m%d"),
        suffix(uid)
    )
}

/// `loader-producer__a1b2c3`.
pub fn telemetry_id(target: Target, uid: &str) -> String {
    format!("{}__{}", target.as_str(), suffix(uid))
}

/// `<queue id>-data`.
pub fn data_topic(queue_id: &str) -> String {
    format!("{queue_id}-data")
}

/// `btcusdt_api_candles_5m_2024_08_01`.
pub fn collection_name(symbol: &str, data_type: &str, day: DateTime<Utc>) -> String {
    format!(
        "{}_{}_{}",
        symbol.to_ascii_lowercase(),
        data_type,
        day.format("%Y_%m_%d")
    )
}

/// Name of a Job: `<queue name>-<uid suffix>[-<role>]-r<run>`, where the role is empty for the
/// main worker. The UID part keeps names of different Queues apart: Queue `x` with a `lake` sink
/// and a Queue named `x-lake` would otherwise both own `x-lake-r1` (a role word is never six hex
/// digits, so no role can pass for a suffix). Long Queue names are cut and given a hash so the
/// result stays a valid, unique DNS label.
pub fn job_name(queue_name: &str, uid: &str, role: Option<&str>, run: u32) -> String {
    let tail = match role {
        Some(role) => format!("-{}-{role}-r{run}", suffix(uid)),
        None => format!("-{}-r{run}", suffix(uid)),
    };
    if queue_name.len() + tail.len() <= MAX_K8S_NAME {
        return format!("{queue_name}{tail}");
    }
    let hash = format!("{:08x}", fnv1a(queue_name.as_bytes()) as u32);
    let keep = MAX_K8S_NAME - tail.len() - hash.len() - 1;
    let head = queue_name[..keep.min(queue_name.len())].trim_end_matches(['-', '.']);
    format!("{head}-{hash}{tail}")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 8, 1, 0, 0, 0).unwrap()
    }

    const UID: &str = "A1B2C3D4-0000-4000-8000-000000000000";

    #[test]
    fn names_match_the_original_services() {
        let qid = queue_id(
            Target::LoaderProducer,
            "BTCUSDT",
            "api_candles_5m",
            day(),
            UID,
        );
        assert_eq!(qid, "wf-btcusdt-api_candles_5m-20240801-a1b2c3");
        assert_eq!(
            telemetry_id(Target::LoaderProducer, UID),
            "loader-producer__a1b2c3"
        );
        assert_eq!(
            telemetry_id(Target::ArangoConnector, UID),
            "arango-connector__a1b2c3"
        );
        assert_eq!(
            data_topic(&qid),
            "wf-btcusdt-api_candles_5m-20240801-a1b2c3-data"
        );
        assert_eq!(
            collection_name("BTCUSDT", "api_candles_5m", day()),
            "btcusdt_api_candles_5m_2024_08_01"
        );
        assert!(
            queue_id(Target::GnnTrainer, "BTCUSDT", "gnn_trainer", day(), UID).starts_with("gnn-")
        );
    }

    #[test]
    fn suffix_is_padded_for_short_uids() {
        assert_eq!(suffix("ab"), "ab0000");
        assert_eq!(suffix("--zz--"), "000000");
    }

    #[test]
    fn job_names_are_dns_labels_and_unique_when_cut() {
        assert_eq!(
            job_name("btc-candles", UID, None, 1),
            "btc-candles-a1b2c3-r1"
        );
        assert_eq!(
            job_name("btc-candles", UID, Some("arango"), 2),
            "btc-candles-a1b2c3-arango-r2"
        );
        let long_a = "a".repeat(60) + "-x";
        let long_b = "a".repeat(60) + "-y";
        let a = job_name(&long_a, UID, Some("lake"), 12);
        let b = job_name(&long_b, UID, Some("lake"), 12);
        assert!(a.len() <= MAX_K8S_NAME, "{a}");
        assert_ne!(a, b);
        assert!(a.ends_with("-a1b2c3-lake-r12"));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }

    #[test]
    fn a_queue_named_like_another_ones_sink_job_gets_other_job_names() {
        let other = "d4e5f6a7-0000-4000-8000-000000000000";
        // Queue `x` with a lake sink, and Queue `x-lake`: once both `x-lake-r1`.
        let sink_of_x = job_name("x", UID, Some("lake"), 1);
        let main_of_x_lake = job_name("x-lake", other, None, 1);
        assert_ne!(sink_of_x, main_of_x_lake);
        assert_eq!(sink_of_x, "x-a1b2c3-lake-r1");
        assert_eq!(main_of_x_lake, "x-lake-d4e5f6-r1");
    }
}
