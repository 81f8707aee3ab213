//! The routes.
//!
//! | route | what | the caller needs |
//! |---|---|---|
//! | `POST /queues/start` | create a Queue from the seeds' command JSON | `create queues` |
//! | `GET /queues` | the namespace's Queues | `list queues` |
//! | `GET /queues/{name}` | one Queue, status as the resource has it | `get queues` |
//! | `POST /queues/{name}/stop` | stop it (`spec.suspend: true`) | `patch queues` |
//! | `DELETE /queues/{name}` | delete it | `delete queues` |
//! | `GET /targets` | targets, types and images | nothing |
//! | `GET /openapi.json`, `GET /docs/` | the OpenAPI document, Swagger UI | nothing |
//! | `GET /healthz` | liveness | nothing |
//!
//! `?namespace=` picks the namespace (default: the facade's).

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use kube::Client;
use serde::Deserialize;
use serde_json::json;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::{catalog, openapi, payload, queues};

pub struct Facade {
    pub client: Client,
    pub namespace: String,
    pub image_registry: String,
    pub image_tag: String,
    /// Swagger UI's files (npm's `swagger-ui-dist`).
    pub swagger_ui: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
pub struct Where {
    pub namespace: Option<String>,
}

impl Facade {
    fn namespace(&self, w: &Where) -> Result<String, ApiError> {
        let ns = w
            .namespace
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.namespace);
        if payload::dns_label(ns) != ns {
            return Err(ApiError::field(
                StatusCode::BAD_REQUEST,
                "namespace",
                format!("{ns:?} is not a namespace name"),
            ));
        }
        Ok(ns.to_owned())
    }

    async fn caller(
        &self,
        header: Option<String>,
        verb: &str,
        ns: &str,
        name: Option<&str>,
    ) -> Result<Caller, ApiError> {
        let token = auth::bearer(header.as_deref())?;
        let caller = auth::authenticate(&self.client, token).await?;
        auth::authorize(&self.client, &caller, verb, ns, name).await?;
        Ok(caller)
    }
}

fn ok(status: StatusCode, body: serde_json::Value) -> Response {
    use warp::Reply;
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn done(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(ApiError::into_response)
}

async fn start(f: Arc<Facade>, w: Where, auth: Option<String>, body: Bytes) -> Response {
    done(async {
        let ns = f.namespace(&w)?;
        let caller = f.caller(auth, "create", &ns, None).await?;
        let req = payload::parse(&body)?;
        let ignored = req.ignored.clone();
        let q = queues::create(&f.client, &ns, req).await?;
        tracing::info!(user = %caller.user, queue = ?q.metadata.name, namespace = %ns, "queue created");
        let mut v = queues::view(&q);
        v["ignored"] = json!(ignored);
        Ok(ok(StatusCode::CREATED, v))
    }.await)
}

async fn list(f: Arc<Facade>, w: Where, auth: Option<String>) -> Response {
    done(
        async {
            let ns = f.namespace(&w)?;
            f.caller(auth, "list", &ns, None).await?;
            let qs = queues::list(&f.client, &ns).await?;
            Ok(ok(
                StatusCode::OK,
                json!({"queues": qs.iter().map(queues::view).collect::<Vec<_>>()}),
            ))
        }
        .await,
    )
}

async fn get(name: String, f: Arc<Facade>, w: Where, auth: Option<String>) -> Response {
    done(
        async {
            let ns = f.namespace(&w)?;
            f.caller(auth, "get", &ns, Some(&name)).await?;
            Ok(ok(
                StatusCode::OK,
                queues::view(&queues::get(&f.client, &ns, &name).await?),
            ))
        }
        .await,
    )
}

async fn stop(name: String, f: Arc<Facade>, w: Where, auth: Option<String>) -> Response {
    done(
        async {
            let ns = f.namespace(&w)?;
            let caller = f.caller(auth, "patch", &ns, Some(&name)).await?;
            let q = queues::stop(&f.client, &ns, &name).await?;
            tracing::info!(user = %caller.user, queue = %name, namespace = %ns, "queue stopped");
            Ok(ok(StatusCode::OK, queues::view(&q)))
        }
        .await,
    )
}

async fn delete(name: String, f: Arc<Facade>, w: Where, auth: Option<String>) -> Response {
    done(
        async {
            let ns = f.namespace(&w)?;
            let caller = f.caller(auth, "delete", &ns, Some(&name)).await?;
            queues::delete(&f.client, &ns, &name).await?;
            tracing::info!(user = %caller.user, queue = %name, namespace = %ns, "queue deleted");
            use warp::Reply;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

/// The Swagger UI page: Swagger's own files, pointed at this facade's document.
const DOCS_PAGE: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>StreamForge REST facade</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
</body></html>
"##;

pub fn routes(f: Arc<Facade>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let with = {
        let f = f.clone();
        warp::any().map(move || f.clone())
    };
    let auth = warp::header::optional::<String>("authorization");
    let q = warp::query::<Where>();
    let start = warp::post()
        .and(warp::path!("queues" / "start"))
        .and(with.clone())
        .and(q)
        .and(auth)
        .and(warp::body::content_length_limit(1 << 20))
        .and(warp::body::bytes())
        .then(start);
    let list = warp::get()
        .and(warp::path!("queues"))
        .and(with.clone())
        .and(q)
        .and(auth)
        .then(list);
    let get = warp::get()
        .and(warp::path!("queues" / String))
        .and(with.clone())
        .and(q)
        .and(auth)
        .then(get);
    let stop = warp::post()
        .and(warp::path!("queues" / String / "stop"))
        .and(with.clone())
        .and(q)
        .and(auth)
        .then(stop);
    let delete = warp::delete()
        .and(warp::path!("queues" / String))
        .and(with.clone())
        .and(q)
        .and(auth)
        .then(delete);
    let targets = warp::get()
        .and(warp::path!("targets"))
        .and(with.clone())
        .map(|f: Arc<Facade>| {
            ok(
                StatusCode::OK,
                catalog::catalog(&f.image_registry, &f.image_tag),
            )
        });
    let document = warp::get()
        .and(warp::path!("openapi.json"))
        .map(|| ok(StatusCode::OK, openapi::document()));
    let docs_page = warp::get()
        .and(warp::path("docs"))
        .and(warp::path::end())
        .map(|| {
            use warp::Reply;
            warp::reply::html(DOCS_PAGE).into_response()
        });
    let docs_files = warp::get()
        .and(warp::path("docs"))
        .and(warp::fs::dir(f.swagger_ui.clone()))
        .map(|file: warp::fs::File| {
            use warp::Reply;
            file.into_response()
        });
    let health = warp::get()
        .and(warp::path!("healthz"))
        .map(|| ok(StatusCode::OK, json!({"ok": true})));
    start
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(stop)
        .unify()
        .or(delete)
        .unify()
        .or(targets)
        .unify()
        .or(document)
        .unify()
        .or(docs_page)
        .unify()
        .or(docs_files)
        .unify()
        .or(health)
        .unify()
        .recover(|r: warp::Rejection| async move {
            let e = if r.is_not_found() {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no such route (GET /openapi.json lists them)",
                )
            } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the body is larger than 1 MiB",
                )
            } else if let Some(e) = r.find::<warp::reject::InvalidQuery>() {
                ApiError::bad_request(format!("bad query: {e}"))
            } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed on this route",
                )
            } else {
                ApiError::bad_request(format!("{r:?}"))
            };
            Ok::<_, Infallible>(e.into_response())
        })
        .unify()
}
