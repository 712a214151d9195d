//! `POST /api/playground/chat`: the console playground's requests. A signed-in admin (not a
//! viewer: these requests cost money) sends one chat body to one endpoint, or to a gateway by
//! model. The request takes the inference path with no key ([`proxy::api::console_chat`]),
//! so it is routed, limited, logged and counted like any other, and its answer (a stream or
//! JSON) is the OpenAI shape.
//!
//! The body: `{"target": {"endpoint": 3} | {"gateway": 2}, "body": {…chat request…}}`. For an
//! endpoint, the body's `model` is set to the endpoint's.

use crate::manage::Actor;
use crate::{
    proxy::{self, api::ConsoleTarget, error::ProxyError},
    AppState,
};
use app::types::{AdminUser, EndpointId, GatewayId, Via};
use axum::{
    extract::{Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

/// What the playground asks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    target: Target,
    body: Value,
}

/// Where to send it.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Target {
    Endpoint(i64),
    Gateway(i64),
}

/// `POST /api/playground/chat` (behind the console's session gate and same-origin check).
pub async fn chat(State(state): State<AppState>, Extension(admin): Extension<AdminUser>, request: Request) -> Response {
    if !Actor::admin(admin, Via::Console).may_use_playground() {
        let error = json!({ "error": {
            "message": "Viewers cannot send requests from the playground.",
            "type": "permission_error",
            "param": null,
            "code": "forbidden",
        }});
        return (StatusCode::FORBIDDEN, Json(error)).into_response();
    }
    let (parts, body) = request.into_parts();
    let bytes = match proxy::api::read_body(
        body,
        &parts.headers,
        state.proxy.settings.max_body_bytes,
        state.proxy.settings.body_read_timeout,
    )
    .await
    {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    let ask: Ask = match serde_json::from_slice(&bytes) {
        Ok(ask) => ask,
        Err(error) => {
            return ProxyError::bad(None, format!("The playground's request is not understood: {error}."))
                .into_response()
        }
    };
    let target = match ask.target {
        Target::Gateway(id) => ConsoleTarget::Gateway(GatewayId(id)),
        Target::Endpoint(id) => ConsoleTarget::Endpoint(EndpointId(id)),
    };
    proxy::api::console_chat(&state, target, &parts.headers, ask.body).await
}
