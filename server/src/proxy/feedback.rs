//! `POST /v1/feedback`: a client's score (0 to 1) for one of its requests, authenticated by the
//! key that made it — what the variants of an A/B composite are compared by (issue #21).
//!
//! Invariant: a key scores only its own requests; any other request id is answered 404, as an
//! unknown one is, so ids cannot be probed.

use super::{auth, error::ProxyError};
use crate::{manage::ManageError, store::now_ms, AppState};
use axum::{
    body::Bytes,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

/// The most a feedback body may hold.
const MAX_BODY: usize = 16 * 1024;

/// `POST /v1/feedback` with `{"request_id": "...", "score": 0..1}`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match record(&state, &headers, &body).await {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn record(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Value, ProxyError> {
    let snapshot = state.registry.snapshot();
    let authenticated = auth::authenticate(&snapshot, &state.key_hasher, headers, now_ms())?;
    if body.len() > MAX_BODY {
        return Err(ProxyError::PayloadTooLarge { limit: MAX_BODY });
    }
    let body: Value = serde_json::from_slice(body).map_err(|_| {
        ProxyError::bad(
            None,
            "The body must be a JSON object: {\"request_id\": \"...\", \"score\": 0.8}.",
        )
    })?;
    let request_id = (body.get("request_id").and_then(Value::as_str)).ok_or_else(|| {
        ProxyError::bad(
            "request_id",
            "`request_id` must be the id of one of your requests (a string).",
        )
    })?;
    let score = (body.get("score").and_then(Value::as_f64))
        .ok_or_else(|| ProxyError::bad("score", "`score` must be a number from 0 to 1."))?;
    let key = authenticated.key.key.id;
    match state.manage.record_feedback(key, request_id, score).await {
        Ok(()) => Ok(json!({ "object": "feedback", "request_id": request_id, "score": score })),
        Err(ManageError::NotFound) => Err(ProxyError::RequestNotFound(request_id.to_string())),
        Err(ManageError::Invalid { field, message }) => Err(ProxyError::bad(field, format!("`{field}` {message}."))),
        Err(ManageError::Unavailable) => Err(ProxyError::Overloaded("the database cannot be reached")),
        Err(
            error @ (ManageError::Conflict { .. }
            | ManageError::Unauthorized
            | ManageError::Forbidden
            | ManageError::Throttled { .. }
            | ManageError::Internal { .. }),
        ) => {
            tracing::warn!(%error, "feedback not recorded");
            Err(ProxyError::Overloaded("feedback cannot be recorded now"))
        }
    }
}
