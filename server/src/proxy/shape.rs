//! Step 8 of the journey (`proxy/mod.rs`): the answer in the client's dialect — a JSON body,
//! or the stream carried on past the commit point — through the gateway's response guardrails
//! (issue #24), with the endpoint (and composite variant) that served and the limits' headers.
//!
//! Invariant: the response cache keeps the provider's answer as it came (guardrails are applied
//! to every answer given, a cache hit's too), so one kept answer serves every client's
//! placeholders.
//! Invariant: an answer a guardrail blocks is refused whole (400) and recorded so.

use super::{
    cache,
    composite::VARIANT_HEADER,
    error::set_rate_headers,
    failover::Served,
    guard::Guarding,
    limits::RateHeaders,
    plan::Plan,
    providers::{self, Operation, Usage},
    registry::Upstream,
    route::{Api, Call, Estimate},
    stream::{self, ClientShape, StreamContext},
    usage::Recorder,
    wire::{self, Inbound},
    InFlight, Proxy,
};
use app::types::Gateway;
use axum::{
    body::Bytes,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use std::sync::Arc;

/// The response header naming the endpoint that served.
pub const ENDPOINT_HEADER: &str = "x-mgw-endpoint";

/// Who gets a composite's answer (`multi`, `best`): the shape they speak, their place among
/// the requests in flight (held until the answer is written), and their request's guardrails
/// (the answer passes the response guardrails, and gets their placeholders back).
pub(super) struct Client {
    pub api: Api,
    pub in_flight: InFlight,
    pub guarding: Option<Guarding>,
}

/// What the answer carries besides the served body: the routing policy, the estimate, the
/// limits' headers and the plan (which names the variant that served).
pub(super) struct Answered<'a> {
    pub gateway: &'a Gateway,
    pub estimate: &'a Estimate,
    pub rate: &'a RateHeaders,
    pub plan: &'a Plan,
    /// The response cache's part, for a caching gateway's request that missed it.
    pub caching: Option<&'a cache::Caching>,
}

/// Step 5b's answer from the response cache: the kept answer in the client's shape, through
/// the response guardrails like a provider's, and logged as they log it.
pub(super) fn hit(
    entry: &cache::Entry,
    api: Api,
    inbound: &Inbound,
    gateway: &Gateway,
    rate: &RateHeaders,
    guarding: Option<Guarding>,
    mut recorder: Recorder,
) -> Result<Response, super::error::ProxyError> {
    let mut body = entry.body.clone();
    let mut logs_payload = gateway.log_payloads;
    if let Some(mut guarding) = guarding {
        let guarded = guarding.answer(&body);
        recorder.guardrails(guarding.found.log_text());
        match guarded {
            Ok(Some(guarded)) => body = guarded,
            Ok(None) => {}
            Err(refusal) => {
                recorder.finish(refusal.status().as_u16(), Some(refusal.class()));
                return Err(refusal);
            }
        }
        if logs_payload {
            recorder.answered(guarding.logged_answer(String::from_utf8_lossy(&body).into_owned()));
            logs_payload = false;
        }
    }
    Ok(cache::answer(
        entry,
        body,
        api.shape(),
        inbound,
        rate,
        logs_payload,
        recorder,
    ))
}

