//! Errors of the inference API, in OpenAI's shape:
//! `{"error": {"message", "type", "param", "code"}}` with the matching HTTP status.
//!
//! Invariant: messages never say why a key was refused (revoked, expired, unknown…); the reason
//! goes to the log only. Upstream credentials and URLs never appear in a message.

use super::{
    limits::{RateHeaders, Refusal},
    providers::UpstreamError,
    stream::ClientShape,
};
use app::types::Metric;
use axum::{
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;
use std::time::Duration;

/// Why an inference request failed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No key, a malformed one, or one that does not open anything.
    #[error("invalid API key")]
    Unauthorized,
    /// An end user's token (issue #23) that does not verify, or a way in the gateway does not
    /// accept; the message says which, never echoing the token or its claims.
    #[error("end user not authenticated: {0}")]
    UserUnauthenticated(String),
    /// An access rule (issue #23) did not let the request through; names the rule's owner.
    #[error("denied by {0}")]
    AccessDenied(String),
    /// The request cannot be read or breaks a rule; `param` names the field.
    #[error("bad request: {message}")]
    BadRequest { message: String, param: Option<String> },
    /// A guardrail (issue #24) blocks the request, or the answer: names the detector, never
    /// the text it matched.
    #[error("blocked by the {} guardrail", .0.detector)]
    ContentPolicy(crate::guard::Blocked),
    /// The body is larger than the configured limit.
    #[error("request body over {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body did not arrive within `proxy.body_read_timeout`.
    #[error("request body not received in time")]
    BodyTimeout,
    /// The gateway serves no such model.
    #[error("model {0} not found")]
    ModelNotFound(String),
    /// No named prompt (or version of one) by this reference serves the key's gateway.
    #[error("prompt {0} not found")]
    PromptNotFound(String),
    /// No request with this id was made with this key (`POST /v1/feedback`).
    #[error("request {0} not found")]
    RequestNotFound(String),
    /// The model exists but this key may not use it.
    #[error("model {0} not allowed for this key")]
    ModelNotAllowed(String),
    /// The gateway is at capacity (requests in flight, or the request-log queue is full).
    #[error("overloaded: {0}")]
    Overloaded(&'static str),
    /// Every endpoint that could serve the model is unusable (disabled, misconfigured, spent).
    #[error("no endpoint available")]
    NoEndpoint,
    /// A limit of the key, one of its ancestors or its gateway is reached.
    #[error("limit reached: {}", .0.message())]
    LimitReached(Box<Refusal>),
    /// The limits are counted in Redis, which cannot be reached, and `redis.on_failure` is
    /// `fail_closed`.
    #[error("limits unavailable")]
    LimitsUnavailable,
    /// A moderation guardrail that fails closed could not get its endpoint's verdict.
    #[error("moderation unavailable")]
    ModerationUnavailable,
    /// The upstream (or every endpoint's provider limit) says to wait.
    #[error("rate limited for {retry_after:?}")]
    RateLimited { retry_after: Duration, message: String },
    /// The upstream refused the request itself (400, 404, 413, 422): passed on.
    #[error("upstream refused the request with {status}")]
    Upstream { status: u16, error: UpstreamError },
    /// The upstream refused our provider credential: the endpoint is misconfigured.
    #[error("upstream authentication failed")]
    UpstreamAuth,
    /// The upstream answered 200 with something unreadable.
    #[error("upstream sent an invalid response")]
    UpstreamInvalid,
    /// No answer within the deadline.
    #[error("upstream timed out")]
    Timeout,
    /// Every attempt failed; the last failure's status (502 or 503).
    #[error("all endpoints failed: {message}")]
    AllEndpointsFailed { status: u16, message: String },
}

impl ProxyError {
    /// A 400 naming the field.
    pub fn bad(param: impl Into<Option<&'static str>>, message: impl Into<String>) -> Self {
        ProxyError::BadRequest {
            message: message.into(),
            param: param.into().map(str::to_string),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        let code = match self {
            ProxyError::Unauthorized | ProxyError::UserUnauthenticated(_) => 401,
            ProxyError::BadRequest { .. } | ProxyError::ContentPolicy(_) => 400,
            ProxyError::PayloadTooLarge { .. } => 413,
            ProxyError::BodyTimeout => 408,
            ProxyError::ModelNotFound(_) | ProxyError::PromptNotFound(_) | ProxyError::RequestNotFound(_) => 404,
            ProxyError::ModelNotAllowed(_) | ProxyError::AccessDenied(_) => 403,
            ProxyError::Overloaded(_)
            | ProxyError::NoEndpoint
            | ProxyError::LimitsUnavailable
            | ProxyError::ModerationUnavailable => 503,
            ProxyError::RateLimited { .. } | ProxyError::LimitReached(_) => 429,
            ProxyError::Upstream { status, .. } => *status,
            ProxyError::UpstreamAuth | ProxyError::UpstreamInvalid => 502,
            ProxyError::Timeout => 504,
            ProxyError::AllEndpointsFailed { status, .. } => *status,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY)
    }

    /// The class recorded in request logs.
    pub fn class(&self) -> &'static str {
        match self {
            ProxyError::Unauthorized => "unauthorized",
            ProxyError::UserUnauthenticated(_) => "user_unauthenticated",
            ProxyError::AccessDenied(_) => "access_denied",
            ProxyError::BadRequest { .. } => "bad_request",
            ProxyError::ContentPolicy(_) => "content_policy_violation",
            ProxyError::PayloadTooLarge { .. } => "payload_too_large",
            ProxyError::BodyTimeout => "body_timeout",
            ProxyError::ModelNotFound(_) => "model_not_found",
            ProxyError::PromptNotFound(_) => "prompt_not_found",
            ProxyError::RequestNotFound(_) => "request_not_found",
            ProxyError::ModelNotAllowed(_) => "model_not_allowed",
            ProxyError::Overloaded(_) => "overloaded",
            ProxyError::NoEndpoint => "no_endpoint",
            ProxyError::LimitsUnavailable => "limits_unavailable",
            ProxyError::ModerationUnavailable => "moderation_unavailable",
            ProxyError::RateLimited { .. } => "rate_limited",
            ProxyError::LimitReached(refusal) if refusal.quota_spent() => "quota_exceeded",
            ProxyError::LimitReached(_) => "limit_reached",
            ProxyError::Upstream { .. } => "upstream_client_error",
            ProxyError::UpstreamAuth => "upstream_auth_error",
            ProxyError::UpstreamInvalid => "upstream_invalid_response",
            ProxyError::Timeout => "timeout",
            ProxyError::AllEndpointsFailed { .. } => "upstream_error",
        }
    }

    /// The OpenAI error object: `{"message", "type", "param", "code"}`.
    pub fn body(&self) -> serde_json::Value {
        let (kind, code, param, message): (&str, Option<String>, Option<String>, String) = match self {
            ProxyError::Unauthorized => (
                "invalid_request_error",
                Some("invalid_api_key".into()),
                None,
                "Incorrect API key provided. Send a gateway key as `Authorization: Bearer <key>`.".into(),
            ),
            ProxyError::UserUnauthenticated(why) => (
                "invalid_request_error",
                Some("invalid_user_token".into()),
                None,
                format!("The end user could not be authenticated: {why}."),
            ),
            ProxyError::AccessDenied(rule) => (
                "invalid_request_error",
                Some("access_denied".into()),
                None,
                format!("The request is denied by {rule}."),
            ),
            ProxyError::BadRequest { message, param } => ("invalid_request_error", None, param.clone(), message.clone()),
            ProxyError::ContentPolicy(blocked) => (
                "invalid_request_error",
                Some("content_policy_violation".into()),
                None,
                blocked.message(),
            ),
            ProxyError::PayloadTooLarge { limit } => (
                "invalid_request_error",
                Some("request_too_large".into()),
                None,
                format!("The request body is larger than {limit} bytes."),
            ),
            ProxyError::BodyTimeout => (
                "invalid_request_error",
                Some("request_timeout".into()),
                None,
                "The request body did not arrive in time.".into(),
            ),
            ProxyError::ModelNotFound(model) => (
                "invalid_request_error",
                Some("model_not_found".into()),
                Some("model".into()),
                format!("The model `{model}` does not exist on this gateway."),
            ),
            ProxyError::PromptNotFound(reference) => (
                "invalid_request_error",
                Some("prompt_not_found".into()),
                Some("prompt".into()),
                format!("The prompt `{reference}` does not exist on this gateway."),
            ),
            ProxyError::RequestNotFound(request_id) => (
                "invalid_request_error",
                Some("request_not_found".into()),
                Some("request_id".into()),
                format!("No request `{request_id}` was made with this key (or it is not logged)."),
            ),
            ProxyError::ModelNotAllowed(model) => (
                "invalid_request_error",
                Some("model_not_allowed".into()),
                Some("model".into()),
                format!("This key may not use the model `{model}`."),
            ),
            ProxyError::Overloaded(what) => (
                "server_error",
                Some("overloaded".into()),
                None,
                format!("The gateway is overloaded ({what}); retry shortly."),
            ),
            ProxyError::NoEndpoint => (
                "server_error",
                Some("no_endpoint_available".into()),
                None,
                "No inference endpoint of this gateway can serve the request now.".into(),
            ),
            ProxyError::LimitsUnavailable => (
                "server_error",
                Some("limits_unavailable".into()),
                None,
                "The gateway cannot check this request's limits now (their shared store is \
                 unreachable), so it is refused; retry shortly."
                    .into(),
            ),
            ProxyError::ModerationUnavailable => (
                "server_error",
                Some("moderation_unavailable".into()),
                None,
                "This gateway's moderation endpoint cannot answer now, and the gateway does not \
                 forward requests it cannot moderate; retry shortly."
                    .into(),
            ),
            ProxyError::LimitReached(refusal) => {
                let (kind, code) = match refusal.limit.metric {
                    _ if refusal.quota_spent() => ("insufficient_quota", "insufficient_quota"),
                    Metric::CostMicros => ("insufficient_quota", "budget_exceeded"),
                    Metric::Tokens => ("tokens", "rate_limit_exceeded"),
                    Metric::Requests | Metric::Concurrency => ("requests", "rate_limit_exceeded"),
                };
                (kind, Some(code.into()), None, refusal.message())
            }
            ProxyError::RateLimited { message, .. } => {
                ("rate_limit_error", Some("rate_limit_exceeded".into()), None, message.clone())
            }
            ProxyError::Upstream { error, .. } => (
                error.kind.as_str(),
                error.code.clone(),
                error.param.clone(),
                error.message.clone(),
            ),
            ProxyError::UpstreamAuth => (
                "server_error",
                Some("upstream_auth_error".into()),
                None,
                "The gateway's credential for the upstream provider was refused; an administrator must fix the endpoint."
                    .into(),
            ),
            ProxyError::UpstreamInvalid => (
                "server_error",
                Some("upstream_invalid_response".into()),
                None,
                "The upstream provider sent a response the gateway cannot read.".into(),
            ),
            ProxyError::Timeout => (
                "server_error",
                Some("upstream_timeout".into()),
                None,
                "The upstream provider did not answer in time.".into(),
            ),
            ProxyError::AllEndpointsFailed { message, .. } => {
                ("server_error", Some("upstream_error".into()), None, message.clone())
            }
        };
        json!({ "error": { "message": message, "type": kind, "param": param, "code": code } })
    }
}

impl ProxyError {
    /// The refusal in the client's shape: Anthropic's error object for a client of
    /// `/v1/messages` (its SDK reads `error.type` and `error.message`), OpenAI's for the rest
    /// (the Responses API's errors are OpenAI's). Status and headers are the same.
    pub fn response_for(self, shape: ClientShape) -> Response {
        match shape {
            ClientShape::OpenAi | ClientShape::Responses => self.into_response(),
            ClientShape::Anthropic => {
                let status = self.status();
                let message = self.body()["error"]["message"].take();
                let kind = match status.as_u16() {
                    400 | 422 => "invalid_request_error",
                    401 => "authentication_error",
                    403 => "permission_error",
                    404 => "not_found_error",
                    413 => "request_too_large",
                    429 => "rate_limit_error",
                    503 | 529 => "overloaded_error",
                    _ => "api_error",
                };
                let body = json!({ "type": "error", "error": { "type": kind, "message": message } });
                let mut response = self.into_response();
                *response.body_mut() = axum::body::Body::from(body.to_string());
                response
            }
        }
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        let retry_after = match &self {
            ProxyError::RateLimited { retry_after, .. } => Some(retry_after.as_secs_f64().ceil().max(1.0) as u64),
            ProxyError::LimitReached(refusal) => {
                set_rate_headers(response.headers_mut(), &refusal.headers);
                refusal
                    .retry_after
                    .map(|wait| wait.as_secs_f64().ceil().max(1.0) as u64)
            }
            ProxyError::Overloaded(_) | ProxyError::NoEndpoint | ProxyError::LimitsUnavailable => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}

/// A reset time as OpenAI writes it: `20ms`, `29.75s`, `6m0s`, `1h0m0s`.
pub fn reset_text(ms: i64) -> String {
    if ms < 1_000 {
        return format!("{}ms", ms.max(0));
    }
    let hours = ms / 3_600_000;
    let minutes = ms % 3_600_000 / 60_000;
    let seconds = (ms % 60_000) as f64 / 1_000.0;
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

/// OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` headers.
pub fn set_rate_headers(headers: &mut axum::http::HeaderMap, rate: &RateHeaders) {
    let families = [("requests", rate.requests), ("tokens", rate.tokens)];
    for (family, headroom) in families {
        let Some(headroom) = headroom else {
            continue;
        };
        let mut set = |name: String, value: String| {
            if let (Ok(name), Ok(value)) = (axum::http::HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.insert(name, value);
            }
        };
        set(format!("x-ratelimit-limit-{family}"), headroom.limit.to_string());
        set(
            format!("x-ratelimit-remaining-{family}"),
            headroom.remaining.to_string(),
        );
        if let Some(ms) = headroom.reset_ms {
            set(format!("x-ratelimit-reset-{family}"), reset_text(ms));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reset_text;

    #[test]
    fn reset_times_read_as_openai_writes_them() {
        assert_eq!(reset_text(20), "20ms");
        assert_eq!(reset_text(29_750), "29.75s");
        assert_eq!(reset_text(1_000), "1s");
        assert_eq!(reset_text(360_000), "6m0s");
        assert_eq!(reset_text(3_723_500), "1h2m3.5s");
    }
}
