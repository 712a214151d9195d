//! Steps 3 to 9 of the journey (`proxy/mod.rs`), one function a step, the same for every
//! [`Principal`]: [`read`] the body, [`plan`] the candidates, [`record`] the request's place in
//! the log, [`admit`] it against the limits, serve it (`Proxy::serve`: balancer and failover),
//! and [`shape`] the answer in the client's dialect.
//!
//! Invariant: a request refused before `record` writes no row and is counted by the route;
//! from `record` on, its recorder counts it whatever happens (finished, refused by a limit,
//! failed, cut or abandoned).
//! Invariant: nothing here awaits the database; the snapshot is the configuration.

use super::{
    access, best, cache, composite,
    error::ProxyError,
    failover::Routed,
    guard,
    limits::{Arrival, Ask, Level, NotAdmitted, RateHeaders},
    moderation, multi, people,
    plan::{plan, FanOut, Plan},
    prompt::PromptUse,
    providers::{self, Operation},
    registry::{KeyEntry, Snapshot, Upstream},
    shape::{self, shape, Answered, Client},
    stream::ClientShape,
    usage::{Charge, Counted, Recorder},
    wire::{self, Inbound},
    InFlight, Proxy,
};
use crate::{
    identity::EndUser,
    store::{now_ms, LimitScope},
    traces::RequestTrace,
};
use app::types::{Gateway, GatewayId, KeyId, MultiMode, RequestLog};
use axum::{body::Bytes, http::HeaderValue, response::Response};
use serde_json::Value;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

mod native;
mod read;

pub use read::{read, PromptScope, Read};

/// Which API shape a route speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Azure,
    Anthropic,
    /// OpenAI's Responses API (`/v1/responses`), answered through the chat path.
    Responses,
}

impl Api {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Azure => "azure",
            Api::Anthropic => "anthropic",
            Api::Responses => "responses",
        }
    }

    pub(super) fn shape(self) -> ClientShape {
        match self {
            Api::OpenAi | Api::Azure => ClientShape::OpenAi,
            Api::Anthropic => ClientShape::Anthropic,
            Api::Responses => ClientShape::Responses,
        }
    }
}

/// Who a request is for, and so what routes, limits and names it.
pub(super) enum Principal<'s> {
    /// A gateway key's holder: the key and its ancestors (walked once), through the key's
    /// gateway; all their limits apply.
    Key {
        gateway: Arc<Gateway>,
        lineage: Vec<&'s Arc<KeyEntry>>,
    },
    /// The console's playground through a gateway: routed, limited and logged as the gateway's.
    ConsoleViaGateway(Arc<Gateway>),
    /// An end user's token alone, at `/g/{gateway}/v1/…` (issue #23): routed, limited and
    /// logged as the gateway's, with no key.
    EndUser(Arc<Gateway>),
    /// The console's playground to one endpoint on its own: one attempt, no gateway to limit
    /// it or name in its log (`plan` is the routing policy it is sent with).
    ConsoleToEndpoint {
        upstream: Arc<Upstream>,
        plan: Arc<Gateway>,
    },
}

impl Principal<'_> {
    /// The routing policy: strategy, retries, deadline, logging.
    pub(super) fn gateway(&self) -> &Arc<Gateway> {
        match self {
            Principal::Key { gateway, .. } | Principal::ConsoleViaGateway(gateway) | Principal::EndUser(gateway) => {
                gateway
            }
            Principal::ConsoleToEndpoint { plan, .. } => plan,
        }
    }

    /// The key and its ancestors (none for the console).
    pub(super) fn lineage(&self) -> &[&Arc<KeyEntry>] {
        match self {
            Principal::Key { lineage, .. } => lineage,
            Principal::ConsoleViaGateway(_) | Principal::EndUser(_) | Principal::ConsoleToEndpoint { .. } => &[],
        }
    }

    /// The gateway the log and the limits name.
    pub(super) fn named_gateway(&self) -> Option<GatewayId> {
        match self {
            Principal::Key { gateway, .. } | Principal::ConsoleViaGateway(gateway) | Principal::EndUser(gateway) => {
                Some(gateway.id)
            }
            Principal::ConsoleToEndpoint { .. } => None,
        }
    }

    /// The levels whose limits apply: the key, its ancestors, then the gateway (the console's
    /// request to an endpoint on its own has no gateway to limit it).
    pub(super) fn levels(&self) -> Vec<Level<'_>> {
        let mut levels: Vec<Level<'_>> = (self.lineage().iter())
            .map(|entry| Level {
                scope: LimitScope::Key(entry.key.id),
                limits: &entry.key.limits,
                reset_at: entry.key.usage_reset_at,
            })
            .collect();
        if self.named_gateway().is_some() {
            let gateway = self.gateway();
            levels.push(Level {
                scope: LimitScope::Gateway(gateway.id),
                limits: &gateway.limits,
                reset_at: None,
            });
        }
        levels
    }

    /// The key the log names.
    fn key_id(&self) -> Option<KeyId> {
        self.lineage().first().map(|entry| entry.key.id)
    }
}

