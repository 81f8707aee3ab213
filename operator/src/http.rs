//! The operator's HTTP endpoints: `/metrics` (Prometheus text), `/healthz` (the process serves),
//! `/readyz` (the controller's Queue store has synced and Kafka clients exist).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use warp::Filter;
use warp::http::StatusCode;

use crate::metrics::Metrics;

#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub fn routes(
    metrics: Metrics,
    ready: Readiness,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let metrics = warp::path!("metrics").and(warp::get()).map(move || {
        warp::reply::with_header(
            metrics.render(),
            "content-type",
            "text/plain; version=0.0.4",
        )
    });
    let healthz = warp::path!("healthz").map(|| "ok");
    let readyz = warp::path!("readyz").map(move || {
        if ready.get() {
            warp::reply::with_status("ready", StatusCode::OK)
        } else {
            warp::reply::with_status("not ready", StatusCode::SERVICE_UNAVAILABLE)
        }
    });
    metrics.or(healthz).or(readyz)
}

pub async fn serve(
    addr: SocketAddr,
    metrics: Metrics,
    ready: Readiness,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    warp::serve(routes(metrics, ready))
        .bind(addr)
        .await
        .graceful(shutdown)
        .run()
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn endpoints_answer() {
        let m = Metrics::new().unwrap();
        m.reconciles.inc();
        let ready = Readiness::default();
        let api = routes(m, ready.clone());
        let res = warp::test::request().path("/metrics").reply(&api).await;
        assert_eq!(res.status(), 200);
        let body = String::from_utf8_lossy(res.body()).to_string();
        assert!(body.contains("streamforge_reconciles_total 1"), "{body}");
        assert_eq!(
            warp::test::request()
                .path("/healthz")
                .reply(&api)
                .await
                .status(),
            200
        );
        assert_eq!(
            warp::test::request()
                .path("/readyz")
                .reply(&api)
                .await
                .status(),
            503
        );
        ready.set(true);
        assert_eq!(
            warp::test::request()
                .path("/readyz")
                .reply(&api)
                .await
                .status(),
            200
        );
    }
}
