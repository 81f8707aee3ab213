//! `streamforge-facade`: the REST facade (see the crate documentation).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use streamforge_facade::routes::{Facade, routes};

#[derive(Parser, Debug)]
#[command(
    about = "StreamForge REST facade: Queues over HTTP, as the caller's Kubernetes rights allow"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Namespace of requests that name none.
    #[arg(long, env = "FACADE_NAMESPACE", default_value = "default")]
    namespace: String,
    /// Image registry and tag shown by GET /targets (the operator's IMAGE_REGISTRY/IMAGE_TAG).
    #[arg(long, env = "IMAGE_REGISTRY", default_value = "streamforge")]
    image_registry: String,
    #[arg(long, env = "IMAGE_TAG", default_value = "0.1.0")]
    image_tag: String,
    /// Swagger UI's files (npm's swagger-ui-dist).
    #[arg(long, env = "SWAGGER_UI_PATH", default_value = "/app/swagger-ui")]
    swagger_ui: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let client = kube::Client::try_default()
        .await
        .context("no Kubernetes client (in-cluster or KUBECONFIG)")?;
    let facade = Arc::new(Facade {
        client,
        namespace: args.namespace,
        image_registry: args.image_registry,
        image_tag: args.image_tag,
        swagger_ui: args.swagger_ui,
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(listen = %args.listen, "REST facade listening");
    warp::serve(routes(facade)).incoming(listener).run().await;
    Ok(())
}
