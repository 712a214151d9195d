//! Step 5c (issue #24): external moderation. A gateway's `moderation:ENDPOINT` guardrails ask
//! their endpoints (OpenAI's `POST /v1/moderations`) about the request's text — as it will be
//! sent, after the other guardrails' redactions — once the request is admitted, before the
//! response cache and any provider. A flag blocks the request (400 `content_policy_violation`,
//! recorded) or marks its record; so does an endpoint that refuses the text itself (a 4xx about
//! the input: too long, unreadable), so padding cannot slip past it. An endpoint that cannot
//! answer (unreachable, timed out, 5xx, 429, its credential refused) lets the request pass
//! (fail-open, the default: counted as `unavailable`, logged, and its answer not cached) or
//! refuses it (fail-closed: 503 `moderation_unavailable`).
//!
//! Invariant: the request's text goes only to the moderation endpoint; neither it nor the
//! endpoint's credential is in a refusal, a log line or a metric (the categories flagged are).

use super::{
    error::ProxyError,
    guard::{self, Guarding},
    providers::openai,
    registry::{Credential, Snapshot},
    upstream, Proxy,
};
use crate::guard::{Blocked, Moderation, Side};
use app::types::{Gateway, GuardAction};
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

/// The longest a moderation endpoint is waited for (less when the request's deadline is
/// nearer, or the endpoint's own total timeout shorter).
const MODERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// A moderation answer is read up to this size.
const MODERATION_BODY_LIMIT: usize = 1 << 20;

/// Asks each of the request's moderation endpoints about `body`'s texts, in their order:
/// `Err` when one blocks the request, or cannot answer and fails closed; else whether every
/// one answered (`false`: one could not, and the request passes unmoderated by it).
pub(super) async fn moderate(
    proxy: &Proxy,
    snapshot: &Snapshot,
    gateway: &Gateway,
    guarding: &mut Guarding,
    request_id: &str,
    body: &Map<String, Value>,
    deadline: Instant,
) -> Result<bool, ProxyError> {
    if guarding.guards.moderations.is_empty() {
        return Ok(true);
    }
    let guards = guarding.guards.clone();
    let texts = guard::request_strings(body);
    if texts.is_empty() {
        return Ok(true);
    }
    let mut answered = true;
    for moderation in &guards.moderations {
        match ask(proxy, snapshot, moderation, &texts, deadline).await {
            Ok(None) => {}
            Ok(Some(categories)) => {
                // Counted in the metrics with the request's other findings, from its record.
                guarding.found.note(Side::Request, "moderation", moderation.action);
                tracing::info!(
                    request_id,
                    gateway = gateway.name,
                    endpoint = moderation.endpoint,
                    categories = categories.join(","),
                    action = moderation.action.as_str(),
                    "request flagged by a moderation endpoint"
                );
                match moderation.action {
                    GuardAction::Block => {
                        return Err(ProxyError::ContentPolicy(Blocked {
                            detector: "moderation",
                            side: Side::Request,
                        }))
                    }
                    GuardAction::Flag | GuardAction::Redact | GuardAction::Restore => {}
                }
            }
            Err(reason) => {
                (proxy.metrics).guardrail_hit(&gateway.name, "request", "moderation", "unavailable");
                tracing::warn!(
                    request_id,
                    gateway = gateway.name,
                    endpoint = moderation.endpoint,
                    reason,
                    fail_closed = moderation.fail_closed,
                    "the moderation endpoint did not answer"
                );
                if moderation.fail_closed {
                    return Err(ProxyError::ModerationUnavailable);
                }
                answered = false;
            }
        }
    }
    Ok(answered)
}

/// One moderation endpoint's verdict on `texts`: `None` when nothing is flagged, else the
/// categories flagged; `Err` with why when it gives none.
async fn ask(
    proxy: &Proxy,
    snapshot: &Snapshot,
    moderation: &Moderation,
    texts: &[&str],
    deadline: Instant,
) -> Result<Option<Vec<String>>, String> {
    let upstream = (snapshot.upstreams.values())
        .find(|upstream| upstream.endpoint.name == moderation.endpoint)
        .ok_or("the endpoint is not loaded")?;
    let endpoint = &upstream.endpoint;
    if !endpoint.enabled {
        return Err("the endpoint is disabled".into());
    }
    let credential = match &upstream.credential {
        Credential::None => None,
        Credential::Ready(secret) => Some(secret.expose()),
        Credential::Unreadable => return Err("the endpoint's stored credential cannot be opened".into()),
    };
    let outbound = openai::moderation(endpoint, credential, texts);
    let url = upstream.parsed_url(&outbound.url)?;
    if !proxy.clients.allows(&url) {
        return Err("the endpoint's address is refused by the upstream policy".into());
    }
    let ms = |value: Option<i64>| value.and_then(|ms| u64::try_from(ms).ok()).map(Duration::from_millis);
    let connect = ms(endpoint.timeouts.connect_ms).unwrap_or(proxy.settings.connect_timeout);
    let within = (ms(endpoint.timeouts.total_ms).unwrap_or(MODERATION_TIMEOUT))
        .min(MODERATION_TIMEOUT)
        .min(deadline.saturating_duration_since(Instant::now()));
    let client = proxy.clients.get(connect);
    let scrub = |text: &str| super::redact::redacted(text, credential);
    let (status, answer) = upstream::exchange(client, url, outbound, within, MODERATION_BODY_LIMIT)
        .await
        .map_err(|upstream::NoAnswer(reason)| scrub(&reason))?;
    match status {
        200..=299 => openai::moderation_verdict(&answer).map_err(|invalid| invalid.0),
        // The text itself refused (too long, unreadable): as good as flagged, so a padded
        // request cannot pass a fail-open moderation.
        400 | 413 | 422 => Ok(Some(vec![format!("input refused ({status})")])),
        _ => Err(format!("the endpoint answered {status}")),
    }
}
