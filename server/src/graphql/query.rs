//! Queries: what an admin (or a viewer) can read.

use super::{
    backend, error, reader,
    types::{
        local_id, numeric_id, parse_any_id, AdminTokenNode, AdminUserNode, AuditEntryNode, EndpointNode, GatewayNode,
        KeyNode, Node, NodeKind, PromptNode, RequestLogNode,
    },
};
use crate::manage::{Actor, HourlyScope, LogFilter};
use app::types::{ActorKind, AdminRole, AdminUserId, GatewayId, HourlyUsage, KeyId, ModelPrice, PromptId, UsageSums};
use async_graphql::{
    connection::{Connection, Edge},
    Context, InputObject, Object, Result, SimpleObject, ID,
};
use std::sync::Arc;

/// Most items in one page of a connection.
const MAX_PAGE: i32 = 500;
/// Items in a page when `first` is not given.
const DEFAULT_PAGE: i32 = 50;

/// Who is asking.
pub struct ViewerNode(pub Actor);

#[Object(name = "Viewer")]
impl ViewerNode {
    /// The admin acting (a token's owner, for a token).
    async fn user(&self, ctx: &Context<'_>) -> Result<AdminUserNode> {
        let account = backend(ctx)
            .manage
            .admin_account(self.0.user.id)
            .await
            .map_err(error::manage)?;
        Ok(AdminUserNode(account))
    }
    /// What this session or token may do.
    async fn role(&self) -> AdminRole {
        self.0.role
    }
    /// How the request was authenticated: `ADMIN` (a console session) or `API_TOKEN`.
    async fn authenticated_by(&self) -> ActorKind {
        self.0.kind
    }
}

/// Filters for `requestLogs`; every one narrows.
#[derive(InputObject, Default)]
pub struct RequestLogFilter {
    /// Arrived at or after, Unix milliseconds.
    pub from: Option<i64>,
    /// Arrived before, Unix milliseconds.
    pub to: Option<i64>,
    pub gateway_id: Option<ID>,
    pub key_id: Option<ID>,
    pub endpoint_id: Option<ID>,
    /// The model the client asked for.
    pub model: Option<String>,
    /// The status the client got.
    pub status: Option<i64>,
    /// Only requests that failed (status 400 or more).
    #[graphql(default)]
    pub errors_only: bool,
    /// One request, by its `x-request-id`.
    pub request_id: Option<String>,
}

impl RequestLogFilter {
    /// The store's filter; ids of keys are looked up (a key no longer known matches nothing).
    pub fn resolve(&self, ctx: &Context<'_>) -> Result<LogFilter> {
        let key = match &self.key_id {
            Some(id) => {
                let public_id = local_id(id, NodeKind::GatewayKey, "filter.keyId")?;
                let snapshot = backend(ctx).registry.snapshot();
                Some(snapshot.key(&public_id).map_or(KeyId(-1), |k| k.key.id))
            }
            None => None,
        };
        Ok(LogFilter {
            from: self.from,
            to: self.to,
            gateway: (self.gateway_id.as_ref())
                .map(|id| numeric_id(id, NodeKind::Gateway, "filter.gatewayId").map(GatewayId))
                .transpose()?,
            key,
            endpoint: (self.endpoint_id.as_ref())
                .map(|id| numeric_id(id, NodeKind::InferenceEndpoint, "filter.endpointId").map(app::types::EndpointId))
                .transpose()?,
            model: self.model.clone(),
            status: self.status,
            errors_only: self.errors_only,
            request_id: self.request_id.clone(),
        })
    }
}

/// The dashboard's statistics: totals and an hourly series (each hour with its latency
/// percentiles), from the hourly aggregates (they outlive the request logs).
#[derive(SimpleObject)]
pub struct Dashboard {
    pub totals: UsageSums,
    pub series: Vec<HourlyUsage>,
}

/// A page size from `first`.
fn page_size(first: Option<i32>) -> Result<i64> {
    match first {
        None => Ok(i64::from(DEFAULT_PAGE)),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(i64::from(n)),
        Some(_) => Err(error::invalid("first", format!("must be 1 to {MAX_PAGE}"))),
    }
}

/// A cursor's row id.
fn cursor(after: Option<String>) -> Result<Option<i64>> {
    after
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| error::invalid("after", "is not a cursor from this list"))
        })
        .transpose()
}

