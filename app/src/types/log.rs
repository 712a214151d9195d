//! Request logs: one row per inference request, and one per upstream attempt.

use super::{EndpointId, GatewayId, KeyId};
use serde::{Deserialize, Serialize};

/// One inference request, as logged (bodies only when the gateway logs payloads).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    /// The member of a composite model that served it (an `ab` category, else the member's
    /// name); `None` for a plain model.
    #[serde(default)]
    pub variant: Option<String>,
    /// How a `best` composite chose its answer; `None` otherwise.
    #[serde(default)]
    pub verdict: Option<Verdict>,
    /// The named prompt it was made from, and which version.
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub prompt_version: Option<i64>,
    /// The prompt's parameters as bound (JSON), when its gateway logs payloads.
    #[serde(default)]
    pub prompt_parameters: Option<String>,
    /// The end user a verified token named (its `sub`), when the request carried one.
    #[serde(default)]
    pub end_user: Option<String>,
    /// The group key the gateway's group rule gave that end user.
    #[serde(default)]
    pub end_user_group: Option<String>,
    /// What the response cache did: `hit` (answered from it), `miss` (looked, then a provider
    /// answered) or `bypass` (the client skipped it); `None`: the gateway does not cache.
    #[serde(default)]
    pub cache: Option<String>,
    /// What the gateway's guardrails found (issue #24), each once as `direction:detector:action`
    /// (`request:email:redact`), comma-separated; `None`: nothing.
    #[serde(default)]
    pub guardrails: Option<String>,
    /// The upstream attempts, in order.
    pub attempts: Vec<RequestAttempt>,
}

/// How a `best` composite chose the answer it returned: the judge's scores and reason, or why
/// the first candidate to answer was returned instead.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject))]
pub struct Verdict {
    /// The member whose answer was returned (`x-mgw-judge`).
    pub winner: String,
    /// The judge's score of each candidate that answered, in the members' order (empty when
    /// the judge's verdict was not used).
    pub scores: Vec<MemberScore>,
    /// The judge's reason, as it gave it.
    pub reason: Option<String>,
    /// Why the judge did not choose (it failed, its answer had no verdict, or only one
    /// candidate answered); absent when it did.
    pub fallback: Option<String>,
}

/// A judge's score of one candidate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject))]
pub struct MemberScore {
    /// The member (its category).
    pub member: String,
    pub score: f64,
}

impl RequestLog {
    /// The endpoint to show for it: the one that answered, else the last one tried.
    pub fn endpoint_shown(&self) -> Option<EndpointId> {
        (self.endpoint_id).or_else(|| self.attempts.last().and_then(|attempt| attempt.endpoint_id))
    }
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
    /// The composite member it was made for (`multi`: each member's calls are attempts of the
    /// one request); `None` for a plain model.
    #[serde(default)]
    pub variant: Option<String>,
    /// What it cost, millionths of the currency unit (set for a `multi` member's calls).
    #[serde(default)]
    pub cost_micros: i64,
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
    /// Requests the response cache answered.
    #[serde(default)]
    pub cache_hits: i64,
    /// Requests that looked in the response cache and went on to a provider.
    #[serde(default)]
    pub cache_misses: i64,
    /// What the cache's hits saved: the kept answers' cost (millionths).
    #[serde(default)]
    pub saved_micros: i64,
}

/// The logs page's filters (from its URL; the export and the live tail take the same).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    /// A gateway's name, or empty for all.
    pub gateway: String,
    /// A model, or empty for all.
    pub model: String,
    /// `errors`, a status code, or empty for all.
    pub status: String,
    /// A key's public id, or empty for all.
    pub key: String,
    /// An endpoint's name (the one that answered), or empty for all.
    pub endpoint: String,
    /// Arrived at or after, `YYYY-MM-DDTHH:MM` in UTC (a `datetime-local` input), or empty.
    pub from: String,
    /// Arrived before, as `from`, or empty.
    pub to: String,
    /// One request's `x-request-id`, or empty.
    pub request_id: String,
    /// Show logs older than this row (a page's cursor).
    pub before: Option<i64>,
}

impl LogQuery {
    /// The filters' names in the URL, in order.
    pub const FIELDS: [&'static str; 8] = [
        "gateway",
        "model",
        "status",
        "key",
        "endpoint",
        "from",
        "to",
        "request_id",
    ];

    /// The query read from a URL's parameters (`get` answers one by name).
    pub fn from_url(get: impl Fn(&str) -> Option<String>) -> LogQuery {
        let text = |name| get(name).unwrap_or_default();
        LogQuery {
            gateway: text("gateway"),
            model: text("model"),
            status: text("status"),
            key: text("key"),
            endpoint: text("endpoint"),
            from: text("from"),
            to: text("to"),
            request_id: text("request_id"),
            before: get("before").and_then(|b| b.parse().ok()),
        }
    }

