//! Where the lake lives: an S3 bucket (MinIO in our platform, or Amazon S3) or, when no
//! endpoint is set, a local directory. S3 credentials are the static keys when both are given,
//! else the standard AWS chain ([`Credentials::Chain`]).

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::signer::Signer;
use object_store::{ClientOptions, ObjectStore};

use crate::core::StorageError;

/// The environment variable naming a local lake directory, used only when set (or, outside a
/// pod, as `./lake` when nothing is set).
pub const LAKE_DIR: &str = "LAKE_DIR";

/// No store in a pod's environment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "no lake is configured: MINIO_ENDPOINT is not set, and in a pod a local directory would vanish with the pod; set MINIO_ENDPOINT (the operator's configuration), or LAKE_DIR to write to a mounted volume on purpose"
)]
pub struct NoLake;

/// How the lake's S3 requests are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// `MINIO_ACCESS_KEY` and `MINIO_SECRET_KEY` (MinIO, or keys given on purpose).
    Static,
    /// Neither key given: the standard AWS chain, as object_store resolves it when the worker
    /// starts: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`) from the
    /// environment, else web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`, which
    /// EKS sets for IRSA), else ECS task or EKS Pod Identity credentials
    /// (`AWS_CONTAINER_CREDENTIALS_*`), else the instance profile (IMDSv2).
    Chain,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LakeLocation {
    S3 {
        endpoint: String,
        bucket: String,
        region: String,
        /// Both empty: [`Credentials::Chain`].
        access_key: String,
        secret_key: String,
    },
    Local {
        dir: std::path::PathBuf,
    },
}

impl LakeLocation {
    /// From the worker environment: `MINIO_ENDPOINT` (with or without `http://`; for Amazon S3
    /// `https://s3.<region>.amazonaws.com`), `MINIO_BUCKET`, `MINIO_ACCESS_KEY`,
    /// `MINIO_SECRET_KEY` (both unset: the AWS credential chain), `S3_REGION` (else
    /// `AWS_REGION`, `AWS_DEFAULT_REGION`, `us-east-1`); without an endpoint,
    /// the directory `LAKE_DIR`. With neither, `./lake` on a workstation; in a pod
    /// (`KUBERNETES_SERVICE_HOST` is set) that directory would vanish with the pod while its Job
    /// succeeded, so there a missing store is a configuration error.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, NoLake> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if let Some(ep) = get(streamforge_api::env::MINIO_ENDPOINT) {
            return Ok(LakeLocation::S3 {
                endpoint: if ep.contains("://") {
                    ep
                } else {
                    format!("http://{ep}")
                },
                bucket: get(streamforge_api::env::MINIO_BUCKET)
                    .unwrap_or_else(|| "streamforge-lake".into()),
                region: get("S3_REGION")
                    .or_else(|| get("AWS_REGION"))
                    .or_else(|| get("AWS_DEFAULT_REGION"))
                    .unwrap_or_else(|| "us-east-1".into()),
                access_key: get(streamforge_api::env::MINIO_ACCESS_KEY).unwrap_or_default(),
                secret_key: get(streamforge_api::env::MINIO_SECRET_KEY).unwrap_or_default(),
            });
        }
        if let Some(dir) = get(LAKE_DIR) {
            return Ok(LakeLocation::Local { dir: dir.into() });
        }
        if get("KUBERNETES_SERVICE_HOST").is_some() {
            return Err(NoLake);
        }
        Ok(LakeLocation::Local { dir: "lake".into() })
    }

    /// How paths in this lake are shown to people: `s3://bucket`, or the directory's absolute
    /// path; a file's path is this, `/`, and its key.
    pub fn base(&self) -> String {
        match self {
            LakeLocation::S3 { bucket, .. } => format!("s3://{bucket}"),
            LakeLocation::Local { dir } => std::path::absolute(dir)
                .unwrap_or_else(|_| dir.clone())
                .display()
                .to_string(),
        }
    }

    /// How S3 requests are signed; `None` for a directory.
    pub fn credentials(&self) -> Option<Credentials> {
        match self {
            LakeLocation::S3 {
                access_key,
                secret_key,
                ..
            } if access_key.is_empty() && secret_key.is_empty() => Some(Credentials::Chain),
            LakeLocation::S3 { .. } => Some(Credentials::Static),
            LakeLocation::Local { .. } => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            LakeLocation::S3 {
                endpoint, bucket, ..
            } => match self.credentials() {
                Some(Credentials::Chain) => {
                    format!("s3://{bucket} at {endpoint} (AWS credential chain)")
                }
                _ => format!("s3://{bucket} at {endpoint}"),
            },
            LakeLocation::Local { dir } => format!("directory {}", dir.display()),
        }
    }
}

