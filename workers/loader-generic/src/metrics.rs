//! The generic loader's own Prometheus metrics, in the registry the kit serves (none in tests
//! that serve no metrics). Labels are small fixed sets: the record kind and the dead-letter
//! category.

use std::sync::OnceLock;

use prometheus::{IntCounter, IntCounterVec, Opts};

struct Metrics {
    records: IntCounterVec,
    dead_letters: IntCounterVec,
    skipped: IntCounterVec,
    reconnects: IntCounter,
}

static METRICS: OnceLock<Option<Metrics>> = OnceLock::new();

fn get() -> Option<&'static Metrics> {
    METRICS
        .get_or_init(|| {
            let registry = streamforge_kit::metrics_server::served_registry()?;
            let m = Metrics {
                records: IntCounterVec::new(
                    Opts::new(
                        "loader_generic_records_total",
                        "Records written to the data topic, by kind (candle, trade, message)",
                    ),
                    &["kind"],
                )
                .ok()?,
                dead_letters: IntCounterVec::new(
                    Opts::new(
                        "loader_generic_dead_letters_total",
                        "Rows or messages sent to the dead-letter topic, by category",
                    ),
                    &["category"],
                )
                .ok()?,
                skipped: IntCounterVec::new(
                    Opts::new(
                        "loader_generic_skipped_total",
                        "Rows not loaded: out_of_range (TIME_RANGE) or duplicate",
                    ),
                    &["why"],
                )
                .ok()?,
                reconnects: IntCounter::new(
                    "loader_generic_reconnects_total",
                    "WebSocket feed connections replaced after the first",
                )
                .ok()?,
            };
            registry.register(Box::new(m.records.clone())).ok()?;
            registry.register(Box::new(m.dead_letters.clone())).ok()?;
            registry.register(Box::new(m.skipped.clone())).ok()?;
            registry.register(Box::new(m.reconnects.clone())).ok()?;
            Some(m)
        })
        .as_ref()
}

pub fn record(kind: &'static str) {
    if let Some(m) = get() {
        m.records.with_label_values(&[kind]).inc();
    }
}

pub fn dead_letter(category: &'static str) {
    if let Some(m) = get() {
        m.dead_letters.with_label_values(&[category]).inc();
    }
}

pub fn skipped(why: &'static str) {
    if let Some(m) = get() {
        m.skipped.with_label_values(&[why]).inc();
    }
}

pub fn reconnect() {
    if let Some(m) = get() {
        m.reconnects.inc();
    }
}