/// A connection's page from `limit + 1` rows read after the cursor `before` (the extra row,
/// if there, says another page follows); each row's id is its cursor.
fn page<T: async_graphql::OutputType>(
    mut rows: Vec<(i64, T)>,
    before: Option<i64>,
    limit: i64,
) -> Connection<String, T> {
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut connection = Connection::new(before.is_some(), more);
    (connection.edges).extend(rows.into_iter().map(|(id, node)| Edge::new(id.to_string(), node)));
    connection
}

pub struct Query;

#[Object]
impl Query {
    /// Who is asking, and with which role.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<ViewerNode> {
        Ok(ViewerNode(reader(ctx)?.clone()))
    }

    /// Any node by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        reader(ctx)?;
        let Some((kind, local)) = parse_any_id(&id) else {
            return Err(error::invalid("id", "is not a global id"));
        };
        let manage = &backend(ctx).manage;
        let number = || {
            local
                .parse::<i64>()
                .map_err(|_| error::invalid("id", "is not a global id"))
        };
        Ok(match kind {
            NodeKind::InferenceEndpoint => {
                let id = number()?;
                let found = manage.endpoints().await.map_err(error::manage)?;
                found
                    .into_iter()
                    .find(|e| e.id.0 == id)
                    .map(|e| Node::InferenceEndpoint(EndpointNode(e)))
            }
            NodeKind::Gateway => {
                let id = number()?;
                let found = manage.gateways().await.map_err(error::manage)?;
                found
                    .into_iter()
                    .find(|g| g.id.0 == id)
                    .map(|g| Node::Gateway(GatewayNode(Box::new(g))))
            }
            NodeKind::GatewayKey => match manage.key(&local).await {
                Ok(key) => Some(Node::GatewayKey(KeyNode::single(key))),
                Err(crate::manage::ManageError::NotFound) => None,
                Err(other) => return Err(error::manage(other)),
            },
            NodeKind::AdminUser => match manage.admin_account(AdminUserId(number()?)).await {
                Ok(account) => Some(Node::AdminUser(AdminUserNode(account))),
                Err(crate::manage::ManageError::NotFound) => None,
                Err(other) => return Err(error::manage(other)),
            },
            NodeKind::AdminApiToken => {
                let id = number()?;
                let tokens = manage.admin_tokens().await.map_err(error::manage)?;
                (tokens.into_iter())
                    .find(|t| t.id.0 == id)
                    .map(|t| Node::AdminApiToken(AdminTokenNode(t)))
            }
            NodeKind::RequestLog => (manage.request_log(&local).await.map_err(error::manage)?)
                .map(|(_, log)| Node::RequestLog(RequestLogNode(Box::new(log)))),
            NodeKind::AuditEntry => {
                let id = number()?;
                let entries = manage
                    .audit_log(Some(id.saturating_add(1)), 1)
                    .await
                    .map_err(error::manage)?;
                (entries.into_iter())
                    .find(|e| e.id == id)
                    .map(|e| Node::AuditEntry(AuditEntryNode(e)))
            }
            NodeKind::CompositeModel => match manage.composite(app::types::CompositeId(number()?)).await {
                Ok(composite) => Some(Node::CompositeModel(super::types::CompositeNode(composite))),
                Err(crate::manage::ManageError::NotFound) => None,
                Err(other) => return Err(error::manage(other)),
            },
            NodeKind::Prompt => match manage.prompt(PromptId(number()?)).await {
                Ok(prompt) => Some(Node::Prompt(PromptNode(prompt))),
                Err(crate::manage::ManageError::NotFound) => None,
                Err(other) => return Err(error::manage(other)),
            },
            NodeKind::IdentityProvider => {
                match manage
                    .identity_provider(app::types::IdentityProviderId(number()?))
                    .await
                {
                    Ok(provider) => Some(Node::IdentityProvider(super::identity::IdentityProviderNode(provider))),
                    Err(crate::manage::ManageError::NotFound) => None,
                    Err(other) => return Err(error::manage(other)),
                }
            }
            NodeKind::Guardrail => match manage.guardrail(app::types::GuardrailId(number()?)).await {
                Ok(guardrail) => Some(Node::Guardrail(super::guardrails::GuardrailNode(guardrail))),
                Err(crate::manage::ManageError::NotFound) => None,
                Err(other) => return Err(error::manage(other)),
            },
        })
    }

    /// What `text` becomes when a request of gateway `gatewayId` sends it: the request
    /// guardrails' placeholders, or the detector that would block it; changes nothing.
    async fn try_guardrails(&self, ctx: &Context<'_>, gateway_id: ID, text: String) -> Result<app::types::GuardTrial> {
        super::guardrails::try_guardrails(ctx, gateway_id, text).await
    }

    /// What an access rule makes of a chat request by an end user with `claims` (a JSON
    /// object) for `model`, to `gateway`, now; changes nothing. A rule that does not compile is
    /// refused under `expression`, saying where.
    async fn test_access_rule(
        &self,
        ctx: &Context<'_>,
        expression: String,
        claims: async_graphql::Json<serde_json::Map<String, serde_json::Value>>,
        model: Option<String>,
        gateway: Option<ID>,
    ) -> Result<app::types::RuleVerdict> {
        super::identity::test_access_rule(ctx, expression, claims, model, gateway).await
    }

    /// Every inference endpoint, by name.
    async fn inference_endpoints(&self, ctx: &Context<'_>) -> Result<Vec<EndpointNode>> {
        reader(ctx)?;
        let endpoints = backend(ctx).manage.endpoints().await.map_err(error::manage)?;
        Ok(endpoints.into_iter().map(EndpointNode).collect())
    }

    /// Every gateway, by name.
    async fn gateways(&self, ctx: &Context<'_>) -> Result<Vec<GatewayNode>> {
        reader(ctx)?;
        let gateways = backend(ctx).manage.gateways().await.map_err(error::manage)?;
        Ok(gateways.into_iter().map(GatewayNode::new).collect())
    }

    /// One gateway, by id or by name.
    async fn gateway(&self, ctx: &Context<'_>, id: Option<ID>, name: Option<String>) -> Result<Option<GatewayNode>> {
        reader(ctx)?;
        let manage = &backend(ctx).manage;
        let found = match (id, name) {
            (Some(id), None) => {
                let id = GatewayId(numeric_id(&id, NodeKind::Gateway, "id")?);
                match manage.gateway(id).await {
                    Ok(gateway) => Some(gateway),
                    Err(crate::manage::ManageError::NotFound) => None,
                    Err(other) => return Err(error::manage(other)),
                }
            }
            (None, Some(name)) => match manage.gateway_id(&name).await {
                Ok(id) => Some(manage.gateway(id).await.map_err(error::manage)?),
                Err(crate::manage::ManageError::NotFound) => None,
                Err(other) => return Err(error::manage(other)),
            },
            _ => return Err(error::invalid("id", "give either `id` or `name`")),
        };
        Ok(found.map(GatewayNode::new))
    }

    /// Every named prompt, by name.
    async fn prompts(&self, ctx: &Context<'_>) -> Result<Vec<PromptNode>> {
        reader(ctx)?;
        let prompts = backend(ctx).manage.prompts().await.map_err(error::manage)?;
        Ok(prompts.into_iter().map(PromptNode).collect())
    }

    /// One named prompt, by name (by id: `node`).
    async fn prompt(&self, ctx: &Context<'_>, name: String) -> Result<Option<PromptNode>> {
        reader(ctx)?;
        let manage = &backend(ctx).manage;
        let found = match manage.prompt_id(&name).await {
            Ok(id) => manage.prompt(id).await,
            Err(error) => Err(error),
        };
        match found {
            Ok(prompt) => Ok(Some(PromptNode(prompt))),
            Err(crate::manage::ManageError::NotFound) => Ok(None),
            Err(other) => Err(error::manage(other)),
        }
    }

    /// A gateway's keys as a tree (the keys without a parent, each with its `children`).
    async fn keys(&self, ctx: &Context<'_>, gateway_id: ID) -> Result<Vec<KeyNode>> {
        reader(ctx)?;
        let id = GatewayId(numeric_id(&gateway_id, NodeKind::Gateway, "gatewayId")?);
        let manage = &backend(ctx).manage;
        let gateway = manage.gateway(id).await.map_err(error::manage)?;
        let keys = manage.keys(Some(gateway.id)).await.map_err(error::manage)?;
        Ok(KeyNode::roots(Arc::new(keys)))
    }

    /// Request logs, newest first, filtered, a page at a time (`first`, `after`).
    async fn request_logs(
        &self,
        ctx: &Context<'_>,
        filter: Option<RequestLogFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, RequestLogNode>> {
        reader(ctx)?;
        let filter = filter.unwrap_or_default().resolve(ctx)?;
        let limit = page_size(first)?;
        let before = cursor(after)?;
        let rows = backend(ctx)
            .manage
            .request_logs(&filter, before, limit + 1)
            .await
            .map_err(error::manage)?;
        let rows = rows
            .into_iter()
            .map(|(row_id, log)| (row_id, RequestLogNode(Box::new(log))));
        Ok(page(rows.collect(), before, limit))
    }

    /// One request's log, by its request id (`x-request-id`).
    async fn request_log(&self, ctx: &Context<'_>, request_id: String) -> Result<Option<RequestLogNode>> {
        reader(ctx)?;
        let found = backend(ctx)
            .manage
            .request_log(&request_id)
            .await
            .map_err(error::manage)?;
        Ok(found.map(|(_, log)| RequestLogNode(Box::new(log))))
    }

    /// Traffic, tokens, errors, latency and cost over `[from, to)` (Unix milliseconds), hour by
    /// hour, for one gateway or all of them.
    async fn dashboard(&self, ctx: &Context<'_>, from: i64, to: i64, gateway_id: Option<ID>) -> Result<Dashboard> {
        reader(ctx)?;
        let scope = match gateway_id {
            Some(id) => HourlyScope::Gateway(GatewayId(numeric_id(&id, NodeKind::Gateway, "gatewayId")?)),
            None => HourlyScope::AllGateways,
        };
        let series = backend(ctx)
            .manage
            .hourly_usage(scope, from, to)
            .await
            .map_err(error::manage)?;
        let totals = UsageSums::of(&series);
        Ok(Dashboard { totals, series })
    }

    /// What end user `user` (a verified token's subject, or a name a key asserted) did in
    /// `[from, to)` (Unix milliseconds), on one gateway or every one: requests, errors,
    /// latency, tokens, cost and feedback; zeros when nothing.
    async fn usage(
        &self,
        ctx: &Context<'_>,
        user: String,
        from: i64,
        to: i64,
        gateway_id: Option<ID>,
    ) -> Result<app::types::RequestFigures> {
        reader(ctx)?;
        let gateway = (gateway_id.as_ref())
            .map(|id| numeric_id(id, NodeKind::Gateway, "gatewayId").map(GatewayId))
            .transpose()?;
        (backend(ctx).manage.user_usage(gateway, &user, (from, to)).await).map_err(error::manage)
    }

    /// The busiest end users — or, with `groups`, the busiest groups of end users (by the
    /// key their gateway's group rule gives them) — in `[from, to)`, busiest first (at most
    /// `first`, 1 to 100).
    async fn top_end_users(
        &self,
        ctx: &Context<'_>,
        from: i64,
        to: i64,
        gateway_id: Option<ID>,
        #[graphql(default = false)] groups: bool,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Vec<app::types::PersonStats>> {
        reader(ctx)?;
        let gateway = (gateway_id.as_ref())
            .map(|id| numeric_id(id, NodeKind::Gateway, "gatewayId").map(GatewayId))
            .transpose()?;
        let by = match groups {
            true => app::types::PersonKind::Group,
            false => app::types::PersonKind::User,
        };
        let top = usize::try_from(first.clamp(1, 100)).unwrap_or(10);
        (backend(ctx).manage.top_people(gateway, by, (from, to), top).await).map_err(error::manage)
    }

    /// Model prices (per million tokens, in millionths of the currency).
    async fn prices(&self, ctx: &Context<'_>) -> Result<Vec<ModelPrice>> {
        reader(ctx)?;
        backend(ctx).manage.prices().await.map_err(error::manage)
    }

    /// Every admin user.
    async fn admin_users(&self, ctx: &Context<'_>) -> Result<Vec<AdminUserNode>> {
        reader(ctx)?;
        let accounts = backend(ctx).manage.admin_accounts().await.map_err(error::manage)?;
        Ok(accounts.into_iter().map(AdminUserNode).collect())
    }

    /// Every admin API token (never their secrets).
    async fn admin_api_tokens(&self, ctx: &Context<'_>) -> Result<Vec<AdminTokenNode>> {
        reader(ctx)?;
        let tokens = backend(ctx).manage.admin_tokens().await.map_err(error::manage)?;
        Ok(tokens.into_iter().map(AdminTokenNode).collect())
    }

    /// Administrative changes, newest first, a page at a time.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AuditEntryNode>> {
        reader(ctx)?;
        let limit = page_size(first)?;
        let before = cursor(after)?;
        let entries = backend(ctx)
            .manage
            .audit_log(before, limit + 1)
            .await
            .map_err(error::manage)?;
        let entries = entries.into_iter().map(|entry| (entry.id, AuditEntryNode(entry)));
        Ok(page(entries.collect(), before, limit))
    }
}
