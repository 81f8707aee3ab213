//! The service's routes.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page (seven tabs) |
//! | `GET /static/*`, `GET /vendor/lightweight-charts.js` | its files |
//! | `GET /api/events`, `WS /ws/events` | Webhooks: recent and live `queue-events` |
//! | `GET /api/topics`, `WS /ws/topic/{topic}` | Kafka Topic: the allowed topics, and a tail of one |
//! | `GET /api/candles` | Candlestick Chart: candles from the lake |
//! | `GET /api/heatmap` | Heatmap Levels: order-book depth over time |
//! | `GET /api/indicators` | Indicators: RSI, SMA, EMA, VWAP over the candles |
//! | `GET /api/models`, `GET /api/model` | GNN Output: runs, curves, predictions |
//! | `GET /api/graphs`, `GET /api/graph` | Graph View |
//! | `GET /healthz`, `GET /metrics` | liveness, Prometheus |

use std::convert::Infallible;
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use serde_json::json;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::ws::{Message, WebSocket, Ws};

use crate::api::{self, ApiError, respond};
use crate::app::App;
use crate::filter::Filter as RecordFilter;
use crate::page::CHART_LIBRARY;
use crate::topic_tail;

fn with_app(app: Arc<App>) -> impl Filter<Extract = (Arc<App>,), Error = Infallible> + Clone {
    warp::any().map(move || app.clone())
}

pub fn routes(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let get = warp::get();
    let index = get
        .and(warp::path::end())
        .and(with_app(app.clone()))
        .map(|app: Arc<App>| {
            use warp::Reply;
            warp::reply::html(app.page.render()).into_response()
        });
    let statics = get
        .and(warp::path("static"))
        .and(warp::fs::dir(app.page.dir.clone()));
    let library = get
        .and(warp::path!("vendor" / "lightweight-charts.js"))
        .and(warp::fs::file(app.page.dir.join(CHART_LIBRARY)));
    let files = statics.or(library).unify().map(|f: warp::fs::File| {
        use warp::Reply;
        f.into_response()
    });

    let events = get
        .and(warp::path!("api" / "events"))
        .and(with_app(app.clone()))
        .and(warp::query::<api::EventsQuery>())
        .map(|app: Arc<App>, q: api::EventsQuery| respond(api::events(&app, &q)));
    let topics = get
        .and(warp::path!("api" / "topics"))
        .and(with_app(app.clone()))
        .then(|app| async move { respond(api::topics(app).await) });
    let candles = get
        .and(warp::path!("api" / "candles"))
        .and(with_app(app.clone()))
        .and(warp::query::<api::CandlesQuery>())
        .then(|app, q| async move { respond(api::candles(app, q).await) });
    let indicators = get
        .and(warp::path!("api" / "indicators"))
        .and(with_app(app.clone()))
        .and(warp::query::<api::CandlesQuery>())
        .then(|app, q| async move { respond(api::indicators(app, q).await) });
    let heatmap = get
        .and(warp::path!("api" / "heatmap"))
        .and(with_app(app.clone()))
        .and(warp::query::<api::HeatmapQuery>())
        .then(|app, q| async move { respond(api::heatmap(app, q).await) });
    let graphs = get
        .and(warp::path!("api" / "graphs"))
        .and(with_app(app.clone()))
        .then(|app| async move { respond(api::graphs(app).await) });
    let graph = get
        .and(warp::path!("api" / "graph"))
        .and(with_app(app.clone()))
        .and(warp::query::<api::GraphQuery>())
        .then(|app, q| async move { respond(api::graph(app, q).await) });
    let models = get
        .and(warp::path!("api" / "models"))
        .and(with_app(app.clone()))
        .then(|app| async move { respond(api::models(app).await) });
    let model = get
        .and(warp::path!("api" / "model"))
        .and(with_app(app.clone()))
        .and(warp::query::<api::ModelQuery>())
        .then(|app, q| async move { respond(api::model(app, q).await) });

    let ws_topic = warp::path!("ws" / "topic" / String)
        .and(warp::ws())
        .and(with_app(app.clone()))
        .and(warp::query::<RecordFilter>())
        .map(
            |topic: String, ws: Ws, app: Arc<App>, filter: RecordFilter| {
                use warp::Reply;
                ws.on_upgrade(move |socket| tail(socket, topic, app, filter))
                    .into_response()
            },
        );
    let ws_events = warp::path!("ws" / "events")
        .and(warp::ws())
        .and(with_app(app.clone()))
        .and(warp::query::<RecordFilter>())
        .map(|ws: Ws, app: Arc<App>, filter: RecordFilter| {
            use warp::Reply;
            ws.on_upgrade(move |socket| live_events(socket, app, filter))
                .into_response()
        });

    let health = get.and(warp::path!("healthz")).map(|| {
        use warp::Reply;
        warp::reply::json(&json!({"ok": true})).into_response()
    });
    let metrics = get
        .and(warp::path!("metrics"))
        .and(with_app(app.clone()))
        .map(|app: Arc<App>| {
            use prometheus::Encoder;
            use warp::Reply;
            let mut buf = vec![];
            let _ = prometheus::TextEncoder::new().encode(&app.registry.gather(), &mut buf);
            String::from_utf8(buf).unwrap_or_default().into_response()
        });

    let api = events
        .or(topics)
        .unify()
        .or(candles)
        .unify()
        .or(indicators)
        .unify()
        .or(heatmap)
        .unify()
        .or(graphs)
        .unify()
        .or(graph)
        .unify()
        .or(models)
        .unify()
        .or(model)
        .unify();
    index
        .or(files)
        .unify()
        .or(api)
        .unify()
        .or(ws_topic)
        .unify()
        .or(ws_events)
        .unify()
        .or(health)
        .unify()
        .or(metrics)
        .unify()
        .recover(rejection)
        .unify()
}

