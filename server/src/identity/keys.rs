//! One identity provider's verification keys: a PEM key parsed once, a shared secret read from
//! its environment variable on first use, or a remote key set (`remote`); and the choice of the
//! key that checks a token.
//!
//! Invariant: a key verifies only the algorithms of its family (RSA: RS256, P-256: ES256,
//! Ed25519: EdDSA, a secret: HS256), whatever the token or a JWK says; symmetric keys come only
//! from `KeySource::SecretEnv`, never from a key set or a PEM.
//! Does not: log a secret, or keep one anywhere but in its decoding key.

use super::{
    remote::{Fetching, RemoteKeys},
    token::Jws,
    TokenRefusal,
};
use app::types::{IdentityProvider, JwtAlgorithm, KeySource};
use jsonwebtoken::{
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse},
    Algorithm, DecodingKey,
};
use serde::Deserialize;
use std::sync::{Arc, OnceLock};

/// HS256 secrets shorter than its hash are refused (RFC 7518 §3.2).
const MIN_SECRET_BYTES: usize = 32;

/// The kind of key an algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Rsa,
    P256,
    Ed25519,
    Secret,
}

impl Family {
    fn of(alg: JwtAlgorithm) -> Family {
        match alg {
            JwtAlgorithm::RS256 => Family::Rsa,
            JwtAlgorithm::ES256 => Family::P256,
            JwtAlgorithm::EdDSA => Family::Ed25519,
            JwtAlgorithm::HS256 => Family::Secret,
        }
    }
}

/// One verification key, ready to use.
pub(super) struct Key {
    kid: Option<String>,
    family: Family,
    /// The one algorithm a JWK restricts itself to (`alg`), if it does.
    alg: Option<JwtAlgorithm>,
    decoding: DecodingKey,
}

impl Key {
    /// Whether the token's signature verifies with this key.
    pub fn verifies(&self, jws: &Jws<'_>) -> bool {
        // Checked again here, where the bytes meet the algorithm: this is what stops an HS256
        // token from being checked against a public key's bytes.
        if Family::of(jws.alg) != self.family {
            return false;
        }
        let alg = match jws.alg {
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::ES256 => Algorithm::ES256,
            JwtAlgorithm::EdDSA => Algorithm::EdDSA,
            JwtAlgorithm::HS256 => Algorithm::HS256,
        };
        jsonwebtoken::crypto::verify(jws.signature, jws.signing_input.as_bytes(), &self.decoding, alg).unwrap_or(false)
    }

    fn usable_with(&self, alg: JwtAlgorithm) -> bool {
        self.family == Family::of(alg) && self.alg.is_none_or(|only| only == alg)
    }
}

/// A provider's keys at one time.
pub(super) struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// The key to check a token naming `kid` and signed with `alg`: the key with that id, or
    /// the set's only key when it has no id (a PEM key, a secret, a one-key set); never a key
    /// of another family.
    pub fn find(&self, kid: Option<&str>, alg: JwtAlgorithm) -> Option<&Key> {
        let only = match self.keys.as_slice() {
            [only] => Some(only),
            _ => None,
        };
        let key = match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .find(|k| k.usable_with(alg))
                .or_else(|| only.filter(|k| k.kid.is_none())),
            None => only,
        };
        key.filter(|k| k.usable_with(alg))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// One public key, PEM (SPKI, or PKCS#1 for RSA).
    pub fn from_pem(pem: &str) -> Result<KeySet, &'static str> {
        if pem.contains("PRIVATE KEY") {
            return Err("the PEM is a private key; give its public half");
        }
        let bytes = pem.as_bytes();
        let (family, decoding) = None
            .or_else(|| DecodingKey::from_rsa_pem(bytes).ok().map(|k| (Family::Rsa, k)))
            .or_else(|| DecodingKey::from_ec_pem(bytes).ok().map(|k| (Family::P256, k)))
            .or_else(|| DecodingKey::from_ed_pem(bytes).ok().map(|k| (Family::Ed25519, k)))
            .ok_or("the PEM is not an RSA, EC or Ed25519 public key")?;
        Ok(KeySet::one(family, decoding))
    }

    /// A JSON Web Key Set. Keys the gateway cannot use are left out (other algorithms and
    /// curves, encryption keys, symmetric keys); a set left with none is an error.
    pub fn from_jwks(body: &[u8]) -> Result<KeySet, String> {
        #[derive(Deserialize)]
        struct Keys {
            keys: Vec<serde_json::Value>,
        }
        let listed: Keys = serde_json::from_slice(body).map_err(|e| format!("not a JSON Web Key Set: {e}"))?;
        let published = listed.keys.len();
        // One by one: a set may hold keys of types this crate cannot parse.
        let keys: Vec<Key> = listed
            .keys
            .into_iter()
            .filter_map(|jwk| serde_json::from_value::<Jwk>(jwk).ok())
            .filter_map(|jwk| key_from_jwk(&jwk))
            .collect();
        if keys.is_empty() {
            return Err(format!("none of its {published} keys is a usable signature key"));
        }
        Ok(KeySet { keys })
    }

    fn one(family: Family, decoding: DecodingKey) -> KeySet {
        KeySet {
            keys: vec![Key {
                kid: None,
                family,
                alg: None,
                decoding,
            }],
        }
    }
}