/// An admitted request's body and what it is.
pub(super) struct Call<'p> {
    pub api: Api,
    pub operation: Operation,
    /// The model an Azure deployment path names (`Some(None)`: the `auto` deployment).
    pub path_model: Option<Option<&'p str>>,
    pub started: Instant,
    pub in_flight: InFlight,
    pub request_id: String,
    pub bytes: Bytes,
    /// Its places under the concurrency limits, held since it was authenticated (none for the
    /// console, whose body is read before it is routed).
    pub arrival: Option<Arrival>,
    /// The client's `x-mgw-session` header: who the end user is when the body has no `user`.
    pub session: Option<String>,
    /// The end user a verified token names (issue #23): the way in's, or beside a key.
    pub user: Option<Arc<EndUser>>,
    /// The request's path, for access rules (`request.path`).
    pub path: String,
    /// Its key may name the end user (`x-mgw-user`, or the body's `user`) without a token.
    pub asserts_users: bool,
    /// The end user's group under the gateway's group rule (found in step 4).
    pub group: Option<String>,
    /// What the client asked of the response cache.
    pub cache: cache::Ask,
}

/// How far a request got, for counting one that is refused.
#[derive(Default)]
pub(super) struct Progress {
    /// The gateway's name, once the principal is known.
    pub gateway: Option<String>,
    /// Whether the request has a record (which counts it when it ends).
    pub recorded: bool,
    /// The request's spans until its record takes them.
    pub trace: Option<RequestTrace>,
    /// Whether its body was read: a refusal sent before says the connection closes, since the
    /// unread body still stands between it and the client's next request.
    pub body_read: bool,
}

