//! `/metrics` for every worker: the Prometheus text format of one registry, on `METRICS_ADDR`
//! (default `0.0.0.0:9102`).

use std::net::SocketAddr;

use prometheus::{Encoder, Registry};
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

/// Serve `registry` on `addr` in the background.
pub fn serve(registry: Registry, addr: SocketAddr) {
    let route = warp::path!("metrics").map(move || {
        let mut buf = vec![];
        let _ = prometheus::TextEncoder::new().encode(&registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    });
    tokio::spawn(warp::serve(route).run(addr));
}
