//! Gateway keys: the credentials applications send.

use super::{GatewayId, Limit};
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
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}
