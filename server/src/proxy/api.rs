//! The inference routes: OpenAI's (`/v1/chat/completions`, `/v1/completions`,
//! `/v1/embeddings`), Azure's deployment paths (with the `auto` deployment) and Anthropic's
//! `/v1/messages` — one path through the proxy for all of them.

use super::{
    auth,
    error::{set_rate_headers, ProxyError},
    failover::{Routed, Served},
    limits::{Ask, Level, RateHeaders},
    messages,
    providers::{self, Operation, Usage},
    registry::{Credential, KeyEntry, Snapshot, Upstream},
    stream::{self, ClientShape, StreamContext},
    usage::{Charge, Counted, Recorder},
    wire::{self, Inbound, AUTO_DEPLOYMENT},
    Proxy,
};
use crate::{
    store::{now_ms, LimitScope},
    traces::RequestTrace,
    AppState,
};
use app::types::{EndpointId, Gateway, GatewayId, KeyId, RequestLog};
use axum::{
    body::{Body, Bytes},
    extract::{Path, Request, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// The response header naming the endpoint that served.
pub const ENDPOINT_HEADER: &str = "x-mgw-endpoint";

/// Which API shape a route speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    OpenAi,
    Azure,
    Anthropic,
}

impl Api {
    fn as_str(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Azure => "azure",
            Api::Anthropic => "anthropic",
        }
    }

    fn shape(self) -> ClientShape {
        match self {
            Api::OpenAi | Api::Azure => ClientShape::OpenAi,
            Api::Anthropic => ClientShape::Anthropic,
        }
    }
}

/// `POST /v1/chat/completions`.
pub async fn chat(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Api::OpenAi, Operation::Chat, None, request).await
}

/// `POST /v1/completions`.
pub async fn completions(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Api::OpenAi, Operation::Completions, None, request).await
}

/// `POST /v1/embeddings`.
pub async fn embeddings(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Api::OpenAi, Operation::Embeddings, None, request).await
}

/// `POST /v1/messages` (Anthropic's shape).
pub async fn messages(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Api::Anthropic, Operation::Chat, None, request).await
}

/// `POST /openai/deployments/{deployment}/chat/completions`.
pub async fn azure_chat(State(state): State<AppState>, Path(deployment): Path<String>, request: Request) -> Response {
    handle(state, Api::Azure, Operation::Chat, Some(deployment), request).await
}

/// `POST /openai/deployments/{deployment}/completions`.
pub async fn azure_completions(
    State(state): State<AppState>,
    Path(deployment): Path<String>,
    request: Request,
) -> Response {
    handle(state, Api::Azure, Operation::Completions, Some(deployment), request).await
}

/// `POST /openai/deployments/{deployment}/embeddings`.
pub async fn azure_embeddings(
    State(state): State<AppState>,
    Path(deployment): Path<String>,
    request: Request,
) -> Response {
    handle(state, Api::Azure, Operation::Embeddings, Some(deployment), request).await
}

async fn handle(
    state: AppState,
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
    match serve(&state, api, operation, deployment, request, &mut progress).await {
        Ok(response) => response,
        Err(error) => refused(&state, progress, error),
    }
}

