//! Step 7 for a `multi` composite model (issue #21): every member is asked the same request at
//! once, each through the attempt loop on its own endpoints (its retries inside the request's
//! deadline). `waitforall` answers one JSON object keyed by member, each value a chat completion
//! (an Anthropic message, for a client that speaks Anthropic's shape) or that member's error in
//! OpenAI's shape (200 when any member answered); `first` answers
//! the first member to succeed as a normal completion (or stream) and drops the others' calls.
//!
//! Invariant: every member call's attempts are attempts of the one request, each naming its
//! member; the request's usage and cost are the sum of its calls' (`waitforall`), or the
//! winner's (`first`: a call dropped mid-way reports nothing to count).
//! Invariant: `first` drops the losing calls the moment one member succeeds, which closes their
//! upstream connections.

use super::{
    error::{set_rate_headers, ProxyError},
    failover::{Routed, Served},
    plan::Tier,
    providers::{Answer, Usage},
    registry::{Snapshot, Upstream},
    shape::{estimated, Answered, Client},
    usage::{MemberAttempts, Recorder},
    wire::Inbound,
    Proxy,
};
use app::types::RequestAttempt;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use futures_util::{stream::FuturesUnordered, StreamExt};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The request as one member's call: the same request, routed only to the member's endpoints.
pub(super) fn member<'a>(routed: &Routed<'a>, tier: &'a Tier) -> Routed<'a> {
    Routed {
        request_id: routed.request_id,
        gateway: routed.gateway,
        tiers: std::slice::from_ref(tier),
        inbound: routed.inbound,
        estimated_tokens: routed.estimated_tokens,
        deadline: routed.deadline,
        stamp: routed.stamp.clone(),
    }
}

/// The member a tier stands for.
pub(super) fn name(tier: &Tier) -> &str {
    tier.variant.as_deref().unwrap_or_default()
}

/// A member's whole answer, with what it used (as reported, else estimated) and cost (at its
/// own model's price).
pub(super) struct Priced {
    pub json: Value,
    pub usage: Usage,
    pub cost_micros: i64,
}

/// Prices a member's answer, and sets the cost on the attempt that answered it.
pub(super) fn priced(
    snapshot: &Snapshot,
    inbound: &Inbound,
    estimated_prompt: u64,
    upstream: &Upstream,
    answer: Answer,
    attempts: &mut [RequestAttempt],
) -> Priced {
    let json = answer.body.json().into_owned();
    let used = (answer.usage).unwrap_or_else(|| estimated(inbound, estimated_prompt, &json));
    let (usage, _) = used.bounded();
    let cost_micros = (snapshot.price(&upstream.endpoint.model)).map_or(0, |price| {
        price.cost_micros(usage.prompt_tokens, usage.completion_tokens)
    });
    if let Some(last) = attempts.iter_mut().rev().find(|a| a.status == Some(200)) {
        last.cost_micros = cost_micros;
    }
    Priced {
        json,
        usage,
        cost_micros,
    }
}

/// `first`: every member asked at once; the first to succeed is served, and the others' calls
/// are dropped (their upstream connections closed). Every call's attempts are recorded, the
/// winner's last (a stream's attempt is closed when the stream ends).
pub(super) async fn first(
    proxy: &Arc<Proxy>,
    tiers: &[Tier],
    routed: Routed<'_>,
    recorder: &mut Recorder,
) -> Result<Served, ProxyError> {
    let attempts: Vec<MemberAttempts> = tiers.iter().map(|tier| recorder.member_call(name(tier))).collect();
    let mut calls: FuturesUnordered<_> = (tiers.iter().zip(&attempts).enumerate())
        .map(|(index, (tier, attempts))| {
            let mut attempts = attempts.clone();
            let call = member(&routed, tier);
            async move { (index, proxy.serve(call, &mut attempts).await) }
        })
        .collect();
    let mut winner = None;
    let mut last = None;
    while let Some((index, outcome)) = calls.next().await {
        match outcome {
            Ok(served) => {
                winner = Some((index, served));
                break;
            }
            Err(error) => last = Some(error),
        }
    }
    drop(calls);
    let won = winner.as_ref().map(|(index, _)| *index);
    for (index, (tier, attempts)) in tiers.iter().zip(&attempts).enumerate() {
        if Some(index) != won {
            recorder.member_attempts(name(tier), attempts.closed());
        }
    }
    match winner {
        Some((index, served)) => {
            recorder.member_attempts(name(&tiers[index]), attempts[index].closed());
            Ok(served)
        }
        None => Err(last.unwrap_or(ProxyError::NoEndpoint)),
    }
}

