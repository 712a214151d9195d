//! Errors of the inference API, in OpenAI's shape:
//! `{"error": {"message", "type", "param", "code"}}` with the matching HTTP status.
//!
//! Invariant: messages never say why a key was refused (revoked, expired, unknown…); the reason
//! goes to the log only.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// Why an inference request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No key, a malformed one, or one that does not open anything.
    #[error("invalid API key")]
    Unauthorized,
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let (status, kind, code, message) = match self {
            ProxyError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                "Incorrect API key provided. Send a gateway key as `Authorization: Bearer <key>`.",
            ),
        };
        let body = json!({ "error": { "message": message, "type": kind, "param": null, "code": code } });
        (status, Json(body)).into_response()
    }
}
