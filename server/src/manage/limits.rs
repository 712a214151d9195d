//! Limits on gateways and keys, and model prices: parse, validate, store.
//!
//! Invariant: a key's limit on a (metric, period) never exceeds an ancestor's on the same
//! pair — checked both when the key's limits are set and when an ancestor's are.

use super::{audit::record, Actor, AuditEvent, Manage, ManageError};
use crate::store::now_ms;
use app::types::{GatewayKey, KeyId, Limit, Metric, ModelPrice, Period};
use std::collections::{HashMap, HashSet};

/// Parses an amount of currency (`12`, `0.5`, `1.234567`) into micro-units.
pub fn parse_money(field: &'static str, text: &str) -> Result<i64, ManageError> {
    let bad = || {
        ManageError::invalid(
            field,
            format!("{text:?} is not an amount (use digits and at most 6 decimals)"),
        )
    };
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 6 {
        return Err(bad());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let fraction: i64 = format!("{fraction:0<6}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(bad)
}

/// Micro-units as an amount of currency, without trailing zeros (`1.5`, `0.000001`, `3`).
pub fn format_money(micros: i64) -> String {
    let whole = micros / 1_000_000;
    let fraction = (micros % 1_000_000).abs();
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:06}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

/// Parses the CLI's notation: `METRIC/PERIOD=VALUE` (`requests/minute=100`,
/// `tokens/day=1000000`, `cost/month=25.50` in currency, `cost_micros/day=5000000`), or
/// `concurrency=VALUE`.
pub fn parse_limit(text: &str) -> Result<Limit, ManageError> {
    let bad = |message: &str| ManageError::invalid("limits", format!("{text:?}: {message}"));
    let (what, value) = text
        .trim()
        .split_once('=')
        .ok_or_else(|| bad("use METRIC/PERIOD=VALUE or concurrency=VALUE"))?;
    let (metric_name, period) = match what.split_once('/') {
        Some((metric, period)) => (
            metric,
            Period::parse(period).ok_or_else(|| bad("the period is minute, hour, day, month or total"))?,
        ),
        None => (what, Period::Total),
    };
    let metric = Metric::parse(metric_name)
        .ok_or_else(|| bad("the metric is requests, tokens, cost, cost_micros or concurrency"))?;
    let max_value = if metric_name == "cost" {
        parse_money("limits", value)?
    } else {
        value
            .trim()
            .parse::<i64>()
            .map_err(|_| bad("the value is a whole number"))?
    };
    Ok(Limit {
        metric,
        period,
        max_value,
    })
}

/// Checks one scope's limits on their own: sensible values, one per (metric, period).
pub fn check_limits(limits: &[Limit]) -> Result<(), ManageError> {
    check_limits_of("limits", limits)
}

/// As [`check_limits`], refusing under `field`.
pub fn check_limits_of(field: &'static str, limits: &[Limit]) -> Result<(), ManageError> {
    let mut seen = HashSet::new();
    for limit in limits {
        if limit.max_value < 0 {
            return Err(ManageError::invalid(
                field,
                format!("{}: must not be negative", limit.spelled()),
            ));
        }
        if limit.metric == Metric::Concurrency && (limit.period != Period::Total || limit.max_value < 1) {
            return Err(ManageError::invalid(
                field,
                "concurrency has no period and is at least 1",
            ));
        }
        if !seen.insert((limit.metric, limit.period)) {
            return Err(ManageError::invalid(
                field,
                format!("{}/{} is given twice", limit.metric.as_str(), limit.period.as_str()),
            ));
        }
    }
    Ok(())
}

/// Checks that `key`'s new `limits` fit under its ancestors' and over its descendants'.
fn check_tree(key: &GatewayKey, limits: &[Limit], keys: &[GatewayKey]) -> Result<(), ManageError> {
    let by_id: HashMap<KeyId, &GatewayKey> = keys.iter().map(|k| (k.id, k)).collect();
    let same = |limit: &Limit, other: &GatewayKey| {
        other
            .limits
            .iter()
            .find(|l| l.metric == limit.metric && l.period == limit.period)
            .map(|l| l.max_value)
    };
    let mut ancestor = key.parent_id.and_then(|id| by_id.get(&id).copied());
    while let Some(parent) = ancestor {
        for limit in limits {
            if let Some(cap) = same(limit, parent).filter(|cap| limit.max_value > *cap) {
                return Err(ManageError::invalid(
                    "limits",
                    format!(
                        "{} exceeds the parent key {}'s limit of {cap}",
                        limit.spelled(),
                        parent.public_id
                    ),
                ));
            }
        }
        ancestor = parent.parent_id.and_then(|id| by_id.get(&id).copied());
    }
    let is_descendant = |candidate: &GatewayKey| {
        let mut up = candidate.parent_id;
        for _ in 0..64 {
            match up {
                Some(id) if id == key.id => return true,
                Some(id) => up = by_id.get(&id).and_then(|k| k.parent_id),
                None => return false,
            }
        }
        false
    };
    for descendant in keys.iter().filter(|k| is_descendant(k)) {
        for limit in limits {
            if let Some(below) = same(limit, descendant).filter(|below| *below > limit.max_value) {
                return Err(ManageError::invalid(
                    "limits",
                    format!(
                        "{} is below the child key {}'s limit of {below}; lower the child's first",
                        limit.spelled(),
                        descendant.public_id
                    ),
                ));
            }
        }
    }
    Ok(())
}

impl Manage {
    /// Validates limits for a key that is about to be created under `parent`.
    pub(super) async fn check_new_key_limits(
        &self,
        parent: Option<&GatewayKey>,
        limits: &[Limit],
    ) -> Result<(), ManageError> {
        check_limits(limits)?;
        let Some(parent) = parent else {
            return Ok(());
        };
        let keys = self.store.keys(Some(parent.gateway_id)).await?;
        let unborn = GatewayKey {
            id: KeyId(i64::MIN),
            parent_id: Some(parent.id),
            limits: Vec::new(),
            ..parent.clone()
        };
        check_tree(&unborn, limits, &keys)
    }

    /// Checks `limits` as a key's new ones: valid, and within its ancestors' and above its
    /// descendants' as the tree requires.
    pub(super) async fn check_key_limits(&self, key: &GatewayKey, limits: &[Limit]) -> Result<(), ManageError> {
        check_limits(limits)?;
        let keys = self.store.keys(Some(key.gateway_id)).await?;
        check_tree(key, limits, &keys)
    }

    /// Every model price.
    pub async fn prices(&self) -> Result<Vec<ModelPrice>, ManageError> {
        Ok(self.store.prices().await?)
    }

    /// Sets a model's price per million tokens (micro-units).
    pub async fn set_price(&self, actor: &Actor, price: ModelPrice) -> Result<ModelPrice, ManageError> {
        actor.must_write()?;
        let model = price.model.trim().to_string();
        if model.is_empty() || model.chars().count() > 200 || model.chars().any(char::is_control) {
            return Err(ManageError::invalid("model", "must be 1 to 200 characters"));
        }
        if price.input_per_mtok_micros < 0 || price.output_per_mtok_micros < 0 {
            return Err(ManageError::invalid("price", "must not be negative"));
        }
        let price = ModelPrice { model, ..price };
        let mut tx = self.store.begin().await?;
        tx.set_price(&price, now_ms()).await?;
        record(&mut tx, actor, AuditEvent::PriceSet(price.clone())).await?;
        tx.commit().await?;
        self.changed().await;
        Ok(price)
    }

    /// Removes a model's price (its requests then cost nothing).
    pub async fn remove_price(&self, actor: &Actor, model: &str) -> Result<(), ManageError> {
        actor.must_write()?;
        let model = model.trim();
        let mut tx = self.store.begin().await?;
        tx.remove_price(model).await?;
        let event = AuditEvent::PriceRemoved {
            model: model.to_string(),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_from_the_cli_notation() {
        let parsed = |text: &str| parse_limit(text).unwrap();
        assert_eq!(
            parsed("requests/minute=100"),
            Limit {
                metric: Metric::Requests,
                period: Period::Minute,
                max_value: 100
            }
        );
        assert_eq!(parsed("tokens/total=5").period, Period::Total);
        assert_eq!(parsed("cost/month=25.5").max_value, 25_500_000);
        assert_eq!(parsed("cost_micros/day=7").max_value, 7);
        assert_eq!(parsed("concurrency=8").metric, Metric::Concurrency);
        for bad in [
            "requests=",
            "requests/week=1",
            "bytes/day=1",
            "tokens/day=1.5",
            "cost/day=1.1234567",
            "x",
        ] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_round_trips() {
        assert_eq!(parse_money("m", "0.15").unwrap(), 150_000);
        assert_eq!(parse_money("m", "10").unwrap(), 10_000_000);
        assert_eq!(parse_money("m", ".5").unwrap(), 500_000);
        assert!(parse_money("m", "-1").is_err());
        assert!(parse_money("m", ".").is_err());
        assert_eq!(format_money(150_000), "0.15");
        assert_eq!(format_money(10_000_000), "10");
        assert_eq!(format_money(1), "0.000001");
    }

    #[test]
    fn a_scope_names_each_pair_once() {
        let limit = parse_limit("requests/minute=1").unwrap();
        assert!(check_limits(&[limit, limit]).is_err());
        assert!(check_limits(&[parse_limit("concurrency=0").unwrap()]).is_err());
    }
}