fn key_from_jwk(jwk: &Jwk) -> Option<Key> {
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if let Some(ops) = &common.key_operations {
        if !ops.contains(&KeyOperations::Verify) {
            return None;
        }
    }
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Family::Rsa,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Family::P256,
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => Family::Ed25519,
        AlgorithmParameters::EllipticCurve(_)
        | AlgorithmParameters::OctetKeyPair(_)
        | AlgorithmParameters::OctetKey(_) => return None,
    };
    let alg = match common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::RS256) => Some(JwtAlgorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(JwtAlgorithm::ES256),
        Some(KeyAlgorithm::EdDSA) => Some(JwtAlgorithm::EdDSA),
        // Restricted to an algorithm the gateway does not accept.
        Some(_) => return None,
    };
    Some(Key {
        kid: common.key_id.clone(),
        family,
        alg,
        decoding: DecodingKey::from_jwk(jwk).ok()?,
    })
}

/// A provider's keys, whatever their source.
pub(super) struct ProviderKeys {
    /// What they were made from: the key source, and the issuer (discovery starts from it).
    source: KeySource,
    issuer: String,
    keys: Keys,
}

enum Keys {
    /// A PEM key, parsed when the provider was first seen; `None` when it could not be.
    Fixed(Option<Arc<KeySet>>),
    /// A shared secret: its variable's name, and what reading it gave.
    Secret(String, OnceLock<Option<Arc<KeySet>>>),
    Remote(Arc<RemoteKeys>),
}

impl ProviderKeys {
    pub fn new(provider: &IdentityProvider) -> Self {
        let id = provider.id;
        let keys = match &provider.keys {
            KeySource::Pem { pem } => Keys::Fixed(match KeySet::from_pem(pem) {
                Ok(set) => Some(Arc::new(set)),
                Err(error) => {
                    tracing::warn!(provider_id = id.0, error, "identity provider's PEM key is unusable");
                    None
                }
            }),
            KeySource::SecretEnv { var } => Keys::Secret(var.clone(), OnceLock::new()),
            KeySource::JwksUrl { url } => Keys::Remote(Arc::new(RemoteKeys::at_url(id, url.clone()))),
            KeySource::Discovery => Keys::Remote(Arc::new(RemoteKeys::discovered(id, provider.issuer.clone()))),
        };
        ProviderKeys {
            source: provider.keys.clone(),
            issuer: provider.issuer.clone(),
            keys,
        }
    }

    /// Whether these are still the provider's keys (its key source or issuer may have changed).
    pub fn serve(&self, provider: &IdentityProvider) -> bool {
        self.source == provider.keys && self.issuer == provider.issuer
    }

    /// The set in use now, without fetching: `None` when a remote set was never fetched or is
    /// due for a refresh, or a secret was never read.
    pub fn current(&self, now_s: u64) -> Option<Arc<KeySet>> {
        match &self.keys {
            Keys::Fixed(set) => set.clone(),
            Keys::Secret(_, read) => read.get().cloned().flatten(),
            Keys::Remote(remote) => remote.fresh(now_s),
        }
    }

    /// The set to check `jws` with at `now_s`: a remote set is fetched first if it has never
    /// been, or lacks the token's key (`RemoteKeys::set_for`).
    pub async fn set_for(
        &self,
        jws: &Jws<'_>,
        fetching: &Arc<Fetching>,
        now_s: u64,
    ) -> Result<Arc<KeySet>, TokenRefusal> {
        match &self.keys {
            Keys::Fixed(set) => set.clone().ok_or(TokenRefusal::KeySetUnavailable),
            Keys::Secret(var, read) => read
                .get_or_init(|| read_secret(var).map(Arc::new))
                .clone()
                .ok_or(TokenRefusal::KeySetUnavailable),
            Keys::Remote(remote) => remote.set_for(jws, fetching, now_s).await,
        }
    }
}

