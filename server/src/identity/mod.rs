//! End users' tokens (issue #23): the [`Verifier`] checks a JWT against the identity providers
//! of one gateway and names the [`EndUser`] it was issued to, or says why it is refused.
//!
//! The files: `token` reads a compact JWS and checks its registered claims (pure); `keys` holds
//! one provider's verification keys, parsed once; `remote` fetches, caches and refreshes a
//! provider's JSON Web Key Set; `fetch` is the HTTP client those fetches go through.
//!
//! Invariant: the signature is checked before any claim is trusted, and only with a key of the
//! family the token's algorithm names: HS256 only with a provider's shared secret, never with a
//! public key's bytes; `alg: none` and algorithms the provider does not list are refused before
//! a key is looked up.
//! Invariant: keys come only from the provider's configuration, never from the token (`jku`,
//! `x5u` and `jwk` headers are ignored).
//! Does not: log or echo the token or its claim values; refusals name claims, never values.

mod fetch;
mod keys;
mod remote;
mod token;

pub use fetch::{Fetched, KeyFetcher, UpstreamFetcher, FETCH_TIMEOUT, MAX_BODY_BYTES};
pub use keys::check_pem;

use app::types::{IdentityProvider, IdentityProviderId, JwtAlgorithm, KeySource};
use arc_swap::ArcSwap;
use keys::ProviderKeys;
use remote::Fetching;
use serde_json::Value;
use std::{collections::HashMap, sync::Arc, time::Duration};

/// The person a verified token names.
#[derive(Clone, Debug, PartialEq)]
pub struct EndUser {
    /// The token's `sub`.
    pub subject: String,
    /// The token's `iss` (its provider's issuer).
    pub issuer: String,
    /// The provider that vouched for the token; `None` for a user a key named (a key that
    /// may assert users, with `x-mgw-user` or the body's `user`).
    pub provider: Option<IdentityProviderId>,
    /// The token's whole payload, verified.
    pub claims: serde_json::Map<String, Value>,
    /// The claims as access rules read them, converted at the first rule and kept (a
    /// remembered token's user is shared by its requests).
    pub rules_view: crate::rules::ClaimsView,
}

impl EndUser {
    /// The end user a key that may assert users names: no issuer, and only `sub` for claims.
    pub fn asserted(subject: &str) -> EndUser {
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), Value::String(subject.to_string()));
        EndUser {
            subject: subject.to_string(),
            issuer: String::new(),
            provider: None,
            claims,
            rules_view: Default::default(),
        }
    }
}

/// Why a token is refused. Each message is safe to show the client: it names claims, never
/// their values, and never repeats the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    #[error("unsigned tokens (alg: none) are not accepted")]
    AlgNone,
    #[error("the token's signing algorithm is not accepted for its issuer")]
    AlgorithmNotAllowed,
    #[error("the token's issuer is not accepted by this gateway")]
    UnknownIssuer,
    #[error("the token is not meant for this gateway (aud)")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    /// The claim's name, from the provider's configuration or the registered claims.
    #[error("the token lacks the required claim `{0}`")]
    MissingClaim(String),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token names a signing key its issuer does not publish")]
    UnknownKey,
    #[error("the issuer's signing keys are unavailable; try again later")]
    KeySetUnavailable,
}

impl TokenRefusal {
    /// A short code for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenRefusal::Malformed => "malformed_token",
            TokenRefusal::AlgNone => "alg_none",
            TokenRefusal::AlgorithmNotAllowed => "algorithm_not_allowed",
            TokenRefusal::UnknownIssuer => "unknown_issuer",
            TokenRefusal::WrongAudience => "wrong_audience",
            TokenRefusal::Expired => "expired",
            TokenRefusal::NotYetValid => "not_yet_valid",
            TokenRefusal::MissingClaim(_) => "missing_claim",
            TokenRefusal::BadSignature => "bad_signature",
            TokenRefusal::UnknownKey => "unknown_key",
            TokenRefusal::KeySetUnavailable => "key_set_unavailable",
        }
    }
}