/// An opened lake: the object store, and for S3 the handle that can create the bucket.
pub struct OpenedLake {
    pub store: Arc<dyn ObjectStore>,
    s3: Option<AmazonS3>,
}

pub fn open(location: &LakeLocation) -> Result<OpenedLake, StorageError> {
    match location {
        LakeLocation::S3 {
            endpoint,
            bucket,
            region,
            ..
        } => {
            let s3 = s3_builder(location, std::env::vars())
                .with_endpoint(endpoint)
                .with_bucket_name(bucket)
                .with_region(region)
                .with_virtual_hosted_style_request(false)
                // The client options carry `allow_http` too: set it there, after them it would
                // be overwritten.
                .with_client_options(
                    ClientOptions::new()
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_connect_timeout(Duration::from_secs(5))
                        .with_timeout(Duration::from_secs(60)),
                )
                .build()
                .map_err(|e| StorageError::Refused(format!("S3 settings: {e}")))?;
            Ok(OpenedLake {
                store: Arc::new(s3.clone()),
                s3: Some(s3),
            })
        }
        LakeLocation::Local { dir } => {
            std::fs::create_dir_all(dir).map_err(|e| {
                StorageError::Refused(format!("creating lake directory {}: {e}", dir.display()))
            })?;
            let fs = LocalFileSystem::new_with_prefix(dir).map_err(|e| {
                StorageError::Refused(format!("lake directory {}: {e}", dir.display()))
            })?;
            Ok(OpenedLake {
                store: Arc::new(fs),
                s3: None,
            })
        }
    }
}

/// The S3 settings' credentials: the static keys, or (neither given) every `AWS_*` variable
/// of `aws_env` that object_store knows, as its `AmazonS3Builder::from_env` takes them, so its
/// chain finds a session token, container credentials or the role to assume; web identity
/// (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`) and the instance profile are looked up when
/// the store is built. Endpoint, bucket and region are set by the caller, after these.
pub fn s3_builder(
    location: &LakeLocation,
    aws_env: impl IntoIterator<Item = (String, String)>,
) -> AmazonS3Builder {
    let builder = AmazonS3Builder::new();
    match location {
        LakeLocation::S3 {
            access_key,
            secret_key,
            ..
        } if location.credentials() == Some(Credentials::Static) => builder
            .with_access_key_id(access_key)
            .with_secret_access_key(secret_key),
        _ => aws_env
            .into_iter()
            .filter(|(k, _)| k.starts_with("AWS_"))
            .filter_map(|(k, v)| {
                let key: AmazonS3ConfigKey = k.to_ascii_lowercase().parse().ok()?;
                Some((key, v))
            })
            .fold(builder, |b, (k, v)| b.with_config(k, v)),
    }
}

/// Sort an object-store error into an outage (retry) or a refusal (stop).
pub fn classify(e: object_store::Error) -> StorageError {
    use object_store::Error as E;
    // The whole chain: the outer messages alone ("builder error") do not say what failed.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    match &e {
        // A missing bucket (NoSuchBucket is a 404 on a write), a refused precondition: the same
        // answer every time.
        E::NotFound { .. }
        | E::AlreadyExists { .. }
        | E::Precondition { .. }
        | E::PermissionDenied { .. }
        | E::Unauthenticated { .. }
        | E::InvalidPath { .. }
        | E::NotSupported { .. }
        | E::NotImplemented
        | E::UnknownConfigurationKey { .. } => StorageError::Refused(text),
        // Any other answer with an HTTP status: 4xx is a refusal, except a timeout (408) and
        // throttling (429); 5xx and no answer at all are outages.
        _ => match http_status(&text) {
            Some(code) if (400..500).contains(&code) && code != 408 && code != 429 => {
                StorageError::Refused(text)
            }
            _ => StorageError::Unavailable(text),
        },
    }
}

