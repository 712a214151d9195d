//! The inference routes: OpenAI's (`/v1/chat/completions`, `/v1/completions`,
//! `/v1/embeddings`, `/v1/responses`), Azure's deployment paths (with the `auto` deployment)
//! and Anthropic's `/v1/messages` — one path through the proxy for all of them.

use super::{
    auth,
    error::ProxyError,
    people,
    providers::Operation,
    registry::Upstream,
    route::{route, Api, Call, Principal, Progress},
    wire::AUTO_DEPLOYMENT,
};
use crate::body::ReadError;
use crate::{store::now_ms, AppState};
use app::types::{CompositeKind, EndpointId, Gateway, GatewayId, MultiMode};
use axum::{
    body::{Body, Bytes},
    extract::{Path, Request, State},
    http::header,
    response::{IntoResponse, Response},
};
use serde_json::Value;
use std::{sync::Arc, time::Instant};

pub use super::shape::ENDPOINT_HEADER;

/// `POST /v1/chat/completions`.
pub async fn chat(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Entry::Key, Api::OpenAi, Operation::Chat, None, request).await
}

/// `POST /v1/completions`.
pub async fn completions(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Entry::Key, Api::OpenAi, Operation::Completions, None, request).await
}

/// `POST /v1/embeddings`.
pub async fn embeddings(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Entry::Key, Api::OpenAi, Operation::Embeddings, None, request).await
}

/// `POST /v1/messages` (Anthropic's shape).
pub async fn messages(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Entry::Key, Api::Anthropic, Operation::Chat, None, request).await
}

/// `POST /v1/responses` (OpenAI's Responses API, answered through the chat path).
pub async fn responses(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Entry::Key, Api::Responses, Operation::Chat, None, request).await
}

/// `GET /v1/responses/{id}`: the gateway keeps no responses to give back.
pub async fn stored_response(Path(_id): Path<String>) -> Response {
    ProxyError::bad(
        "response_id",
        "Stored responses are not served through the gateway: it keeps none, and a GET names no model \
         to route by to the provider account that keeps one. Keep the response you were given.",
    )
    .into_response()
}

/// `POST /openai/deployments/{deployment}/chat/completions`.
pub async fn azure_chat(State(state): State<AppState>, Path(deployment): Path<String>, request: Request) -> Response {
    handle(
        state,
        Entry::Key,
        Api::Azure,
        Operation::Chat,
        Some(deployment),
        request,
    )
    .await
}

/// `POST /openai/deployments/{deployment}/completions`.
pub async fn azure_completions(
    State(state): State<AppState>,
    Path(deployment): Path<String>,
    request: Request,
) -> Response {
    handle(
        state,
        Entry::Key,
        Api::Azure,
        Operation::Completions,
        Some(deployment),
        request,
    )
    .await
}

/// `POST /openai/deployments/{deployment}/embeddings`.
pub async fn azure_embeddings(
    State(state): State<AppState>,
    Path(deployment): Path<String>,
    request: Request,
) -> Response {
    handle(
        state,
        Entry::Key,
        Api::Azure,
        Operation::Embeddings,
        Some(deployment),
        request,
    )
    .await
}

/// `POST /g/{gateway}/v1/chat/completions`: an end user's token alone (issue #23).
pub async fn user_chat(State(state): State<AppState>, Path(gateway): Path<String>, request: Request) -> Response {
    handle(
        state,
        Entry::Token(gateway),
        Api::OpenAi,
        Operation::Chat,
        None,
        request,
    )
    .await
}

/// `POST /g/{gateway}/v1/completions`.
pub async fn user_completions(
    State(state): State<AppState>,
    Path(gateway): Path<String>,
    request: Request,
) -> Response {
    handle(
        state,
        Entry::Token(gateway),
        Api::OpenAi,
        Operation::Completions,
        None,
        request,
    )
    .await
}

