//! The schema's record and people types: request logs and their attempts, the audit log,
//! admin users and admin API tokens — views over `app::types` with Relay global ids.
//!
//! Invariant: a token shows its public id only; its secret appears once, in
//! `CreatedAdminApiToken`.

use super::{
    backend,
    types::{global_id, NodeKind},
};
use app::types::{
    ActorKind, AdminAccount, AdminRole, AdminToken, AuditEntry, RequestAttempt, RequestLog, Verdict, Via,
};
use async_graphql::{Context, Object, ID};

/// A person who manages the gateway.
pub struct AdminUserNode(pub AdminAccount);

#[Object(name = "AdminUser")]
impl AdminUserNode {
    pub(super) async fn id(&self) -> ID {
        global_id(NodeKind::AdminUser, self.0.user.id.0)
    }
    async fn email(&self) -> &str {
        &self.0.user.email
    }
    async fn role(&self) -> AdminRole {
        self.0.user.role
    }
    /// A disabled admin cannot sign in; their sessions and tokens stop working.
    async fn disabled(&self) -> bool {
        self.0.disabled
    }
    /// Unix milliseconds.
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
    /// The last console sign-in, Unix milliseconds.
    async fn last_login_at(&self) -> Option<i64> {
        self.0.last_login_at
    }
}

/// A credential for automation. Its secret is shown once, at creation.
pub struct AdminTokenNode(pub AdminToken);

