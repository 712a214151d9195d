//! Limits on gateways and keys, model prices, and the usage counters the ledger starts from.
//!
//! Invariant: a scope's limits are replaced whole, in one transaction.

use super::{found, Store, StoreError, Tx};
use app::types::{GatewayId, KeyId, Limit, Metric, ModelPrice, Period};
use sqlx::{any::AnyRow, Row};
use std::collections::HashMap;

/// What a set of limits is counted for: a gateway, a key, one end user of a gateway, or one
/// group of a gateway's end users. End users and groups are named by [`person_id`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum LimitScope {
    Gateway(GatewayId),
    Key(KeyId),
    /// One end user of a gateway: `person_id(gateway, "user", subject)`.
    EndUser(i64),
    /// One group of a gateway's end users: `person_id(gateway, "group", key)`.
    Group(i64),
}

impl LimitScope {
    /// The scope's name in `usage_counters` and `usage_hourly`.
    pub fn kind(self) -> &'static str {
        match self {
            LimitScope::Gateway(_) => "gateway",
            LimitScope::Key(_) => "key",
            LimitScope::EndUser(_) => "end_user",
            LimitScope::Group(_) => "user_group",
        }
    }

    /// The gateway's or key's id, or the person's.
    pub fn id(self) -> i64 {
        match self {
            LimitScope::Gateway(id) => id.0,
            LimitScope::Key(id) => id.0,
            LimitScope::EndUser(id) | LimitScope::Group(id) => id,
        }
    }

    /// The scope of end user `subject` of `gateway`.
    pub fn end_user(gateway: GatewayId, subject: &str) -> LimitScope {
        LimitScope::EndUser(person_id(gateway, "user", subject))
    }

    /// The scope of the group `key` of `gateway`'s end users.
    pub fn group(gateway: GatewayId, key: &str) -> LimitScope {
        LimitScope::Group(person_id(gateway, "group", key))
    }

    /// Whether it counts people (whose usage has no history of its own: the request log
    /// names them).
    pub fn is_person(self) -> bool {
        match self {
            LimitScope::EndUser(_) | LimitScope::Group(_) => true,
            LimitScope::Gateway(_) | LimitScope::Key(_) => false,
        }
    }
}

/// A stable, positive 63-bit id for a person or group of `gateway` (the first bytes of a
/// SHA-256): the same in every replica, in Redis and in the stored counters, so a subject's
/// usage survives restarts without a table of people.
pub fn person_id(gateway: GatewayId, what: &str, name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(gateway.0.to_be_bytes());
    hash.update(what.as_bytes());
    hash.update([0]);
    hash.update(name.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 1) as i64
}

/// What a row of `limits` belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitOwner {
    Gateway(GatewayId),
    Key(KeyId),
}

/// One row of `usage_counters`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterRow {
    pub scope: LimitScope,
    pub period: Period,
    pub window_start: i64,
    pub requests: i64,
    pub tokens: i64,
    pub cost_micros: i64,
}

/// A figure no real traffic reaches: a counter at or past it was corrupted (an overflowing
/// sum, saturated or wrapped).
const IMPLAUSIBLE: i64 = 1 << 62;

impl CounterRow {
    /// Whether every figure is one real traffic can reach.
    fn is_plausible(&self) -> bool {
        [self.requests, self.tokens, self.cost_micros]
            .iter()
            .all(|figure| (0..IMPLAUSIBLE).contains(figure))
    }

    /// Every figure within what sums can hold: negative (wrapped) ones as zero, saturated ones
    /// as [`IMPLAUSIBLE`] (which keeps the scope refused until its window ends or its usage is
    /// reset, and leaves room for the ledger's additions).
    fn clamped(self) -> CounterRow {
        let clamp = |figure: i64| figure.clamp(0, IMPLAUSIBLE);
        CounterRow {
            requests: clamp(self.requests),
            tokens: clamp(self.tokens),
            cost_micros: clamp(self.cost_micros),
            ..self
        }
    }
}

fn limit(row: &AnyRow) -> Result<Limit, sqlx::Error> {
    let decode = |what: String| sqlx::Error::Decode(what.into());
    let metric: String = row.try_get("metric")?;
    let period: String = row.try_get("period")?;
    Ok(Limit {
        metric: Metric::parse(&metric).ok_or_else(|| decode(format!("unknown metric {metric:?}")))?,
        period: Period::parse(&period).ok_or_else(|| decode(format!("unknown period {period:?}")))?,
        max_value: row.try_get("max_value")?,
    })
}

impl Store {
    /// Every limit, by what it belongs to, each scope's ordered by metric, then period.
    pub async fn limits_by_scope(&self) -> Result<HashMap<LimitScope, Vec<Limit>>, StoreError> {
        let rows = sqlx::query("SELECT gateway_id, key_id, metric, period, max_value FROM limits ORDER BY id")
            .fetch_all(&self.reader)
            .await?;
        let mut by_scope: HashMap<LimitScope, Vec<Limit>> = HashMap::new();
        for row in &rows {
            let gateway: Option<i64> = row.try_get("gateway_id")?;
            let key: Option<i64> = row.try_get("key_id")?;
            let scope = match (gateway, key) {
                (Some(id), _) => LimitScope::Gateway(GatewayId(id)),
                (None, Some(id)) => LimitScope::Key(KeyId(id)),
                (None, None) => continue,
            };
            by_scope.entry(scope).or_default().push(limit(row)?);
        }
        for limits in by_scope.values_mut() {
            limits.sort_by_key(|l| (l.metric, l.period));
        }
        Ok(by_scope)
    }

