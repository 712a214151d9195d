//! The dashboard's shapes: what it asks for (a range and a scope, from its URL) and what it
//! gets back (an hourly series with no gaps, totals and a breakdown).

use super::HourlyUsage;
use serde::{Deserialize, Serialize};

/// How far back the dashboard looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DashboardRange {
    Hour,
    SixHours,
    #[default]
    Day,
    Week,
    Month,
}

impl DashboardRange {
    /// Every range, in the picker's order.
    pub const ALL: [DashboardRange; 5] = [
        DashboardRange::Hour,
        DashboardRange::SixHours,
        DashboardRange::Day,
        DashboardRange::Week,
        DashboardRange::Month,
    ];

    /// The range as written in the URL.
    pub fn as_str(self) -> &'static str {
        match self {
            DashboardRange::Hour => "1h",
            DashboardRange::SixHours => "6h",
            DashboardRange::Day => "24h",
            DashboardRange::Week => "7d",
            DashboardRange::Month => "30d",
        }
    }

    /// The range from the URL; anything else is the default (24 hours).
    pub fn parse(text: &str) -> DashboardRange {
        Self::ALL
            .into_iter()
            .find(|range| range.as_str() == text)
            .unwrap_or_default()
    }

    /// What the picker shows.
    pub fn label(self) -> &'static str {
        match self {
            DashboardRange::Hour => "Last hour",
            DashboardRange::SixHours => "Last 6 hours",
            DashboardRange::Day => "Last 24 hours",
            DashboardRange::Week => "Last 7 days",
            DashboardRange::Month => "Last 30 days",
        }
    }

    /// How long one bar of its charts covers, milliseconds: a minute for the last hour, five
    /// for the last 6 hours, an hour otherwise.
    pub fn step_ms(self) -> i64 {
        match self {
            DashboardRange::Hour => 60_000,
            DashboardRange::SixHours => 5 * 60_000,
            DashboardRange::Day | DashboardRange::Week | DashboardRange::Month => 3_600_000,
        }
    }

    /// How many bars it covers.
    pub fn buckets(self) -> i64 {
        match self {
            DashboardRange::Hour => 60,
            DashboardRange::SixHours => 72,
            DashboardRange::Day => 24,
            DashboardRange::Week => 24 * 7,
            DashboardRange::Month => 24 * 30,
        }
    }

    /// One bar, for people: `per minute`, `per 5 minutes`, `per hour`.
    pub fn per(self) -> &'static str {
        match self {
            DashboardRange::Hour => "per minute",
            DashboardRange::SixHours => "per 5 minutes",
            DashboardRange::Day | DashboardRange::Week | DashboardRange::Month => "per hour",
        }
    }
}

/// The dashboard's question, from its URL: `?range=7d&scope=gateway:prod`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardQuery {
    /// `1h`, `6h`, `24h`, `7d` or `30d` (anything else: 24 hours).
    pub range: String,
    /// Empty for every gateway, `gateway:<name>` or `endpoint:<name>`.
    pub scope: String,
}

/// Totals over a dashboard's range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject), graphql(name = "UsageTotals"))]
pub struct UsageSums {
    pub requests: i64,
    /// Requests answered with a status of 400 or more.
    pub errors: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Millionths of the prices' currency.
    pub cost_micros: i64,
    /// Mean latency, milliseconds (0 with no requests).
    pub latency_mean_ms: i64,
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

impl UsageSums {
    /// The sums of `hours`.
    pub fn of(hours: &[HourlyUsage]) -> UsageSums {
        let mut sums = UsageSums::default();
        let mut latency = 0i64;
        for hour in hours {
            sums.requests += hour.requests;
            sums.errors += hour.errors;
            sums.prompt_tokens += hour.prompt_tokens;
            sums.completion_tokens += hour.completion_tokens;
            sums.cost_micros += hour.cost_micros;
            sums.cache_hits += hour.cache_hits;
            sums.cache_misses += hour.cache_misses;
            sums.saved_micros += hour.saved_micros;
            latency = latency.saturating_add(hour.latency_mean_ms.saturating_mul(hour.requests));
        }
        if sums.requests > 0 {
            sums.latency_mean_ms = latency / sums.requests;
        }
        sums
    }

    /// The share of cache lookups the cache answered, in percent (`None` with no lookups).
    pub fn cache_hit_percent(&self) -> Option<f64> {
        let lookups = self.cache_hits + self.cache_misses;
        (lookups > 0).then(|| self.cache_hits as f64 * 100.0 / lookups as f64)
    }
}

/// One gateway's or endpoint's sums, for the breakdown tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeSums {
    /// The gateway's or endpoint's name.
    pub name: String,
    pub sums: UsageSums,
}