/// Reads an HS256 secret from the environment, once: a variable set later takes a restart, as
/// the rest of the environment does.
fn read_secret(var: &str) -> Option<KeySet> {
    match std::env::var(var) {
        Ok(secret) if secret.len() >= MIN_SECRET_BYTES => {
            Some(KeySet::one(Family::Secret, DecodingKey::from_secret(secret.as_bytes())))
        }
        Ok(_) => {
            tracing::warn!(
                var,
                "identity provider's secret is shorter than 32 bytes; its tokens are refused"
            );
            None
        }
        Err(_) => {
            tracing::warn!(
                var,
                "identity provider's secret variable is not set; its tokens are refused"
            );
            None
        }
    }
}

/// The key an identity provider's PEM holds, checked as the verifier would read it.
pub fn check_pem(pem: &str) -> Result<(), &'static str> {
    KeySet::from_pem(pem).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwks(keys: serde_json::Value) -> Result<KeySet, String> {
        KeySet::from_jwks(&serde_json::to_vec(&json!({ "keys": keys })).unwrap())
    }

    fn rsa(kid: &str) -> serde_json::Value {
        // The modulus is not checked until a signature is.
        json!({"kty": "RSA", "kid": kid, "n": "sXch", "e": "AQAB"})
    }

    #[test]
    fn keys_are_chosen_by_id_and_only_for_their_family() {
        let set = jwks(json!([rsa("a"), rsa("b")])).unwrap();
        assert_eq!(set.len(), 2);
        let kid = |kid, alg| set.find(kid, alg).map(|k| k.kid.clone().unwrap());
        assert_eq!(kid(Some("b"), JwtAlgorithm::RS256).as_deref(), Some("b"));
        assert_eq!(kid(Some("c"), JwtAlgorithm::RS256), None);
        assert_eq!(kid(None, JwtAlgorithm::RS256), None, "two keys, no id: neither");
        for other in [JwtAlgorithm::ES256, JwtAlgorithm::EdDSA, JwtAlgorithm::HS256] {
            assert_eq!(kid(Some("a"), other), None, "{other:?}");
        }
        let one = jwks(json!([rsa("a")])).unwrap();
        assert!(
            one.find(None, JwtAlgorithm::RS256).is_some(),
            "the only key serves tokens with no id"
        );
        assert!(one.find(Some("b"), JwtAlgorithm::RS256).is_none(), "but not another id");
    }

    #[test]
    fn key_sets_keep_only_usable_signature_keys() {
        let set = jwks(json!([
            rsa("plain"),
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "wrap", "key_ops": ["wrapKey"], "n": "sXch", "e": "AQAB"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "XYZ", "kid": "future"},
        ]))
        .unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.find(Some("secret"), JwtAlgorithm::HS256).is_none());
        assert!(
            jwks(json!([{"kty": "oct", "k": "c2VjcmV0"}])).is_err(),
            "nothing usable"
        );
        assert!(KeySet::from_jwks(b"<html>").is_err());
    }

    #[test]
    fn a_jwk_restricted_to_one_algorithm_serves_only_it() {
        let set = jwks(json!([{"kty": "RSA", "kid": "a", "alg": "RS256", "n": "sXch", "e": "AQAB"}])).unwrap();
        assert!(set.find(Some("a"), JwtAlgorithm::RS256).is_some());
        assert!(set.find(Some("a"), JwtAlgorithm::HS256).is_none());
    }

    #[test]
    fn public_pems_give_a_key_of_their_family_and_private_ones_none() {
        let fixture = |name| {
            std::fs::read_to_string(format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
        };
        for (name, alg) in [
            ("rsa-a.pub.pem", JwtAlgorithm::RS256),
            ("ec.pub.pem", JwtAlgorithm::ES256),
            ("ed.pub.pem", JwtAlgorithm::EdDSA),
        ] {
            let set = KeySet::from_pem(&fixture(name)).unwrap();
            for other in JwtAlgorithm::ALL {
                assert_eq!(
                    set.find(Some("any id"), other).is_some(),
                    other == alg,
                    "{name}: {other:?}"
                );
            }
        }
        assert!(check_pem(&fixture("rsa-a.pem")).is_err(), "a private key");
        assert!(check_pem("not a pem").is_err());
    }
}
