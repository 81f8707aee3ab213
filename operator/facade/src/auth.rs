//! Who calls, and what they may do: the bearer token is checked with a TokenReview, each
//! action with a SubjectAccessReview for that user on Queues in that namespace. The facade then
//! acts with its own identity, so it needs only `system:auth-delegator` and rights on Queues;
//! it never grants a caller anything `kubectl` would refuse them.

use std::collections::BTreeMap;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};

use crate::error::ApiError;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Caller {
    pub user: String,
    pub uid: Option<String>,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(header: Option<&str>) -> Result<&str, ApiError> {
    let h = header.ok_or_else(|| {
        ApiError::unauthorized("no Authorization header: send `Authorization: Bearer <token>` (kubectl create token ...)")
    })?;
    h.strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header is not `Bearer <token>`"))
}

pub async fn authenticate(client: &Client, token: &str) -> Result<Caller, ApiError> {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.to_owned()),
            ..TokenReviewSpec::default()
        },
        ..TokenReview::default()
    };
    let api: Api<TokenReview> = Api::all(client.clone());
    let done = api
        .create(&PostParams::default(), &review)
        .await
        .map_err(ApiError::from_kube)?;
    let status = done.status.unwrap_or_default();
    if status.authenticated != Some(true) {
        return Err(ApiError::unauthorized(format!(
            "the token was not accepted{}",
            status.error.map(|e| format!(": {e}")).unwrap_or_default()
        )));
    }
    let user = status.user.unwrap_or_default();
    Ok(Caller {
        user: user.username.unwrap_or_default(),
        uid: user.uid,
        groups: user.groups.unwrap_or_default(),
        extra: user.extra.unwrap_or_default(),
    })
}

/// Whether `caller` may `verb` Queues (`name` when given) in `namespace`.
pub async fn authorize(
    client: &Client,
    caller: &Caller,
    verb: &str,
    namespace: &str,
    name: Option<&str>,
) -> Result<(), ApiError> {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(caller.user.clone()),
            uid: caller.uid.clone(),
            groups: Some(caller.groups.clone()),
            extra: Some(caller.extra.clone()),
            resource_attributes: Some(ResourceAttributes {
                group: Some("streamforge.io".into()),
                resource: Some("queues".into()),
                verb: Some(verb.into()),
                namespace: Some(namespace.into()),
                name: name.map(str::to_owned),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    let done = api
        .create(&PostParams::default(), &review)
        .await
        .map_err(ApiError::from_kube)?;
    let status = done.status.unwrap_or_default();
    if status.allowed {
        return Ok(());
    }
    let what = match name {
        Some(n) => format!("queue {n:?}"),
        None => "queues".into(),
    };
    Err(ApiError::forbidden(format!(
        "{} may not {verb} {what} in namespace {namespace:?}{}",
        caller.user,
        status
            .reason
            .filter(|r| !r.is_empty())
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bearer_tokens_are_taken() {
        assert_eq!(bearer(Some("Bearer abc")).unwrap(), "abc");
        for bad in [
            None,
            Some("Basic eDp5"),
            Some("Bearer "),
            Some("bearer abc"),
        ] {
            assert_eq!(
                bearer(bad).unwrap_err().status,
                warp::http::StatusCode::UNAUTHORIZED,
                "{bad:?}"
            );
        }
    }
}