/// `POST /g/{gateway}/v1/embeddings`.
pub async fn user_embeddings(State(state): State<AppState>, Path(gateway): Path<String>, request: Request) -> Response {
    handle(
        state,
        Entry::Token(gateway),
        Api::OpenAi,
        Operation::Embeddings,
        None,
        request,
    )
    .await
}

/// `POST /g/{gateway}/v1/messages` (Anthropic's shape).
pub async fn user_messages(State(state): State<AppState>, Path(gateway): Path<String>, request: Request) -> Response {
    handle(
        state,
        Entry::Token(gateway),
        Api::Anthropic,
        Operation::Chat,
        None,
        request,
    )
    .await
}

/// `POST /g/{gateway}/v1/responses` (OpenAI's Responses API).
pub async fn user_responses(State(state): State<AppState>, Path(gateway): Path<String>, request: Request) -> Response {
    handle(
        state,
        Entry::Token(gateway),
        Api::Responses,
        Operation::Chat,
        None,
        request,
    )
    .await
}

/// How a request says who sends it.
enum Entry {
    /// A gateway key (and, in `x-mgw-user-token`, optionally the end user's token).
    Key,
    /// An end user's token alone, to the gateway the path names.
    Token(String),
}

async fn handle(
    state: AppState,
    entry: Entry,
    api: Api,
    operation: Operation,
    deployment: Option<String>,
    request: Request,
) -> Response {
    let mut progress = Progress {
        trace: state
            .proxy
            .traces
            .as_ref()
            .map(|traces| traces.request(request.headers(), api.as_str())),
        ..Progress::default()
    };
    match serve(&state, entry, api, operation, deployment, request, &mut progress).await {
        Ok(response) => response,
        Err(error) => refused(&state, progress, error, api),
    }
}

