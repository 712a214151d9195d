//! Gateways and their endpoint lists.
//!
//! Invariant: a gateway and its endpoint list change together, in one transaction.

use super::{flag, found, AnyQuery, LimitOwner, LimitScope, Store, StoreError, Tx};
use app::types::{
    AuthMode, CacheSettings, EndpointId, Gateway, GatewayEndpoint, GatewayId, Limit, ModelRule, ParamPolicy,
    PeopleLimits, RetryPolicy, Strategy,
};
use sqlx::{any::AnyRow, Row};
use std::collections::BTreeMap;

/// Every column an admin can set on a gateway, for inserts and updates alike.
pub struct GatewayFields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub strategy: Strategy,
    pub retry: RetryPolicy,
    pub deadline_ms: Option<i64>,
    pub log_metadata: bool,
    pub log_payloads: bool,
    pub model_aliases: &'a BTreeMap<String, String>,
    pub enabled: bool,
    pub param_policy: &'a ParamPolicy,
    pub auth_mode: AuthMode,
    pub access_rule: Option<&'a str>,
    pub people: &'a PeopleLimits,
    pub model_rules: &'a [ModelRule],
    pub cache: &'a CacheSettings,
    /// Replaces the gateway's limits, in the same transaction, when given.
    pub limits: Option<&'a [Limit]>,
}

/// One endpoint's place in a gateway.
pub struct EndpointLink {
    pub endpoint_id: EndpointId,
    pub weight: i64,
    pub priority: i64,
}

const COLUMNS: &str = "id, name, description, strategy, retry_max_attempts, retry_base_ms, retry_cap_ms, deadline_ms, \
     log_metadata, log_payloads, model_aliases, enabled, param_policy, auth_mode, access_rule, people_limits, \
     model_rules, cache, created_at, updated_at";