/// Step 8: the answer in the client's dialect, through the request's guardrails (`guarding`).
pub(super) fn shape(
    proxy: &Arc<Proxy>,
    served: Served,
    call: Call<'_>,
    inbound: &Inbound,
    answered: Answered<'_>,
    mut recorder: Recorder,
    guarding: Option<Guarding>,
) -> Response {
    let Answered {
        gateway,
        estimate,
        rate,
        plan,
        caching,
    } = answered;
    if let Some(caching) = caching {
        recorder.cache(caching.outcome());
    }
    let mut response = match served {
        Served::Json { upstream, answer } => {
            let usage = (answer.usage).unwrap_or_else(|| estimated(inbound, estimate.prompt, &answer.body.json()));
            recorder.first_byte();
            recorder.served_by(upstream.endpoint.id, plan.variant_of(&upstream));
            recorder.used(usage);
            let answer = json_answer(
                proxy,
                call.api,
                answer.body,
                usage,
                gateway,
                caching,
                guarding,
                &mut recorder,
            );
            let body = match answer {
                Ok(body) => body,
                Err(refusal) => {
                    tracing::info!(request_id = call.request_id, "answer blocked by a guardrail");
                    recorder.finish(refusal.status().as_u16(), Some(refusal.class()));
                    return refusal.response_for(call.api.shape());
                }
            };
            recorder.finish(200, None);
            drop(call.in_flight);
            let response = (
                [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            );
            let mut response = with_endpoint(response.into_response(), &upstream, plan);
            set_rate_headers(response.headers_mut(), rate);
            response
        }
        Served::Stream(started_stream) => {
            recorder.first_byte();
            recorder.served_by(
                started_stream.upstream.endpoint.id,
                plan.variant_of(&started_stream.upstream),
            );
            let guard = guarding.and_then(|guarding| {
                recorder.guardrails(guarding.found.log_text());
                guarding.stream()
            });
            let upstream = started_stream.upstream.clone();
            let context = StreamContext {
                shape: call.api.shape(),
                native: match inbound.operation {
                    Operation::Responses => true,
                    Operation::Chat | Operation::Completions | Operation::Embeddings => false,
                },
                wants_usage: inbound.wants_usage,
                estimated_prompt: estimate.prompt,
                estimated_tokens: estimate.tokens(),
                log_payloads: gateway.log_payloads,
                in_flight: call.in_flight,
                guard,
                keeping: caching.and_then(|caching| caching.keeping(inbound.operation)),
            };
            let body = stream::body(proxy.clone(), started_stream, context, recorder);
            let mut response = Response::new(body);
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            set_rate_headers(headers, rate);
            with_endpoint(response, &upstream, plan)
        }
    };
    if let Some(caching) = caching {
        (response.headers_mut()).insert(cache::CACHE_HEADER, caching.outcome().header());
    }
    response
}

/// A whole answer for the client: kept in the cache as the provider gave it, put through the
/// guardrails, in the client's shape, and logged (when the gateway logs payloads); the
/// refusal when a guardrail blocks it.
#[allow(clippy::too_many_arguments)]
fn json_answer(
    proxy: &Proxy,
    api: Api,
    answer: providers::AnswerBody,
    usage: Usage,
    gateway: &Gateway,
    caching: Option<&cache::Caching>,
    mut guarding: Option<Guarding>,
    recorder: &mut Recorder,
) -> Result<Bytes, super::error::ProxyError> {
    let shape = api.shape();
    let answer = match answer {
        // OpenAI's own response object, for a Responses client: as it came (a request whose
        // gateway caches or guards is answered through the chat path, `route::native`).
        providers::AnswerBody::Native(body) => {
            if gateway.log_payloads {
                recorder.answered(String::from_utf8_lossy(&body).into_owned());
            }
            return Ok(body);
        }
        answer @ (providers::AnswerBody::Raw(_) | providers::AnswerBody::Translated(_)) => answer,
    };
    if shape != ClientShape::OpenAi && caching.is_none() && guarding.is_none() {
        // Nothing keeps or reads the OpenAI-shaped answer: shaped from it as it is (a
        // translated answer is a value already; no round trip through bytes).
        let shaped = shape.answer(&answer.json(), usage).unwrap_or_default();
        let body = Bytes::from(shaped.to_string());
        if gateway.log_payloads {
            recorder.answered(String::from_utf8_lossy(&body).into_owned());
        }
        return Ok(body);
    }
    // OpenAI's shape: what the cache keeps and the guardrails read.
    let mut body = answer.into_bytes();
    if let Some(caching) = caching {
        caching.keep(&proxy.cache, body.clone(), usage, recorder.priced(usage));
    }
    if let Some(guarding) = &mut guarding {
        let guarded = guarding.answer(&body);
        recorder.guardrails(guarding.found.log_text());
        if let Some(guarded) = guarded? {
            body = guarded;
        }
    }
    if shape != ClientShape::OpenAi {
        let json = serde_json::from_slice::<Value>(&body).unwrap_or_default();
        body = Bytes::from(shape.answer(&json, usage).unwrap_or_default().to_string());
    }
    if gateway.log_payloads {
        let text = String::from_utf8_lossy(&body).into_owned();
        let text = match &mut guarding {
            Some(guarding) => guarding.logged_answer(text),
            None => text,
        };
        recorder.answered(text);
    }
    if let Some(guarding) = &guarding {
        recorder.guardrails(guarding.found.log_text());
    }
    Ok(body)
}

/// Names the endpoint that served in the answer's headers, and the composite's variant.
pub(super) fn with_endpoint(mut response: Response, upstream: &Upstream, plan: &Plan) -> Response {
    if let Ok(name) = HeaderValue::from_str(&upstream.endpoint.name) {
        response.headers_mut().insert(ENDPOINT_HEADER, name);
    }
    if let Some(variant) = plan.variant_of(upstream).and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(VARIANT_HEADER, variant);
    }
    response
}

/// Usage for an answer that reported none: the prompt estimate, and the answer's text (its
/// choices', or a response object's output items').
pub(super) fn estimated(inbound: &Inbound, estimated_prompt: u64, answer: &Value) -> Usage {
    let chars = |texts: &[Value], pointer: &str| -> usize {
        (texts.iter())
            .map(|item| {
                let text = (item.pointer(pointer).or_else(|| item.get("text")))
                    .map(providers::content_text)
                    .unwrap_or_default();
                text.chars().count()
            })
            .sum()
    };
    let items = |name: &str| answer[name].as_array().map_or(&[][..], Vec::as_slice);
    Usage {
        prompt_tokens: estimated_prompt,
        completion_tokens: match inbound.operation {
            Operation::Embeddings => 0,
            Operation::Chat | Operation::Completions => {
                wire::estimate_tokens(chars(items("choices"), "/message/content"))
            }
            Operation::Responses => wire::estimate_tokens(chars(items("output"), "/content")),
        },
    }
}
