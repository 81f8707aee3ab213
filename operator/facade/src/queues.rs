//! The Queue operations behind the routes, through the API server with the facade's identity
//! (after the caller's rights were checked). Nothing here talks to Kafka or the workers: the
//! operator does the rest, as for a Queue applied with kubectl.

use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use streamforge_api::Queue;

use crate::error::ApiError;
use crate::payload::{QueueName, StartRequest};

/// The field manager of the facade's writes.
pub const MANAGER: &str = "streamforge-facade";

/// How a Queue is shown: its name, spec and status as the resource has them.
pub fn view(q: &Queue) -> Value {
    json!({
        "name": q.metadata.name,
        "namespace": q.metadata.namespace,
        "uid": q.metadata.uid,
        "created": q.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()),
        "spec": q.spec,
        "status": q.status,
    })
}

pub async fn create(
    client: &Client,
    namespace: &str,
    req: StartRequest,
) -> Result<Queue, ApiError> {
    let mut q = Queue::new("", req.spec);
    match req.name {
        QueueName::Exact(n) => q.metadata.name = Some(n),
        QueueName::Generated(prefix) => {
            q.metadata.name = None;
            q.metadata.generate_name = Some(prefix);
        }
    }
    q.metadata.labels = Some(
        [(
            "app.kubernetes.io/managed-by".to_owned(),
            MANAGER.to_owned(),
        )]
        .into(),
    );
    let api: Api<Queue> = Api::namespaced(client.clone(), namespace);
    let pp = PostParams {
        field_manager: Some(MANAGER.into()),
        ..PostParams::default()
    };
    api.create(&pp, &q).await.map_err(ApiError::from_kube)
}

pub async fn list(client: &Client, namespace: &str) -> Result<Vec<Queue>, ApiError> {
    let api: Api<Queue> = Api::namespaced(client.clone(), namespace);
    Ok(api
        .list(&ListParams::default())
        .await
        .map_err(ApiError::from_kube)?
        .items)
}

pub async fn get(client: &Client, namespace: &str, name: &str) -> Result<Queue, ApiError> {
    let api: Api<Queue> = Api::namespaced(client.clone(), namespace);
    api.get(name).await.map_err(ApiError::from_kube)
}

/// Stop: `spec.suspend: true`, as `kubectl patch` would; the operator sends `stop` and ends the
/// run's Jobs.
pub async fn stop(client: &Client, namespace: &str, name: &str) -> Result<Queue, ApiError> {
    let api: Api<Queue> = Api::namespaced(client.clone(), namespace);
    api.patch(
        name,
        &PatchParams {
            field_manager: Some(MANAGER.into()),
            ..PatchParams::default()
        },
        &Patch::Merge(json!({"spec": {"suspend": true}})),
    )
    .await
    .map_err(ApiError::from_kube)
}

pub async fn delete(client: &Client, namespace: &str, name: &str) -> Result<(), ApiError> {
    let api: Api<Queue> = Api::namespaced(client.clone(), namespace);
    api.delete(name, &DeleteParams::foreground())
        .await
        .map(|_| ())
        .map_err(ApiError::from_kube)
}
