//! Admin users and console sessions: create an admin, sign in (throttled), resolve a session
//! token, sign out.
//!
//! Invariant: a session token is 32 random bytes; only its SHA-256 is stored, so a database
//! dump cannot be replayed as a cookie.
//! Invariant: a session ends at whichever comes first of its idle and absolute expiry.

use super::{already_exists, audit::record, password, Actor, AuditEvent, Manage, ManageError};
use crate::secrets::Secret;
use crate::store::{now_ms, NewSession, Tx};
use app::types::{AdminAccount, AdminRole, AdminUser, AdminUserId, NewAdmin, Via};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::{net::IpAddr, time::Duration, time::Instant};

/// Longest e-mail address (RFC 5321).
const MAX_EMAIL_BYTES: usize = 254;
/// Shortest password accepted for an admin.
const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (argon2 cost grows with it).
const MAX_PASSWORD_BYTES: usize = 1024;
/// A session's last-seen time is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

/// How long console sessions last.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
}

impl SessionPolicy {
    /// Whether a session last seen at `last_seen_at` (absolute expiry `expires_at`) has ended
    /// at `now`; all in Unix milliseconds.
    fn expired(&self, now: i64, last_seen_at: i64, expires_at: i64) -> bool {
        expires_at <= now || now.saturating_sub(last_seen_at) >= millis(self.idle_timeout)
    }
}

/// A successful sign-in: the user and the session token for the cookie (shown once).
pub struct SignedIn {
    pub user: AdminUser,
    pub token: Secret,
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Lower-cases and checks an e-mail address well enough to catch typos.
fn normalize_email(email: &str) -> Result<String, ManageError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL_BYTES
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(ManageError::Invalid {
            field: "email",
            message: "is not a valid e-mail address".into(),
        })
    }
}

/// A new password's length: long enough, and short enough for argon2.
fn check_password(password: &Secret) -> Result<(), ManageError> {
    let length = password.expose().chars().count();
    if length < MIN_PASSWORD_CHARS || password.expose().len() > MAX_PASSWORD_BYTES {
        return Err(ManageError::Invalid {
            field: "password",
            message: format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_BYTES} characters long"),
        });
    }
    Ok(())
}