/// How often remote key sets are fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifierConfig {
    /// How long a fetched key set is used before it is fetched again, in the background. A
    /// `Cache-Control: max-age` answer replaces it, within [1 min, 24 h].
    pub key_set_ttl: Duration,
    /// The least time between two fetches of one provider's key set, whatever asks for them
    /// (a key id the set lacks, the TTL, a failed fetch).
    pub min_refresh_interval: Duration,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            key_set_ttl: Duration::from_secs(600),
            min_refresh_interval: Duration::from_secs(30),
        }
    }
}

/// Verifies end users' tokens; one per process, shared.
pub struct Verifier {
    fetching: Arc<Fetching>,
    /// Each provider's keys, by id; replaced whole (rarely) so that readers take no lock.
    providers: ArcSwap<HashMap<IdentityProviderId, Arc<ProviderKeys>>>,
    /// Tokens whose signature verified, by the token itself: a client sends the same token with
    /// every request, and the signature is the costly check (RS256 ≈ 27 µs). An entry holds
    /// only while the key set that verified it is still the provider's current one. Read
    /// without a lock; the least used go first when full.
    verified: moka::sync::Cache<Box<str>, Arc<Verified>>,
    /// The configuration revision whose providers the keys were last pruned to.
    pruned_at: std::sync::atomic::AtomicI64,
}

/// A token whose signature verified: with the key set, algorithm and provider that did it,
/// and its claims.
struct Verified {
    set: Arc<keys::KeySet>,
    alg: JwtAlgorithm,
    provider: IdentityProviderId,
    /// The end user it names, shared by every request that sends it.
    user: Arc<EndUser>,
}

/// The most tokens remembered; longer tokens are not.
const MAX_VERIFIED: u64 = 4_096;
const MAX_REMEMBERED_TOKEN_BYTES: usize = 4_096;

impl Verifier {
    /// A verifier whose key sets are fetched through `fetcher`.
    pub fn new(fetcher: Arc<dyn KeyFetcher>, config: VerifierConfig) -> Self {
        Verifier {
            fetching: Arc::new(Fetching { fetcher, config }),
            providers: ArcSwap::default(),
            verified: moka::sync::Cache::new(MAX_VERIFIED),
            pruned_at: Default::default(),
        }
    }

    /// Verifies `token` against `providers` (those of one gateway; the token's `iss` picks the
    /// first with that issuer) at `now_s`, Unix seconds, which also times the key sets' TTL and
    /// refresh interval.
    pub async fn verify(
        &self,
        providers: &[Arc<IdentityProvider>],
        token: &str,
        now_s: u64,
    ) -> Result<Arc<EndUser>, TokenRefusal> {
        if let Some(user) = self.remembered(providers, token, now_s) {
            return user;
        }
        let jws = token::Jws::parse(token)?;
        let issuer = token::issuer(&jws.claims)?;
        let provider = providers
            .iter()
            .find(|p| p.issuer == issuer)
            .ok_or(TokenRefusal::UnknownIssuer)?;
        // HS256 with a shared secret and only with one: a public key's bytes are no HMAC key.
        let fits_keys = shared_secret(&provider.keys) == (jws.alg == JwtAlgorithm::HS256);
        if !fits_keys || !provider.algorithms.contains(&jws.alg) {
            return Err(TokenRefusal::AlgorithmNotAllowed);
        }
        let set = self.keys(provider).set_for(&jws, &self.fetching, now_s).await?;
        let key = set.find(jws.kid.as_deref(), jws.alg).ok_or(TokenRefusal::UnknownKey)?;
        if !key.verifies(&jws) {
            return Err(TokenRefusal::BadSignature);
        }
        let subject = token::check_claims(&jws.claims, provider, now_s)?;
        let user = Arc::new(EndUser {
            subject,
            issuer: provider.issuer.clone(),
            provider: Some(provider.id),
            claims: jws.claims,
            rules_view: Default::default(),
        });
        if token.len() <= MAX_REMEMBERED_TOKEN_BYTES {
            let entry = Verified {
                set: set.clone(),
                alg: jws.alg,
                provider: provider.id,
                user: user.clone(),
            };
            self.verified.insert(token.into(), Arc::new(entry));
        }
        Ok(user)
    }

