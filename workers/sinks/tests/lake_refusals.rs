//! What the real S3 server (MinIO) answers, sorted into refusals (retrying cannot help: the run
//! ends at once with the reason) and outages (retried): a missing bucket and wrong credentials
//! are refusals, a server that is not there is an outage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use object_store::PutPayload;
use object_store::path::Path;
use streamforge_kit::testing::{TEST_S3, required_env, unique};
use streamforge_sinks::core::StorageError;
use streamforge_sinks::lake::LakeLocation;
use streamforge_sinks::lake::store::{classify, open};

fn location(endpoint: &str, bucket: &str, access: &str, secret: &str) -> LakeLocation {
    LakeLocation::S3 {
        endpoint: endpoint.to_owned(),
        bucket: bucket.to_owned(),
        region: "us-east-1".into(),
        access_key: access.to_owned(),
        secret_key: secret.to_owned(),
    }
}

async fn put(l: &LakeLocation) -> StorageError {
    let lake = open(l).unwrap();
    let e = lake
        .store
        .put(
            &Path::from("market/x.parquet"),
            PutPayload::from_static(b"x"),
        )
        .await
        .unwrap_err();
    classify(e)
}

#[tokio::test]
async fn a_missing_bucket_and_bad_credentials_are_refusals_and_an_absent_server_an_outage() {
    let Some(endpoint) = required_env("s3_refusals", TEST_S3, "a MinIO server") else {
        return;
    };
    let access = std::env::var("STREAMFORGE_TEST_S3_ACCESS_KEY").unwrap_or_default();
    let secret = std::env::var("STREAMFORGE_TEST_S3_SECRET_KEY").unwrap_or_default();
    let missing: String = unique("gone").to_lowercase().chars().take(63).collect();

    let e = put(&location(&endpoint, &missing, &access, &secret)).await;
    assert!(
        matches!(e, StorageError::Refused(_)),
        "a missing bucket: {e:?}"
    );
    assert!(
        e.to_string().contains("404") || e.to_string().contains("NoSuchBucket"),
        "{e}"
    );

    let e = put(&location(&endpoint, &missing, &access, "not-the-secret")).await;
    assert!(
        matches!(e, StorageError::Refused(_)),
        "bad credentials: {e:?}"
    );

    // Nothing listens on port 9 (discard): an outage, retried.
    let e = put(&location("http://127.0.0.1:9", &missing, &access, &secret)).await;
    assert!(
        matches!(e, StorageError::Unavailable(_)),
        "no server: {e:?}"
    );
}