/// A refusal's answer. A routed request is counted by its record; one refused before is
/// counted here.
fn refused(state: &AppState, mut progress: Progress, error: ProxyError) -> Response {
    if !progress.recorded {
        let status = error.status().as_u16();
        state.proxy.metrics.refused(progress.gateway.as_deref(), status);
        if let Some(trace) = progress.trace.take() {
            trace.refused(status, error.class());
        }
    }
    error.into_response()
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
        ..Progress::default()
    };
    let request_id = (headers.get("x-request-id"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let Some(in_flight) = state.proxy.admit() else {
        return refused(state, progress, ProxyError::Overloaded("too many requests in flight"));
    };
    let snapshot = state.registry.snapshot();
    let access = match target {
        ConsoleTarget::Gateway(id) => match snapshot.gateways.get(&id) {
            Some(gateway) if gateway.enabled => Access {
                gateway: gateway.clone(),
                lineage: Vec::new(),
                key_id: None,
                logged_gateway: Some(gateway.id),
                pinned: None,
            },
            _ => {
                return refused(
                    state,
                    progress,
                    ProxyError::bad("target", "There is no enabled gateway with this id."),
                )
            }
        },
        ConsoleTarget::Endpoint(id) => match snapshot.upstreams.get(&id) {
            Some(upstream) => {
                // The endpoint serves its own model, whatever the body asked for.
                if let Some(object) = body.as_object_mut() {
                    object.insert("model".into(), Value::String(upstream.endpoint.model.clone()));
                }
                Access {
                    gateway: Arc::new(alone(upstream)),
                    lineage: Vec::new(),
                    key_id: None,
                    logged_gateway: None,
                    pinned: Some(upstream.clone()),
                }
            }
            None => {
                return refused(
                    state,
                    progress,
                    ProxyError::bad("target", "There is no endpoint with this id."),
                )
            }
        },
    };
    progress.gateway = Some(access.gateway.name.clone());
    let call = Call {
        api: Api::OpenAi,
        operation: Operation::Chat,
        path_model: None,
        started,
        in_flight,
        request_id,
        bytes: Bytes::from(body.to_string()),
    };
    match route(state, call, &snapshot, access, &mut progress).await {
        Ok(response) => response,
        Err(error) => refused(state, progress, error),
    }
}

/// The one-endpoint gateway a console request to an endpoint goes through: one attempt, the
/// default deadline, metadata logged and bodies not (as a new gateway's defaults).
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

/// Who a routed request is for: a key's holder through its gateway, or the console.
struct Access<'s> {
    gateway: Arc<Gateway>,
    /// The key and its ancestors (none for the console).
    lineage: Vec<&'s Arc<KeyEntry>>,
    key_id: Option<KeyId>,
    /// The gateway the log and the limits name; `None` for the console's request to an
    /// endpoint on its own.
    logged_gateway: Option<GatewayId>,
    /// The one endpoint to send to, instead of the gateway's choice by model.
    pinned: Option<Arc<Upstream>>,
}

/// An admitted request's body and what it is.
struct Call<'p> {
    api: Api,
    operation: Operation,
    /// The model an Azure deployment path names (`Some(None)`: the `auto` deployment).
    path_model: Option<Option<&'p str>>,
    started: Instant,
    in_flight: super::InFlight,
    request_id: String,
    bytes: Bytes,
}

/// How far a request got, for counting one that is refused.
#[derive(Default)]
struct Progress {
    /// The gateway's name, once the key is known.
    gateway: Option<String>,
    /// Whether the request has a record (which counts it when it ends).
    recorded: bool,
    /// The request's spans until its record takes them.
    trace: Option<RequestTrace>,
}

/// Reads the body up to the limit: 413 past it (checked on `content-length` first, so an
/// oversized body is refused before it is buffered), 400 when it cannot be read.
pub(crate) async fn read_body(
    body: Body,
    headers: &axum::http::HeaderMap,
    limit: usize,
) -> Result<axum::body::Bytes, ProxyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ProxyError::PayloadTooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let too_large =
            std::error::Error::source(&error).is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            ProxyError::PayloadTooLarge { limit }
        } else {
            ProxyError::bad(None, "The request body could not be read.")
        }
    })
}