    /// The filters' values, in the order of [`LogQuery::FIELDS`].
    fn values(&self) -> [&str; 8] {
        [
            &self.gateway,
            &self.model,
            &self.status,
            &self.key,
            &self.endpoint,
            &self.from,
            &self.to,
            &self.request_id,
        ]
    }

    /// The filters as a query string, percent-encoded, blank ones left out; `before` only
    /// when given.
    pub fn to_url(&self, before: Option<i64>) -> String {
        let mut parts: Vec<String> = (Self::FIELDS.iter().zip(self.values()))
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect();
        if let Some(before) = before {
            parts.push(format!("before={before}"));
        }
        parts.join("&")
    }

    /// Whether any filter is set.
    pub fn filters(&self) -> bool {
        self.values().iter().any(|value| !value.trim().is_empty())
    }
}

/// Percent-encodes a query value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `YYYY-MM-DDTHH:MM` (or with `:SS`, or a space for `T`), read as UTC, in Unix milliseconds;
/// `None` when it is not such a time.
pub fn parse_utc_minute(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', ' '])?;
    let mut date = date.splitn(3, '-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let mut time = time.splitn(3, ':').map(|part| part.parse::<i64>().ok());
    let (hour, minute) = (time.next()??, time.next()??);
    let second = time.next().map_or(Some(0), |s| s).unwrap_or(-1);
    let days = super::limits::days_from_civil(year, month, day);
    // A day that does not exist (February 30th) comes back as another date.
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (1..=9999).contains(&year)
        && super::limits::civil_from_days(days) == (year, month, day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..60).contains(&second);
    valid.then(|| ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}

/// A name for each id a page of logs mentions, for display.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogNames {
    pub gateways: Vec<(GatewayId, String)>,
    /// Each key's name (its public id when it has none) and public id.
    pub keys: Vec<(KeyId, String, String)>,
    pub endpoints: Vec<(EndpointId, String)>,
}

impl LogNames {
    /// A gateway's name; empty when unknown.
    pub fn gateway(&self, id: Option<GatewayId>) -> String {
        let found = self.gateways.iter().find(|(g, _)| Some(*g) == id);
        found.map(|(_, name)| name.clone()).unwrap_or_default()
    }

    /// A key's name; empty when none, `#id` when deleted.
    pub fn key(&self, id: Option<KeyId>) -> String {
        id.map_or_else(String::new, |id| {
            let found = self.keys.iter().find(|(k, ..)| *k == id);
            found.map_or_else(|| format!("#{}", id.0), |(_, name, _)| name.clone())
        })
    }

    /// An endpoint's name; empty when none, `#id` when deleted.
    pub fn endpoint(&self, id: Option<EndpointId>) -> String {
        id.map_or_else(String::new, |id| {
            let found = self.endpoints.iter().find(|(e, _)| *e == id);
            found.map_or_else(|| format!("#{}", id.0), |(_, name)| name.clone())
        })
    }
}

/// One request's log, with the names of what it mentions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestDetail {
    pub log: RequestLog,
    pub names: LogNames,
}

/// One page of request logs, newest first, with the cursor of the next (older) page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogPage {
    pub logs: Vec<RequestLog>,
    /// Names by id, for display and the filters' choices.
    pub names: LogNames,
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

    #[test]
    fn a_datetime_local_input_reads_as_utc() {
        assert_eq!(parse_utc_minute("2026-11-23T08:45"), Some(1_795_423_500_000));
        assert_eq!(parse_utc_minute("2026-11-23 08:45:30"), Some(1_795_423_530_000));
        assert_eq!(parse_utc_minute("1970-01-01T00:00"), Some(0));
        for bad in [
            "",
            "2026-11-23",
            "2026-13-01T00:00",
            "2026-02-30T00:00",
            "2026-11-23T24:00",
            "x-y-zT1:2",
        ] {
            assert_eq!(parse_utc_minute(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn filters_round_trip_through_the_url() {
        let query = LogQuery {
            gateway: "prod gw".into(),
            request_id: "req-1".into(),
            from: "2026-11-23T08:45".into(),
            ..LogQuery::default()
        };
        let url = query.to_url(Some(7));
        assert_eq!(
            url,
            "gateway=prod%20gw&from=2026-11-23T08%3A45&request_id=req-1&before=7"
        );
        let pairs: Vec<(String, String)> = url
            .split('&')
            .map(|pair| pair.split_once('=').unwrap())
            .map(|(k, v)| (k.to_string(), v.replace("%20", " ").replace("%3A", ":")))
            .collect();
        let read = LogQuery::from_url(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
        assert_eq!(
            read,
            LogQuery {
                before: Some(7),
                ..query
            }
        );
    }
}
