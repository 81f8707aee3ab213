//! What the service's handlers share: settings, the broker, the event log, the topic hub, the
//! lake and the page.

use std::sync::Arc;

use object_store::ObjectStore;
use prometheus::Registry;
use streamforge_kit::KafkaSettings;
use streamforge_sinks::lake::LakeLocation;

use crate::config::VisualizerConfig;
use crate::events::EventLog;
use crate::page::Page;
use crate::topic_tail::{TailMetrics, TopicHub};

pub struct App {
    pub config: VisualizerConfig,
    pub kafka: KafkaSettings,
    pub events: Arc<EventLog>,
    pub hub: TopicHub,
    pub lake: Arc<dyn ObjectStore>,
    /// How lake paths are shown: `s3://bucket` or a directory.
    pub lake_base: String,
    pub page: Page,
    pub registry: Registry,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the lake ({0})")]
    Lake(String),
    #[error("the page: {0}")]
    Page(String),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// How a lake location shows its paths.
pub fn lake_base(location: &LakeLocation) -> String {
    location.base()
}

impl App {
    /// Open the lake and the page; the broker is reached lazily (a broker that is away shows
    /// as errors in the tabs that need it, not as a service that will not start).
    pub fn new(config: VisualizerConfig, kafka: KafkaSettings) -> Result<Arc<Self>, AppError> {
        let lake = streamforge_sinks::lake::store::open(&config.lake)
            .map_err(|e| AppError::Lake(format!("{}: {e}", config.lake.describe())))?;
        let page = Page::load(&config).map_err(AppError::Page)?;
        let registry = streamforge_kit::metrics_server::registry();
        let metrics = TailMetrics::new(&registry)?;
        Ok(Arc::new(App {
            events: Arc::new(EventLog::new(config.events_kept, config.client_buffer)),
            hub: TopicHub::new(kafka.clone(), config.client_buffer, metrics),
            lake: lake.store,
            lake_base: lake_base(&config.lake),
            page,
            registry,
            kafka,
            config,
        }))
    }
}