    /// Every model price, by model name.
    pub async fn prices(&self) -> Result<Vec<ModelPrice>, StoreError> {
        let rows =
            sqlx::query("SELECT model, input_per_mtok_micros, output_per_mtok_micros FROM model_prices ORDER BY model")
                .fetch_all(&self.reader)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(ModelPrice {
                    model: row.try_get("model")?,
                    input_per_mtok_micros: row.try_get("input_per_mtok_micros")?,
                    output_per_mtok_micros: row.try_get("output_per_mtok_micros")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The counters of windows that are still open at `now` (Unix milliseconds).
    pub async fn open_counters(&self, now: i64) -> Result<Vec<CounterRow>, StoreError> {
        let mut open = Vec::new();
        for period in Period::ALL {
            // CAST: a figure written as REAL by an older version (SQLite turns an overflowing
            // sum into one) reads as the largest integer instead of failing the start.
            let rows = sqlx::query(
                "SELECT scope, scope_id, window_start, CAST(requests AS BIGINT) AS requests, \
                 CAST(prompt_tokens AS BIGINT) AS prompt_tokens, \
                 CAST(completion_tokens AS BIGINT) AS completion_tokens, \
                 CAST(cost_micros AS BIGINT) AS cost_micros \
                 FROM usage_counters WHERE period = $1 AND window_start = $2",
            )
            .bind(period.as_str())
            .bind(period.window_start(now))
            .fetch_all(&self.reader)
            .await?;
            for row in &rows {
                match counter_row(row, period) {
                    Ok(counter) if counter.is_plausible() => open.push(counter),
                    Ok(counter) => {
                        tracing::error!(
                            scope = ?counter.scope,
                            period = period.as_str(),
                            requests = counter.requests,
                            tokens = counter.tokens,
                            cost_micros = counter.cost_micros,
                            "a usage counter holds an implausible figure; loaded clamped (reset the key's usage to clear it)"
                        );
                        open.push(counter.clamped());
                    }
                    Err(error) => {
                        tracing::error!(period = period.as_str(), error = %error, "a usage counter cannot be read; skipped");
                    }
                }
            }
        }
        Ok(open)
    }
}

impl Store {
    /// Requests, tokens and cost of a key's stored usage events (its own requests).
    pub async fn usage_event_totals(&self, key: KeyId) -> Result<(i64, i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n, \
             CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT) AS tokens, \
             CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost FROM usage_events WHERE key_id = $1",
        )
        .bind(key.0)
        .fetch_one(&self.reader)
        .await?;
        Ok((row.try_get("n")?, row.try_get("tokens")?, row.try_get("cost")?))
    }
}

/// Replaces `scope`'s limits by `limits` inside `tx`.
pub(super) async fn replace_limits(
    tx: &mut sqlx::AnyConnection,
    owner: LimitOwner,
    limits: &[Limit],
) -> Result<(), StoreError> {
    let (column, id) = match owner {
        LimitOwner::Gateway(id) => ("gateway_id", id.0),
        LimitOwner::Key(id) => ("key_id", id.0),
    };
    sqlx::query(&format!("DELETE FROM limits WHERE {column} = $1"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    insert_limits(tx, owner, limits).await
}

/// Adds `limits` to `scope` inside `tx`.
pub(super) async fn insert_limits(
    tx: &mut sqlx::AnyConnection,
    owner: LimitOwner,
    limits: &[Limit],
) -> Result<(), StoreError> {
    let (gateway, key) = match owner {
        LimitOwner::Gateway(id) => (Some(id.0), None),
        LimitOwner::Key(id) => (None, Some(id.0)),
    };
    for limit in limits {
        sqlx::query("INSERT INTO limits (gateway_id, key_id, metric, period, max_value) VALUES ($1, $2, $3, $4, $5)")
            .bind(gateway)
            .bind(key)
            .bind(limit.metric.as_str())
            .bind(limit.period.as_str())
            .bind(limit.max_value)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

impl Tx {
    /// Replaces a gateway's or key's limits with `limits`, in one transaction.
    pub async fn set_limits(&mut self, owner: LimitOwner, limits: &[Limit]) -> Result<(), StoreError> {
        replace_limits(self.conn(), owner, limits).await?;
        Ok(())
    }

    /// Sets a model's price (adding the model when it has none).
    pub async fn set_price(&mut self, price: &ModelPrice, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO model_prices (model, input_per_mtok_micros, output_per_mtok_micros, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (model) DO UPDATE SET \
             input_per_mtok_micros = excluded.input_per_mtok_micros, \
             output_per_mtok_micros = excluded.output_per_mtok_micros, updated_at = excluded.updated_at",
        )
        .bind(&price.model)
        .bind(price.input_per_mtok_micros)
        .bind(price.output_per_mtok_micros)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Removes a model's price.
    pub async fn remove_price(&mut self, model: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM model_prices WHERE model = $1")
            .bind(model)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())
    }
}

/// One `usage_counters` row of `period`.
fn counter_row(row: &AnyRow, period: Period) -> Result<CounterRow, sqlx::Error> {
    let id: i64 = row.try_get("scope_id")?;
    let scope = match row.try_get::<String, _>("scope")?.as_str() {
        "gateway" => LimitScope::Gateway(GatewayId(id)),
        "end_user" => LimitScope::EndUser(id),
        "user_group" => LimitScope::Group(id),
        _ => LimitScope::Key(KeyId(id)),
    };
    let prompt: i64 = row.try_get("prompt_tokens")?;
    let completion: i64 = row.try_get("completion_tokens")?;
    Ok(CounterRow {
        scope,
        period,
        window_start: row.try_get("window_start")?,
        requests: row.try_get("requests")?,
        tokens: prompt.saturating_add(completion),
        cost_micros: row.try_get("cost_micros")?,
    })
}
