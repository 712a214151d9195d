//! Provider credentials at rest: sealed with XChaCha20-Poly1305 under the master key.
//!
//! Invariant: a sealed blob is `nonce (24 bytes) || ciphertext+tag`; every seal draws a fresh
//! random nonce, so sealing the same credential twice gives different blobs.
//! Invariant: a tampered blob or the wrong key fails to open; nothing is half-decrypted.

use crate::secrets::{Key, Secret};
use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    XChaCha20Poly1305, XNonce,
};
use rand::RngCore;

const NONCE_BYTES: usize = 24;
/// Binds a blob to its purpose, so it cannot be replayed as some other sealed value.
const ASSOCIATED_DATA: &[u8] = b"model-gateway/endpoint-credential/v1";

/// A sealed credential could not be opened: wrong master key, or a damaged blob.
#[derive(Debug, thiserror::Error)]
#[error("the stored credential cannot be decrypted (wrong master key, or a damaged value)")]
pub struct OpenError;

/// Sealing failed (the AEAD refused its input; not expected for credential-sized values).
#[derive(Debug, thiserror::Error)]
#[error("the credential could not be encrypted")]
pub struct SealError;

/// Seals a credential.
pub fn seal(key: &Key, credential: &Secret) -> Result<Vec<u8>, SealError> {
    let cipher = XChaCha20Poly1305::new((&key.0).into());
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let payload = Payload {
        msg: credential.expose().as_bytes(),
        aad: ASSOCIATED_DATA,
    };
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), payload)
        .map_err(|_| SealError)?;
    Ok([nonce.as_slice(), &sealed].concat())
}

/// Opens a sealed credential.
pub fn open(key: &Key, blob: &[u8]) -> Result<Secret, OpenError> {
    if blob.len() < NONCE_BYTES {
        return Err(OpenError);
    }
    let (nonce, sealed) = blob.split_at(NONCE_BYTES);
    let cipher = XChaCha20Poly1305::new((&key.0).into());
    let plain = cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: ASSOCIATED_DATA,
            },
        )
        .map_err(|_| OpenError)?;
    String::from_utf8(plain).map(Secret::new).map_err(|_| OpenError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_credential_opens_with_the_same_key_only() {
        let key = Key([1; 32]);
        let credential = Secret::new("sk-canary-abc123".into());
        let blob = seal(&key, &credential).unwrap();
        assert!(!blob.windows(6).any(|w| w == b"canary"), "the blob holds no clear text");
        assert_eq!(open(&key, &blob).unwrap().expose(), "sk-canary-abc123");
        assert!(open(&Key([2; 32]), &blob).is_err(), "the wrong key fails");
        assert_ne!(seal(&key, &credential).unwrap(), blob, "a fresh nonce each time");
    }

    #[test]
    fn a_tampered_blob_fails_to_open() {
        let key = Key([1; 32]);
        let blob = seal(&key, &Secret::new("sk-test".into())).unwrap();
        for i in [0, NONCE_BYTES, blob.len() - 1] {
            let mut tampered = blob.clone();
            tampered[i] ^= 1;
            assert!(open(&key, &tampered).is_err(), "byte {i}");
        }
        assert!(open(&key, &blob[..10]).is_err());
    }
}