/// How many end users, and how many groups, the dashboard lists.
pub const TOP_PEOPLE: usize = 10;

/// The dashboard's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DashboardStats {
    pub range: DashboardRange,
    /// The scope as asked (empty: every gateway).
    pub scope: String,
    /// One entry per hour of the range, oldest first, hours without traffic as zeros.
    pub series: Vec<HourlyUsage>,
    pub totals: UsageSums,
    /// Every gateway's sums over the range (only for the every-gateway scope), busiest first.
    pub gateways: Vec<ScopeSums>,
    /// Every endpoint's sums over the range (only for the every-gateway scope), busiest first.
    /// Endpoints count the playground's requests to them too.
    pub endpoints: Vec<ScopeSums>,
    /// The busiest end users over the range, busiest first, at most [`TOP_PEOPLE`] (for every
    /// gateway or one; empty for an endpoint, whose requests name no gateway's people).
    #[serde(default)]
    pub top_users: Vec<super::PersonStats>,
    /// The busiest groups of end users (the keys their gateways' group rules give), likewise.
    #[serde(default)]
    pub top_groups: Vec<super::PersonStats>,
    /// The scopes the picker offers: gateway names, then endpoint names.
    pub gateway_names: Vec<String>,
    pub endpoint_names: Vec<String>,
    /// When this was read, Unix milliseconds.
    pub read_at: i64,
}

/// `hours` (buckets of `step_ms`) spread over `[from, from + count steps)`, one entry per
/// bucket, zeros where missing.
pub fn fill_hours(from_ms: i64, count: i64, step_ms: i64, hours: Vec<HourlyUsage>) -> Vec<HourlyUsage> {
    let mut given = hours.into_iter().peekable();
    (0..count)
        .map(|i| {
            let hour_start = from_ms + i * step_ms;
            while given.peek().is_some_and(|h| h.hour_start < hour_start) {
                given.next();
            }
            match given.peek() {
                Some(h) if h.hour_start == hour_start => given.next().unwrap_or_default(),
                _ => HourlyUsage {
                    hour_start,
                    ..HourlyUsage::default()
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_without_traffic_are_zeros_and_every_hour_appears_once() {
        let hour = |start: i64, requests: i64| HourlyUsage {
            hour_start: start,
            requests,
            ..HourlyUsage::default()
        };
        let filled = fill_hours(0, 4, 3_600_000, vec![hour(3_600_000, 5), hour(3 * 3_600_000, 2)]);
        let starts: Vec<i64> = filled.iter().map(|h| h.hour_start).collect();
        assert_eq!(starts, [0, 3_600_000, 7_200_000, 10_800_000]);
        let requests: Vec<i64> = filled.iter().map(|h| h.requests).collect();
        assert_eq!(requests, [0, 5, 0, 2]);
    }

    #[test]
    fn sums_weigh_the_mean_latency_by_requests() {
        let hours = [
            HourlyUsage {
                requests: 1,
                latency_mean_ms: 100,
                errors: 1,
                ..HourlyUsage::default()
            },
            HourlyUsage {
                requests: 3,
                latency_mean_ms: 20,
                cost_micros: 7,
                ..HourlyUsage::default()
            },
        ];
        let sums = UsageSums::of(&hours);
        assert_eq!(
            (sums.requests, sums.errors, sums.cost_micros, sums.latency_mean_ms),
            (4, 1, 7, 40)
        );
    }

    #[test]
    fn an_unknown_range_is_a_day() {
        assert_eq!(DashboardRange::parse("7d"), DashboardRange::Week);
        assert_eq!(DashboardRange::parse("1y"), DashboardRange::Day);
    }
}

/// How a group of requests did over a time range (a composite's variant, a prompt's version):
/// what a change is judged by.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject))]
pub struct RequestFigures {
    pub requests: i64,
    /// Requests answered with an error status (400 and above).
    pub errors: i64,
    /// Median latency of its requests, milliseconds.
    pub p50_latency_ms: i64,
    /// 95th-percentile latency, milliseconds.
    pub p95_latency_ms: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Cost in millionths of the currency unit.
    pub cost_micros: i64,
    /// Requests that got feedback (`POST /v1/feedback`).
    pub feedback_count: i64,
    /// Their mean score (0 to 1); `None` without feedback.
    pub mean_score: Option<f64>,
}
