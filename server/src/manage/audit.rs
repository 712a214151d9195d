//! The audit log's events: one variant per kind of change, written by the operation that made
//! the change, in the change's own transaction.
//!
//! Invariant: an event holds names, ids and settings, never a secret; its details are the
//! same whichever way (console, GraphQL, CLI) the change came — the way is recorded beside them.

use super::{Actor, Manage, ManageError};
use crate::store::{now_ms, NewAudit, Tx};
use app::types::{
    AdminRole, AdminTokenId, AdminUserId, AuditEntry, CacheMode, CompositeId, CompositeKind, EndpointId, GatewayId,
    GuardAction, GuardDirection, GuardrailId, IdentityProviderId, KeyId, ModelPrice, PromptId, ProviderKind, Strategy,
};
use serde_json::{json, Value};

/// One recorded change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditEvent {
    CompositeCreated {
        id: CompositeId,
        gateway: String,
        name: String,
        kind: CompositeKind,
        /// In the CLI's notation, `category:target=share`.
        members: Vec<String>,
    },
    CompositeUpdated {
        id: CompositeId,
        name: String,
        /// The new members, when they changed.
        members: Option<Vec<String>>,
    },
    CompositeDeleted {
        id: CompositeId,
        name: String,
    },
    EndpointCreated {
        id: EndpointId,
        name: String,
        provider: ProviderKind,
    },
    GuardrailAdded {
        id: GuardrailId,
        gateway: String,
        /// As written (`email`, `regex:PATTERN`, `words:a,b`, `moderation:ENDPOINT`).
        detector: String,
        action: GuardAction,
        direction: GuardDirection,
        logs_only: bool,
        fail_closed: bool,
    },
    GuardrailRemoved {
        id: GuardrailId,
        gateway: String,
        detector: String,
    },
    IdentityProviderAdded {
        id: IdentityProviderId,
        gateway: String,
        issuer: String,
        /// Where its keys come from (`jwks_url`, `discovery`, `pem`, `secret_env`).
        keys: &'static str,
    },
    IdentityProviderRemoved {
        id: IdentityProviderId,
        gateway: String,
        issuer: String,
    },
    PromptCreated {
        id: PromptId,
        name: String,
    },
    PromptVersionAdded {
        id: PromptId,
        name: String,
        version: i64,
    },
    PromptLabelSet {
        id: PromptId,
        name: String,
        label: String,
        version: i64,
        /// The version it pointed at before; `None` for a new label.
        before: Option<i64>,
    },
    PromptDeleted {
        id: PromptId,
        name: String,
    },
    PromptAccessSet {
        id: PromptId,
        name: String,
        /// Whether it has a rule now (the rule itself is in the prompt).
        rule: bool,
    },
    PromptCacheSet {
        id: PromptId,
        name: String,
        /// Its own cache's mode now; `None`: the gateway's settings again.
        cache: Option<CacheMode>,
    },
    EndpointUpdated {
        id: EndpointId,
        name: String,
        credential_changed: bool,
    },
    EndpointDeleted {
        id: EndpointId,
        name: String,
    },
    /// "Test connection": not a change, but it sends a request with the stored credential.
    EndpointTested {
        id: EndpointId,
        name: String,
        ok: bool,
        status: Option<i64>,
    },
    GatewayCreated {
        id: GatewayId,
        name: String,
        strategy: Strategy,
    },
    /// `endpoints`: the new list's names, when it was replaced.
    GatewayUpdated {
        id: GatewayId,
        name: String,
        endpoints: Option<Vec<String>>,
    },
    GatewayDeleted {
        id: GatewayId,
        name: String,
    },
    KeyCreated {
        id: KeyId,
        public_id: String,
        name: String,
    },
    KeyUpdated {
        id: KeyId,
        public_id: String,
    },
    /// `revoked` counts the key, its descendants and the keys it was rotated from.
    KeyRevoked {
        id: KeyId,
        public_id: String,
        revoked: u64,
    },
    KeyDeleted {
        id: KeyId,
        public_id: String,
    },
    KeyUsageReset {
        id: KeyId,
        public_id: String,
    },
    /// `id` and `public_id` are the successor's.
    KeyRotated {
        id: KeyId,
        old_public_id: String,
        public_id: String,
        grace_seconds: u64,
    },
    PriceSet(ModelPrice),
    PriceRemoved {
        model: String,
    },
    AdminCreated {
        id: AdminUserId,
        email: String,
        role: AdminRole,
    },
    AdminUpdated {
        id: AdminUserId,
        email: String,
        role: AdminRole,
        disabled: bool,
    },
    AdminDeleted {
        id: AdminUserId,
        email: String,
    },
    PasswordChanged {
        id: AdminUserId,
    },
    SignedIn {
        id: AdminUserId,
    },
    SignedOut {
        id: AdminUserId,
    },
    TokenCreated {
        id: AdminTokenId,
        name: String,
        public_id: String,
        role: AdminRole,
    },
    TokenRevoked {
        id: AdminTokenId,
        name: String,
        public_id: String,
    },
}

