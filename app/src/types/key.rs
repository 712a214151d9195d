//! Gateway keys: the credentials applications send.

use super::{Change, GatewayId, Limit, UsageSums};
use serde::{Deserialize, Serialize};

/// Identifies a gateway key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyId(pub i64);

/// A gateway key as listed and shown; the secret is shown once, at creation, and never again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayKey {
    /// The key's id.
    pub id: KeyId,
    /// The gateway it opens.
    pub gateway_id: GatewayId,
    /// The key it was derived from, if any; limits and revocation flow down from it.
    pub parent_id: Option<KeyId>,
    /// A name for people.
    pub name: String,
    /// The public part of the key, safe to show and log.
    pub public_id: String,
    /// The key with its secret elided, for recognising it: `mgw_ab12…wxyz`.
    pub masked: String,
    /// Models it may use; `None` means every model of its gateway.
    pub allowed_models: Option<Vec<String>>,
    /// When it stops working, Unix milliseconds.
    pub expires_at: Option<i64>,
    /// Whether it is switched on.
    pub enabled: bool,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// The key this one succeeded, when it was made by rotation.
    pub rotated_from: Option<KeyId>,
    /// A rotated-out key works until then (Unix milliseconds), and not after.
    pub grace_until: Option<i64>,
    /// When its counted usage was last reset, if ever (Unix milliseconds).
    pub usage_reset_at: Option<i64>,
    /// Its own limits; its ancestors' and its gateway's apply too.
    pub limits: Vec<Limit>,
    /// Whether it may name the end user it calls for (`x-mgw-user`, or the body's `user`)
    /// without the user's token.
    #[serde(default)]
    pub may_assert_users: bool,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}

/// A key's state now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
pub enum KeyStatus {
    Active,
    /// Switched off; can be switched on again.
    Disabled,
    Revoked,
    /// Past its expiry, or past the grace period after a rotation.
    Expired,
    /// Replaced by rotation; works until its grace period ends.
    Rotating,
}

impl KeyStatus {
    /// `key`'s state at `now` (Unix milliseconds).
    pub fn of(key: &GatewayKey, now: i64) -> KeyStatus {
        if key.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if key.expires_at.is_some_and(|at| at <= now) || key.grace_until.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else if !key.enabled {
            KeyStatus::Disabled
        } else if key.grace_until.is_some() {
            KeyStatus::Rotating
        } else {
            KeyStatus::Active
        }
    }

    /// How the console labels it.
    pub fn label(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Disabled => "Disabled",
            KeyStatus::Revoked => "Revoked",
            KeyStatus::Expired => "Expired",
            KeyStatus::Rotating => "Rotating",
        }
    }
}

/// A limit and how much of it the current window has used (in this process's ledger).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitUsage {
    pub limit: Limit,
    /// Used in the current window (requests in flight, for `concurrency`).
    pub used: i64,
}

/// A key as the keys page lists it: with its gateway's name and its usage against its limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyListing {
    pub key: GatewayKey,
    /// Its state when listed (the server's clock, so the page renders the same on both sides).
    pub status: KeyStatus,
    pub gateway: String,
}

/// What one key has used: each of its limits' current window, and this calendar month (UTC)
/// whether it has limits or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUsage {
    pub id: KeyId,
    pub limits: Vec<LimitUsage>,
    pub month: UsageSums,
}

/// Every key's usage, and the currency costs are in (the keys page refreshes this alone).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageOfKeys {
    /// The prices' currency, an ISO 4217 code (`USD`).
    pub currency: String,
    pub keys: Vec<KeyUsage>,
}

// Declared once: GraphQL's `createKey`, the keys page and `key create` all give the management
// service this. GraphQL names the gateway and the parent by global id, so `CreateKeyInput`
// adds fields of its own and fills `gateway` and `parent` from them.
/// A new gateway key.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "ssr", derive(async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(name = "NewKey"))]
pub struct NewKey {
    #[cfg_attr(feature = "ssr", graphql(skip))]
    pub gateway: GatewayId,
    pub name: String,
    /// The parent key's public id: its limits and revocation apply to the new key too.
    #[cfg_attr(feature = "ssr", graphql(skip))]
    pub parent: Option<String>,
    /// Models it may use; omitted: every model of its gateway.
    pub allowed_models: Option<Vec<String>>,
    /// When it stops working, Unix milliseconds.
    pub expires_at: Option<i64>,
    /// Its limits; none may exceed an ancestor's.
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub limits: Vec<Limit>,
    /// Whether it may name end users without their tokens (server-side applications).
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub may_assert_users: bool,
}

/// Changes to a key; omitted fields stay as they are, `null` clears.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "ssr", derive(async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(name = "UpdateKeyInput"))]
pub struct KeyUpdate {
    pub name: Option<String>,
    /// `null` lets it use every model of its gateway again.
    pub allowed_models: Change<Vec<String>>,
    /// `null` removes the expiry.
    pub expires_at: Change<i64>,
    pub enabled: Option<bool>,
    /// Replaces all its limits.
    pub limits: Option<Vec<Limit>>,
    /// Whether it may name end users without their tokens.
    pub may_assert_users: Option<bool>,
}

/// The keys page's form, as typed: the server reads its notations (a gateway's id, days,
/// limits as the CLI writes them) into a [`NewKey`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKeyForm {
    /// The gateway's id, as the form's select sends it.
    pub gateway: String,
    pub name: String,
    /// The parent key's public id, or empty.
    pub parent: String,
    /// Comma-separated model names, or empty for every model.
    pub allowed_models: String,
    /// Days until it expires, or empty for never.
    pub expires_in_days: String,
    /// Comma-separated limits in the CLI's notation (`requests/minute=100, tokens/day=100000`).
    pub limits: String,
    /// It may name end users without their tokens.
    #[serde(default)]
    pub may_assert_users: bool,
}

/// A key's edit form, as typed: the server reads its notations into a [`KeyUpdate`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEditForm {
    pub public_id: String,
    pub name: String,
    /// Comma-separated model names, or empty for every model of its gateway.
    pub allowed_models: String,
    /// Empty keeps its expiry, `never` removes it, a number of days sets it from now.
    pub expires_in_days: String,
    /// Comma-separated limits in the CLI's notation; empty removes them all.
    pub limits: String,
    pub enabled: bool,
    /// It may name end users without their tokens.
    #[serde(default)]
    pub may_assert_users: bool,
}

/// A key just created or rotated, with its secret: shown this once, never again. `Debug`
/// hides the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownOnce {
    pub key: GatewayKey,
    pub secret: String,
}

impl std::fmt::Debug for ShownOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShownOnce")
            .field("key", &self.key.public_id)
            .field("secret", &"[redacted]")
            .finish()
    }
}
