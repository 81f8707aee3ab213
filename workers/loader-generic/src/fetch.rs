//! Fetching a manual_upload's file whole (it is read in place, and Parquet needs random
//! access): from S3 through the sinks' store (MinIO's keys or the AWS credential chain), or
//! over HTTP(S). A file larger than the configured limit is refused before it is read.
//! Refusals (no such object or URL, no access, too large) are permanent; outages transient.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use object_store::path::Path;
use streamforge_sinks::core::StorageError;
use streamforge_sinks::lake::LakeLocation;
use streamforge_sinks::lake::store;

use crate::config::Location;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Retrying cannot help.
    #[error("reading {url}: {reason}")]
    Refused { url: String, reason: String },
    /// An outage: retrying may help.
    #[error("reading {url}: {reason}")]
    Unavailable { url: String, reason: String },
}

impl FetchError {
    pub fn is_transient(&self) -> bool {
        matches!(self, FetchError::Unavailable { .. })
    }
}

/// The whole file at `location` (`url` as the Queue wrote it, for messages); `s3` is the
/// endpoint `s3://` URLs are read from.
pub async fn fetch(
    location: &Location,
    url: &str,
    s3: Option<&LakeLocation>,
    max_bytes: u64,
) -> Result<Bytes, FetchError> {
    let refused = |reason: String| FetchError::Refused {
        url: url.to_owned(),
        reason,
    };
    let from_storage = |e: StorageError| match e {
        StorageError::Refused(r) => FetchError::Refused {
            url: url.to_owned(),
            reason: r,
        },
        StorageError::Unavailable(r) => FetchError::Unavailable {
            url: url.to_owned(),
            reason: r,
        },
    };
    match location {
        Location::S3 { bucket, key } => {
            let Some(LakeLocation::S3 {
                endpoint,
                region,
                access_key,
                secret_key,
                ..
            }) = s3
            else {
                return Err(refused(
                    "no S3 endpoint is configured (MINIO_ENDPOINT)".into(),
                ));
            };
            let at = LakeLocation::S3 {
                endpoint: endpoint.clone(),
                bucket: bucket.clone(),
                region: region.clone(),
                access_key: access_key.clone(),
                secret_key: secret_key.clone(),
            };
            let opened = store::open(&at).map_err(from_storage)?;
            let path = Path::from(key.as_str());
            let meta = opened
                .store
                .head(&path)
                .await
                .map_err(|e| from_storage(store::classify(e)))?;
            if meta.size > max_bytes {
                return Err(too_large(url, meta.size, max_bytes));
            }
            opened
                .store
                .get(&path)
                .await
                .map_err(|e| from_storage(store::classify(e)))?
                .bytes()
                .await
                .map_err(|e| from_storage(store::classify(e)))
        }
        Location::Http(u) => http(u, max_bytes).await,
        Location::WebSocket(_) => Err(refused("a WebSocket is not a file".into())),
    }
}

/// An error with its sources (`error sending request` alone does not say what failed).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn too_large(url: &str, size: u64, max: u64) -> FetchError {
    FetchError::Refused {
        url: url.to_owned(),
        reason: format!("the file has {size} bytes, more than MAX_UPLOAD_BYTES={max}"),
    }
}

async fn http(url: &str, max_bytes: u64) -> Result<Bytes, FetchError> {
    let unavailable = |reason: String| FetchError::Unavailable {
        url: url.to_owned(),
        reason,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| unavailable(chain(&e)))?;
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| unavailable(chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        let reason = format!("HTTP {status}");
        let code = status.as_u16();
        return Err(if status.is_client_error() && code != 408 && code != 429 {
            FetchError::Refused {
                url: url.to_owned(),
                reason,
            }
        } else {
            unavailable(reason)
        });
    }
    if let Some(len) = resp.content_length().filter(|l| *l > max_bytes) {
        return Err(too_large(url, len, max_bytes));
    }
    let mut resp = resp;
    let mut body = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| unavailable(chain(&e)))? {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > max_bytes {
            return Err(too_large(url, body.len() as u64, max_bytes));
        }
    }
    Ok(body.freeze())
}
