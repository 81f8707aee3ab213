//! `/metrics` for every worker: the Prometheus text format of one registry, on `METRICS_ADDR`
//! (default `0.0.0.0:9102`), with what every worker counts (its telemetry events by status,
//! the records it last reported, `streamforge_worker_build_info{version,worker}`) beside the
//! worker's own metrics, and the process metrics (`process_*`, Linux) of the default registry.

use std::net::SocketAddr;
use std::sync::OnceLock;

use prometheus::{Encoder, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use warp::Filter;

/// Environment variable with the address to serve on.
pub const METRICS_ADDR: &str = "METRICS_ADDR";
pub const DEFAULT_ADDR: &str = "0.0.0.0:9102";

#[derive(Debug, thiserror::Error)]
#[error("{METRICS_ADDR}={0:?} is not an address such as 0.0.0.0:9102")]
pub struct BadAddress(String);

/// The address from the environment, or the default.
pub fn address() -> Result<SocketAddr, BadAddress> {
    let v = std::env::var(METRICS_ADDR)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    v.trim().parse().map_err(|_| BadAddress(v))
}

/// A registry with the `streamforge` prefix every worker's metrics share.
pub fn registry() -> Registry {
    Registry::new_custom(Some("streamforge".into()), None).unwrap_or_default()
}

/// The text exposition of `registry` and of the default registry (the process collector's
/// `process_*`, unprefixed, as Prometheus names them).
pub fn render(registry: &Registry) -> String {
    let mut families = registry.gather();
    families.extend(prometheus::gather());
    let mut buf = vec![];
    let _ = prometheus::TextEncoder::new().encode(&families, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

/// Serve `registry` on `addr` in the background.
pub fn serve(registry: Registry, addr: SocketAddr) {
    let route = warp::path!("metrics").map(move || render(&registry));
    tokio::spawn(warp::serve(route).run(addr));
}

/// The worker's name for `streamforge_worker_build_info`: its executable's file name
/// (`loader`, `lake-connector`, `dummy-service`, ...).
pub fn worker_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// What the kit counts for every worker; [`crate::telemetry::Reporter`] feeds it.
#[derive(Clone)]
pub struct WorkerMetrics {
    /// Telemetry events the broker acknowledged, by status.
    pub events: IntCounterVec,
    /// Records the worker last reported written.
    pub records: IntGauge,
    /// 1, labelled with the kit's version and the worker's name.
    pub build_info: IntGaugeVec,
}

static WORKER_METRICS: OnceLock<WorkerMetrics> = OnceLock::new();
static SERVED: OnceLock<Registry> = OnceLock::new();

/// The registry [`serve_worker_metrics`] serves, for a worker that adds metrics of its own.
pub fn served_registry() -> Option<&'static Registry> {
    SERVED.get()
}

/// The worker metrics of this process, once [`install`] ran.
pub fn worker_metrics() -> Option<&'static WorkerMetrics> {
    WORKER_METRICS.get()
}

/// Register the worker metrics in `registry` and let telemetry feed them (once per process).
pub fn install(registry: &Registry) -> Result<(), prometheus::Error> {
    let m = WorkerMetrics {
        events: IntCounterVec::new(
            Opts::new(
                "worker_telemetry_events_total",
                "Telemetry events delivered to queue-events, by status",
            ),
            &["status"],
        )?,
        records: IntGauge::new(
            "worker_records_reported",
            "Records the worker last reported written",
        )?,
        build_info: IntGaugeVec::new(
            Opts::new(
                "worker_build_info",
                "1, labelled with the worker's version and name",
            ),
            &["version", "worker"],
        )?,
    };
    registry.register(Box::new(m.events.clone()))?;
    registry.register(Box::new(m.records.clone()))?;
    registry.register(Box::new(m.build_info.clone()))?;
    m.build_info
        .with_label_values(&[env!("CARGO_PKG_VERSION"), &worker_name()])
        .set(1);
    let _ = WORKER_METRICS.set(m);
    Ok(())
}

/// Serve the worker metrics (and nothing else) on the address from the environment: for
/// workers without metrics of their own.
pub fn serve_worker_metrics() -> Result<(), ServeError> {
    let addr = address()?;
    let r = registry();
    install(&r)?;
    let _ = SERVED.set(r.clone());
    serve(r, addr);
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Address(#[from] BadAddress),
    #[error("registering metrics: {0}")]
    Register(#[from] prometheus::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn serves_the_worker_metrics_in_the_text_format() {
        let r = registry();
        install(&r).unwrap_or_default();
        let m = worker_metrics().unwrap();
        m.events.with_label_values(&["retrying"]).inc();
        m.records.set(288);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        serve(r, SocketAddr::from(([127, 0, 0, 1], port)));
        let mut body = String::new();
        for _ in 0..50 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
                s.read_to_string(&mut body).await.unwrap();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(
            body.contains(r#"streamforge_worker_telemetry_events_total{status="retrying"} 1"#),
            "{body}"
        );
        assert!(
            body.contains("streamforge_worker_records_reported 288"),
            "{body}"
        );
        assert!(
            body.contains(r#"streamforge_worker_build_info{version=""#),
            "{body}"
        );
    }

    #[test]
    fn build_info_names_the_version_and_worker_and_process_metrics_come_along() {
        let r = registry();
        let m = WorkerMetrics {
            events: IntCounterVec::new(Opts::new("e_total", "e"), &["status"]).unwrap(),
            records: IntGauge::new("r", "r").unwrap(),
            build_info: IntGaugeVec::new(
                Opts::new("worker_build_info", "b"),
                &["version", "worker"],
            )
            .unwrap(),
        };
        r.register(Box::new(m.build_info.clone())).unwrap();
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), &worker_name()])
            .set(1);
        let text = render(&r);
        let line = format!(
            r#"streamforge_worker_build_info{{version="{}",worker="{}"}} 1"#,
            env!("CARGO_PKG_VERSION"),
            worker_name()
        );
        assert!(text.contains(&line), "{text}");
        // The test binary is named after the crate (`streamforge_kit-<hash>`).
        assert!(
            worker_name().starts_with("streamforge_kit"),
            "{}",
            worker_name()
        );
        #[cfg(target_os = "linux")]
        assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
    }

    #[test]
    fn a_bad_address_is_a_clear_error() {
        let e = BadAddress("nine".into());
        assert!(e.to_string().contains("METRICS_ADDR=\"nine\""));
    }
}