/// Anything no route took: JSON errors for the API, plain ones elsewhere.
async fn rejection(r: warp::Rejection) -> Result<Response, Infallible> {
    let e = if r.is_not_found() {
        ApiError::not_found("no such page or API route")
    } else if let Some(q) = r.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_request(format!("bad query: {q}"))
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: "method not allowed".into(),
        }
    } else {
        ApiError::bad_request(format!("{r:?}"))
    };
    Ok(respond(Err(e)))
}

async fn tail(socket: WebSocket, topic: String, app: Arc<App>, filter: RecordFilter) {
    if !app.config.topics.allows(&topic) {
        return topic_tail::refuse(
            socket,
            format!("topic {topic} may not be read here (ALLOWED_TOPICS/DENIED_TOPICS)"),
        )
        .await;
    }
    let joined = {
        let app = app.clone();
        let topic = topic.clone();
        tokio::task::spawn_blocking(move || app.hub.subscribe(&topic)).await
    };
    match joined {
        Ok(Ok((feed, rx))) => {
            let metrics = app.hub.metrics.clone();
            topic_tail::serve_client(socket, topic, feed, rx, filter, metrics).await
        }
        Ok(Err(e)) => topic_tail::refuse(socket, e).await,
        Err(e) => topic_tail::refuse(socket, e.to_string()).await,
    }
}

async fn live_events(socket: WebSocket, app: Arc<App>, filter: RecordFilter) {
    let mut rx = app.events.subscribe();
    let (mut sink, mut incoming) = socket.split();
    loop {
        tokio::select! {
            r = rx.recv() => {
                let text = match r {
                    Ok(seen) if filter.event(&seen.event) => serde_json::to_string(&*seen).unwrap_or_default(),
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        json!({"kind": "skipped", "count": n}).to_string()
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
            m = incoming.next() => match m {
                None | Some(Err(_)) => break,
                Some(Ok(m)) if m.is_close() => break,
                Some(Ok(_)) => {}
            },
        }
    }
}
