//! `streamforge-operator`: runs the Queue controller, the telemetry folder and the HTTP
//! endpoints together until SIGTERM/SIGINT, then drains: the writer makes a last status write and
//! commits offsets before the process exits.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use k8s_openapi::api::batch::v1::Job;
use kube::{Api, Client};
use streamforge_api::Queue;
use streamforge_kit::KafkaSettings;
use streamforge_operator::config::Config;
use streamforge_operator::http::{self, Readiness};
use streamforge_operator::leader;
use streamforge_operator::metrics::Metrics;
use streamforge_operator::mirror;
use streamforge_operator::publisher::KafkaPublisher;
use streamforge_operator::queue_index::QueueIndex;
use streamforge_operator::reconcile::{self, Context};
use streamforge_operator::release;
use streamforge_operator::telemetry::{self, IndexLookup, KubeStatusWriter, Telemetry};
use streamforge_operator::topics::KafkaDataTopics;
use tokio::sync::watch;
use tracing::{info, warn};

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn,rdkafka=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            return;
        }
    }
    let _ = ctrl_c.await;
}

/// Make sure queue-control and queue-events exist (the broker's default partitions and
/// replication), retrying with capped backoff until Kafka answers.
async fn ensure_topics(kafka: &KafkaSettings) {
    let mut delay = Duration::from_secs(1);
    for topic in [&kafka.control_topic, &kafka.events_topic] {
        while let Err(e) = streamforge_kit::topics::ensure_topic(kafka, topic, -1, -1, None).await {
            warn!(error = %e, topic = %topic, retry_in_s = delay.as_secs(), "Kafka not reachable to make sure the topic exists; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }
    info!("queue-control and queue-events exist");
}

/// The Queue API as this operator's configuration scopes it.
fn queues_api(cfg: &Config, client: &Client) -> Api<Queue> {
    if cfg.watch_namespace.is_empty() {
        Api::all(client.clone())
    } else {
        Api::namespaced(client.clone(), &cfg.watch_namespace)
    }
}

/// Ready once the Queue API answers this operator (RBAC and CRD in place). The store's own
/// readiness signal did not fire in-cluster, so it is not waited for.
async fn ready_when_queues_answer(queues: Api<Queue>, ready: Readiness) {
    loop {
        match queues
            .list_metadata(&kube::api::ListParams::default().limit(1))
            .await
        {
            Ok(_) => {
                ready.set(true);
                info!("Queue API reachable; ready");
                return;
            }
            Err(e) => {
                warn!(error = %e, "Queue API not reachable yet");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// `--release-finalizers`: the uninstall hook's work (`streamforge_operator::release`).
async fn release_finalizers(cfg: &Config) -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let namespace = cfg.pod_namespace.clone();
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), &namespace);
    if !release::wait_for_operator_gone(
        &pods,
        &cfg.release_operator_selector,
        Duration::from_secs(120),
    )
    .await
    {
        warn!("the operator's pods are still there after 120 s; releasing anyway");
    }
    let released = release::release_finalizers(&queues_api(cfg, &client))
        .await
        .context("releasing the Queues' finalizers")?;
    info!(released, "finalizers released");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cfg = Config::parse();
    init_tracing(&cfg.log_format);
    if cfg.release_finalizers {
        return release_finalizers(&cfg).await;
    }
    let kafka = KafkaSettings::from_env().context("Kafka settings")?;
    if cfg.workers.kafka_bootstrap_servers.is_none() {
        cfg.workers.kafka_bootstrap_servers = Some(kafka.bootstrap_servers.clone());
    }
    info!(version = env!("CARGO_PKG_VERSION"), kafka = %kafka.bootstrap_servers, "starting");

    let client = Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let metrics = Metrics::new().context("registering metrics")?;
    let ready = Readiness::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    // Health first: a liveness probe must never kill an operator that waits for Kafka.
    let http_task = tokio::spawn(http::serve(
        cfg.http_addr,
        metrics.clone(),
        ready.clone(),
        stopped(),
    ));
    // Both topics exist before the telemetry consumer subscribes (a consumer of a topic that
    // does not exist yet only sees it at its next metadata refresh, minutes later). Made in the
    // background, retried until Kafka answers; reconciling goes on meanwhile, and deletions
    // release their finalizers after the stop grace period, as without Kafka at all.
    let topics_ready = tokio::spawn({
        let kafka = kafka.clone();
        async move { ensure_topics(&kafka).await }
    });
    // With several replicas only the leader acts; a standby waits here, ready (its Queue API
    // probe below), and takes over when the leader's lease lapses.
    let mut leading = match cfg.election().context("leader election settings")? {
        None => None,
        Some(election) => {
            let (mut rx, _campaign) = leader::campaign(client.clone(), &election)
                .await
                .context("leader election")?;
            let probe = tokio::spawn(ready_when_queues_answer(
                queues_api(&cfg, &client),
                ready.clone(),
            ));
            info!(lease = %election.lease, identity = %election.identity, "standing by for the lead");
            tokio::select! {
                r = rx.wait_for(|l| *l) => { r.context("leader election ended")?; }
                _ = shutdown_signal() => {
                    info!("stopped while standing by");
                    return Ok(());
                }
            }
            probe.abort();
            info!(identity = %election.identity, "leading");
            Some(rx)
        }
    };
    let producer = kafka
        .producer("streamforge-operator")
        .context("Kafka producer")?;
    let publisher = Arc::new(KafkaPublisher::new(
        producer,
        kafka.control_topic.clone(),
        Duration::from_secs(10),
    ));
    let consumer = Arc::new(
        kafka
            .consumer("streamforge-operator", "streamforge-operator")
            .context("Kafka consumer")?,
    );

    let (queues, jobs): (Api<Queue>, Api<Job>) = if cfg.watch_namespace.is_empty() {
        (Api::all(client.clone()), Api::all(client.clone()))
    } else {
        (
            Api::namespaced(client.clone(), &cfg.watch_namespace),
            Api::namespaced(client.clone(), &cfg.watch_namespace),
        )
    };
    let (job_cache, follow) = reconcile::follow_jobs(jobs.clone());
    tokio::spawn(follow);
    let controller = reconcile::controller(queues.clone(), jobs);
    let mut ctx = Context::new(
        client.clone(),
        cfg.workers.clone(),
        publisher,
        metrics.clone(),
        cfg.stop_grace(),
    );
    // Reconciles read Jobs from the cache once its first list is in; until then (or if it never
    // comes) they list them.
    match tokio::time::timeout(Duration::from_secs(30), job_cache.wait_until_ready()).await {
        Ok(Ok(())) => ctx = ctx.with_job_cache(job_cache),
        _ => warn!("the Job cache is not ready; reconciles list Jobs instead"),
    }
    let data_topics = Arc::new(KafkaDataTopics::new(
        kafka.clone(),
        cfg.data_topic_partitions,
        cfg.data_topic_replication,
    ));
    tokio::spawn(streamforge_operator::metrics::count_queues(
        controller.store(),
        metrics.clone(),
        Duration::from_secs(5),
    ));
    let ctx = Arc::new(
        ctx.with_queue_cache(controller.store())
            .with_data_topics(data_topics),
    );

    let queues_probe = queues.clone();
    let index = Arc::new(Mutex::new(QueueIndex::default()));
    tokio::spawn(telemetry::follow_queues(queues.clone(), index.clone()));
    let controller = reconcile::run(controller, ctx);

    let tel = Arc::new(Telemetry::new(
        cfg.status_min_interval(),
        Box::new(IndexLookup(index)),
        Box::new(KubeStatusWriter(client.clone())),
        metrics.clone(),
    ));
    let events_topic = kafka.events_topic.clone();
    let consumer_task = tokio::spawn({
        let (tel, consumer, stop) = (tel.clone(), consumer.clone(), stopped());
        async move {
            let _ = topics_ready.await;
            telemetry::consume(tel, consumer, &events_topic, stop).await
        }
    });
    let writer_task = tokio::spawn(telemetry::write_loop(
        tel.clone(),
        consumer.clone(),
        stopped(),
    ));
    if cfg.workers.status_mirror {
        let mirror = streamforge_arango::ArangoClient::new(
            &cfg.workers.arango_url,
            &cfg.workers.arango_db,
            &std::env::var("ARANGO_USER").unwrap_or_else(|_| "root".into()),
            &std::env::var("ARANGO_PASSWORD").unwrap_or_default(),
        )
        .context("status mirror: ArangoDB client")?;
        let queues: Api<Queue> = if cfg.watch_namespace.is_empty() {
            Api::all(client.clone())
        } else {
            Api::namespaced(client.clone(), &cfg.watch_namespace)
        };
        tokio::spawn(mirror::run(
            queues,
            mirror,
            cfg.workers.status_mirror_collection.clone(),
            Duration::from_millis(cfg.workers.status_mirror_interval_ms.max(100)),
        ));
    }
    tokio::spawn(ready_when_queues_answer(queues_probe, ready.clone()));

    // The controller stops on SIGTERM/SIGINT by itself; then the rest drains.
    tokio::select! {
        _ = controller => {},
        _ = shutdown_signal() => {},
        _ = async {
            match leading.as_mut() {
                Some(rx) => leader::lost(rx).await,
                None => std::future::pending().await,
            }
        } => {
            // Another replica may lead already: stop at once, without a last status write.
            tracing::error!("lost the lead; exiting so that this pod restarts as a standby");
            std::process::exit(1);
        }
    }
    info!("shutting down");
    ready.set(false);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let _ = consumer_task.await;
        let _ = writer_task.await;
        let _ = http_task.await;
    })
    .await;
    info!("stopped");
    Ok(())
}
