//! Errors as HTTP answers: a status, a cause for the metrics, and a message
//! saying what was wrong, as `{"error": "..."}`.

use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// A request answered with an error.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// The `cause` label of `ksym_serve_failures_total`.
    pub cause: &'static str,
    pub message: String,
}

/// Carried in the response for the metrics layer.
#[derive(Debug, Clone, Copy)]
pub struct FailureCause(pub &'static str);

impl ApiError {
    pub fn new(status: StatusCode, cause: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            cause,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match e {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Refused(_) => StatusCode::BAD_REQUEST,
            StoreError::Damaged(_) => StatusCode::BAD_GATEWAY,
            StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.cause(), e.to_string())
    }
}

/// A body that could not be read: too large (413), or cut off.
impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!("request body too large: {}", r.body_text()))
        } else {
            ApiError::new(r.status(), "bad_request", r.body_text())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut resp = (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        resp.extensions_mut().insert(FailureCause(self.cause));
        // Answered before the body was read: the connection cannot carry
        // another request, so say so (clients then do not reuse it).
        if matches!(
            self.status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::SERVICE_UNAVAILABLE
        ) {
            let close = axum::http::HeaderValue::from_static("close");
            resp.headers_mut()
                .insert(axum::http::header::CONNECTION, close);
        }
        resp
    }
}