#[Object(name = "AdminApiToken")]
impl AdminTokenNode {
    pub(super) async fn id(&self) -> ID {
        global_id(NodeKind::AdminApiToken, self.0.id.0)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The public part of the token, safe to show and log.
    async fn public_id(&self) -> &str {
        &self.0.public_id
    }
    /// What it may do (never more than its owner).
    async fn role(&self) -> AdminRole {
        self.0.role
    }
    /// The admin it acts as.
    async fn owner_id(&self) -> ID {
        global_id(NodeKind::AdminUser, self.0.admin_user_id.0)
    }
    /// Unix milliseconds.
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
    /// Unix milliseconds (updated at most once a minute).
    async fn last_used_at(&self) -> Option<i64> {
        self.0.last_used_at
    }
    /// Unix milliseconds.
    async fn expires_at(&self) -> Option<i64> {
        self.0.expires_at
    }
    /// Unix milliseconds.
    async fn revoked_at(&self) -> Option<i64> {
        self.0.revoked_at
    }
}

/// One upstream attempt of a request.
pub struct AttemptNode(pub RequestAttempt);

#[Object(name = "RequestAttempt")]
impl AttemptNode {
    /// 1 for the first attempt.
    async fn attempt(&self) -> i64 {
        self.0.attempt
    }
    async fn endpoint_id(&self) -> Option<ID> {
        self.0
            .endpoint_id
            .map(|id| global_id(NodeKind::InferenceEndpoint, id.0))
    }
    /// Unix milliseconds.
    async fn started_at(&self) -> i64 {
        self.0.started_at
    }
    /// The upstream's status, if it answered.
    async fn status(&self) -> Option<i64> {
        self.0.status
    }
    async fn latency_ms(&self) -> i64 {
        self.0.latency_ms
    }
    async fn ttft_ms(&self) -> Option<i64> {
        self.0.ttft_ms
    }
    async fn prompt_tokens(&self) -> i64 {
        self.0.prompt_tokens
    }
    async fn completion_tokens(&self) -> i64 {
        self.0.completion_tokens
    }
    async fn error_class(&self) -> Option<&str> {
        self.0.error_class.as_deref()
    }
    /// The composite member it was made for (a `multi` model's calls); null for a plain model.
    async fn variant(&self) -> Option<&str> {
        self.0.variant.as_deref()
    }
    /// What the call cost (a `multi` model's member calls), millionths of the currency unit.
    async fn cost_micros(&self) -> i64 {
        self.0.cost_micros
    }
}

/// One inference request, as logged (bodies only when its gateway logs payloads).
pub struct RequestLogNode(pub Box<RequestLog>);

#[Object(name = "RequestLog")]
impl RequestLogNode {
    pub(super) async fn id(&self) -> ID {
        global_id(NodeKind::RequestLog, &self.0.request_id)
    }
    /// The `x-request-id` the client saw.
    async fn request_id(&self) -> &str {
        &self.0.request_id
    }
    /// Unix milliseconds.
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
    async fn gateway_id(&self) -> Option<ID> {
        self.0.gateway_id.map(|id| global_id(NodeKind::Gateway, id.0))
    }
    /// The gateway's name, while it exists.
    async fn gateway_name(&self, ctx: &Context<'_>) -> Option<String> {
        let id = self.0.gateway_id?;
        backend(ctx)
            .registry
            .snapshot()
            .gateways
            .get(&id)
            .map(|g| g.name.clone())
    }
    async fn key_id(&self, ctx: &Context<'_>) -> Option<ID> {
        let id = self.0.key_id?;
        let snapshot = backend(ctx).registry.snapshot();
        snapshot
            .key_by_id(id)
            .map(|k| global_id(NodeKind::GatewayKey, &k.key.public_id))
    }
    /// The endpoint that answered, if any.
    async fn endpoint_id(&self) -> Option<ID> {
        self.0
            .endpoint_id
            .map(|id| global_id(NodeKind::InferenceEndpoint, id.0))
    }
    /// The endpoint's name, while it exists.
    async fn endpoint_name(&self, ctx: &Context<'_>) -> Option<String> {
        let id = self.0.endpoint_id?;
        (backend(ctx).registry.snapshot().upstreams.get(&id)).map(|u| u.endpoint.name.clone())
    }
    /// The client's API shape: `openai`, `azure` or `anthropic`.
    async fn api(&self) -> &str {
        &self.0.api
    }
    /// `chat`, `completions` or `embeddings`.
    async fn operation(&self) -> &str {
        &self.0.operation
    }
    /// The model the client asked for.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    /// The member of a composite model that served it (an A/B category, else the member's
    /// name); null for a plain model.
    async fn variant(&self) -> Option<&str> {
        self.0.variant.as_deref()
    }
    /// How a `best` composite chose its answer (the judge's scores and reason, or why it fell
    /// back); null otherwise.
    async fn verdict(&self) -> Option<&Verdict> {
        self.0.verdict.as_ref()
    }
    /// The named prompt it was made from; null otherwise.
    async fn prompt(&self) -> Option<&str> {
        self.0.prompt.as_deref()
    }
    /// Which version of the prompt.
    async fn prompt_version(&self) -> Option<i64> {
        self.0.prompt_version
    }
    /// The end user the request was made for: the `sub` of a verified token, or the user a key
    /// that may assert users named.
    async fn end_user(&self) -> Option<&str> {
        self.0.end_user.as_deref()
    }
    /// The group key the gateway's group rule gave that end user.
    async fn end_user_group(&self) -> Option<&str> {
        self.0.end_user_group.as_deref()
    }
    /// What the response cache did: `hit`, `miss` or `bypass`; null when the gateway does not
    /// cache (or the request did not reach it).
    async fn cache(&self) -> Option<&str> {
        self.0.cache.as_deref()
    }
    /// What the gateway's guardrails found, each once as `direction:detector:action`
    /// (`request:email:redact`); empty when nothing.
    async fn guardrails(&self) -> Vec<&str> {
        self.0
            .guardrails
            .as_deref()
            .map_or_else(Vec::new, |found| found.split(',').collect())
    }
    /// The prompt's parameters as bound (JSON), when its gateway logs payloads.
    async fn prompt_parameters(&self) -> Option<&str> {
        self.0.prompt_parameters.as_deref()
    }
    async fn stream(&self) -> bool {
        self.0.stream
    }
    /// The HTTP status the client got; 499 when it went away first.
    async fn status(&self) -> i64 {
        self.0.status
    }
    async fn latency_ms(&self) -> i64 {
        self.0.latency_ms
    }
    async fn ttft_ms(&self) -> Option<i64> {
        self.0.ttft_ms
    }
    async fn prompt_tokens(&self) -> i64 {
        self.0.prompt_tokens
    }
    async fn completion_tokens(&self) -> i64 {
        self.0.completion_tokens
    }
    /// Cost in millionths of the prices' currency.
    async fn cost_micros(&self) -> i64 {
        self.0.cost_micros
    }
    /// Why it failed (`timeout`, `upstream_error`, `client_disconnected`, …), if it did.
    async fn error_class(&self) -> Option<&str> {
        self.0.error_class.as_deref()
    }
    /// The request body, when the gateway logs payloads.
    async fn request_body(&self) -> Option<&str> {
        self.0.request_body.as_deref()
    }
    /// The response body, when the gateway logs payloads.
    async fn response_body(&self) -> Option<&str> {
        self.0.response_body.as_deref()
    }
    async fn attempts(&self) -> Vec<AttemptNode> {
        self.0.attempts.iter().cloned().map(AttemptNode).collect()
    }
}

/// One administrative change: who, what, when. Never a secret.
pub struct AuditEntryNode(pub AuditEntry);

#[Object(name = "AuditEntry")]
impl AuditEntryNode {
    pub(super) async fn id(&self) -> ID {
        global_id(NodeKind::AuditEntry, self.0.id)
    }
    /// Unix milliseconds.
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
    async fn actor_kind(&self) -> ActorKind {
        self.0.actor_kind
    }
    /// The admin's e-mail address, or the token's name and public id.
    async fn actor(&self) -> &str {
        &self.0.actor_label
    }
    /// `gateway.create`, `key.revoke`, …
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The changed entity's global id, when it had one.
    async fn target_id(&self, ctx: &Context<'_>) -> Option<ID> {
        let kind = match self.0.target_kind.as_deref()? {
            // Keys are named by public id; one deleted since is no longer known.
            "key" => {
                let snapshot = backend(ctx).registry.snapshot();
                let key = snapshot.key_by_id(app::types::KeyId(self.0.target_id?))?;
                return Some(global_id(NodeKind::GatewayKey, &key.key.public_id));
            }
            "endpoint" => NodeKind::InferenceEndpoint,
            "gateway" => NodeKind::Gateway,
            "admin_user" => NodeKind::AdminUser,
            "admin_api_token" => NodeKind::AdminApiToken,
            _ => return None,
        };
        self.0.target_id.map(|id| global_id(kind, id))
    }
    /// What it was done to: `endpoint`, `gateway`, `key`, `admin_user`, …
    async fn target_kind(&self) -> Option<&str> {
        self.0.target_kind.as_deref()
    }
    /// Non-secret details, a JSON object as text: the same whichever way the change came.
    async fn details(&self) -> &str {
        &self.0.details
    }
    /// Which way the change came: the console, this API or the command line (none for
    /// entries written before this was recorded).
    async fn via(&self) -> Option<Via> {
        self.0.via
    }
}
