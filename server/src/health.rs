//! Health probes: `/healthz` says the process is up, `/readyz` that it can reach its database.

use crate::AppState;
use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};
use std::time::Duration;

/// `GET /healthz`: always 200 while the process serves requests.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the database answers within a second, else 503; 503 once
/// shutdown has begun.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.proxy.draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting_down" })),
        );
    }
    match state.store.ping(Duration::from_secs(1)).await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready", "database": "ok" }))),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable" })),
            )
        }
    }
}
