//! The console playground's server side: what it can send to (`Console::playground_setup`: each
//! endpoint, and each enabled gateway's models, aliases and composites; and the named prompts it
//! can send), and `POST /api/playground/chat`, its requests. A signed-in admin (not a viewer: these requests cost
//! money) sends one chat body to one endpoint, or to a gateway by model. The request takes the inference path with no key ([`proxy::api::console_chat`]),
//! so it is routed, limited, logged and counted like any other, and its answer (a stream or
//! JSON) is the OpenAI shape.
//!
//! The body: `{"target": {"endpoint": 3} | {"gateway": 2}, "body": {…chat request…}}`. For an
//! endpoint, the body's `model` is set to the endpoint's. A body that names a `prompt` (with
//! its `parameters`) is rendered on the inference path as a key's would be: through a gateway,
//! only that gateway's prompts; to an endpoint on its own, any prompt.

use super::{backend::actor, Console};
use crate::manage::{Actor, ManageError};
use crate::{
    proxy::{self, api::ConsoleTarget, error::ProxyError},
    AppState,
};
use app::types::{gateway_target, replay_of, AdminUser, EndpointId, GatewayId, PlaygroundSetup, PlaygroundTarget, Via};
use axum::{
    extract::{Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

impl Console {
    /// The playground's targets (each endpoint, and each enabled gateway's models, aliases and
    /// composite models), the prices, the named prompts, and the logged request to replay.
    pub(super) async fn playground_setup(
        &self,
        admin: &AdminUser,
        replay: Option<String>,
    ) -> Result<PlaygroundSetup, ManageError> {
        let endpoints = self.manage.endpoints().await?;
        let gateways = self.manage.gateways().await?;
        let composites = self.manage.composites(None).await?;
        let mut setup = PlaygroundSetup {
            can_send: actor(admin).may_use_playground(),
            prices: self.manage.prices().await?,
            prompts: self.manage.prompts().await?,
            endpoint_models: endpoints.iter().map(|e| (e.name.clone(), e.model.clone())).collect(),
            ..PlaygroundSetup::default()
        };
        for endpoint in &endpoints {
            setup.targets.push(PlaygroundTarget {
                value: format!("endpoint:{}", endpoint.id.0),
                label: format!("{} ({})", endpoint.name, endpoint.model),
                group: "Endpoints".into(),
            });
        }
        for gateway in gateways.iter().filter(|g| g.enabled) {
            let mut models: Vec<&str> = (gateway.endpoints.iter())
                .filter_map(|link| endpoints.iter().find(|e| e.id == link.endpoint_id))
                .map(|e| e.model.as_str())
                .chain(gateway.model_aliases.keys().map(String::as_str))
                .collect();
            models.sort_unstable();
            models.dedup();
            for model in models {
                setup.targets.push(PlaygroundTarget {
                    value: gateway_target(gateway.id, model),
                    label: format!("{model} via {}", gateway.name),
                    group: format!("Gateway {}", gateway.name),
                });
            }
            for composite in composites.iter().filter(|c| c.gateway_id == gateway.id) {
                setup.targets.push(PlaygroundTarget {
                    value: gateway_target(gateway.id, &composite.name),
                    label: format!(
                        "{} ({} composite) via {}",
                        composite.name,
                        composite.kind.as_str(),
                        gateway.name
                    ),
                    group: format!("Gateway {}", gateway.name),
                });
            }
        }
        if let Some(request_id) = replay.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
            let log = self
                .manage
                .request_log(request_id)
                .await?
                .ok_or(ManageError::NotFound)?
                .1;
            let wanted = match (log.gateway_id, &log.model) {
                (Some(gateway), Some(model)) => Some(gateway_target(gateway, model)),
                _ => log.endpoint_id.map(|id| format!("endpoint:{}", id.0)),
            };
            let target = wanted.filter(|value| setup.targets.iter().any(|t| &t.value == value));
            setup.replay = Some(replay_of(&log, target));
        }
        Ok(setup)
    }
}

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