impl Manage {
    /// Creates an admin user; the password is hashed with argon2id off the async runtime.
    pub async fn create_admin(&self, actor: &Actor, new: NewAdmin) -> Result<AdminUser, ManageError> {
        actor.must_write()?;
        let email = normalize_email(&new.email)?;
        let new_password = Secret::new(new.password.0);
        check_password(&new_password)?;
        let hash = password::hash(new_password).await?;
        let mut tx = self.store.begin().await?;
        let user = (tx.insert_admin(&email, &hash, new.role, now_ms()).await).map_err(already_exists(
            "email",
            format!("an admin with e-mail {email} already exists"),
        ))?;
        let event = AuditEvent::AdminCreated {
            id: user.id,
            email: user.email.clone(),
            role: user.role,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Every admin user, oldest first.
    pub async fn admin_accounts(&self) -> Result<Vec<AdminAccount>, ManageError> {
        Ok(self.store.admin_accounts().await?)
    }

    /// One admin user.
    pub async fn admin_account(&self, id: AdminUserId) -> Result<AdminAccount, ManageError> {
        Ok(self.store.admin_account(id).await?)
    }

    /// Changes an admin's role and whether they are disabled (which ends their sessions).
    /// The last enabled admin with the `admin` role can be neither demoted nor disabled, so
    /// the installation always keeps someone who can manage it.
    pub async fn update_admin(
        &self,
        actor: &Actor,
        id: AdminUserId,
        role: Option<AdminRole>,
        disabled: Option<bool>,
    ) -> Result<AdminAccount, ManageError> {
        actor.must_write()?;
        let current = self.store.admin_account(id).await?;
        let role = role.unwrap_or(current.user.role);
        let disabled = disabled.unwrap_or(current.disabled);
        let mut tx = self.store.begin().await?;
        if role != AdminRole::Admin || disabled {
            keep_one_admin(&mut tx, id, if disabled { "disabled" } else { "role" }).await?;
        }
        tx.update_admin(id, role, disabled, now_ms()).await?;
        let event = AuditEvent::AdminUpdated {
            id,
            email: current.user.email,
            role,
            disabled,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.admin_account(id).await
    }

    /// Deletes an admin user, with their sessions and API tokens; never the last admin.
    pub async fn delete_admin(&self, actor: &Actor, id: AdminUserId) -> Result<(), ManageError> {
        actor.must_write()?;
        let account = self.store.admin_account(id).await?;
        let mut tx = self.store.begin().await?;
        keep_one_admin(&mut tx, id, "id").await?;
        tx.delete_admin(id).await?;
        let event = AuditEvent::AdminDeleted {
            id,
            email: account.user.email,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the acting admin's own password after checking the current one; their other
    /// sessions end (`keep_session` is the token of the session making the change, if any).
    /// Viewers may: it is their own. A token may not.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: Secret,
        new: Secret,
        keep_session: Option<&str>,
    ) -> Result<(), ManageError> {
        actor.must_be_person("current_password", "change your password")?;
        check_password(&new).map_err(|refused| match refused {
            ManageError::Invalid { message, .. } => ManageError::invalid("new_password", message),
            other => other,
        })?;
        let credentials = self.store.admin_credentials(&actor.user.email).await?;
        let stored = credentials.as_ref().map(|c| c.password_hash.clone());
        if !password::verify(current, stored).await? {
            return Err(ManageError::invalid("current_password", "is not your current password"));
        }
        let hash = password::hash(new).await?;
        let keep = keep_session.map(hash_token).unwrap_or_default();
        let mut tx = self.store.begin().await?;
        tx.change_password(actor.user.id, &hash, &keep, now_ms()).await?;
        record(&mut tx, actor, AuditEvent::PasswordChanged { id: actor.user.id }).await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many admin users exist (none means the server tells how to create one).
    pub async fn admin_count(&self) -> Result<i64, ManageError> {
        Ok(self.store.count_admins().await?)
    }

    /// Checks an e-mail address and password and opens a session. Throttled per account and
    /// client address, and per client address (`throttle`); a wrong address and a wrong password are told apart neither by
    /// the answer nor by its timing.
    pub async fn sign_in(
        &self,
        email: &str,
        password: Secret,
        client: IpAddr,
        via: Via,
    ) -> Result<SignedIn, ManageError> {
        let account = email.trim().to_lowercase();
        // No address is longer; refusing early keeps junk out of the throttle's memory.
        if account.len() > MAX_EMAIL_BYTES {
            return Err(ManageError::Unauthorized);
        }
        self.throttle
            .admit(&account, client, Instant::now())
            .map_err(|retry_after| ManageError::Throttled { retry_after })?;

        let credentials = self.store.admin_credentials(&account).await?;
        let stored = credentials.as_ref().map(|c| c.password_hash.clone());
        let matches = password::verify(password.clone(), stored).await?;
        let Some(credentials) = credentials.filter(|c| matches && !c.disabled) else {
            tracing::info!(reason = "bad credentials", "console sign-in refused");
            return Err(ManageError::Unauthorized);
        };
        self.throttle.succeeded(&account, client);

        if password::needs_rehash(&credentials.password_hash) {
            let upgraded = password::hash(password).await?;
            self.store
                .set_password_hash(credentials.user.id, &upgraded, now_ms())
                .await?;
        }

        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        tx.insert_session(NewSession {
            token_hash: &hash_token(&token),
            admin_user_id: credentials.user.id,
            now,
            expires_at: now.saturating_add(millis(self.sessions.absolute_timeout)),
        })
        .await?;
        let actor = Actor::admin(credentials.user.clone(), via);
        record(&mut tx, &actor, AuditEvent::SignedIn { id: actor.user.id }).await?;
        tx.commit().await?;
        tracing::info!(admin_id = credentials.user.id.0, "console sign-in");
        Ok(SignedIn {
            user: credentials.user,
            token: Secret::new(token),
        })
    }

    /// The admin a session token belongs to, if the session is still valid.
    pub async fn session_user(&self, token: &str) -> Result<Option<AdminUser>, ManageError> {
        // Tokens we issue are 43 characters; anything else cannot match, so skip the query.
        if token.len() != 43 {
            return Ok(None);
        }
        let token_hash = hash_token(token);
        let Some(session) = self.store.session(&token_hash).await? else {
            return Ok(None);
        };
        let now = now_ms();
        if self.sessions.expired(now, session.last_seen_at, session.expires_at) || session.user_disabled {
            let mut tx = self.store.begin().await?;
            tx.delete_session(&token_hash).await?;
            tx.commit().await?;
            return Ok(None);
        }
        if now.saturating_sub(session.last_seen_at) >= TOUCH_EVERY_MS {
            self.store.touch_session(session.id, now).await?;
        }
        Ok(Some(session.user))
    }

    /// Ends the session with this token (signing out), recorded as its admin's; unknown or
    /// ended sessions are ignored.
    pub async fn sign_out(&self, token: &str, via: Via) -> Result<(), ManageError> {
        let Some(user) = self.session_user(token).await? else {
            return Ok(());
        };
        let mut tx = self.store.begin().await?;
        tx.delete_session(&hash_token(token)).await?;
        let actor = Actor::admin(user, via);
        record(&mut tx, &actor, AuditEvent::SignedOut { id: actor.user.id }).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes expired sessions, and forgets sign-in attempts that no longer count; returns
    /// how many sessions were deleted.
    pub async fn sweep_sessions(&self) -> Result<u64, ManageError> {
        self.throttle.sweep(Instant::now());
        let now = now_ms();
        let idle_cutoff = now.saturating_sub(millis(self.sessions.idle_timeout));
        Ok(self.store.delete_expired_sessions(now, idle_cutoff).await?)
    }
}

/// Refuses a change that would leave no enabled admin with the `admin` role but `id`. The
/// admins it counts stay locked until `tx` ends, so two concurrent demotions cannot both pass.
async fn keep_one_admin(tx: &mut Tx, id: AdminUserId, field: &'static str) -> Result<(), ManageError> {
    let admins = tx.lock_enabled_admins().await?;
    if admins.iter().all(|admin| *admin == id) {
        return Err(ManageError::invalid(
            field,
            "this is the last enabled admin; create or enable another admin first",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Admin@Example.COM ").unwrap(), "admin@example.com");
        for bad in [
            "",
            "admin",
            "@example.com",
            "admin@localhost",
            "a b@example.com",
            "admin@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_session_ends_at_the_first_of_its_idle_and_absolute_expiry() {
        let policy = SessionPolicy {
            idle_timeout: Duration::from_secs(60),
            absolute_timeout: Duration::from_secs(600),
        };
        let (signed_in, expires_at) = (1_000_000, 1_000_000 + 600_000);
        assert!(
            !policy.expired(signed_in + 59_999, signed_in, expires_at),
            "within both"
        );
        assert!(
            policy.expired(signed_in + 60_000, signed_in, expires_at),
            "idle for the idle timeout"
        );
        // Active a moment ago, but past the absolute expiry.
        assert!(
            policy.expired(expires_at, expires_at - 1_000, expires_at),
            "absolute expiry wins over activity"
        );
        assert!(!policy.expired(expires_at - 1, expires_at - 1_000, expires_at));
    }

    #[test]
    fn tokens_are_stored_as_sha256() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