    /// A token whose signature verified with the key set its provider uses now (not refreshed
    /// or rotated since, nor due for a refresh), checked again against the provider as it is
    /// now — still among `providers`, the algorithm still allowed, every claim (`exp`, `nbf`,
    /// `aud`, required claims) at `now_s`; `None` to verify it in full.
    fn remembered(
        &self,
        providers: &[Arc<IdentityProvider>],
        token: &str,
        now_s: u64,
    ) -> Option<Result<Arc<EndUser>, TokenRefusal>> {
        let entry = self.verified.get(token)?;
        let provider = providers.iter().find(|p| p.id == entry.provider)?;
        let current = self.keys(provider).current(now_s)?;
        if !Arc::ptr_eq(&current, &entry.set) || !provider.algorithms.contains(&entry.alg) {
            return None;
        }
        let user = entry.user.clone();
        Some(token::check_claims(&user.claims, provider, now_s).map(|_| user))
    }

    /// Drops the keys and remembered tokens of providers `exists` refuses (deleted by
    /// configuration revision `revision`), once per revision: a cheap check on every request.
    pub fn prune(&self, revision: i64, exists: impl Fn(IdentityProviderId) -> bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.pruned_at.fetch_max(revision, Relaxed) >= revision {
            return;
        }
        let gone = |id: &IdentityProviderId| !exists(*id);
        if self.providers.load().keys().any(gone) {
            self.providers.rcu(|providers| {
                let mut providers = HashMap::clone(providers);
                providers.retain(|id, _| exists(*id));
                providers
            });
        }
        for (token, entry) in &self.verified {
            if !exists(entry.provider) {
                self.verified.invalidate(token.as_ref());
            }
        }
    }

    /// How many providers' keys are held (those of deleted providers are dropped by `prune`).
    pub fn providers_held(&self) -> usize {
        self.providers.load().len()
    }

    /// The provider's keys; made on first use, and again when its key source or issuer changed.
    fn keys(&self, provider: &IdentityProvider) -> Arc<ProviderKeys> {
        if let Some(keys) = self.providers.load().get(&provider.id) {
            if keys.serve(provider) {
                return keys.clone();
            }
        }
        let made = Arc::new(ProviderKeys::new(provider));
        let mut chosen = made.clone();
        self.providers.rcu(|providers| {
            let mut providers = HashMap::clone(providers);
            match providers.get(&provider.id) {
                // Another request made them first: share theirs (and their fetches).
                Some(keys) if keys.serve(provider) => chosen = keys.clone(),
                _ => {
                    providers.insert(provider.id, made.clone());
                    chosen = made.clone();
                }
            }
            providers
        });
        chosen
    }
}

/// Whether a key source is a shared secret: the only one HS256 may use, and one that may use
/// nothing else.
fn shared_secret(source: &KeySource) -> bool {
    match source {
        KeySource::SecretEnv { .. } => true,
        KeySource::JwksUrl { .. } | KeySource::Discovery | KeySource::Pem { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manage::endpoints::UpstreamPolicy;

    #[test]
    fn verification_runs_on_any_thread() {
        fn send<T: Send>(_: &T) {}
        fn shared<T: Send + Sync>() {}
        shared::<Verifier>();
        let verifier = Verifier::new(
            Arc::new(UpstreamFetcher::new(UpstreamPolicy::default())),
            VerifierConfig::default(),
        );
        send(&verifier.verify(&[], "", 0));
    }

    #[test]
    fn every_refusal_has_its_own_reason() {
        let all = [
            TokenRefusal::Malformed,
            TokenRefusal::AlgNone,
            TokenRefusal::AlgorithmNotAllowed,
            TokenRefusal::UnknownIssuer,
            TokenRefusal::WrongAudience,
            TokenRefusal::Expired,
            TokenRefusal::NotYetValid,
            TokenRefusal::MissingClaim("tenant".into()),
            TokenRefusal::BadSignature,
            TokenRefusal::UnknownKey,
            TokenRefusal::KeySetUnavailable,
        ];
        let reasons: std::collections::HashSet<_> = all.iter().map(TokenRefusal::reason).collect();
        assert_eq!(reasons.len(), all.len());
        assert!(reasons
            .iter()
            .all(|r| r.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }
}
