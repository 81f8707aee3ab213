//! What the scenarios with real workers share: the exchange simulator and the ArangoDB
//! protocol server served from the test process (pods reach them at the pod bridge gateway,
//! see `e2e/helm-values.yaml`), fresh symbols, the lake as pyarrow reads it, and MinIO.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use kube::api::Api;
use serde_json::Value;
use streamforge_api::{ProducerSummary, Queue};
use streamforge_e2e::{Env, eventually, fresh_tag, minio_credentials};

/// Where pods find the simulator and the ArangoDB protocol server (see `e2e/helm-values.yaml`).
pub const SIM_PORT: u16 = 29400;
pub const ARANGO_PORT: u16 = 29529;
pub struct Services {
    pub sim: binance_sim::server::Shared,
    pub arango: streamforge_arango::testserver::Shared,
}

/// The simulator serving `symbols`, and the ArangoDB protocol server (database `streamforge`,
/// user `root` without a password: what a worker uses when no Secret names another).
pub async fn services(symbols: &[&str]) -> Services {
    let config = binance_sim::Config {
        symbols: symbols.iter().map(|s| (*s).to_owned()).collect(),
        ..binance_sim::Config::default()
    };
    let (_, sim, _task) = binance_sim::serve(SocketAddr::from(([0, 0, 0, 0], SIM_PORT)), config)
        .await
        .expect("the simulator's port is free");
    let (_, arango) = streamforge_arango::testserver::serve(
        SocketAddr::from(([0, 0, 0, 0], ARANGO_PORT)),
        "streamforge",
        "root",
        "",
    )
    .await
    .expect("the ArangoDB protocol server's port is free");
    Services { sim, arango }
}

/// A symbol no earlier run used, e.g. `RQXKWAUSDT`.
pub fn fresh_symbol(tag: char) -> String {
    fresh_tag(tag) + "USDT"
}

pub async fn setup(test: &str) -> Option<(Env, kube::Client)> {
    let (env, client) = Env::setup(test).await?;
    env.apply_minio_secret().unwrap();
    Some((env, client))
}

pub fn producer<'a>(q: &'a Queue, prefix: &str) -> &'a ProducerSummary {
    let st = q.status.as_ref().unwrap();
    st.producers
        .iter()
        .find(|p| p.telemetry_id.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} producer in {:?}", st.producers))
}

/// Wait until every producer of the Queue's run reported its final state.
pub async fn wait_all_final(api: &Api<Queue>, name: &str, producers: usize) -> Queue {
    eventually(
        &format!("{name}'s {producers} workers report their ends"),
        Duration::from_secs(60),
        || async {
            let q = api.get(name).await?;
            let st = q.status.clone().unwrap_or_default();
            let done = st.producers.iter().filter(|p| p.finished).count();
            Ok((done == producers).then_some(q))
        },
    )
    .await
    .unwrap()
}

/// What pyarrow reads from the lake for `symbol` (`e2e/lake/read_lake.py`).
pub fn lake(symbol: &str) -> Value {
    let python = std::env::var("STREAMFORGE_E2E_PYTHON")
        .expect("STREAMFORGE_E2E_PYTHON (pyarrow, set by e2e/run.sh)");
    let endpoint = std::env::var("STREAMFORGE_E2E_S3").expect("STREAMFORGE_E2E_S3");
    let (user, password) = minio_credentials();
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lake/read_lake.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args(["s3", &endpoint, "streamforge", "", "--symbol", symbol])
        .env("AWS_ACCESS_KEY_ID", user)
        .env("AWS_SECRET_ACCESS_KEY", password)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "read_lake.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Run `e2e/minio/s3.py` against the platform's MinIO; its stdout.
pub fn s3(args: &[&str]) -> String {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../minio/s3.py");
    let endpoint = std::env::var("STREAMFORGE_E2E_S3").expect("STREAMFORGE_E2E_S3");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .env("S3_ENDPOINT", endpoint)
        .env("S3_ACCESS_KEY", minio_credentials().0)
        .env("S3_SECRET_KEY", minio_credentials().1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "s3.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