/// The endpoints that can serve `model` for a key with this lineage (the key, then its
/// ancestors), in the gateway's order.
fn candidates(
    snapshot: &Snapshot,
    gateway: &Gateway,
    lineage: &[&Arc<KeyEntry>],
    model: Option<&str>,
    operation: Operation,
) -> Result<Vec<Arc<Upstream>>, ProxyError> {
    // `Gateway::endpoints` is in position order (the store reads it so).
    let linked = gateway
        .endpoints
        .iter()
        .filter_map(|link| snapshot.upstreams.get(&link.endpoint_id));
    let usable = |upstream: &&Arc<Upstream>| {
        upstream.endpoint.enabled
            && providers::adapter(upstream.endpoint.provider).supports(operation)
            && !matches!(upstream.credential, Credential::Unreadable)
    };
    let Some(name) = model else {
        return Ok(linked.filter(usable).cloned().collect());
    };
    let target = gateway.model_aliases.get(name).map_or(name, String::as_str);
    let serving: Vec<&Arc<Upstream>> = linked
        .filter(|u| u.endpoint.model == target || u.endpoint.deployment.as_deref() == Some(target))
        .collect();
    if serving.is_empty() {
        return Err(ProxyError::ModelNotFound(name.to_string()));
    }
    let permitted = |model: &str| {
        lineage.iter().all(|entry| {
            entry
                .key
                .allowed_models
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|m| m == model))
        })
    };
    if !permitted(name) && !serving.iter().any(|u| permitted(&u.endpoint.model)) {
        return Err(ProxyError::ModelNotAllowed(name.to_string()));
    }
    if !serving
        .iter()
        .any(|u| providers::adapter(u.endpoint.provider).supports(operation))
    {
        return Err(ProxyError::bad(
            "model",
            format!(
                "The model `{name}` cannot serve {} on this gateway.",
                operation.as_str()
            ),
        ));
    }
    let usable: Vec<Arc<Upstream>> = serving.into_iter().filter(usable).cloned().collect();
    if usable.is_empty() {
        return Err(ProxyError::NoEndpoint);
    }
    Ok(usable)
}

/// The console's one endpoint, when it can serve the operation.
fn pinned(upstream: &Arc<Upstream>, operation: Operation) -> Result<Vec<Arc<Upstream>>, ProxyError> {
    if !providers::adapter(upstream.endpoint.provider).supports(operation) {
        return Err(ProxyError::bad(
            "target",
            format!(
                "The endpoint `{}` cannot serve {}.",
                upstream.endpoint.name,
                operation.as_str()
            ),
        ));
    }
    if !upstream.endpoint.enabled || matches!(upstream.credential, Credential::Unreadable) {
        return Err(ProxyError::NoEndpoint);
    }
    Ok(vec![upstream.clone()])
}

fn with_endpoint(mut response: Response, upstream: &Upstream) -> Response {
    if let Ok(name) = HeaderValue::from_str(&upstream.endpoint.name) {
        response.headers_mut().insert(ENDPOINT_HEADER, name);
    }
    response
}

async fn serve(
    state: &AppState,
    api: Api,
    operation: Operation,
    deployment: Option<String>,
    request: Request,
    progress: &mut Progress,
) -> Result<Response, ProxyError> {
    let started = Instant::now();
    let proxy: &Arc<Proxy> = &state.proxy;
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
    let authenticated = auth::authenticate(&snapshot, &state.keys.key_hash_secret, &parts.headers, now_ms())?;
    progress.gateway = Some(authenticated.gateway.name.clone());
    let bytes = read_body(body, &parts.headers, proxy.settings.max_body_bytes).await?;
    let access = Access {
        gateway: authenticated.gateway.clone(),
        // The key and its ancestors, walked once: for allowed models, then for limits.
        lineage: snapshot.lineage(&authenticated.key.key),
        key_id: Some(authenticated.key.key.id),
        logged_gateway: Some(authenticated.gateway.id),
        pinned: None,
    };
    let call = Call {
        api,
        operation,
        path_model: deployment.as_deref().map(|d| (d != AUTO_DEPLOYMENT).then_some(d)),
        started,
        in_flight,
        request_id,
        bytes,
    };
    route(state, call, &snapshot, access, progress).await
}