/// Steps 3 to 9 for a request whose principal is known.
pub(super) async fn route(
    proxy: &Arc<Proxy>,
    mut call: Call<'_>,
    snapshot: &Arc<Snapshot>,
    principal: Principal<'_>,
    progress: &mut Progress,
) -> Result<Response, ProxyError> {
    let scope = PromptScope {
        snapshot,
        gateway: principal.named_gateway(),
    };
    let Read {
        mut inbound,
        prompt,
        rewritten,
        native: client_body,
    } = read(call.api, call.operation, &call.bytes, call.path_model, scope)?;
    let (mut guarding, guarded) = match principal.named_gateway() {
        Some(id) => guard::request(proxy, snapshot.guards(id), principal.gateway(), &mut inbound)?,
        None => (None, false),
    };
    if let Some(gateway) = principal.named_gateway() {
        if call.user.is_none() && call.asserts_users {
            call.user = people::from_body(&inbound.body)?;
        }
        let rule = snapshot.group_rule(gateway);
        call.group =
            (call.user.as_deref()).and_then(|user| people::group_of(rule.map(Arc::as_ref), principal.gateway(), user));
    }
    let user = call.user.as_deref().map(|user| user.subject.as_str());
    let plan = plan(proxy, snapshot, &principal, &inbound, user, call.session.as_deref())?;
    access::allowed(snapshot, &principal, &call, &inbound, prompt.as_ref())?;
    let mut caching = caching(snapshot, &principal, &call, &inbound, &plan, prompt.as_ref(), user);
    let policed = principal.named_gateway().is_some() && !principal.gateway().param_policy.is_empty();
    let blocker = [
        (
            plan.fan_out.is_some(),
            "its model is a composite that calls several members",
        ),
        (guarding.is_some(), "the gateway's guardrails read it"),
        (caching.is_some(), "the gateway caches answers"),
        (policed, "the gateway's parameter policy applies to it"),
        (rewritten, "a named prompt or a per-user cap rewrote it"),
    ];
    let blocker = blocker.into_iter().find_map(|(applies, why)| applies.then_some(why));
    let native = native::native(client_body, &plan, blocker)?;
    let logged = (principal.gateway().log_payloads)
        .then(|| {
            guarding
                .as_mut()
                .and_then(|guarding| guarding.logged_request(&inbound.body))
        })
        .flatten();
    let sent = match (logged, rewritten || guarded) {
        (Some(logged), _) => Sent::Logged(logged),
        (None, true) => Sent::Rewritten,
        (None, false) => Sent::AsReceived,
    };
    let mut recorder = record(proxy, snapshot, &principal, &call, &inbound, sent, progress)?;
    if let Some(prompt) = prompt {
        // A prompt's parameters are logged as they came: not when guardrails changed the text.
        recorder.prompt(prompt, principal.gateway().log_payloads && !guarded);
    }
    recorder.variant(plan.tiers.first().and_then(|tier| tier.variant.as_deref()));
    let estimate = Estimate::of(&inbound, proxy.settings.default_max_tokens);
    if let Some(body) = native {
        // Estimated and logged as the chat request it reads as; sent as it came.
        inbound.operation = Operation::Responses;
        inbound.body = body;
    }
    let rate = match admit(proxy, snapshot, &principal, &mut call, &plan, &mut recorder, &estimate).await {
        Ok(rate) => rate,
        Err(error) => {
            let status = error.status().as_u16();
            tracing::info!(
                request_id = call.request_id,
                status,
                class = error.class(),
                "request refused by a limit"
            );
            recorder.finish(status, Some(error.class()));
            return Err(error);
        }
    };
    let gateway = principal.gateway();
    let deadline = call.started
        + (gateway.deadline_ms)
            .and_then(|ms| u64::try_from(ms).ok())
            .map_or(proxy.settings.request_deadline, Duration::from_millis);
    if let Some(guarding) = &mut guarding {
        // Before the cache: a kept answer is not given to a request moderation refuses.
        let moderated = moderation::moderate(
            proxy,
            snapshot,
            gateway,
            guarding,
            &call.request_id,
            &inbound.body,
            deadline,
        );
        match moderated.await {
            Ok(true) => {}
            // Passed unmoderated (an endpoint could not answer): its answer is not kept.
            Ok(false) => caching.iter_mut().for_each(cache::Caching::keep_nothing),
            Err(refusal) => {
                recorder.guardrails(guarding.found.log_text());
                recorder.finish(refusal.status().as_u16(), Some(refusal.class()));
                return Err(refusal);
            }
        }
    }
    let routed = Routed {
        request_id: &call.request_id,
        gateway,
        tiers: &plan.tiers,
        inbound: &inbound,
        estimated_tokens: estimate.tokens(),
        deadline,
        stamp: providers::Stamp {
            id: format!("chatcmpl-{}", call.request_id),
            model: String::new(),
            created: now_ms() / 1000,
        },
    };
    if let Some(caching) = &mut caching {
        if let Some(found) = caching.look(proxy, snapshot, &routed, &mut recorder).await {
            let mut hit = shape::hit(&found.entry, call.api, &inbound, gateway, &rate, guarding, recorder)?;
            let similarity = found.similarity.map(|similarity| format!("{similarity:.4}"));
            if let Some(Ok(similarity)) = similarity.map(HeaderValue::try_from) {
                hit.headers_mut().insert(cache::SIMILARITY_HEADER, similarity);
            }
            return Ok(hit);
        }
    }
    let answered = Answered {
        gateway,
        estimate: &estimate,
        rate: &rate,
        plan: &plan,
        caching: caching.as_ref(),
    };
    let outcome = match &plan.fan_out {
        None => proxy.serve(routed, &mut recorder).await,
        Some(FanOut::Multi(MultiMode::First)) => multi::first(proxy, &plan.tiers, routed, &mut recorder).await,
        Some(FanOut::Multi(MultiMode::WaitForAll)) => {
            let client = Client {
                api: call.api,
                in_flight: call.in_flight,
                guarding,
            };
            // Boxed, as `best` below: the rarer composites' futures are larger than the plain
            // path's, and a request's future is as large as its largest await.
            return Ok(Box::pin(multi::wait_for_all(proxy, snapshot, routed, client, answered, recorder)).await);
        }
        Some(FanOut::Best(judge)) => {
            let client = Client {
                api: call.api,
                in_flight: call.in_flight,
                guarding,
            };
            return Box::pin(best::best(proxy, snapshot, routed, judge, client, answered, recorder)).await;
        }
    };
    let served = match outcome {
        Ok(served) => served,
        Err(error) => {
            tracing::info!(
                request_id = call.request_id,
                status = error.status().as_u16(),
                class = error.class(),
                "request failed"
            );
            if let Some(guarding) = &guarding {
                recorder.guardrails(guarding.found.log_text());
            }
            recorder.finish(error.status().as_u16(), Some(error.class()));
            return Err(error);
        }
    };
    Ok(shape(proxy, served, call, &inbound, answered, recorder, guarding))
}

