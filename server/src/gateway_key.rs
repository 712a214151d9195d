//! The gateway key format (SPEC §5): `mgw_<public id>_<secret><checksum>`.
//!
//! - `mgw_` makes keys recognisable (for secret scanners, and people);
//! - the public id (12 base62 characters) names the key in lists and logs;
//! - the secret is 32 base62 characters (about 190 bits) from the OS's RNG;
//! - the checksum is CRC32 of everything before it, as 6 base62 characters, so a mistyped or
//!   made-up key is refused without touching the database (a random string passes with
//!   probability 2⁻³²).
//!
//! Invariant: only the HMAC-SHA256 of the whole key under the server's key-hash secret is
//! stored; checks compare in constant time.

use crate::secrets::{Key, Secret};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

const PREFIX: &str = "mgw_";
const PUBLIC_ID_CHARS: usize = 12;
const SECRET_CHARS: usize = 32;
const CHECKSUM_CHARS: usize = 6;
/// The length of every key.
pub const KEY_LENGTH: usize = PREFIX.len() + PUBLIC_ID_CHARS + 1 + SECRET_CHARS + CHECKSUM_CHARS;
// The checksum keeps all 32 bits of the CRC: a random string passes with p = 2^-32 (< 2^-30).
const _: () = assert!(62u64.pow(CHECKSUM_CHARS as u32) >= 1 << 32);
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A newly issued key: the whole key (shown once) and what is stored.
pub struct IssuedKey {
    pub key: Secret,
    pub public_id: String,
    pub masked: String,
    pub secret_hash: String,
}

/// A key that has the right shape and checksum (not yet checked against the store).
#[derive(Debug, PartialEq, Eq)]
pub struct WellFormedKey<'a> {
    pub public_id: &'a str,
    pub key: &'a str,
}

fn random_base62(length: usize) -> String {
    let mut out = String::with_capacity(length);
    let mut bytes = [0u8; 64];
    while out.len() < length {
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
        out.extend(
            bytes
                .iter()
                .filter(|&&b| b < 248)
                .map(|&b| BASE62[usize::from(b % 62)] as char)
                .take(length - out.len()),
        );
    }
    out
}

fn checksum(body: &str) -> String {
    let mut value = u64::from(crc32fast::hash(body.as_bytes()));
    let mut digits = [b'0'; CHECKSUM_CHARS];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| b as char).collect()
}

/// The key-hash secret made ready once: HMAC's inner and outer states keyed, so hashing a key
/// costs only its own SHA-256 blocks — two fewer on every request the inference path checks.
#[derive(Clone)]
pub struct KeyHasher(Hmac<Sha256>);

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(<redacted>)")
    }
}

impl KeyHasher {
    pub fn new(hash_secret: &Key) -> KeyHasher {
        // HMAC accepts a key of any length.
        KeyHasher(<Hmac<Sha256> as Mac>::new_from_slice(&hash_secret.0).unwrap_or_else(|_| unreachable!()))
    }

    /// The stored form of `key`: HMAC-SHA256 under the key-hash secret, hex.
    pub fn hash(&self, key: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(key.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `key` hashes to `stored`, compared in constant time.
    pub fn matches(&self, key: &str, stored: &str) -> bool {
        self.hash(key).as_bytes().ct_eq(stored.as_bytes()).into()
    }
}

/// The stored form of a key: HMAC-SHA256 under the key-hash secret, hex.
pub fn hash(hash_secret: &Key, key: &str) -> String {
    KeyHasher::new(hash_secret).hash(key)
}

/// Whether `key` hashes to `stored`, compared in constant time.
pub fn matches(hash_secret: &Key, key: &str, stored: &str) -> bool {
    KeyHasher::new(hash_secret).matches(key, stored)
}

/// Issues a new key.
pub fn issue(hash_secret: &Key) -> IssuedKey {
    let public_id = random_base62(PUBLIC_ID_CHARS);
    let body = format!("{PREFIX}{public_id}_{}", random_base62(SECRET_CHARS));
    let key = format!("{body}{}", checksum(&body));
    let masked = format!("{PREFIX}{public_id}…{}", &key[key.len() - 4..]);
    let secret_hash = hash(hash_secret, &key);
    IssuedKey {
        key: Secret::new(key),
        public_id,
        masked,
        secret_hash,
    }
}

/// A well-formed key from its public id and secret part, with its checksum (for tests and
/// tools that need a key of a given id; the secret is whatever they pass).
pub fn assemble(public_id: &str, secret: &str) -> String {
    let body = format!("{PREFIX}{public_id}_{secret}");
    format!("{body}{}", checksum(&body))
}

/// Checks a presented key's shape and checksum; no I/O.
pub fn parse(text: &str) -> Option<WellFormedKey<'_>> {
    if text.len() != KEY_LENGTH || !text.is_ascii() {
        return None;
    }
    let rest = text.strip_prefix(PREFIX)?;
    let (public_id, tail) = rest.split_at(PUBLIC_ID_CHARS);
    let tail = tail.strip_prefix('_')?;
    let base62 = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !base62(public_id) || !base62(tail) {
        return None;
    }
    let (body, sum) = text.split_at(text.len() - CHECKSUM_CHARS);
    (checksum(body) == sum).then_some(WellFormedKey { public_id, key: text })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: Key = Key([9; 32]);

    #[test]
    fn an_issued_key_parses_back_and_matches_its_hash() {
        let issued = issue(&SECRET);
        let key = issued.key.expose();
        assert_eq!(key.len(), KEY_LENGTH);
        assert!(key.starts_with("mgw_"));
        let parsed = parse(key).unwrap();
        assert_eq!(parsed.public_id, issued.public_id);
        assert!(matches(&SECRET, key, &issued.secret_hash));
        assert!(
            !matches(&Key([8; 32]), key, &issued.secret_hash),
            "another server secret"
        );
        assert!(
            issued.masked.starts_with(&format!("mgw_{}…", issued.public_id))
                && issued.masked.ends_with(&key[key.len() - 4..])
        );
        assert!(!issued.masked.contains(&key[17..40]), "the mask hides the secret");
    }

    #[test]
    fn keys_are_unique() {
        let keys: std::collections::HashSet<String> =
            (0..1000).map(|_| issue(&SECRET).key.expose().to_string()).collect();
        assert_eq!(keys.len(), 1000);
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let issued = issue(&SECRET);
        let key = issued.key.expose();
        for i in 4..key.len() {
            if i == 4 + PUBLIC_ID_CHARS {
                continue; // the separator
            }
            let mut changed = key.as_bytes().to_vec();
            changed[i] = if changed[i] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(changed).unwrap();
            assert!(parse(&changed).is_none(), "position {i}");
        }
    }

    #[test]
    fn malformed_keys_are_refused() {
        let good = issue(&SECRET).key.expose().to_string();
        for bad in [
            String::new(),
            "sk-proj-abc".into(),
            good.replacen("mgw_", "mgx_", 1),
            good[..good.len() - 1].into(),
            format!("{good}x"),
            good.replacen('_', "-", 2),
            "é".repeat(KEY_LENGTH / 2) + "x",
        ] {
            assert!(parse(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn random_strings_of_the_right_shape_almost_never_pass_the_checksum() {
        let passed = (0..20_000)
            .filter(|_| parse(&format!("mgw_{}_{}", random_base62(12), random_base62(38))).is_some())
            .count();
        assert_eq!(passed, 0);
    }
}
