//! `GET /v1/models`: the models the presenting key may use, answered from the registry.

use super::{auth, error::ProxyError, registry::Snapshot};
use crate::{store::now_ms, AppState};
use axum::{extract::State, http::HeaderMap, Json};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The models a key may use: its gateway's enabled endpoints' models, its aliases and its
/// composite models, narrowed by the allowed-model lists of the key and of every ancestor.
pub fn allowed_models(snapshot: &Snapshot, authenticated: &auth::Authenticated) -> BTreeSet<String> {
    let gateway = &authenticated.gateway;
    let mut models: BTreeSet<String> = gateway
        .endpoints
        .iter()
        .filter_map(|link| snapshot.upstreams.get(&link.endpoint_id))
        .filter(|upstream| upstream.endpoint.enabled)
        .map(|upstream| upstream.endpoint.model.clone())
        .chain(gateway.model_aliases.keys().cloned())
        .chain(
            snapshot
                .composites_of(gateway.id)
                .map(|composite| composite.name.clone()),
        )
        .collect();
    for ancestor in snapshot.lineage(&authenticated.key.key) {
        if let Some(allowed) = &ancestor.key.allowed_models {
            models.retain(|model| allowed.contains(model));
        }
    }
    models
}

/// `GET /v1/models`.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ProxyError> {
    let snapshot = state.registry.snapshot();
    let authenticated = auth::authenticate(&snapshot, &state.key_hasher, &headers, now_ms())?;
    let data: Vec<Value> = allowed_models(&snapshot, &authenticated)
        .into_iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 0, "owned_by": "model-gateway" }))
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}