/// What the log stores of the request's body: what is sent — the client's bytes, or the body a
/// prompt, the policy or the guardrails made of them — or that with the log's own guardrails'
/// redactions.
enum Sent {
    AsReceived,
    Rewritten,
    Logged(String),
}

/// Step 5a: the request's place in the log queue (full: 503) and its record, which counts it
/// from here on. Usage is always recorded; the log row only when the gateway logs metadata.
fn record(
    proxy: &Arc<Proxy>,
    snapshot: &Arc<Snapshot>,
    principal: &Principal<'_>,
    call: &Call<'_>,
    inbound: &Inbound,
    sent: Sent,
    progress: &mut Progress,
) -> Result<Recorder, ProxyError> {
    let gateway = principal.gateway();
    let permit = proxy
        .logs
        .reserve()
        .ok_or(ProxyError::Overloaded("the request-log queue is full"))?;
    let pinned = match principal {
        Principal::ConsoleToEndpoint { upstream, .. } => Some(upstream.endpoint.id),
        Principal::Key { .. } | Principal::ConsoleViaGateway(_) | Principal::EndUser(_) => None,
    };
    let log = RequestLog {
        request_id: call.request_id.clone(),
        created_at: now_ms(),
        gateway_id: principal.named_gateway(),
        key_id: principal.key_id(),
        // An endpoint on its own is known from the start, so a failure counts under it too.
        endpoint_id: pinned,
        api: call.api.as_str().into(),
        operation: call.operation.as_str().into(),
        model: inbound.model.clone(),
        stream: inbound.stream,
        request_body: (gateway.log_payloads).then(|| match sent {
            Sent::AsReceived => String::from_utf8_lossy(&call.bytes).into_owned(),
            Sent::Rewritten => Value::Object(inbound.body.clone()).to_string(),
            Sent::Logged(logged) => logged,
        }),
        end_user: call.user.as_ref().map(|user| user.subject.clone()),
        end_user_group: call.group.clone(),
        ..RequestLog::default()
    };
    let trace = progress.trace.take();
    if let Some(trace) = &trace {
        trace.routed(
            call.operation,
            inbound.model.as_deref(),
            &gateway.name,
            &call.request_id,
        );
    }
    let counted = Counted {
        metrics: proxy.metrics.clone(),
        gateway: progress.gateway.take().unwrap_or_default(),
        snapshot: snapshot.clone(),
        trace,
    };
    progress.recorded = true;
    Ok(Recorder::new(permit, log, gateway.log_metadata, counted, call.started))
}

/// A request's estimated usage, before the call.
pub(super) struct Estimate {
    pub prompt: u64,
    /// What the completion may take (`max_tokens`, or the default; none for embeddings).
    completion: u64,
    /// What the client allowed (`max_tokens`, else 0): the balancer's token estimate.
    allowance: u64,
}

impl Estimate {
    fn of(inbound: &Inbound, default_max_tokens: u64) -> Estimate {
        let max_tokens = ["max_tokens", "max_completion_tokens"]
            .iter()
            .find_map(|name| inbound.body.get(*name).and_then(Value::as_u64));
        let choices = wire::choices(inbound);
        Estimate {
            prompt: wire::prompt_tokens(inbound),
            completion: match inbound.operation {
                Operation::Embeddings => 0,
                Operation::Chat | Operation::Completions | Operation::Responses => {
                    max_tokens.unwrap_or(default_max_tokens).saturating_mul(choices)
                }
            },
            allowance: max_tokens.unwrap_or(0).saturating_mul(choices),
        }
    }

    /// The tokens the balancer expects it to take.
    pub(super) fn tokens(&self) -> u64 {
        self.prompt + self.allowance
    }
}

