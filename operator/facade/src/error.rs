//! Every failure as JSON with a status that says whose fault it is: `{"error": "...",
//! "field": "spec.epochs"}` (the field where one is known). The API server's own refusals (CEL
//! rules, schema checks, conflicts, missing Queues) keep their status and message.

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }

    pub fn field(status: StatusCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// The API server's answer, kept: its status (4xx stays 4xx) and message, with the first
    /// field it names (a CEL rule's `fieldPath`, a schema error's path).
    pub fn from_kube(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(status) => {
                let code = StatusCode::from_u16(status.code).unwrap_or(StatusCode::BAD_GATEWAY);
                let field = status
                    .details
                    .as_ref()
                    .and_then(|d| d.causes.first())
                    .map(|c| c.field.clone())
                    .filter(|f| !f.is_empty());
                let code = if code.is_server_error() {
                    StatusCode::BAD_GATEWAY
                } else {
                    code
                };
                ApiError {
                    status: code,
                    message: status.message,
                    field,
                }
            }
            other => Self::unavailable(format!("the Kubernetes API server: {other}")),
        }
    }

    pub fn into_response(self) -> Response {
        use warp::Reply;
        let mut body = json!({"error": self.message});
        if let Some(f) = self.field {
            body["field"] = json!(f);
        }
        warp::reply::with_status(warp::reply::json(&body), self.status).into_response()
    }
}