fn gateway(row: &AnyRow, endpoints: Vec<GatewayEndpoint>) -> Result<Gateway, sqlx::Error> {
    let decode = |what: String| sqlx::Error::Decode(what.into());
    let strategy: String = row.try_get("strategy")?;
    let aliases: String = row.try_get("model_aliases")?;
    let policy: String = row.try_get("param_policy")?;
    let auth_mode: String = row.try_get("auth_mode")?;
    let people: String = row.try_get("people_limits")?;
    let model_rules: String = row.try_get("model_rules")?;
    let cache: String = row.try_get("cache")?;
    Ok(Gateway {
        id: GatewayId(row.try_get("id")?),
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        strategy: Strategy::parse(&strategy).ok_or_else(|| decode(format!("unknown strategy {strategy:?}")))?,
        retry: RetryPolicy {
            max_attempts: row.try_get("retry_max_attempts")?,
            base_ms: row.try_get("retry_base_ms")?,
            cap_ms: row.try_get("retry_cap_ms")?,
        },
        deadline_ms: row.try_get("deadline_ms")?,
        log_metadata: flag(row, "log_metadata")?,
        log_payloads: flag(row, "log_payloads")?,
        model_aliases: serde_json::from_str(&aliases).map_err(|e| decode(format!("model_aliases: {e}")))?,
        enabled: flag(row, "enabled")?,
        endpoints,
        limits: Vec::new(),
        param_policy: serde_json::from_str(&policy).map_err(|e| decode(format!("param_policy: {e}")))?,
        auth_mode: AuthMode::parse(&auth_mode).ok_or_else(|| decode(format!("unknown auth mode {auth_mode:?}")))?,
        access_rule: row.try_get("access_rule")?,
        people: serde_json::from_str(&people).map_err(|e| decode(format!("people_limits: {e}")))?,
        model_rules: serde_json::from_str(&model_rules).map_err(|e| decode(format!("model_rules: {e}")))?,
        cache: serde_json::from_str(&cache).map_err(|e| decode(format!("cache: {e}")))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Binds the fields as `$1` to `$17`, in the order both the insert and the update name them.
fn bind_fields<'q>(query: AnyQuery<'q>, fields: &GatewayFields<'q>) -> AnyQuery<'q> {
    query
        .bind(fields.name)
        .bind(fields.description)
        .bind(fields.strategy.as_str())
        .bind(fields.retry.max_attempts)
        .bind(fields.retry.base_ms)
        .bind(fields.retry.cap_ms)
        .bind(fields.deadline_ms)
        .bind(i64::from(fields.log_metadata))
        .bind(i64::from(fields.log_payloads))
        .bind(aliases_json(fields.model_aliases))
        .bind(i64::from(fields.enabled))
        .bind(serde_json::to_string(fields.param_policy).unwrap_or_else(|_| "{}".into()))
        .bind(fields.auth_mode.as_str())
        .bind(fields.access_rule)
        .bind(serde_json::to_string(fields.people).unwrap_or_else(|_| "{}".into()))
        .bind(serde_json::to_string(fields.model_rules).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string(fields.cache).unwrap_or_else(|_| "{}".into()))
}

fn aliases_json(aliases: &BTreeMap<String, String>) -> String {
    serde_json::to_string(aliases).unwrap_or_else(|_| "{}".into())
}

/// One gateway, by name or id.
#[derive(Clone, Copy)]
enum Which<'a> {
    Name(&'a str),
    Id(GatewayId),
}

impl Store {
    /// Every gateway with its endpoints, by name.
    pub async fn gateways(&self) -> Result<Vec<Gateway>, StoreError> {
        self.gateways_where(None).await
    }

    /// The gateway with this name.
    pub async fn gateway_by_name(&self, name: &str) -> Result<Option<Gateway>, StoreError> {
        Ok(self.gateways_where(Some(Which::Name(name))).await?.pop())
    }

    /// The gateway with this id.
    pub async fn gateway(&self, id: GatewayId) -> Result<Option<Gateway>, StoreError> {
        Ok(self.gateways_where(Some(Which::Id(id))).await?.pop())
    }

    async fn gateways_where(&self, which: Option<Which<'_>>) -> Result<Vec<Gateway>, StoreError> {
        let filter = match which {
            None => "",
            Some(Which::Name(_)) => "WHERE name = $1",
            Some(Which::Id(_)) => "WHERE id = $1",
        };
        let sql = format!("SELECT {COLUMNS} FROM gateways {filter} ORDER BY name");
        let mut query = sqlx::query(&sql);
        match which {
            None => {}
            Some(Which::Name(name)) => query = query.bind(name),
            Some(Which::Id(id)) => query = query.bind(id.0),
        }
        let rows = query.fetch_all(&self.reader).await?;
        let links = sqlx::query(
            "SELECT ge.gateway_id, ge.endpoint_id, e.name, ge.position, ge.weight, ge.priority \
             FROM gateway_endpoints ge JOIN inference_endpoints e ON e.id = ge.endpoint_id \
             ORDER BY ge.gateway_id, ge.position",
        )
        .fetch_all(&self.reader)
        .await?;
        let mut by_gateway: BTreeMap<i64, Vec<GatewayEndpoint>> = BTreeMap::new();
        for link in &links {
            by_gateway
                .entry(link.try_get("gateway_id")?)
                .or_default()
                .push(GatewayEndpoint {
                    endpoint_id: EndpointId(link.try_get("endpoint_id")?),
                    endpoint_name: link.try_get("name")?,
                    position: link.try_get("position")?,
                    weight: link.try_get("weight")?,
                    priority: link.try_get("priority")?,
                });
        }
        let mut limits = self.limits_by_scope().await?;
        let mut gateways = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let mut gateway = gateway(row, by_gateway.remove(&id).unwrap_or_default())?;
            gateway.limits = limits.remove(&LimitScope::Gateway(gateway.id)).unwrap_or_default();
            gateways.push(gateway);
        }
        Ok(gateways)
    }
}

async fn insert_links(
    tx: &mut sqlx::AnyConnection,
    gateway: GatewayId,
    links: &[EndpointLink],
) -> Result<(), StoreError> {
    for (position, link) in links.iter().enumerate() {
        sqlx::query(
            "INSERT INTO gateway_endpoints (gateway_id, endpoint_id, position, weight, priority) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(gateway.0)
        .bind(link.endpoint_id.0)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(link.weight)
        .bind(link.priority)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

impl Tx {
    /// Adds a gateway with its endpoints; `Conflict` when the name is taken.
    pub async fn insert_gateway(
        &mut self,
        fields: &GatewayFields<'_>,
        links: &[EndpointLink],
        now: i64,
    ) -> Result<GatewayId, StoreError> {
        let row = bind_fields(
            sqlx::query(
                "INSERT INTO gateways (name, description, strategy, retry_max_attempts, retry_base_ms, retry_cap_ms, \
             deadline_ms, log_metadata, log_payloads, model_aliases, enabled, param_policy, auth_mode, access_rule, \
             people_limits, model_rules, cache, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18) \
             RETURNING id",
            ),
            fields,
        )
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        let id: i64 = row.try_get("id")?;
        insert_links(self.conn(), GatewayId(id), links).await?;
        if let Some(limits) = fields.limits {
            super::limits::replace_limits(self.conn(), LimitOwner::Gateway(GatewayId(id)), limits).await?;
        }
        Ok(GatewayId(id))
    }

    /// Replaces a gateway's fields, and its endpoint list when `links` is given.
    pub async fn update_gateway(
        &mut self,
        id: GatewayId,
        fields: &GatewayFields<'_>,
        links: Option<&[EndpointLink]>,
        now: i64,
    ) -> Result<(), StoreError> {
        let done = bind_fields(
            sqlx::query(
                "UPDATE gateways SET name = $1, description = $2, strategy = $3, retry_max_attempts = $4, \
             retry_base_ms = $5, retry_cap_ms = $6, deadline_ms = $7, log_metadata = $8, log_payloads = $9, \
             model_aliases = $10, enabled = $11, param_policy = $12, auth_mode = $13, access_rule = $14, \
             people_limits = $15, model_rules = $16, cache = $17, updated_at = $18 WHERE id = $19",
            ),
            fields,
        )
        .bind(now)
        .bind(id.0)
        .execute(self.conn())
        .await?;
        found(done.rows_affected())?;
        if let Some(links) = links {
            sqlx::query("DELETE FROM gateway_endpoints WHERE gateway_id = $1")
                .bind(id.0)
                .execute(self.conn())
                .await?;
            insert_links(self.conn(), id, links).await?;
        }
        if let Some(limits) = fields.limits {
            super::limits::replace_limits(self.conn(), LimitOwner::Gateway(id), limits).await?;
        }
        Ok(())
    }

    /// Deletes a gateway, its endpoint list and its keys.
    pub async fn delete_gateway(&mut self, id: GatewayId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM gateways WHERE id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())?;
        Ok(())
    }
}
