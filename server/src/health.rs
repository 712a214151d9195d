//! Health probes: `/healthz` says the process is up, `/readyz` that it can serve and record
//! requests (database reachable and its file intact, room in the request-log queue, and, with
//! Redis, where the limits are counted).

use crate::{proxy::limits::Mode, AppState};
use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};
use std::time::Duration;

/// `GET /healthz`: always 200 while the process serves requests.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when this process can take requests and keep their records: the
/// database answers within a second, its file (SQLite) is still the one opened, and the
/// request-log queue has room (when it is full, requests are refused with 503), and the limits
/// can be checked (`limits`: `local`, `shared`, or Redis unreachable under `fail_open` — still
/// ready — or `fail_closed` — not). 503 otherwise, and once shutdown has begun.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let unavailable = |detail: Value| (StatusCode::SERVICE_UNAVAILABLE, Json(detail));
    if state.proxy.draining() {
        return unavailable(json!({ "status": "shutting_down" }));
    }
    if let Err(what) = state.store.file_intact() {
        tracing::error!(
            file = what,
            "the database file was {what} while the server runs: changes go to a file no one will read; restart the server"
        );
        return unavailable(json!({ "status": "unavailable", "database": format!("file_{what}") }));
    }
    let (depth, capacity) = (state.proxy.logs.depth(), state.proxy.logs.capacity());
    if depth >= capacity {
        tracing::warn!(depth, capacity, "readiness check: the request-log queue is full");
        return unavailable(json!({ "status": "unavailable", "database": "ok", "log_queue": "full" }));
    }
    let limits = state.proxy.counters.check().await;
    let database = state.store.ping(Duration::from_secs(1)).await;
    if let Err(error) = &database {
        tracing::warn!(error = %error, "readiness check failed");
    }
    let ready = database.is_ok() && limits != Mode::Refusing;
    let detail = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": if database.is_ok() { "ok" } else { "unavailable" },
        "log_queue": "ok",
        "limits": limits.as_str(),
    });
    match ready {
        true => (StatusCode::OK, Json(detail)),
        false => unavailable(detail),
    }
}
