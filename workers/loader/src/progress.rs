//! `loading` events while a load runs: every `every`, or every `every_records` records,
//! whichever comes first, with the records written, the fraction done and the position.

use std::time::{Duration, Instant};

use crate::historical::Progress;
use serde_json::Value;
use streamforge_api::EventStatus;
use streamforge_kit::telemetry::Reporter;
use tokio::sync::watch;
use tracing::warn;

/// Report `rx`'s progress until its sender is dropped.
pub async fn report(
    reporter: Reporter,
    mut rx: watch::Receiver<Progress>,
    every: Duration,
    every_records: u64,
) {
    let mut last_sent = Instant::now();
    let mut last_records = 0;
    loop {
        let changed = tokio::time::timeout(every, rx.changed()).await;
        if matches!(changed, Ok(Err(_))) {
            return;
        }
        let p = *rx.borrow();
        if p.records == last_records
            || (p.records - last_records < every_records && last_sent.elapsed() < every)
        {
            continue;
        }
        let mut e = reporter.event(
            EventStatus::Loading,
            format!("{} records written", p.records),
        );
        e.records_written = Some(p.records);
        e.progress = Some(p.fraction);
        if let Some(pos) = p.position {
            e.extra.insert("position".into(), Value::from(pos));
        }
        if let Err(err) = reporter.send(e).await {
            warn!(error = %err, "progress telemetry not delivered");
        }
        last_sent = Instant::now();
        last_records = p.records;
    }
}
