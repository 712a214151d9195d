//! Gateway-key authentication against the registry snapshot: no database, no await; and the
//! end user's token (issue #23) — alone, at `/g/{gateway}/v1/…`, or beside a key in
//! `x-mgw-user-token` — verified against the gateway's identity providers.
//!
//! Invariant: a malformed key or a wrong checksum is refused before any lookup; a known key is
//! compared in constant time; a key opens nothing when it or any ancestor is revoked,
//! disabled, expired or rotated out past its grace period, or when its gateway is disabled —
//! and the client cannot tell which.
//! Invariant: a gateway takes keys and tokens alone only as its auth mode says; a token is
//! verified only against the identity providers of the gateway it opens, and a refused token
//! is logged by its reason, never its content.

use super::{
    error::ProxyError,
    registry::{KeyEntry, Snapshot},
};
use crate::{
    gateway_key::{self, KeyHasher},
    identity::{EndUser, Verifier},
    store::now_ms,
};
use app::types::Gateway;
use axum::http::HeaderMap;
use std::sync::Arc;

/// A request's key, checked, with its gateway.
#[derive(Debug)]
pub struct Authenticated {
    pub key: Arc<KeyEntry>,
    pub gateway: Arc<Gateway>,
}

/// The key a request presents: `Authorization: Bearer …` (any case of the scheme), Azure's
/// `api-key`, or Anthropic's `x-api-key`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(value) = header("authorization") {
        let (scheme, key) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(key.trim())
            .filter(|k| !k.is_empty());
    }
    header("api-key")
        .or_else(|| header("x-api-key"))
        .filter(|k| !k.is_empty())
}

/// What an unknown key's hash is compared with: the length of a real one, matching nothing.
const UNKNOWN_KEY_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn refuse(reason: &'static str, public_id: Option<&str>) -> ProxyError {
    tracing::info!(reason, public_id = public_id.unwrap_or("-"), "gateway key refused");
    ProxyError::Unauthorized
}

/// Checks the request's key against the snapshot at time `now` (Unix milliseconds).
pub fn authenticate(
    snapshot: &Snapshot,
    hasher: &KeyHasher,
    headers: &HeaderMap,
    now: i64,
) -> Result<Authenticated, ProxyError> {
    let presented = presented_key(headers).ok_or_else(|| refuse("no key", None))?;
    let parsed = gateway_key::parse(presented).ok_or_else(|| refuse("malformed key", None))?;
    let id = Some(parsed.public_id);
    let Some(entry) = snapshot.key(parsed.public_id) else {
        // Hash anyway, so an unknown key id takes as long as a wrong secret (RELIABILITY A-03).
        let _ = hasher.matches(parsed.key, UNKNOWN_KEY_HASH);
        return Err(refuse("unknown key", id));
    };
    if !hasher.matches(parsed.key, &entry.secret_hash) {
        return Err(refuse("wrong secret", id));
    }
    for ancestor in snapshot.lineage(&entry.key) {
        let key = &ancestor.key;
        if key.revoked_at.is_some() {
            return Err(refuse("revoked (itself or an ancestor)", id));
        }
        if !key.enabled {
            return Err(refuse("disabled (itself or an ancestor)", id));
        }
        if key.expires_at.is_some_and(|at| at <= now) {
            return Err(refuse("expired (itself or an ancestor)", id));
        }
        if key.grace_until.is_some_and(|at| at <= now) {
            return Err(refuse("rotated out (itself or an ancestor)", id));
        }
    }
    let gateway = snapshot
        .gateways
        .get(&entry.key.gateway_id)
        .ok_or_else(|| refuse("no gateway", id))?;
    if !gateway.enabled {
        return Err(refuse("gateway disabled", id));
    }
    if !gateway.auth_mode.takes_keys() {
        return Err(ProxyError::UserUnauthenticated(format!(
            "gateway {} takes end users' tokens only, at /g/{}/v1/…",
            gateway.name, gateway.name
        )));
    }
    Ok(Authenticated {
        key: entry.clone(),
        gateway: gateway.clone(),
    })
}

/// The header that carries an end user's token beside a gateway key.
pub const USER_TOKEN_HEADER: &str = "x-mgw-user-token";

fn user_refused(why: impl Into<String>) -> ProxyError {
    ProxyError::UserUnauthenticated(why.into())
}

/// The gateway a request with an end user's token alone names in its path: enabled, and
/// taking tokens alone.
pub fn token_gateway(snapshot: &Snapshot, name: &str) -> Result<Arc<Gateway>, ProxyError> {
    let gateway = (snapshot.gateway_named(name))
        .filter(|gateway| gateway.enabled)
        .ok_or_else(|| user_refused(format!("there is no gateway {name} to sign in to")))?;
    if !gateway.auth_mode.takes_tokens() {
        return Err(user_refused(format!(
            "gateway {name} does not take end users' tokens alone; send a gateway key"
        )));
    }
    Ok(gateway.clone())
}

/// The end user `token` names, verified against the identity providers of `gateway`.
pub async fn verify_user(
    verifier: &Verifier,
    snapshot: &Snapshot,
    gateway: &Gateway,
    token: &str,
) -> Result<Arc<EndUser>, ProxyError> {
    let providers = snapshot.identity_providers(gateway.id);
    if providers.is_empty() {
        return Err(user_refused(format!(
            "gateway {} has no identity provider, so it takes no end users' tokens",
            gateway.name
        )));
    }
    verifier.prune(snapshot.revision, |id| snapshot.has_identity_provider(id));
    let now_s = u64::try_from(now_ms() / 1000).unwrap_or_default();
    match verifier.verify(providers, token, now_s).await {
        Ok(user) => Ok(user),
        Err(refusal) => {
            tracing::info!(reason = refusal.reason(), gateway = %gateway.name, "end user token refused");
            Err(user_refused(refusal.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| (n.parse().unwrap(), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn keys_are_read_from_each_sdks_header() {
        assert_eq!(presented_key(&headers(&[("authorization", "Bearer k1")])), Some("k1"));
        assert_eq!(presented_key(&headers(&[("authorization", "bearer  k1 ")])), Some("k1"));
        assert_eq!(presented_key(&headers(&[("api-key", "k2")])), Some("k2"));
        assert_eq!(presented_key(&headers(&[("x-api-key", "k3")])), Some("k3"));
        for refused in [
            headers(&[]),
            headers(&[("authorization", "Bearer ")]),
            headers(&[("authorization", "Basic dXNlcjpwdw==")]),
            headers(&[("authorization", "k1")]),
        ] {
            assert_eq!(presented_key(&refused), None, "{refused:?}");
        }
    }
}
