//! Secrets: the redacted [`Secret`] wrapper, and the [`Keyring`] of server keys (the master
//! key that encrypts provider credentials, the secret that hashes gateway keys).
//!
//! Invariant: a secret is never `Serialize`, and its `Debug` prints no part of it.
//! Invariant: generated key files are created with mode 0600 and never overwritten.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use rand::RngCore;
use serde::Deserialize;
use std::{
    fmt,
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

/// A secret string from configuration or a prompt.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Decodes a 32-byte key written as base64 or hex. The error never contains the value.
    pub fn key_bytes(&self) -> Result<[u8; 32], String> {
        let text = self.0.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| "is not valid hex".to_string())?
        } else {
            STANDARD
                .decode(text)
                .map_err(|_| "must be 32 bytes written as base64 or hex".to_string())?
        };
        bytes
            .try_into()
            .map_err(|_| "must be exactly 32 bytes (base64 or hex)".to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A 32-byte key.
#[derive(Clone)]
pub struct Key(pub [u8; 32]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// The server's keys.
#[derive(Clone, Debug)]
pub struct Keyring {
    /// Encrypts provider credentials at rest.
    pub master_key: Key,
    /// Keys the HMAC that gateway keys are stored under.
    pub key_hash_secret: Key,
}

/// Why the keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// With a shared database every process must use the same keys, so none is invented.
    #[error(
        "`{name}` is not configured and {path} does not exist; with a shared database, set it (MGW_{}) to the same value on every process",
        name.to_uppercase()
    )]
    Missing { name: &'static str, path: PathBuf },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

impl Keyring {
    /// Takes each key from configuration, else from its file in the data directory, else —
    /// when `generate` allows, as for the embedded default — generates the file (mode 0600).
    pub fn load_or_generate(
        data_dir: &Path,
        master_key: Option<&Secret>,
        key_hash_secret: Option<&Secret>,
        generate: bool,
    ) -> Result<Keyring, SecretsError> {
        Ok(Keyring {
            master_key: key_from("master_key", master_key, &data_dir.join("master.key"), generate)?,
            key_hash_secret: key_from(
                "key_hash_secret",
                key_hash_secret,
                &data_dir.join("key-hash.secret"),
                generate,
            )?,
        })
    }
}

fn key_from(name: &'static str, configured: Option<&Secret>, path: &Path, generate: bool) -> Result<Key, SecretsError> {
    let error = |message: String| SecretsError::File {
        path: path.to_path_buf(),
        message,
    };
    if let Some(secret) = configured {
        // Already validated with the configuration; a failure here would be a bug.
        return secret.key_bytes().map(Key).map_err(error);
    }
    match std::fs::read_to_string(path) {
        Ok(text) => Secret::new(text).key_bytes().map(Key).map_err(error),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !generate => Err(SecretsError::Missing {
            name,
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| error(format!("cannot create: {e}")))?;
            writeln!(file, "{}", STANDARD.encode(key)).map_err(|e| error(format!("cannot write: {e}")))?;
            file.sync_all().map_err(|e| error(format!("cannot sync: {e}")))?;
            tracing::info!(path = %path.display(), "generated a new key");
            Ok(Key(key))
        }
        Err(e) => Err(error(format!("cannot read: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_are_generated_once_with_mode_0600_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Keyring::load_or_generate(dir.path(), None, None, true).unwrap();
        for name in ["master.key", "key-hash.secret"] {
            let mode = std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let second = Keyring::load_or_generate(dir.path(), None, None, true).unwrap();
        assert_eq!(first.master_key.0, second.master_key.0);
        assert_eq!(first.key_hash_secret.0, second.key_hash_secret.0);
        assert_ne!(first.master_key.0, first.key_hash_secret.0);
    }

    #[test]
    fn a_configured_key_wins_over_the_file_and_accepts_hex_or_base64() {
        let dir = tempfile::tempdir().unwrap();
        let hex_key = Secret::new("ab".repeat(32));
        let b64_key = Secret::new(STANDARD.encode([7u8; 32]));
        let ring = Keyring::load_or_generate(dir.path(), Some(&hex_key), Some(&b64_key), false).unwrap();
        assert_eq!(ring.master_key.0, [0xab; 32]);
        assert_eq!(ring.key_hash_secret.0, [7; 32]);
        assert!(
            !dir.path().join("master.key").exists(),
            "nothing is generated when configured"
        );
    }

    #[test]
    fn keys_are_not_invented_for_a_shared_database() {
        let dir = tempfile::tempdir().unwrap();
        let err = Keyring::load_or_generate(dir.path(), None, None, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("master_key") && err.contains("MGW_MASTER_KEY"), "{err}");
        assert!(!dir.path().join("master.key").exists());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let secret = Secret::new("sk-canary-123".into());
        assert!(!format!("{secret:?}").contains("canary"));
        assert!(!format!("{:?}", Key([1; 32])).contains('1'));
        assert!(Secret::new("short".into()).key_bytes().is_err());
    }
}