/// A refusal's answer. A routed request is counted by its record; one refused before is
/// counted here.
fn refused(state: &AppState, mut progress: Progress, error: ProxyError, api: Api) -> Response {
    if !progress.recorded {
        let status = error.status().as_u16();
        state.proxy.metrics.refused(progress.gateway.as_deref(), status);
        if let Some(trace) = progress.trace.take() {
            trace.refused(status, error.class());
        }
    }
    let mut response = error.response_for(api.shape());
    if !progress.body_read {
        response
            .headers_mut()
            .insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    response
}

/// What the console's playground sends a request to.
#[derive(Clone, Debug)]
pub enum ConsoleTarget {
    /// One endpoint, on its own: no gateway, no retries. Its log row names no gateway.
    Endpoint(EndpointId),
    /// A gateway, which routes the body's model as it would for a key.
    Gateway(GatewayId),
}

/// The name the metrics and traces give a console request to an endpoint on its own (gateway
/// names cannot hold parentheses, so it names no real gateway).
const NO_GATEWAY: &str = "(endpoint)";

/// A chat request from the console's playground, on behalf of a signed-in admin: the same path
/// as a key's request, with no key. Through a gateway it is routed, limited and logged as the
/// gateway's; to an endpoint, it is sent there once and logged under the endpoint alone.
pub async fn console_chat(
    state: &AppState,
    target: ConsoleTarget,
    headers: &axum::http::HeaderMap,
    mut body: Value,
) -> Response {
    let started = Instant::now();
    let mut progress = Progress {
        trace: (state.proxy.traces.as_ref()).map(|traces| traces.request(headers, Api::OpenAi.as_str())),
        // The console read the body before it came here.
        body_read: true,
        ..Progress::default()
    };
    let request_id = (headers.get("x-request-id"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let Some(in_flight) = state.proxy.admit() else {
        return refused(
            state,
            progress,
            ProxyError::Overloaded("too many requests in flight"),
            Api::OpenAi,
        );
    };
    let snapshot = state.registry.snapshot();
    let principal = match target {
        ConsoleTarget::Gateway(id) => match snapshot.gateways.get(&id) {
            Some(gateway) if gateway.enabled => {
                // The playground streams every answer, but a `waitforall` composite answers all
                // its members at once: it is asked for the whole answer instead.
                let asked = body.get("model").and_then(Value::as_str);
                let composite = asked.and_then(|model| snapshot.composite(gateway.id, model));
                let whole =
                    composite.is_some_and(|c| c.kind == CompositeKind::Multi && c.mode == MultiMode::WaitForAll);
                if let (true, Some(object)) = (whole, body.as_object_mut()) {
                    object.remove("stream");
                    object.remove("stream_options");
                }
                Principal::ConsoleViaGateway(gateway.clone())
            }
            _ => {
                return refused(
                    state,
                    progress,
                    ProxyError::bad("target", "There is no enabled gateway with this id."),
                    Api::OpenAi,
                )
            }
        },
        ConsoleTarget::Endpoint(id) => match snapshot.upstreams.get(&id) {
            Some(upstream) => {
                // The endpoint serves its own model, whatever the body asked for.
                if let Some(object) = body.as_object_mut() {
                    object.insert("model".into(), Value::String(upstream.endpoint.model.clone()));
                }
                Principal::ConsoleToEndpoint {
                    upstream: upstream.clone(),
                    plan: Arc::new(alone(upstream)),
                }
            }
            None => {
                return refused(
                    state,
                    progress,
                    ProxyError::bad("target", "There is no endpoint with this id."),
                    Api::OpenAi,
                )
            }
        },
    };
    progress.gateway = Some(match &principal {
        Principal::ConsoleViaGateway(gateway) => gateway.name.clone(),
        Principal::Key { .. } | Principal::EndUser(_) | Principal::ConsoleToEndpoint { .. } => NO_GATEWAY.into(),
    });
    let call = Call {
        api: Api::OpenAi,
        operation: Operation::Chat,
        path_model: None,
        started,
        in_flight,
        request_id,
        bytes: Bytes::from(body.to_string()),
        arrival: None,
        session: None,
        user: None,
        path: "/api/playground/chat".into(),
        asserts_users: false,
        group: None,
        // The playground compares fresh answers.
        cache: super::cache::Ask {
            look: false,
            keep: false,
        },
    };
    match route(&state.proxy, call, &snapshot, principal, &mut progress).await {
        Ok(response) => response,
        Err(error) => refused(state, progress, error, Api::OpenAi),
    }
}

/// The routing policy a console request to an endpoint on its own is sent with: one attempt,
/// the default deadline, metadata logged and bodies not (a new gateway's defaults). It is no
/// gateway: the principal says so, and nothing names or limits it.
fn alone(upstream: &Upstream) -> Gateway {
    Gateway {
        id: GatewayId(0),
        name: NO_GATEWAY.into(),
        description: String::new(),
        strategy: app::types::Strategy::Priority,
        retry: app::types::RetryPolicy {
            max_attempts: 1,
            ..app::types::RetryPolicy::default()
        },
        deadline_ms: None,
        log_metadata: true,
        log_payloads: false,
        model_aliases: Default::default(),
        param_policy: Default::default(),
        auth_mode: Default::default(),
        access_rule: None,
        people: Default::default(),
        model_rules: Vec::new(),
        cache: Default::default(),
        enabled: true,
        endpoints: vec![app::types::GatewayEndpoint {
            endpoint_id: upstream.endpoint.id,
            endpoint_name: upstream.endpoint.name.clone(),
            position: 0,
            weight: 1,
            priority: 0,
        }],
        limits: Vec::new(),
        created_at: 0,
        updated_at: 0,
    }
}

/// Reads the body up to the limit within `timeout`: 413 past the limit (checked on
/// `content-length` first, so an oversized body is refused before it is buffered), 408 when it
/// has not all arrived in time, 400 when it cannot be read.
pub(crate) async fn read_body(
    body: Body,
    headers: &axum::http::HeaderMap,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<axum::body::Bytes, ProxyError> {
    crate::body::read_limited(body, headers, limit, timeout)
        .await
        .map_err(|error| match error {
            ReadError::TooLarge => ProxyError::PayloadTooLarge { limit },
            ReadError::TimedOut => ProxyError::BodyTimeout,
            ReadError::Failed => ProxyError::bad(None, "The request body could not be read."),
        })
}

async fn serve(
    state: &AppState,
    entry: Entry,
    api: Api,
    operation: Operation,
    deployment: Option<String>,
    request: Request,
    progress: &mut Progress,
) -> Result<Response, ProxyError> {
    let started = Instant::now();
    let proxy = &state.proxy;
    let in_flight = proxy
        .admit()
        .ok_or(ProxyError::Overloaded("too many requests in flight"))?;
    let (parts, body) = request.into_parts();
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let snapshot = state.registry.snapshot();
    let mut asserts_users = false;
    let (principal, user) = match entry {
        Entry::Key => {
            let authenticated = auth::authenticate(&snapshot, &state.key_hasher, &parts.headers, now_ms())?;
            progress.gateway = Some(authenticated.gateway.name.clone());
            let token = (parts.headers.get(auth::USER_TOKEN_HEADER)).map(|value| value.to_str().unwrap_or_default());
            let named = (parts.headers.get(people::USER_HEADER)).map(|value| value.to_str().unwrap_or_default());
            asserts_users = authenticated.key.key.may_assert_users;
            let user = match (token, named) {
                (Some(token), _) => {
                    Some(auth::verify_user(&proxy.verifier, &snapshot, &authenticated.gateway, token).await?)
                }
                (None, Some(name)) if asserts_users => Some(people::asserted(name)?),
                (None, Some(_)) => {
                    return Err(ProxyError::UserUnauthenticated(format!(
                        "key {} may not name end users in {}: send the user's token in {}, or mark the key \
                         as one that may assert users",
                        authenticated.key.key.public_id,
                        people::USER_HEADER,
                        auth::USER_TOKEN_HEADER
                    )))
                }
                (None, None) => None,
            };
            let principal = Principal::Key {
                gateway: authenticated.gateway.clone(),
                // The key and its ancestors, walked once: for allowed models, then for limits.
                lineage: snapshot.lineage(&authenticated.key.key),
            };
            (principal, user)
        }
        Entry::Token(name) => {
            let gateway = auth::token_gateway(&snapshot, &name)?;
            progress.gateway = Some(gateway.name.clone());
            let token = auth::presented_key(&parts.headers).ok_or_else(|| {
                ProxyError::UserUnauthenticated("send the end user's token as `Authorization: Bearer <JWT>`".into())
            })?;
            let user = auth::verify_user(&proxy.verifier, &snapshot, &gateway, token).await?;
            (Principal::EndUser(gateway), Some(user))
        }
    };
    // The request holds its place under the concurrency limits from here, while its body is
    // read: a key's stalled uploads take its own places, not everyone's.
    let arrival = (proxy.counters)
        .arrive(&principal.levels(), now_ms())
        .map_err(ProxyError::LimitReached)?;
    let bytes = read_body(
        body,
        &parts.headers,
        proxy.settings.max_body_bytes,
        proxy.settings.body_read_timeout,
    )
    .await?;
    progress.body_read = true;
    let call = Call {
        api,
        operation,
        path_model: deployment.as_deref().map(|d| (d != AUTO_DEPLOYMENT).then_some(d)),
        started,
        in_flight,
        request_id,
        bytes,
        arrival: Some(arrival),
        session: (parts.headers.get("x-mgw-session"))
            .and_then(|value| value.to_str().ok())
            .map(str::to_string),
        user,
        path: parts.uri.path().to_string(),
        asserts_users,
        group: None,
        cache: super::cache::Ask::of(&parts.headers),
    };
    // Boxed: the layers above move the request's future several times before it runs (each a
    // copy of all of it), and steps 3 to 9 are nearly all of it.
    Box::pin(route(proxy, call, &snapshot, principal, progress)).await
}