/// Steps 3 to 9 for an authenticated request (or the console's): the body, the candidates,
/// the log's place, the limits, the attempts and the answer.
async fn route(
    state: &AppState,
    call: Call<'_>,
    snapshot: &Arc<Snapshot>,
    access: Access<'_>,
    progress: &mut Progress,
) -> Result<Response, ProxyError> {
    let Call {
        api,
        operation,
        path_model,
        started,
        in_flight,
        request_id,
        bytes,
    } = call;
    let proxy: &Arc<Proxy> = &state.proxy;
    let mut body = wire::parse(&bytes)?;
    if api == Api::Anthropic {
        body = messages::from_messages_request(&body).map_err(|bad| ProxyError::BadRequest {
            message: bad.message,
            param: Some(bad.param.to_string()),
        })?;
    }
    let inbound = wire::check(operation, body, path_model)?;
    let lineage = &access.lineage;
    let candidates = match &access.pinned {
        Some(upstream) => pinned(upstream, operation)?,
        None => candidates(snapshot, &access.gateway, lineage, inbound.model.as_deref(), operation)?,
    };
    let gateway = access.gateway.clone();
    // Usage is always recorded; the log row only when the gateway logs metadata.
    let permit = proxy
        .logs
        .reserve()
        .ok_or(ProxyError::Overloaded("the request-log queue is full"))?;
    let log = RequestLog {
        request_id: request_id.clone(),
        created_at: now_ms(),
        gateway_id: access.logged_gateway,
        key_id: access.key_id,
        // An endpoint on its own is known from the start, so a failure counts under it too.
        endpoint_id: access.pinned.as_ref().map(|upstream| upstream.endpoint.id),
        api: api.as_str().into(),
        operation: operation.as_str().into(),
        model: inbound.model.clone(),
        stream: inbound.stream,
        request_body: gateway
            .log_payloads
            .then(|| String::from_utf8_lossy(&bytes).into_owned()),
        ..RequestLog::default()
    };
    let trace = progress.trace.take();
    if let Some(trace) = &trace {
        trace.routed(operation, inbound.model.as_deref(), &gateway.name, &request_id);
    }
    let counted = Counted {
        metrics: proxy.metrics.clone(),
        gateway: progress.gateway.take().unwrap_or_default(),
        snapshot: snapshot.clone(),
        trace,
    };
    let mut recorder = Recorder::new(permit, log, gateway.log_metadata, counted, started);
    progress.recorded = true;
    let estimated_prompt = wire::prompt_tokens(&inbound);
    let max_tokens = ["max_tokens", "max_completion_tokens"]
        .iter()
        .find_map(|name| inbound.body.get(*name).and_then(Value::as_u64));
    let allowance = max_tokens.unwrap_or(0);
    let admitted = admit(
        proxy,
        snapshot,
        &access,
        &candidates,
        &mut recorder,
        Estimate {
            prompt: estimated_prompt,
            completion: match operation {
                Operation::Embeddings => 0,
                Operation::Chat | Operation::Completions => max_tokens.unwrap_or(proxy.settings.default_max_tokens),
            },
        },
    );
    let rate = match admitted {
        Ok(rate) => rate,
        Err(error) => {
            tracing::info!(
                request_id,
                status = 429,
                class = error.class(),
                "request refused by a limit"
            );
            recorder.finish(429, Some(error.class()));
            return Err(error);
        }
    };
    let deadline = started
        + gateway
            .deadline_ms
            .and_then(|ms| u64::try_from(ms).ok())
            .map_or(proxy.settings.request_deadline, Duration::from_millis);
    let routed = Routed {
        request_id: &request_id,
        gateway: &gateway,
        candidates,
        inbound: &inbound,
        estimated_tokens: estimated_prompt + allowance,
        deadline,
        created: now_ms() / 1000,
    };
    let served = match proxy.serve(routed, &mut recorder).await {
        Ok(served) => served,
        Err(error) => {
            tracing::info!(
                request_id,
                status = error.status().as_u16(),
                class = error.class(),
                "request failed"
            );
            recorder.finish(error.status().as_u16(), Some(error.class()));
            return Err(error);
        }
    };
    match served {
        Served::Json { upstream, answer } => {
            let usage = answer
                .usage
                .unwrap_or_else(|| estimate(&inbound, estimated_prompt, &answer.body.json()));
            recorder.first_byte();
            recorder.log.endpoint_id = Some(upstream.endpoint.id);
            recorder.log.prompt_tokens = i64::try_from(usage.prompt_tokens).unwrap_or(i64::MAX);
            recorder.log.completion_tokens = i64::try_from(usage.completion_tokens).unwrap_or(i64::MAX);
            let body = match api {
                Api::OpenAi | Api::Azure => answer.body.into_bytes(),
                Api::Anthropic => Bytes::from(messages::to_message(&answer.body.json(), usage).to_string()),
            };
            if gateway.log_payloads {
                recorder.log.response_body = Some(String::from_utf8_lossy(&body).into_owned());
            }
            recorder.finish(200, None);
            drop(in_flight);
            let response = (
                [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            );
            let mut response = with_endpoint(response.into_response(), &upstream);
            set_rate_headers(response.headers_mut(), &rate);
            Ok(response)
        }
        Served::Stream(started_stream) => {
            recorder.first_byte();
            recorder.log.endpoint_id = Some(started_stream.upstream.endpoint.id);
            let upstream = started_stream.upstream.clone();
            let context = StreamContext {
                shape: api.shape(),
                wants_usage: inbound.wants_usage,
                estimated_prompt,
                estimated_tokens: estimated_prompt + allowance,
                log_payloads: gateway.log_payloads,
                in_flight,
            };
            let body = stream::body(proxy.clone(), started_stream, context, recorder);
            let mut response = Response::new(body);
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            set_rate_headers(headers, &rate);
            Ok(with_endpoint(response, &upstream))
        }
    }
}

/// A request's estimated usage, before the call.
struct Estimate {
    prompt: u64,
    completion: u64,
}

/// Admits the request against the limits of its key, the key's ancestors and its gateway,
/// reserving the estimate on every level (the recorder settles it when the request ends), or
/// refuses it with 429 — recorded like any other failure.
fn admit(
    proxy: &Proxy,
    snapshot: &Arc<Snapshot>,
    access: &Access<'_>,
    candidates: &[Arc<Upstream>],
    recorder: &mut Recorder,
    estimate: Estimate,
) -> Result<RateHeaders, ProxyError> {
    let gateway = &access.gateway;
    let mut levels: Vec<Level<'_>> = (access.lineage.iter())
        .map(|entry| Level {
            scope: LimitScope::Key(entry.key.id),
            limits: &entry.key.limits,
            reset_at: entry.key.usage_reset_at,
        })
        .collect();
    // The console's request to an endpoint on its own has no gateway to limit it.
    if access.logged_gateway.is_some() {
        levels.push(Level {
            scope: LimitScope::Gateway(gateway.id),
            limits: &gateway.limits,
            reset_at: None,
        });
    }
    // The dearest model that may serve it: a budget is never overshot by a failover.
    let cost_micros = candidates
        .iter()
        .filter_map(|upstream| snapshot.price(&upstream.endpoint.model))
        .map(|price| price.cost_micros(estimate.prompt, estimate.completion))
        .max()
        .unwrap_or(0);
    let ask = Ask {
        request_id: &recorder.log.request_id,
        now: recorder.log.created_at,
        tokens: i64::try_from(estimate.prompt.saturating_add(estimate.completion)).unwrap_or(i64::MAX),
        cost_micros,
        levels,
    };
    let admitted = proxy.ledger.admit(&ask);
    let scopes = ask.levels.iter().map(|level| level.scope).collect();
    let grant = admitted.map_err(|refusal| {
        let scope = match refusal.scope {
            LimitScope::Key(_) => "key",
            LimitScope::Gateway(_) => "gateway",
        };
        proxy
            .metrics
            .limit_rejected(&gateway.name, scope, refusal.limit.metric.as_str());
        ProxyError::LimitReached(refusal)
    })?;
    recorder.charge(Charge {
        ledger: proxy.ledger.clone(),
        scopes,
    });
    Ok(grant.headers)
}

/// Usage for an answer that reported none: the prompt estimate, and the answer's text.
fn estimate(inbound: &Inbound, estimated_prompt: u64, answer: &Value) -> Usage {
    let chars: usize = answer["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|choice| {
            let text = choice
                .pointer("/message/content")
                .or_else(|| choice.get("text"))
                .map(providers::content_text)
                .unwrap_or_default();
            text.chars().count()
        })
        .sum();
    Usage {
        prompt_tokens: estimated_prompt,
        completion_tokens: match inbound.operation {
            Operation::Embeddings => 0,
            Operation::Chat | Operation::Completions => wire::estimate_tokens(chars),
        },
    }
}
