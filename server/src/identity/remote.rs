//! A provider's remote JSON Web Key Set (`KeySource::JwksUrl`, or `Discovery` through the
//! issuer's OpenID configuration): fetched on first use, cached, fetched again in the background
//! once its TTL is over, and at once when a token names a key it lacks.
//!
//! Invariant: one provider's set is fetched at most once per `min_refresh_interval`, whatever
//! asks (unknown key ids, the TTL, failures), and one fetch at a time: concurrent callers wait
//! for it and share its result.
//! Invariant: a failed fetch (an error, a timeout, a body that is no usable key set) leaves the
//! last good set in place: tokens whose key it holds keep verifying through an outage.
//! Does not: hold a lock on the way of a token whose key the cached set holds.

use super::{keys::KeySet, token::Jws, KeyFetcher, TokenRefusal, VerifierConfig};
use app::types::IdentityProviderId;
use arc_swap::ArcSwapOption;
use serde::Deserialize;
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio::sync::Mutex;

/// The bounds a key set's `Cache-Control: max-age` is held to.
const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// What key sets are fetched with, shared by the verifier and its background fetches.
pub(super) struct Fetching {
    pub fetcher: Arc<dyn KeyFetcher>,
    pub config: VerifierConfig,
}

/// A fetched key set and when to fetch it again.
struct Cached {
    set: Arc<KeySet>,
    /// Unix seconds.
    fetched_at: u64,
    ttl_s: u64,
}

impl Cached {
    fn stale(&self, now_s: u64) -> bool {
        now_s >= self.fetched_at.saturating_add(self.ttl_s)
    }
}

pub(super) struct RemoteKeys {
    provider: IdentityProviderId,
    /// The issuer whose discovery document names the set's URL (`Discovery` only).
    discover_from: Option<String>,
    current: ArcSwapOption<Cached>,
    /// When the last fetch began: Unix seconds plus one, 0 for never.
    last_attempt: AtomicU64,
    /// The set's URL (once discovered), locked through each fetch so that one runs at a time.
    url: Arc<Mutex<Option<String>>>,
}

impl RemoteKeys {
    pub fn at_url(provider: IdentityProviderId, url: String) -> Self {
        Self::new(provider, None, Some(url))
    }

    pub fn discovered(provider: IdentityProviderId, issuer: String) -> Self {
        Self::new(provider, Some(issuer), None)
    }

    fn new(provider: IdentityProviderId, discover_from: Option<String>, url: Option<String>) -> Self {
        RemoteKeys {
            provider,
            discover_from,
            current: ArcSwapOption::empty(),
            last_attempt: AtomicU64::new(0),
            url: Arc::new(Mutex::new(url)),
        }
    }

    /// The cached set, unless there is none or it is due for a refresh.
    pub fn fresh(&self, now_s: u64) -> Option<Arc<KeySet>> {
        (self.current.load_full())
            .filter(|cached| !cached.stale(now_s))
            .map(|cached| cached.set.clone())
    }

    /// The set to check `jws` with: the cached one when it holds the token's key (and a
    /// background fetch started if it is stale); otherwise the set one refresh gives, or the
    /// cached one when no refresh may run yet.
    pub async fn set_for(
        self: &Arc<Self>,
        jws: &Jws<'_>,
        fetching: &Arc<Fetching>,
        now_s: u64,
    ) -> Result<Arc<KeySet>, TokenRefusal> {
        let seen = self.current.load_full();
        if let Some(cached) = &seen {
            if cached.set.find(jws.kid.as_deref(), jws.alg).is_some() {
                if cached.stale(now_s) {
                    self.refresh_in_background(fetching, now_s);
                }
                return Ok(cached.set.clone());
            }
        }
        let mut url = self.url.lock().await;
        let current = self.current.load_full();
        let changed = match (&current, &seen) {
            (Some(current), Some(seen)) => !Arc::ptr_eq(current, seen),
            (current, seen) => current.is_some() != seen.is_some(),
        };
        // A fetch that ended while this caller waited answers it too.
        let cached = if changed || !self.claim(now_s, fetching.config.min_refresh_interval) {
            current
        } else {
            self.fetch(&mut url, fetching, now_s).await.or(current)
        };
        cached.map(|c| c.set.clone()).ok_or(TokenRefusal::KeySetUnavailable)
    }

