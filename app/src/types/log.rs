//! Request logs: one row per inference request, and one per upstream attempt.

use super::{EndpointId, GatewayId, KeyId};
use serde::{Deserialize, Serialize};

/// One inference request, as logged (bodies only when the gateway logs payloads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLog {
    /// The `x-request-id` the client saw.
    pub request_id: String,
    /// When the request arrived, Unix milliseconds.
    pub created_at: i64,
    pub gateway_id: Option<GatewayId>,
    pub key_id: Option<KeyId>,
    /// The endpoint that answered, if any.
    pub endpoint_id: Option<EndpointId>,
    /// The client's API shape: `openai`, `azure` or `anthropic`.
    pub api: String,
    /// `chat`, `completions` or `embeddings`.
    pub operation: String,
    /// The model the client asked for.
    pub model: Option<String>,
    pub stream: bool,
    /// The HTTP status the client got; 499 when it went away first.
    pub status: i64,
    /// From arrival to the last byte sent, milliseconds.
    pub latency_ms: i64,
    /// From arrival to the first byte of the answer, milliseconds.
    pub ttft_ms: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Cost in millionths of the currency unit.
    pub cost_micros: i64,
    /// Why it failed (`timeout`, `upstream_error`, `client_disconnected`, …), if it did.
    pub error_class: Option<String>,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    /// The upstream attempts, in order.
    pub attempts: Vec<RequestAttempt>,
}

/// One attempt of a request at one endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAttempt {
    /// 1 for the first attempt.
    pub attempt: i64,
    pub endpoint_id: Option<EndpointId>,
    /// When it started, Unix milliseconds.
    pub started_at: i64,
    /// The upstream's status, if it answered.
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub error_class: Option<String>,
}

/// One hour of a gateway's, key's or endpoint's traffic, from the hourly aggregates (they
/// outlive the request logs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject))]
pub struct HourlyUsage {
    /// The hour's start, Unix milliseconds (UTC).
    pub hour_start: i64,
    pub requests: i64,
    /// Requests answered with a status of 400 or more.
    pub errors: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
    /// Mean latency, milliseconds.
    pub latency_mean_ms: i64,
    /// Median and 95th-percentile latency, milliseconds: the upper bound of the bucket that
    /// holds them (`None` past the largest bound).
    pub latency_p50_ms: Option<i64>,
    pub latency_p95_ms: Option<i64>,
}

/// The logs page's filters (from its URL).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    /// A gateway's name, or empty for all.
    pub gateway: String,
    /// A model, or empty for all.
    pub model: String,
    /// `errors`, a status code, or empty for all.
    pub status: String,
    /// Show logs older than this row (a page's cursor).
    pub before: Option<i64>,
}

/// One page of request logs, newest first, with the cursor of the next (older) page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    pub logs: Vec<RequestLog>,
    /// Gateway names by id, for display.
    pub gateways: Vec<(GatewayId, String)>,
    /// Pass as `before` for the next page; `None` on the last one.
    pub next: Option<i64>,
}

/// A cost in millionths as currency, to the millionth.
pub fn money(micros: i64) -> String {
    format!("{:.6}", micros as f64 / 1_000_000.0)
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn utc_time(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let (year, month, day) = super::limits::civil_from_days(days);
    let seconds = ms.rem_euclid(86_400_000) / 1000;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc() {
        // 2026-11-23T08:45:30.250Z
        assert_eq!(utc_time(1_795_423_530_250), "2026-11-23 08:45:30");
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
    }
}