/// The HTTP status an object-store error names (`status code: 403`, `status 403`), if any.
pub fn http_status(text: &str) -> Option<u16> {
    ["status code: ", "status code ", "status: ", "status "]
        .iter()
        .find_map(|marker| {
            text.match_indices(marker).find_map(|(at, m)| {
                let rest = &text[at + m.len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                (digits.len() == 3).then(|| digits.parse().ok()).flatten()
            })
        })
}

impl OpenedLake {
    /// Create the bucket if it is missing (S3's `CreateBucket`, sent as a pre-signed `PUT` on
    /// the bucket itself); a local directory already exists. A bucket that answers a listing is
    /// left alone: a cloud role may read and write a bucket it has no right to create.
    pub async fn ensure_bucket(&self) -> Result<(), StorageError> {
        let Some(s3) = &self.s3 else { return Ok(()) };
        let marker = object_store::path::Path::from("_streamforge");
        if s3.list_with_delimiter(Some(&marker)).await.is_ok() {
            return Ok(());
        }
        let url = s3
            .signed_url(
                reqwest::Method::PUT,
                &object_store::path::Path::from(""),
                Duration::from_secs(300),
            )
            .await
            .map_err(classify)?;
        let resp = reqwest::Client::new()
            .put(url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| StorageError::Unavailable(format!("creating the bucket: {e}")))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if status.is_success()
            || body.contains("BucketAlreadyOwnedByYou")
            || body.contains("BucketAlreadyExists")
        {
            return Ok(());
        }
        let msg = format!("creating the bucket: HTTP {status}: {}", body.trim());
        Err(if status.is_server_error() {
            StorageError::Unavailable(msg)
        } else {
            StorageError::Refused(msg)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use streamforge_kit::testing::env_lookup as lookup;

    #[test]
    fn http_statuses_are_found_in_object_store_messages() {
        assert_eq!(
            http_status("Server returned non-2xx status code: 404 Not Found: <Error>"),
            Some(404)
        );
        assert_eq!(
            http_status("Client error with status 403 Forbidden"),
            Some(403)
        );
        assert_eq!(http_status("connection refused"), None);
        assert_eq!(http_status("status code: 5000"), None);
    }

    #[test]
    fn in_a_pod_a_missing_store_is_an_error_not_the_pods_own_disk() {
        let in_pod = [("KUBERNETES_SERVICE_HOST", "10.96.0.1")];
        let e = LakeLocation::from_lookup(lookup(&in_pod)).unwrap_err();
        assert!(e.to_string().contains("MINIO_ENDPOINT"), "{e}");
        // Asked for on purpose (a mounted volume), a directory is fine in a pod too.
        assert_eq!(
            LakeLocation::from_lookup(lookup(&[in_pod[0], ("LAKE_DIR", "/data/lake")])).unwrap(),
            LakeLocation::Local {
                dir: "/data/lake".into()
            }
        );
    }

    #[test]
    fn local_directory_unless_an_endpoint_is_set() {
        assert_eq!(
            LakeLocation::from_lookup(lookup(&[])).unwrap(),
            LakeLocation::Local { dir: "lake".into() }
        );
        assert_eq!(
            LakeLocation::from_lookup(lookup(&[("MINIO_ENDPOINT", " "), ("LAKE_DIR", "/d")]))
                .unwrap(),
            LakeLocation::Local { dir: "/d".into() }
        );
        let s3 = LakeLocation::from_lookup(lookup(&[
            ("MINIO_ENDPOINT", "minio:9000"),
            ("MINIO_BUCKET", "b"),
            ("MINIO_ACCESS_KEY", "a"),
            ("MINIO_SECRET_KEY", "s"),
        ]))
        .unwrap();
        assert_eq!(
            s3,
            LakeLocation::S3 {
                endpoint: "http://minio:9000".into(),
                bucket: "b".into(),
                region: "us-east-1".into(),
                access_key: "a".into(),
                secret_key: "s".into()
            }
        );
        assert_eq!(s3.describe(), "s3://b at http://minio:9000");
    }

    fn s3(access_key: &str, secret_key: &str) -> LakeLocation {
        LakeLocation::S3 {
            endpoint: "https://s3.eu-west-1.amazonaws.com".into(),
            bucket: "lake".into(),
            region: "eu-west-1".into(),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The credential provider object_store chose, by its type name.
    fn provider(location: &LakeLocation, aws_env: &[(&str, &str)]) -> String {
        let s3 = s3_builder(location, env(aws_env))
            .with_endpoint("https://s3.eu-west-1.amazonaws.com")
            .with_bucket_name("lake")
            .with_region("eu-west-1")
            .build()
            .unwrap();
        let shown = format!("{s3:?}");
        [
            "StaticCredentialProvider",
            "TaskCredentialProvider",
            "EKSPodCredentialProvider",
            "WebIdentityProvider",
            "InstanceCredentialProvider",
        ]
        .into_iter()
        .find(|p| shown.contains(p))
        .unwrap_or("none")
        .to_owned()
    }

    #[test]
    fn static_keys_when_given_else_the_aws_credential_chain() {
        // MinIO, and keys given on purpose: those keys, whatever the environment holds.
        let keys = s3("minio", "secret");
        assert_eq!(keys.credentials(), Some(Credentials::Static));
        let b = s3_builder(&keys, env(&[("AWS_ACCESS_KEY_ID", "other")]));
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::AccessKeyId)
                .as_deref(),
            Some("minio")
        );
        assert_eq!(provider(&keys, &[]), "StaticCredentialProvider");

        // No keys: the chain. Keys in the AWS environment come first...
        let chain = s3("", "");
        assert_eq!(chain.credentials(), Some(Credentials::Chain));
        assert!(chain.describe().ends_with("(AWS credential chain)"));
        let from_env = [
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", "t"),
            ("HOME", "/root"),
        ];
        let b = s3_builder(&chain, env(&from_env));
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Token).as_deref(),
            Some("t")
        );
        assert_eq!(provider(&chain, &from_env), "StaticCredentialProvider");
        // ... then container credentials (ECS tasks, EKS Pod Identity) ...
        assert_eq!(
            provider(
                &chain,
                &[(
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                    "/v2/credentials/x"
                )]
            ),
            "TaskCredentialProvider"
        );
        // ... and with nothing at all (and no web identity in this process's environment,
        // which object_store reads itself), the instance profile.
        if std::env::var_os("AWS_WEB_IDENTITY_TOKEN_FILE").is_none() {
            assert_eq!(provider(&chain, &[]), "InstanceCredentialProvider");
        }
    }

    #[test]
    fn the_region_comes_from_the_configuration_then_the_aws_environment() {
        let region = |pairs: &[(&str, &str)]| match LakeLocation::from_lookup(lookup(pairs)) {
            Ok(LakeLocation::S3 { region, .. }) => region,
            other => panic!("{other:?}"),
        };
        let ep = ("MINIO_ENDPOINT", "https://s3.eu-west-1.amazonaws.com");
        assert_eq!(region(&[ep]), "us-east-1");
        assert_eq!(
            region(&[ep, ("AWS_DEFAULT_REGION", "eu-north-1")]),
            "eu-north-1"
        );
        assert_eq!(
            region(&[ep, ("AWS_REGION", "eu-west-1"), ("AWS_DEFAULT_REGION", "x")]),
            "eu-west-1"
        );
        assert_eq!(
            region(&[ep, ("S3_REGION", "ap-south-1"), ("AWS_REGION", "eu-west-1")]),
            "ap-south-1"
        );
    }
}
