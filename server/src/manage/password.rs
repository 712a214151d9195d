//! Admin password hashing: argon2id with m=19456 KiB, t=2, p=1 (SPEC §9), run on the blocking
//! pool so a login never stalls the async runtime.

use super::ManageError;
use crate::secrets::Secret;
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use std::sync::OnceLock;
use tokio::sync::Semaphore;

const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

fn argon2() -> Result<Argon2<'static>, ManageError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(ManageError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// At most this many hashes run at once: each takes 19 MiB and a core for tens of ms, so an
/// unbounded number would let a flood of sign-ins exhaust memory.
const CONCURRENT_HASHES: usize = 4;

fn hashing_slots() -> &'static Semaphore {
    static SLOTS: Semaphore = Semaphore::const_new(CONCURRENT_HASHES);
    &SLOTS
}

/// Hashes a password into a PHC string.
pub async fn hash(password: Secret) -> Result<String, ManageError> {
    let _slot = hashing_slots().acquire().await.map_err(ManageError::internal)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()?
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(ManageError::internal)
    })
    .await
    .map_err(ManageError::internal)?
}

/// Checks a password against a stored PHC string. `None` as the hash still spends the time of
/// a real check (against a dummy), so an unknown e-mail address is not told apart by timing.
pub async fn verify(password: Secret, stored: Option<String>) -> Result<bool, ManageError> {
    let _slot = hashing_slots().acquire().await.map_err(ManageError::internal)?;
    tokio::task::spawn_blocking(move || {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let (phc, known) = match &stored {
            Some(phc) => (phc.as_str(), true),
            None => {
                let dummy = DUMMY.get_or_init(|| {
                    let salt = SaltString::generate(&mut OsRng);
                    argon2()
                        .ok()
                        .and_then(|a| a.hash_password(b"dummy password", &salt).ok())
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                });
                (dummy.as_str(), false)
            }
        };
        let parsed = PasswordHash::new(phc).map_err(ManageError::internal)?;
        // Verify with the parameters stored in the hash, so older hashes still work.
        let matches = Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(ManageError::internal)?
}

/// Whether a stored hash uses other parameters than today's, and should be redone.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm != argon2::ARGON2ID_IDENT
        || params.m_cost() != MEMORY_KIB
        || params.t_cost() != ITERATIONS
        || params.p_cost() != PARALLELISM
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_required_parameters() {
        let phc = hash(Secret::new("correct horse battery".into())).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!needs_rehash(&phc));
        assert!(verify(Secret::new("correct horse battery".into()), Some(phc.clone()))
            .await
            .unwrap());
        assert!(!verify(Secret::new("wrong".into()), Some(phc)).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(!verify(Secret::new("dummy password".into()), None).await.unwrap());
    }

    #[test]
    fn hashes_with_old_parameters_need_rehashing() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        );
        let phc = weak
            .hash_password(b"pw", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(needs_rehash(&phc));
    }
}
