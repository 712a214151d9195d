//! Admin users and their console sessions.
//!
//! Invariant: session tokens are stored only as hashes; password hashes never leave this
//! module except inside [`AdminCredentials`], which the management service consumes.

use super::{flag, found, Store, StoreError, Tx};
use app::types::{AdminAccount, AdminRole, AdminUser, AdminUserId};
use sqlx::{any::AnyRow, Row};

/// An admin user with the password hash, for signing in.
pub struct AdminCredentials {
    pub user: AdminUser,
    pub password_hash: String,
    pub disabled: bool,
}

/// A session to create.
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub admin_user_id: AdminUserId,
    pub now: i64,
    pub expires_at: i64,
}

/// A stored session and its user.
pub struct SessionRecord {
    pub id: i64,
    pub user: AdminUser,
    pub user_disabled: bool,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

fn admin_user(row: &AnyRow) -> Result<AdminUser, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(AdminUser {
        id: AdminUserId(row.try_get("id")?),
        email: row.try_get("email")?,
        role: AdminRole::parse(&role).ok_or_else(|| sqlx::Error::Decode(format!("unknown role {role:?}").into()))?,
    })
}

fn admin_account(row: &AnyRow) -> Result<AdminAccount, sqlx::Error> {
    Ok(AdminAccount {
        user: admin_user(row)?,
        disabled: flag(row, "disabled")?,
        created_at: row.try_get("created_at")?,
        last_login_at: row.try_get("last_login_at")?,
    })
}

impl Store {
    /// The admin with this (lower-cased) e-mail address, with the password hash.
    pub async fn admin_credentials(&self, email: &str) -> Result<Option<AdminCredentials>, StoreError> {
        let row = sqlx::query("SELECT id, email, role, password_hash, disabled FROM admin_users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.reader)
            .await?;
        let credentials = |row: AnyRow| -> Result<AdminCredentials, sqlx::Error> {
            Ok(AdminCredentials {
                user: admin_user(&row)?,
                password_hash: row.try_get("password_hash")?,
                disabled: flag(&row, "disabled")?,
            })
        };
        Ok(row.map(credentials).transpose()?)
    }

    /// Replaces a password hash (after a parameter upgrade, or a password change).
    pub async fn set_password_hash(&self, id: AdminUserId, password_hash: &str, now: i64) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE admin_users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(id.0)
            .execute(&self.writer)
            .await?;
        found(done.rows_affected())?;
        Ok(())
    }

    /// Every admin user, oldest first.
    pub async fn admin_accounts(&self) -> Result<Vec<AdminAccount>, StoreError> {
        let rows =
            sqlx::query("SELECT id, email, role, disabled, created_at, last_login_at FROM admin_users ORDER BY id")
                .fetch_all(&self.reader)
                .await?;
        Ok(rows.iter().map(admin_account).collect::<Result<_, _>>()?)
    }

    /// The admin user with this id.
    pub async fn admin_account(&self, id: AdminUserId) -> Result<AdminAccount, StoreError> {
        let row =
            sqlx::query("SELECT id, email, role, disabled, created_at, last_login_at FROM admin_users WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&self.reader)
                .await?;
        Ok(admin_account(&row.ok_or(StoreError::NotFound)?)?)
    }

    /// How many admin users exist.
    pub async fn count_admins(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM admin_users")
            .fetch_one(&self.reader)
            .await?)
    }

    /// The session with this token hash, with its user.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT s.id AS session_id, s.last_seen_at, s.expires_at, u.id, u.email, u.role, u.disabled \
             FROM admin_sessions s JOIN admin_users u ON u.id = s.admin_user_id WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?;
        let record = |row: AnyRow| -> Result<SessionRecord, sqlx::Error> {
            Ok(SessionRecord {
                id: row.try_get("session_id")?,
                user: admin_user(&row)?,
                user_disabled: flag(&row, "disabled")?,
                last_seen_at: row.try_get("last_seen_at")?,
                expires_at: row.try_get("expires_at")?,
            })
        };
        Ok(row.map(record).transpose()?)
    }

    /// Marks a session as used now.
    pub async fn touch_session(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE admin_sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Deletes sessions past their absolute expiry or idle since `idle_cutoff`; returns how many.
    pub async fn delete_expired_sessions(&self, now: i64, idle_cutoff: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now)
            .bind(idle_cutoff)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}

impl Tx {
    /// The enabled admins with the `admin` role, locked until this transaction ends (on
    /// Postgres, in id order, so two transactions cannot wait on each other): a check of
    /// "someone else can still manage this installation" and the change it allows happen
    /// as one. SQLite has one writer, which serializes them already.
    pub async fn lock_enabled_admins(&mut self) -> Result<Vec<AdminUserId>, StoreError> {
        let lock = match self.backend {
            super::Backend::Postgres => " FOR UPDATE",
            super::Backend::Sqlite => "",
        };
        let sql = format!("SELECT id FROM admin_users WHERE disabled = 0 AND role = 'admin' ORDER BY id{lock}");
        let ids: Vec<i64> = sqlx::query_scalar(&sql).fetch_all(self.conn()).await?;
        Ok(ids.into_iter().map(AdminUserId).collect())
    }

    /// Adds an admin user; `Conflict` when the e-mail address is taken.
    pub async fn insert_admin(
        &mut self,
        email: &str,
        password_hash: &str,
        role: AdminRole,
        now: i64,
    ) -> Result<AdminUser, StoreError> {
        let row = sqlx::query(
            "INSERT INTO admin_users (email, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id, email, role",
        )
        .bind(email)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        Ok(admin_user(&row)?)
    }

    /// Changes an admin's role and whether they are disabled; disabling one ends their
    /// sessions, in the same transaction.
    pub async fn update_admin(
        &mut self,
        id: AdminUserId,
        role: AdminRole,
        disabled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE admin_users SET role = $1, disabled = $2, updated_at = $3 WHERE id = $4")
            .bind(role.as_str())
            .bind(i64::from(disabled))
            .bind(now)
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())?;
        if disabled {
            sqlx::query("DELETE FROM admin_sessions WHERE admin_user_id = $1")
                .bind(id.0)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Deletes an admin user; their sessions and API tokens go with them (cascade).
    pub async fn delete_admin(&mut self, id: AdminUserId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM admin_users WHERE id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())
    }

    /// Changes an admin's password hash and ends every session of theirs but the one with
    /// `keep` (a token hash), in one transaction.
    pub async fn change_password(
        &mut self,
        id: AdminUserId,
        password_hash: &str,
        keep: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE admin_users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())?;
        sqlx::query("DELETE FROM admin_sessions WHERE admin_user_id = $1 AND token_hash <> $2")
            .bind(id.0)
            .bind(keep)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Records a new session and the user's sign-in time, in one transaction.
    pub async fn insert_session(&mut self, session: NewSession<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO admin_sessions (token_hash, admin_user_id, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $3, $4)",
        )
        .bind(session.token_hash)
        .bind(session.admin_user_id.0)
        .bind(session.now)
        .bind(session.expires_at)
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE admin_users SET last_login_at = $1 WHERE id = $2")
            .bind(session.now)
            .bind(session.admin_user_id.0)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Ends the session with this token hash; true when there was one.
    pub async fn delete_session(&mut self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