/// Every member asked at once, each through the attempt loop on its own endpoints, and waited
/// for: each call's outcome with its attempts, in the members' order.
pub(super) async fn every_member(
    proxy: &Arc<Proxy>,
    routed: &Routed<'_>,
    tiers: &[Tier],
    recorder: &Recorder,
) -> Vec<(Result<Served, ProxyError>, MemberAttempts)> {
    let calls = tiers.iter().map(|tier| {
        let mut attempts = recorder.member_call(name(tier));
        let handle = attempts.clone();
        let call = member(routed, tier);
        async move { (proxy.serve(call, &mut attempts).await, handle) }
    });
    futures_util::future::join_all(calls).await
}

/// `waitforall`: every member asked at once and waited for; the answer is one JSON object keyed
/// by member. Usage and cost are the sums of the members' (each priced by its own model).
pub(super) async fn wait_for_all(
    proxy: &Arc<Proxy>,
    snapshot: &Snapshot,
    routed: Routed<'_>,
    client: Client,
    answered: Answered<'_>,
    mut recorder: Recorder,
) -> Response {
    let mut guarding = client.guarding;
    // A composite's several answers are never cached.
    let Answered {
        gateway,
        estimate,
        rate,
        plan,
        caching: _,
    } = answered;
    let outcomes = every_member(proxy, &routed, &plan.tiers, &recorder).await;
    recorder.first_byte();
    let mut answers = Map::new();
    // What the log keeps of each answer: as it was before placeholders were put back.
    let mut logged = Map::new();
    let mut usage = Usage::default();
    let mut cost_micros = 0i64;
    let mut answered_by = 0;
    for (tier, (outcome, attempts)) in plan.tiers.iter().zip(outcomes) {
        let mut attempts = attempts.closed();
        let mut unrestored = None;
        let value = match outcome {
            Ok(Served::Json { upstream, answer }) => {
                let mut priced = priced(
                    snapshot,
                    routed.inbound,
                    estimate.prompt,
                    &upstream,
                    answer,
                    &mut attempts,
                );
                usage = usage.plus(priced.usage);
                cost_micros = cost_micros.saturating_add(priced.cost_micros);
                answered_by += 1;
                // Each member's answer through the response guardrails: one blocked is that
                // member's refusal, the others stand.
                let guarded = match &mut guarding {
                    Some(guarding) => {
                        let guarded = guarding.answer_value(&mut priced.json);
                        unrestored = guarding.take_unrestored();
                        guarded
                    }
                    None => Ok(false),
                };
                match (guarded, client.api) {
                    (Err(refusal), _) => refusal.body(),
                    (Ok(_), api) => api.shape().answer(&priced.json, priced.usage).unwrap_or(priced.json),
                }
            }
            // The plan refuses `stream: true` for `waitforall`, so no member streams.
            Ok(Served::Stream(_)) => ProxyError::bad("stream", "A waitforall member cannot stream.").body(),
            Err(error) => error.body(),
        };
        recorder.member_attempts(name(tier), attempts);
        if gateway.log_payloads {
            logged.insert(name(tier).to_string(), unrestored.unwrap_or_else(|| value.clone()));
        }
        answers.insert(name(tier).to_string(), value);
    }
    recorder.summed(usage, cost_micros);
    let body = Value::Object(answers).to_string();
    if let Some(guarding) = &guarding {
        recorder.guardrails(guarding.found.log_text());
    }
    if gateway.log_payloads {
        let logged = Value::Object(logged).to_string();
        recorder.answered(match &mut guarding {
            Some(guarding) => guarding.logged_answer(logged),
            None => logged,
        });
    }
    let status = if answered_by > 0 {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    recorder.finish(status.as_u16(), (answered_by == 0).then_some("upstream_error"));
    drop(client.in_flight);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response();
    set_rate_headers(response.headers_mut(), rate);
    response
}