    /// Starts a fetch unless one is running or the interval forbids it; the request that
    /// noticed the stale set goes on with it.
    fn refresh_in_background(self: &Arc<Self>, fetching: &Arc<Fetching>, now_s: u64) {
        // The lock is taken here, not in the task: callers that miss a key from now on wait
        // for this fetch instead of finding the interval spent and no new set.
        let Ok(url) = self.url.clone().try_lock_owned() else {
            return;
        };
        if !self.claim(now_s, fetching.config.min_refresh_interval) {
            return;
        }
        let (keys, fetching) = (self.clone(), fetching.clone());
        tokio::spawn(async move {
            let mut url = url;
            keys.fetch(&mut url, &fetching, now_s).await;
        });
    }

    /// Takes the right to fetch at `now_s`: refused within `min_refresh_interval` of the last.
    fn claim(&self, now_s: u64, interval: Duration) -> bool {
        let interval = interval.as_secs();
        let mut last = self.last_attempt.load(Ordering::Acquire);
        loop {
            if last != 0 && now_s < (last - 1).saturating_add(interval) {
                return false;
            }
            match self.last_attempt.compare_exchange_weak(
                last,
                now_s.saturating_add(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => last = actual,
            }
        }
    }

    /// Fetches the set (discovering its URL first if need be) and caches it; `None`, logged,
    /// when that fails.
    async fn fetch(&self, url: &mut Option<String>, fetching: &Fetching, now_s: u64) -> Option<Arc<Cached>> {
        let fetcher = fetching.fetcher.as_ref();
        let fetched = async {
            let jwks_url = match (url.as_ref(), &self.discover_from) {
                (Some(known), _) => known.clone(),
                (None, Some(issuer)) => url.insert(discover(fetcher, issuer).await?).clone(),
                (None, None) => return Err("no key set URL".to_string()),
            };
            let answer = fetcher.get(&jwks_url).await?;
            let set = KeySet::from_jwks(&answer.body).map_err(|e| format!("{jwks_url}: {e}"))?;
            Ok::<_, String>((set, answer.max_age))
        }
        .await;
        match fetched {
            Ok((set, max_age)) => {
                tracing::info!(
                    provider_id = self.provider.0,
                    keys = set.len(),
                    "identity provider's key set fetched"
                );
                let ttl = max_age.map_or(fetching.config.key_set_ttl, |age| age.clamp(MIN_TTL, MAX_TTL));
                let cached = Arc::new(Cached {
                    set: Arc::new(set),
                    fetched_at: now_s,
                    ttl_s: ttl.as_secs(),
                });
                self.current.store(Some(cached.clone()));
                Some(cached)
            }
            Err(error) => {
                tracing::warn!(
                    provider_id = self.provider.0,
                    error = %error,
                    "identity provider's key set fetch failed; keeping the last good set"
                );
                if self.discover_from.is_some() {
                    // The set may have moved: the next attempt asks the issuer again.
                    *url = None;
                }
                None
            }
        }
    }
}

/// The key set URL the issuer's OpenID discovery document names.
async fn discover(fetcher: &dyn KeyFetcher, issuer: &str) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Configuration {
        issuer: String,
        jwks_uri: String,
    }
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let answer = fetcher.get(&url).await?;
    let configuration: Configuration =
        serde_json::from_slice(&answer.body).map_err(|e| format!("{url}: not an OpenID configuration: {e}"))?;
    // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    if configuration.issuer != issuer {
        return Err(format!("{url} is the configuration of another issuer"));
    }
    Ok(configuration.jwks_uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> RemoteKeys {
        RemoteKeys::at_url(IdentityProviderId(1), "http://keys.example/jwks".into())
    }

    #[test]
    fn fetches_are_claimed_at_most_once_per_interval() {
        let keys = keys();
        let interval = Duration::from_secs(30);
        assert!(keys.claim(0, interval), "the first fetch, even at time 0");
        assert!(!keys.claim(29, interval));
        assert!(!keys.claim(0, interval));
        assert!(keys.claim(30, interval));
        assert!(keys.claim(30, Duration::ZERO), "no interval");
    }

    #[test]
    fn sets_go_stale_after_their_ttl() {
        let cached = Cached {
            set: Arc::new(KeySet::from_jwks(br#"{"keys":[{"kty":"RSA","n":"sXch","e":"AQAB"}]}"#).unwrap()),
            fetched_at: 100,
            ttl_s: 60,
        };
        assert!(!cached.stale(159));
        assert!(cached.stale(160));
    }
}
