//! The sink's Prometheus metrics (`sink_*`), shared by the intake and the writer.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct SinkMetrics {
    pub records_written: IntCounter,
    pub batches: IntCounter,
    pub batch_latency: Histogram,
    pub lag: IntGauge,
    pub dead_letters: IntCounterVec,
    pub storage_retries: IntCounter,
    /// Records consumed and held back by the store, not stored yet (the lake's open
    /// directories).
    pub held: IntGauge,
}

impl SinkMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self {
            records_written: IntCounter::new("sink_records_written_total", "Records stored")?,
            batches: IntCounter::new("sink_batches_total", "Batches stored")?,
            batch_latency: Histogram::with_opts(HistogramOpts::new(
                "sink_batch_latency_seconds",
                "Time to store one batch, retries included",
            ))?,
            lag: IntGauge::new("sink_lag_records", "Records in the topic not yet consumed")?,
            dead_letters: IntCounterVec::new(
                Opts::new(
                    "sink_dead_letters_total",
                    "Messages sent to the dead-letter topic",
                ),
                &["reason"],
            )?,
            storage_retries: IntCounter::new(
                "sink_storage_retries_total",
                "Batch writes retried after a storage outage",
            )?,
            held: IntGauge::new(
                "sink_records_held",
                "Records consumed and held back, not stored yet (the lake's open directories)",
            )?,
        };
        registry.register(Box::new(m.records_written.clone()))?;
        registry.register(Box::new(m.batches.clone()))?;
        registry.register(Box::new(m.batch_latency.clone()))?;
        registry.register(Box::new(m.lag.clone()))?;
        registry.register(Box::new(m.dead_letters.clone()))?;
        registry.register(Box::new(m.storage_retries.clone()))?;
        registry.register(Box::new(m.held.clone()))?;
        Ok(m)
    }
}