/// Step 5b: admits the request against the limits of its key, the key's ancestors, its end
/// user and their group, and its gateway, reserving the estimate on every level (the recorder settles it when the request
/// ends), or refuses it with 429 (503 when the limits cannot be checked).
async fn admit(
    proxy: &Proxy,
    snapshot: &Arc<Snapshot>,
    principal: &Principal<'_>,
    call: &mut Call<'_>,
    plan: &Plan,
    recorder: &mut Recorder,
    estimate: &Estimate,
) -> Result<RateHeaders, ProxyError> {
    let gateway = principal.gateway();
    let mut levels = principal.levels();
    if principal.named_gateway().is_some() {
        // Between the key's levels and the gateway's (the last).
        let at = levels.len().saturating_sub(1);
        levels.splice(
            at..at,
            people::levels(gateway, call.user.as_deref(), call.group.as_deref()),
        );
    }
    let arrival = call.arrival.as_mut();
    recorder.counts_in(levels.iter().map(|level| level.scope).collect());
    // The dearest model that may serve a call: a budget is never overshot by a failover. A
    // `multi` composite calls every member: each member's dearest, summed, and its tokens as
    // many times; a `best` one its judge too, which reads every answer.
    let dearest = |upstreams: &mut dyn Iterator<Item = &Arc<Upstream>>, prompt: u64, completion: u64| {
        upstreams
            .filter_map(|upstream| snapshot.price(&upstream.endpoint.model))
            .map(|price| price.cost_micros(prompt, completion))
            .max()
            .unwrap_or(0)
    };
    let (prompt, completion) = (estimate.prompt, estimate.completion);
    let one_call = prompt.saturating_add(completion);
    let every_member = || {
        let tokens = one_call.saturating_mul(plan.tiers.len() as u64);
        let cost = (plan.tiers.iter())
            .map(|tier| dearest(&mut tier.upstreams.iter(), prompt, completion))
            .fold(0i64, i64::saturating_add);
        (tokens, cost)
    };
    let (tokens, cost_micros) = match &plan.fan_out {
        None => (one_call, dearest(&mut plan.upstreams(), prompt, completion)),
        Some(FanOut::Multi(_)) => every_member(),
        Some(FanOut::Best(judge)) => {
            let (members, members_cost) = every_member();
            let (judged, verdict) = best::judge_estimate(prompt, completion, plan.tiers.len(), judge.rubric.as_deref());
            let judge_cost = dearest(&mut judge.tier.upstreams.iter(), judged, verdict);
            (
                members.saturating_add(judged).saturating_add(verdict),
                members_cost.saturating_add(judge_cost),
            )
        }
    };
    let ask = Ask {
        request_id: recorder.request_id(),
        now: recorder.created_at(),
        tokens: i64::try_from(tokens).unwrap_or(i64::MAX),
        cost_micros,
        levels,
    };
    let grant = match proxy.counters.admit(&ask, arrival).await {
        Ok(grant) => grant,
        Err(NotAdmitted::Limit(refusal)) => {
            let scope = match refusal.scope {
                LimitScope::Key(_) => "key",
                LimitScope::Gateway(_) => "gateway",
                LimitScope::EndUser(_) => "end_user",
                LimitScope::Group(_) => "user_group",
            };
            (proxy.metrics).limit_rejected(&gateway.name, scope, refusal.limit.metric.as_str());
            return Err(ProxyError::LimitReached(refusal));
        }
        Err(NotAdmitted::Unavailable) => return Err(ProxyError::LimitsUnavailable),
    };
    recorder.charge(Charge { held: grant.held });
    Ok(grant.headers)
}

/// The response cache's part in a request, when the settings it goes by cache answers — the
/// prompt's own, else the composite model's it names, else its gateway's — and it is routed to
/// one place (not a `multi` or `best` composite, whose answers are several).
fn caching(
    snapshot: &Snapshot,
    principal: &Principal<'_>,
    call: &Call<'_>,
    inbound: &Inbound,
    plan: &Plan,
    prompt: Option<&PromptUse>,
    end_user: Option<&str>,
) -> Option<cache::Caching> {
    let gateway = principal.named_gateway()?;
    let prompt_own = prompt.and_then(|prompt| snapshot.prompt(&prompt.name)?.cache.as_ref());
    let composite_own = || {
        let model = inbound.model.as_deref()?;
        snapshot.composite(gateway, model)?.cache.as_ref()
    };
    let settings = (prompt_own.or_else(composite_own)).unwrap_or(&principal.gateway().cache);
    if !settings.on() || plan.fan_out.is_some() {
        return None;
    }
    let variant = plan.tiers.first().and_then(|tier| tier.variant.as_deref());
    let key = cache::key(gateway, inbound, variant, prompt);
    let probe = settings
        .semantic()
        .filter(|_| call.cache.look && inbound.operation == Operation::Chat)
        .and_then(|(model, similarity)| {
            let (context, text) = cache::context(gateway, inbound, variant, prompt, model)?;
            let end_user = end_user.or(call.session.as_deref()).unwrap_or_default();
            Some(Box::new(cache::Probe {
                context,
                text,
                embedder: composite::embedder(snapshot, principal.gateway(), model, end_user),
                similarity,
                embedded: None,
            }))
        });
    Some(cache::Caching::new(key, call.cache, settings.clone(), probe))
}
