//! The simulator's HTTP server: the REST endpoints (`rest.rs`) and the WebSocket streams
//! (`ws.rs`) on one port, over the shared state (`state.rs`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use warp::Filter;

pub use crate::rest::routes;
pub use crate::state::{Config, Faults, Shared, State, WsConfig, lock, stats};

/// Serve on `addr` (port 0 picks one); returns the bound address, the shared state and the task.
pub async fn serve(
    addr: SocketAddr,
    config: Config,
) -> std::io::Result<(SocketAddr, Shared, tokio::task::JoinHandle<()>)> {
    let state: Shared = Arc::new(Mutex::new(State::new(config)));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let ws_state = state.clone();
    let streams =
        warp::path!("ws" / String)
            .and(warp::ws())
            .map(move |stream: String, ws: warp::ws::Ws| {
                let st = ws_state.clone();
                warp::Reply::into_response(
                    ws.on_upgrade(move |socket| crate::ws::serve_stream(socket, stream, st)),
                )
            });
    let rest = routes(state.clone()).map(warp::Reply::into_response);
    let server = warp::serve(streams.or(rest).unify()).incoming(listener);
    let task = tokio::spawn(async move { server.run().await });
    Ok((bound, state, task))
}
