//! Limits on gateways and keys, and the prices that turn tokens into cost.

use serde::{Deserialize, Serialize};

/// What a limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Admitted requests, whatever their outcome.
    Requests,
    /// Prompt plus completion tokens.
    Tokens,
    /// Cost in micro-units of the price currency (a budget).
    CostMicros,
    /// Requests in flight at once (period `total` only).
    Concurrency,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 4] = [
        Metric::Requests,
        Metric::Tokens,
        Metric::CostMicros,
        Metric::Concurrency,
    ];

    /// The name as stored, typed and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Requests => "requests",
            Metric::Tokens => "tokens",
            Metric::CostMicros => "cost_micros",
            Metric::Concurrency => "concurrency",
        }
    }

    /// Parses a stored or typed name (`cost` is accepted for `cost_micros`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "cost" => return Some(Metric::CostMicros),
            // The documentation we started from counts an end user's requests as prompts.
            "prompts" => return Some(Metric::Requests),
            _ => {}
        }
        Self::ALL.into_iter().find(|metric| metric.as_str() == name)
    }
}

/// The window a limit counts over. Windows are fixed and aligned to UTC: a minute starts at
/// :00, an hour on the hour, a day at midnight, a month on the 1st; `total` never resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Minute,
    Hour,
    Day,
    Month,
    Total,
}

impl Period {
    /// Every period, shortest first.
    pub const ALL: [Period; 5] = [Period::Minute, Period::Hour, Period::Day, Period::Month, Period::Total];

    /// The name as stored, typed and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Month => "month",
            Period::Total => "total",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|period| period.as_str() == name)
    }

    /// The position of this period in [`Period::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The start of the window holding `now_ms` (Unix milliseconds, UTC); 0 for `total`.
    pub fn window_start(self, now_ms: i64) -> i64 {
        const MINUTE: i64 = 60_000;
        const HOUR: i64 = 60 * MINUTE;
        const DAY: i64 = 24 * HOUR;
        match self {
            Period::Minute => now_ms - now_ms.rem_euclid(MINUTE),
            Period::Hour => now_ms - now_ms.rem_euclid(HOUR),
            Period::Day => now_ms - now_ms.rem_euclid(DAY),
            Period::Month => {
                let (year, month, _) = civil_from_days(now_ms.div_euclid(DAY));
                days_from_civil(year, month, 1) * DAY
            }
            Period::Total => 0,
        }
    }

    /// The end of the window starting at `start` (exclusive); `None` for `total`.
    pub fn window_end(self, start: i64) -> Option<i64> {
        const DAY: i64 = 86_400_000;
        match self {
            Period::Minute => Some(start + 60_000),
            Period::Hour => Some(start + 3_600_000),
            Period::Day => Some(start + DAY),
            Period::Month => {
                let (year, month, _) = civil_from_days(start.div_euclid(DAY));
                let (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
                Some(days_from_civil(year, month, 1) * DAY)
            }
            Period::Total => None,
        }
    }
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic Gregorian (H. Hinnant's
/// algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01; the inverse of [`civil_from_days`].
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One limit: at most `max_value` of `metric` per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "LimitInput"))]
pub struct Limit {
    pub metric: Metric,
    pub period: Period,
    pub max_value: i64,
}

impl Limit {
    /// `metric/period=value` as typed on the command line (`concurrency=value` alone).
    pub fn spelled(&self) -> String {
        match self.metric {
            Metric::Concurrency => format!("concurrency={}", self.max_value),
            metric => format!("{}/{}={}", metric.as_str(), self.period.as_str(), self.max_value),
        }
    }
}

/// A model's price, per million tokens, in micro-units of the currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "ModelPriceInput"))]
pub struct ModelPrice {
    pub model: String,
    pub input_per_mtok_micros: i64,
    pub output_per_mtok_micros: i64,
}

impl ModelPrice {
    /// The cost of a request, in micro-units, rounded up to a whole micro-unit.
    pub fn cost_micros(&self, prompt_tokens: u64, completion_tokens: u64) -> i64 {
        let input = u128::from(prompt_tokens) * u128::try_from(self.input_per_mtok_micros).unwrap_or(0);
        let output = u128::from(completion_tokens) * u128::try_from(self.output_per_mtok_micros).unwrap_or(0);
        i64::try_from((input + output).div_ceil(1_000_000)).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_to_utc() {
        // 2026-11-23T08:45:30.250Z
        let now = 1_795_423_530_250;
        assert_eq!(Period::Minute.window_start(now), 1_795_423_500_000);
        assert_eq!(Period::Hour.window_start(now), 1_795_420_800_000);
        assert_eq!(Period::Day.window_start(now), 1_795_392_000_000);
        // 2026-11-01T00:00Z and 2026-12-01T00:00Z
        assert_eq!(Period::Month.window_start(now), 1_793_491_200_000);
        assert_eq!(Period::Month.window_end(1_793_491_200_000), Some(1_796_083_200_000));
        // December rolls into January.
        assert_eq!(Period::Month.window_end(1_796_083_200_000), Some(1_798_761_600_000));
        assert_eq!(Period::Total.window_start(now), 0);
        assert_eq!(Period::Total.window_end(0), None);
        for period in [Period::Minute, Period::Hour, Period::Day, Period::Month] {
            let start = period.window_start(now);
            let end = period.window_end(start).unwrap();
            assert!(start <= now && now < end, "{period:?}");
            assert_eq!(period.window_start(end - 1), start, "{period:?}");
            assert_eq!(period.window_start(end), end, "{period:?}");
        }
    }

    #[test]
    fn costs_round_up_to_a_micro_unit() {
        let price = ModelPrice {
            model: "m".into(),
            input_per_mtok_micros: 150_000,
            output_per_mtok_micros: 600_000,
        };
        assert_eq!(price.cost_micros(1_000_000, 0), 150_000);
        assert_eq!(price.cost_micros(1_000, 1_000), 750);
        assert_eq!(price.cost_micros(1, 0), 1);
        assert_eq!(price.cost_micros(0, 0), 0);
    }
}
