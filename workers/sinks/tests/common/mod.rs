//! What the sink tests share.

use std::sync::Arc;

use streamforge_sinks::core::{Batch, record};

/// A batch of (key, JSON payload) messages from partition 0, at offsets 0, 1, 2, ...
pub fn batch_of(messages: impl IntoIterator<Item = (String, String)>) -> Arc<Batch> {
    let records = messages
        .into_iter()
        .enumerate()
        .map(|(offset, (key, payload))| {
            record::parse(
                Some(key.as_bytes()),
                Some(payload.as_bytes()),
                0,
                offset as i64,
                None,
            )
            .unwrap()
        })
        .collect();
    Arc::new(Batch {
        records,
        commit: Default::default(),
    })
}
