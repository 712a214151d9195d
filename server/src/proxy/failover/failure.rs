//! Why one attempt failed, and what that means: its status and class for the record, whether
//! another try (here or at another endpoint) can help, and how long to wait before it.
//!
//! Invariant: a failed attempt is one [`Failure`], and what the record, the balancer and the
//! client are told of it (status, class, fault, error) is read from that value alone.

use crate::proxy::{
    balancer::Fault,
    error::ProxyError,
    providers::{StreamFault, UpstreamError},
};
use rand::Rng;
use std::time::Duration;

/// Why one attempt failed.
#[derive(Debug)]
pub(super) enum Failure {
    Connect(String),
    Timeout,
    RateLimited {
        retry_after: Option<Duration>,
        error: UpstreamError,
    },
    QuotaExhausted(UpstreamError),
    Server {
        status: u16,
        message: String,
    },
    Client {
        status: u16,
        error: UpstreamError,
    },
    /// Our credential was refused (the upstream's 401 or 403), or cannot be opened (`None`).
    Auth(Option<u16>),
    /// The upstream answered with a redirect (3xx): the endpoint's base URL is wrong, and
    /// asking again will not change that (redirects are never followed).
    Redirect(u16),
    Invalid(String),
    StreamCut,
}

impl Failure {
    pub(super) fn status(&self) -> Option<u16> {
        match self {
            Failure::Server { status, .. } | Failure::Client { status, .. } => Some(*status),
            Failure::RateLimited { .. } | Failure::QuotaExhausted(_) => Some(429),
            Failure::Auth(status) => *status,
            Failure::Redirect(status) => Some(*status),
            Failure::Invalid(_) | Failure::StreamCut => Some(200),
            Failure::Connect(_) | Failure::Timeout => None,
        }
    }

    pub(super) fn class(&self) -> &'static str {
        match self {
            Failure::Connect(_) => "connect_error",
            Failure::Timeout => "timeout",
            Failure::RateLimited { .. } => "rate_limited",
            Failure::QuotaExhausted(_) => "quota_exhausted",
            Failure::Server { .. } => "upstream_server_error",
            Failure::Client { .. } => "upstream_client_error",
            Failure::Auth(_) => "upstream_auth_error",
            Failure::Redirect(_) => "upstream_redirect",
            Failure::Invalid(_) => "upstream_invalid_response",
            Failure::StreamCut => "stream_cut",
        }
    }

    /// What the upstream said, for the log.
    pub(super) fn detail(&self) -> &str {
        match self {
            Failure::Connect(detail) | Failure::Invalid(detail) => detail,
            Failure::Server { message, .. } => message,
            Failure::RateLimited { error, .. } | Failure::QuotaExhausted(error) | Failure::Client { error, .. } => {
                &error.message
            }
            Failure::Timeout | Failure::Auth(_) | Failure::Redirect(_) | Failure::StreamCut => "",
        }
    }

    /// What it means for the endpoint's health; `None` when the request, not the endpoint,
    /// was at fault.
    pub(super) fn fault(&self, default_cooldown: Duration) -> Option<Fault> {
        match self {
            Failure::Connect(_)
            | Failure::Timeout
            | Failure::Server { .. }
            | Failure::Invalid(_)
            | Failure::StreamCut => Some(Fault::Breaker),
            Failure::RateLimited { retry_after, .. } => {
                Some(Fault::RateLimited(retry_after.unwrap_or(default_cooldown)))
            }
            Failure::QuotaExhausted(_) => Some(Fault::QuotaExhausted),
            Failure::Auth(_) | Failure::Redirect(_) => Some(Fault::Misconfigured),
            Failure::Client { .. } => None,
        }
    }

    /// Whether another attempt may help.
    pub(super) fn retryable(&self) -> bool {
        !matches!(self, Failure::Client { .. })
    }

    /// Whether the next attempt waits (server errors back off; refused connections and 429s
    /// move to the next endpoint at once).
    pub(super) fn backs_off(&self) -> bool {
        matches!(self, Failure::Server { .. } | Failure::Invalid(_))
    }

    pub(super) fn into_error(self, default_cooldown: Duration) -> ProxyError {
        match self {
            Failure::Connect(message) => ProxyError::AllEndpointsFailed {
                status: 502,
                message: format!("No upstream could be reached ({message})."),
            },
            Failure::Timeout => ProxyError::Timeout,
            Failure::RateLimited { retry_after, error } => ProxyError::RateLimited {
                retry_after: retry_after.unwrap_or(default_cooldown),
                message: if error.message.is_empty() {
                    "The upstream provider is rate limiting; retry later.".into()
                } else {
                    error.message
                },
            },
            Failure::QuotaExhausted(_) => ProxyError::AllEndpointsFailed {
                status: 503,
                message: "The upstream provider's quota is exhausted.".into(),
            },
            Failure::Server { status, message } => ProxyError::AllEndpointsFailed {
                status: if status == 503 { 503 } else { 502 },
                message,
            },
            Failure::Client { status, error } => ProxyError::Upstream { status, error },
            Failure::Auth(_) => ProxyError::UpstreamAuth,
            Failure::Redirect(status) => ProxyError::AllEndpointsFailed {
                status: 502,
                message: format!(
                    "The upstream answered with a redirect ({status}), which the gateway does not follow; the endpoint's base URL is probably wrong."
                ),
            },
            Failure::Invalid(_) => ProxyError::UpstreamInvalid,
            Failure::StreamCut => ProxyError::AllEndpointsFailed {
                status: 502,
                message: "The upstream ended its stream before answering.".into(),
            },
        }
    }

    pub(super) fn from_stream_fault(fault: StreamFault) -> Failure {
        let (status, message) = match fault {
            StreamFault::Unreadable(message) => return Failure::Invalid(message),
            StreamFault::Reported { status, message } => (status, message),
        };
        let error = || UpstreamError {
            message: message.clone(),
            kind: "upstream_error".into(),
            code: None,
            param: None,
            quota_exhausted: false,
        };
        match status {
            429 => Failure::RateLimited {
                retry_after: None,
                error: error(),
            },
            401 | 403 => Failure::Auth(Some(status)),
            400..=499 => Failure::Client { status, error: error() },
            _ => Failure::Server { status, message },
        }
    }
}

/// Reads `retry-after-ms`, `x-ms-retry-after-ms` (milliseconds) or `retry-after` (seconds),
/// clamped to [0, 1 day]: the client is told what the upstream said, while the endpoint's
/// cooldown is capped separately (`balancer::MAX_COOLDOWN`). An HTTP-date or garbage reads as
/// absent, and the default cooldown applies.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let millis = |text: &str| text.parse::<f64>().ok().filter(|ms| ms.is_finite() && *ms >= 0.0);
    let wait = value("retry-after-ms")
        .and_then(millis)
        .or_else(|| value("x-ms-retry-after-ms").and_then(millis))
        .or_else(|| value("retry-after").and_then(millis).map(|s| s * 1000.0))?;
    Some(Duration::from_secs_f64(wait.min(86_400_000.0) / 1000.0))
}

/// Full-jitter exponential back-off: a random wait in [0, min(cap, base × 2^(n−1))].
pub fn backoff(retry: i64, base_ms: i64, cap_ms: i64, rng: &mut impl Rng) -> Duration {
    let exponent = u32::try_from(retry.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let ceiling = base_ms.max(0).saturating_mul(1_i64 << exponent).min(cap_ms.max(0));
    Duration::from_millis(rng.gen_range(0..=u64::try_from(ceiling).unwrap_or(0)))
}
