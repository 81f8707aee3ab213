//! Where a report goes: `OUTPUT_PATH` as `s3://bucket/key` (the lake's S3 endpoint and
//! credentials, any bucket, created if missing) or a local path (only when asked for); without
//! it, `visuals/<queue id>/index.html` in the lake. A path ending in `/` gets `index.html`.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use streamforge_kit::Failure;
use streamforge_sinks::lake::LakeLocation;

#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    S3 {
        bucket: String,
        key: String,
    },
    Local {
        path: std::path::PathBuf,
    },
    /// In the lake, wherever it is.
    Lake {
        key: String,
    },
}

impl Output {
    pub fn parse(output_path: Option<&str>, queue_id: &str) -> Result<Self, String> {
        let Some(p) = output_path.map(str::trim).filter(|p| !p.is_empty()) else {
            return Ok(Output::Lake {
                key: format!("visuals/{queue_id}/index.html"),
            });
        };
        let with_index = |p: &str| {
            if p.ends_with('/') {
                format!("{p}index.html")
            } else {
                p.to_owned()
            }
        };
        if let Some(rest) = p.strip_prefix("s3://") {
            let (bucket, key) = rest
                .split_once('/')
                .filter(|(b, k)| !b.is_empty() && !k.is_empty())
                .ok_or_else(|| format!("OUTPUT_PATH {p:?} is not s3://bucket/key"))?;
            if key.split('/').any(|part| part == "..") {
                return Err(format!("OUTPUT_PATH {p:?} climbs out of its bucket"));
            }
            return Ok(Output::S3 {
                bucket: bucket.to_owned(),
                key: with_index(key),
            });
        }
        if p.contains("://") {
            return Err(format!("OUTPUT_PATH {p:?}: only s3:// or a local path"));
        }
        Ok(Output::Local {
            path: with_index(p).into(),
        })
    }

    /// Write `html`; returns where it went, as the Queue's status shows it.
    pub async fn write(&self, lake: &LakeLocation, html: String) -> Result<String, Failure> {
        let (store, key, shown): (Arc<dyn ObjectStore>, String, String) = match self {
            Output::Local { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(dir).await.map_err(|e| {
                        Failure::Permanent(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                tokio::fs::write(path, html).await.map_err(|e| {
                    Failure::Permanent(format!("cannot write {}: {e}", path.display()))
                })?;
                let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                return Ok(shown.display().to_string());
            }
            Output::Lake { key } => {
                let opened = open(lake).await?;
                let shown = format!("{}/{key}", crate::app::lake_base(lake));
                (opened, key.clone(), shown)
            }
            Output::S3 { bucket, key } => {
                let LakeLocation::S3 {
                    endpoint,
                    region,
                    access_key,
                    secret_key,
                    ..
                } = lake
                else {
                    return Err(Failure::Permanent(format!(
                        "OUTPUT_PATH s3://{bucket}/{key} needs an S3 endpoint (MINIO_ENDPOINT)"
                    )));
                };
                let location = LakeLocation::S3 {
                    endpoint: endpoint.clone(),
                    bucket: bucket.clone(),
                    region: region.clone(),
                    access_key: access_key.clone(),
                    secret_key: secret_key.clone(),
                };
                (
                    open(&location).await?,
                    key.clone(),
                    format!("s3://{bucket}/{key}"),
                )
            }
        };
        store
            .put(
                &Path::from(key.as_str()),
                PutPayload::from(html.into_bytes()),
            )
            .await
            .map_err(|e| {
                let e = streamforge_sinks::lake::store::classify(e);
                if e.is_transient() {
                    Failure::Transient(format!("writing {shown}: {e}"))
                } else {
                    Failure::Permanent(format!("writing {shown}: {e}"))
                }
            })?;
        Ok(shown)
    }
}

async fn open(location: &LakeLocation) -> Result<Arc<dyn ObjectStore>, Failure> {
    let opened = streamforge_sinks::lake::store::open(location)
        .map_err(|e| Failure::Permanent(format!("{}: {e}", location.describe())))?;
    opened.ensure_bucket().await.map_err(|e| {
        if e.is_transient() {
            Failure::Transient(e.to_string())
        } else {
            Failure::Permanent(e.to_string())
        }
    })?;
    Ok(opened.store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths_parse_as_the_seed_writes_them() {
        assert_eq!(
            Output::parse(Some("s3://visuals/btcusdt/2024_06_01/index.html"), "q").unwrap(),
            Output::S3 {
                bucket: "visuals".into(),
                key: "btcusdt/2024_06_01/index.html".into()
            }
        );
        assert_eq!(
            Output::parse(Some("s3://visuals/btcusdt/"), "q").unwrap(),
            Output::S3 {
                bucket: "visuals".into(),
                key: "btcusdt/index.html".into()
            }
        );
        assert_eq!(
            Output::parse(None, "q1").unwrap(),
            Output::Lake {
                key: "visuals/q1/index.html".into()
            }
        );
        assert_eq!(
            Output::parse(Some("/tmp/r.html"), "q").unwrap(),
            Output::Local {
                path: "/tmp/r.html".into()
            }
        );
        for bad in ["s3://", "s3://bucket", "s3://b/../x", "https://x/y"] {
            assert!(Output::parse(Some(bad), "q").is_err(), "{bad}");
        }
    }
}