impl AuditEvent {
    /// The action as the log names it: `<object>.<verb>`.
    pub fn action(&self) -> &'static str {
        match self {
            AuditEvent::CompositeCreated { .. } => "composite.create",
            AuditEvent::CompositeUpdated { .. } => "composite.update",
            AuditEvent::CompositeDeleted { .. } => "composite.delete",
            AuditEvent::EndpointCreated { .. } => "endpoint.create",
            AuditEvent::GuardrailAdded { .. } => "guardrail.create",
            AuditEvent::GuardrailRemoved { .. } => "guardrail.delete",
            AuditEvent::IdentityProviderAdded { .. } => "identity.create",
            AuditEvent::IdentityProviderRemoved { .. } => "identity.delete",
            AuditEvent::PromptCreated { .. } => "prompt.create",
            AuditEvent::PromptVersionAdded { .. } => "prompt.version",
            AuditEvent::PromptLabelSet { .. } => "prompt.label",
            AuditEvent::PromptDeleted { .. } => "prompt.delete",
            AuditEvent::PromptAccessSet { .. } => "prompt.access",
            AuditEvent::PromptCacheSet { .. } => "prompt.cache",
            AuditEvent::EndpointUpdated { .. } => "endpoint.update",
            AuditEvent::EndpointDeleted { .. } => "endpoint.delete",
            AuditEvent::EndpointTested { .. } => "endpoint.test",
            AuditEvent::GatewayCreated { .. } => "gateway.create",
            AuditEvent::GatewayUpdated { .. } => "gateway.update",
            AuditEvent::GatewayDeleted { .. } => "gateway.delete",
            AuditEvent::KeyCreated { .. } => "key.create",
            AuditEvent::KeyUpdated { .. } => "key.update",
            AuditEvent::KeyRevoked { .. } => "key.revoke",
            AuditEvent::KeyDeleted { .. } => "key.delete",
            AuditEvent::KeyUsageReset { .. } => "key.reset",
            AuditEvent::KeyRotated { .. } => "key.rotate",
            AuditEvent::PriceSet(_) => "price.set",
            AuditEvent::PriceRemoved { .. } => "price.delete",
            AuditEvent::AdminCreated { .. } => "admin.create",
            AuditEvent::AdminUpdated { .. } => "admin.update",
            AuditEvent::AdminDeleted { .. } => "admin.delete",
            AuditEvent::PasswordChanged { .. } => "admin.change_password",
            AuditEvent::SignedIn { .. } => "admin.login",
            AuditEvent::SignedOut { .. } => "admin.logout",
            AuditEvent::TokenCreated { .. } => "admin_token.create",
            AuditEvent::TokenRevoked { .. } => "admin_token.revoke",
        }
    }

    /// What it was done to: a kind and an id.
    pub fn target(&self) -> Option<(&'static str, i64)> {
        match self {
            AuditEvent::CompositeCreated { id, .. }
            | AuditEvent::CompositeUpdated { id, .. }
            | AuditEvent::CompositeDeleted { id, .. } => Some(("composite_model", id.0)),
            AuditEvent::GuardrailAdded { id, .. } | AuditEvent::GuardrailRemoved { id, .. } => {
                Some(("guardrail", id.0))
            }
            AuditEvent::IdentityProviderAdded { id, .. } | AuditEvent::IdentityProviderRemoved { id, .. } => {
                Some(("identity_provider", id.0))
            }
            AuditEvent::PromptCreated { id, .. }
            | AuditEvent::PromptVersionAdded { id, .. }
            | AuditEvent::PromptLabelSet { id, .. }
            | AuditEvent::PromptDeleted { id, .. }
            | AuditEvent::PromptAccessSet { id, .. }
            | AuditEvent::PromptCacheSet { id, .. } => Some(("prompt", id.0)),
            AuditEvent::EndpointCreated { id, .. }
            | AuditEvent::EndpointUpdated { id, .. }
            | AuditEvent::EndpointDeleted { id, .. }
            | AuditEvent::EndpointTested { id, .. } => Some(("endpoint", id.0)),
            AuditEvent::GatewayCreated { id, .. }
            | AuditEvent::GatewayUpdated { id, .. }
            | AuditEvent::GatewayDeleted { id, .. } => Some(("gateway", id.0)),
            AuditEvent::KeyCreated { id, .. }
            | AuditEvent::KeyUpdated { id, .. }
            | AuditEvent::KeyRevoked { id, .. }
            | AuditEvent::KeyDeleted { id, .. }
            | AuditEvent::KeyUsageReset { id, .. }
            | AuditEvent::KeyRotated { id, .. } => Some(("key", id.0)),
            AuditEvent::PriceSet(_) | AuditEvent::PriceRemoved { .. } => None,
            AuditEvent::AdminCreated { id, .. }
            | AuditEvent::AdminUpdated { id, .. }
            | AuditEvent::AdminDeleted { id, .. }
            | AuditEvent::PasswordChanged { id }
            | AuditEvent::SignedIn { id }
            | AuditEvent::SignedOut { id } => Some(("admin_user", id.0)),
            AuditEvent::TokenCreated { id, .. } | AuditEvent::TokenRevoked { id, .. } => {
                Some(("admin_api_token", id.0))
            }
        }
    }

    /// The details, as a JSON object of names and settings.
    pub fn details(&self) -> Value {
        match self {
            AuditEvent::CompositeCreated {
                gateway,
                name,
                kind,
                members,
                ..
            } => json!({ "gateway": gateway, "name": name, "kind": kind.as_str(), "members": members }),
            AuditEvent::CompositeUpdated { name, members, .. } => match members {
                Some(members) => json!({ "name": name, "members": members }),
                None => json!({ "name": name }),
            },
            AuditEvent::CompositeDeleted { name, .. }
            | AuditEvent::PromptCreated { name, .. }
            | AuditEvent::PromptDeleted { name, .. } => json!({ "name": name }),
            AuditEvent::PromptAccessSet { name, rule, .. } => json!({ "name": name, "rule": rule }),
            AuditEvent::PromptCacheSet { name, cache, .. } => {
                json!({ "name": name, "cache": cache.map_or("gateway", CacheMode::as_str) })
            }
            AuditEvent::PromptVersionAdded { name, version, .. } => json!({ "name": name, "version": version }),
            AuditEvent::GuardrailAdded {
                gateway,
                detector,
                action,
                direction,
                logs_only,
                ..
            } => json!({
                "gateway": gateway, "detector": detector, "action": action.as_str(),
                "direction": direction.as_str(), "logs_only": logs_only,
            }),
            AuditEvent::GuardrailRemoved { gateway, detector, .. } => {
                json!({ "gateway": gateway, "detector": detector })
            }
            AuditEvent::IdentityProviderAdded {
                gateway, issuer, keys, ..
            } => json!({ "gateway": gateway, "issuer": issuer, "keys": keys }),
            AuditEvent::IdentityProviderRemoved { gateway, issuer, .. } => {
                json!({ "gateway": gateway, "issuer": issuer })
            }
            AuditEvent::PromptLabelSet {
                name,
                label,
                version,
                before,
                ..
            } => json!({ "name": name, "label": label, "version": version, "before": before }),
            AuditEvent::EndpointCreated { name, provider, .. } => {
                json!({ "name": name, "provider": provider.as_str() })
            }
            AuditEvent::EndpointUpdated {
                name,
                credential_changed,
                ..
            } => json!({ "name": name, "credential_changed": credential_changed }),
            AuditEvent::EndpointDeleted { name, .. } | AuditEvent::GatewayDeleted { name, .. } => {
                json!({ "name": name })
            }
            AuditEvent::GatewayUpdated {
                name, endpoints: None, ..
            } => json!({ "name": name }),
            AuditEvent::GatewayUpdated {
                name,
                endpoints: Some(endpoints),
                ..
            } => json!({ "name": name, "endpoints": endpoints }),
            AuditEvent::EndpointTested { name, ok, status, .. } => {
                json!({ "name": name, "ok": ok, "status": status })
            }
            AuditEvent::GatewayCreated { name, strategy, .. } => {
                json!({ "name": name, "strategy": strategy.as_str() })
            }
            AuditEvent::KeyCreated { public_id, name, .. } => json!({ "name": name, "public_id": public_id }),
            AuditEvent::KeyUpdated { public_id, .. }
            | AuditEvent::KeyDeleted { public_id, .. }
            | AuditEvent::KeyUsageReset { public_id, .. } => json!({ "public_id": public_id }),
            AuditEvent::KeyRevoked { public_id, revoked, .. } => {
                json!({ "public_id": public_id, "revoked": revoked })
            }
            AuditEvent::KeyRotated {
                old_public_id,
                public_id,
                grace_seconds,
                ..
            } => json!({ "old_public_id": old_public_id, "public_id": public_id, "grace_seconds": grace_seconds }),
            AuditEvent::PriceSet(price) => json!({
                "model": price.model,
                "input_per_mtok_micros": price.input_per_mtok_micros,
                "output_per_mtok_micros": price.output_per_mtok_micros,
            }),
            AuditEvent::PriceRemoved { model } => json!({ "model": model }),
            AuditEvent::AdminCreated { email, role, .. } => json!({ "email": email, "role": role.as_str() }),
            AuditEvent::AdminUpdated {
                email, role, disabled, ..
            } => json!({ "email": email, "role": role.as_str(), "disabled": disabled }),
            AuditEvent::AdminDeleted { email, .. } => json!({ "email": email }),
            AuditEvent::PasswordChanged { .. } | AuditEvent::SignedIn { .. } | AuditEvent::SignedOut { .. } => {
                json!({})
            }
            AuditEvent::TokenCreated {
                name, public_id, role, ..
            } => json!({ "name": name, "public_id": public_id, "role": role.as_str() }),
            AuditEvent::TokenRevoked { name, public_id, .. } => json!({ "name": name, "public_id": public_id }),
        }
    }
}

/// Writes `event`, done by `actor`, inside `tx`: it is committed with the change or not at all.
pub(super) async fn record(tx: &mut Tx, actor: &Actor, event: AuditEvent) -> Result<(), ManageError> {
    let details = event.details().to_string();
    let target = event.target();
    tx.insert_audit(NewAudit {
        now: now_ms(),
        actor_kind: actor.kind,
        actor_id: actor.audit_id(),
        actor_label: &actor.label,
        action: event.action(),
        target_kind: target.map(|(kind, _)| kind),
        target_id: target.map(|(_, id)| id),
        details: &details,
        via: actor.via,
    })
    .await?;
    Ok(())
}

impl Manage {
    /// Records `event` in a transaction of its own, for what changes nothing stored (a
    /// sign-in's session is written with its entry; a connection test is not a change).
    pub(super) async fn record_alone(&self, actor: &Actor, event: AuditEvent) -> Result<(), ManageError> {
        let mut tx = self.store.begin().await?;
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Audit entries before entry `before`, newest first.
    pub async fn audit_log(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>, ManageError> {
        Ok(self.store.audit_entries(before, limit.clamp(1, 1000)).await?)
    }
}
