//! Admin API tokens and the audit log.
//!
//! Invariant: a token's secret is stored only as its SHA-256; audit details never hold a secret
//! (the management service writes them, from names and ids only).

use super::{Store, StoreError, Tx};
use app::types::{ActorKind, AdminRole, AdminToken, AdminTokenId, AdminUserId, AuditEntry, Via};
use sqlx::{any::AnyRow, Row};

/// A token to store.
pub struct NewTokenRow<'a> {
    pub admin_user_id: AdminUserId,
    pub name: &'a str,
    pub public_id: &'a str,
    pub token_hash: &'a str,
    pub role: AdminRole,
    pub now: i64,
    pub expires_at: Option<i64>,
}

/// A stored token with what authenticating it needs.
pub struct TokenRecord {
    pub token: AdminToken,
    pub token_hash: String,
    /// The owner's e-mail address and whether the owner is disabled.
    pub owner_email: String,
    pub owner_role: AdminRole,
    pub owner_disabled: bool,
}

/// An audit entry to add.
pub struct NewAudit<'a> {
    pub now: i64,
    pub actor_kind: ActorKind,
    pub actor_id: Option<i64>,
    pub actor_label: &'a str,
    pub action: &'a str,
    pub target_kind: Option<&'a str>,
    pub target_id: Option<i64>,
    pub details: &'a str,
    pub via: Via,
}

fn role(row: &AnyRow, column: &str) -> Result<AdminRole, sqlx::Error> {
    let name: String = row.try_get(column)?;
    AdminRole::parse(&name).ok_or_else(|| sqlx::Error::Decode(format!("unknown role {name:?}").into()))
}

fn token(row: &AnyRow) -> Result<AdminToken, sqlx::Error> {
    Ok(AdminToken {
        id: AdminTokenId(row.try_get("id")?),
        admin_user_id: AdminUserId(row.try_get("admin_user_id")?),
        name: row.try_get("name")?,
        public_id: row.try_get("public_id")?,
        role: role(row, "role")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn audit_entry(row: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    let kind: String = row.try_get("actor_kind")?;
    Ok(AuditEntry {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        actor_kind: ActorKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown actor kind {kind:?}").into()))?,
        actor_id: row.try_get("actor_id")?,
        actor_label: row.try_get("actor_label")?,
        action: row.try_get("action")?,
        target_kind: row.try_get("target_kind")?,
        target_id: row.try_get("target_id")?,
        details: row.try_get("details")?,
        via: row.try_get::<Option<String>, _>("via")?.as_deref().and_then(Via::parse),
    })
}

const TOKEN_COLUMNS: &str =
    "id, admin_user_id, name, public_id, role, created_at, last_used_at, expires_at, revoked_at";
/// The same columns, of `t` in a join.
const TOKEN_COLUMNS_T: &str =
    "t.id, t.admin_user_id, t.name, t.public_id, t.role, t.created_at, t.last_used_at, t.expires_at, t.revoked_at";

impl Store {
    /// The token with this public id, with its hash and owner.
    pub async fn admin_token(&self, public_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS_T}, t.token_hash, u.email, u.role AS owner_role, u.disabled \
             FROM admin_api_tokens t JOIN admin_users u ON u.id = t.admin_user_id WHERE t.public_id = $1"
        ))
        .bind(public_id)
        .fetch_optional(&self.reader)
        .await?;
        let record = |row: AnyRow| -> Result<TokenRecord, sqlx::Error> {
            Ok(TokenRecord {
                token: token(&row)?,
                token_hash: row.try_get("token_hash")?,
                owner_email: row.try_get("email")?,
                owner_role: role(&row, "owner_role")?,
                owner_disabled: super::flag(&row, "disabled")?,
            })
        };
        Ok(row.map(record).transpose()?)
    }

    /// Every admin API token, newest first.
    pub async fn admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM admin_api_tokens ORDER BY id DESC"
        ))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(token).collect::<Result<_, _>>()?)
    }

    /// Marks a token as used now.
    pub async fn touch_admin_token(&self, id: AdminTokenId, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE admin_api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id.0)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Audit entries older than entry `before` (all when `None`), newest first, at most `limit`.
    pub async fn audit_entries(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2")
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(audit_entry).collect::<Result<_, _>>()?)
    }
}

impl Tx {
    /// Stores a new admin API token.
    pub async fn insert_admin_token(&mut self, new: NewTokenRow<'_>) -> Result<AdminToken, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO admin_api_tokens (admin_user_id, name, public_id, token_hash, role, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(new.admin_user_id.0)
        .bind(new.name)
        .bind(new.public_id)
        .bind(new.token_hash)
        .bind(new.role.as_str())
        .bind(new.now)
        .bind(new.expires_at)
        .fetch_one(self.conn())
        .await?;
        Ok(token(&row)?)
    }

    /// Revokes a token (kept, for the audit trail); revoking twice keeps the first time.
    pub async fn revoke_admin_token(&mut self, id: AdminTokenId, now: i64) -> Result<AdminToken, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE admin_api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(now)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?;
        Ok(token(&row.ok_or(StoreError::NotFound)?)?)
    }

    /// Adds an audit entry.
    pub async fn insert_audit(&mut self, entry: NewAudit<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (created_at, actor_kind, actor_id, actor_label, action, target_kind, target_id, \
             details, via) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(entry.now)
        .bind(entry.actor_kind.as_str())
        .bind(entry.actor_id)
        .bind(entry.actor_label)
        .bind(entry.action)
        .bind(entry.target_kind)
        .bind(entry.target_id)
        .bind(entry.details)
        .bind(entry.via.as_str())
        .execute(self.conn())
        .await
        .map(drop)
        .map_err(StoreError::from)
    }
}
