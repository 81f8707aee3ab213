//! The visualizer as a service: follow `queue-events`, serve the page and the API until
//! SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;

use streamforge_kit::KafkaSettings;
use tracing::info;

use crate::app::App;
use crate::config::VisualizerConfig;
use crate::{events, routes};

/// Bind `app`'s routes on `addr`; returns the bound address and the server's future.
pub async fn bind(
    app: Arc<App>,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let server = warp::serve(routes::routes(app)).incoming(listener).run();
    Ok((bound, server))
}

/// Start following telemetry for `app` (a background task).
pub fn follow_events(app: &Arc<App>) {
    tokio::spawn(events::follow(
        app.kafka.clone(),
        app.config.events_topic.clone(),
        app.events.clone(),
    ));
}

pub async fn serve(config: VisualizerConfig, kafka: KafkaSettings) -> anyhow::Result<()> {
    let listen = config.listen;
    let app = App::new(config, kafka)?;
    follow_events(&app);
    let (bound, server) = bind(app, listen).await?;
    info!(%bound, "visualizer listening");
    tokio::select! {
        () = server => {}
        () = shutdown() => info!("shutting down"),
    }
    Ok(())
}

async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
