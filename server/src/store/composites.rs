//! Composite models (issue #21): a gateway's model names that stand for several members.
//!
//! Invariant: members are stored as the names they were given (a JSON list), never as ids, so
//! a member whose endpoint is renamed or unlinked routes nowhere instead of somewhere else.

use super::{flag, found, own_cache, own_cache_json, AnyQuery, Store, StoreError, Tx};
use app::types::{CacheSettings, CompositeId, CompositeKind, CompositeMember, CompositeModel, GatewayId, MultiMode};
use sqlx::{any::AnyRow, Row};

/// Every column an admin can set on a composite model, for inserts and updates alike.
pub struct CompositeFields<'a> {
    pub name: &'a str,
    pub kind: CompositeKind,
    pub members: &'a [CompositeMember],
    pub sticky: bool,
    pub mode: MultiMode,
    pub judge: Option<&'a str>,
    pub rubric: Option<&'a str>,
    /// Its own response cache settings; `None`: its gateway's.
    pub cache: Option<&'a CacheSettings>,
}

const COLUMNS: &str = "id, gateway_id, name, kind, members, sticky, mode, judge, rubric, cache, created_at, updated_at";

fn composite(row: &AnyRow) -> Result<CompositeModel, sqlx::Error> {
    let decode = |what: String| sqlx::Error::Decode(what.into());
    let kind: String = row.try_get("kind")?;
    let mode: String = row.try_get("mode")?;
    let members: String = row.try_get("members")?;
    Ok(CompositeModel {
        id: CompositeId(row.try_get("id")?),
        gateway_id: GatewayId(row.try_get("gateway_id")?),
        name: row.try_get("name")?,
        kind: CompositeKind::parse(&kind).ok_or_else(|| decode(format!("unknown composite kind {kind:?}")))?,
        members: serde_json::from_str(&members).map_err(|e| decode(format!("members: {e}")))?,
        sticky: flag(row, "sticky")?,
        mode: MultiMode::parse(&mode).ok_or_else(|| decode(format!("unknown multi mode {mode:?}")))?,
        judge: row.try_get("judge")?,
        rubric: row.try_get("rubric")?,
        cache: own_cache(row)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn members_json(members: &[CompositeMember]) -> String {
    serde_json::to_string(members).unwrap_or_else(|_| "[]".into())
}

/// Binds the fields as the next eight parameters, in the order both the insert and the update
/// name them.
fn bind_fields<'q>(query: AnyQuery<'q>, fields: &CompositeFields<'q>) -> AnyQuery<'q> {
    query
        .bind(fields.name)
        .bind(fields.kind.as_str())
        .bind(members_json(fields.members))
        .bind(i64::from(fields.sticky))
        .bind(fields.mode.as_str())
        .bind(fields.judge)
        .bind(fields.rubric)
        .bind(own_cache_json(fields.cache))
}

impl Store {
    /// Every composite model, by gateway then name.
    pub async fn composites(&self) -> Result<Vec<CompositeModel>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM composite_models ORDER BY gateway_id, name");
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await?;
        Ok(rows.iter().map(composite).collect::<Result<_, _>>()?)
    }

    /// The composite model with this id.
    pub async fn composite(&self, id: CompositeId) -> Result<Option<CompositeModel>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM composite_models WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.0).fetch_optional(&self.reader).await?;
        Ok(row.as_ref().map(composite).transpose()?)
    }
}

impl Tx {
    /// Adds a composite model to a gateway; `Conflict` when the gateway has one by that name.
    pub async fn insert_composite(
        &mut self,
        gateway: GatewayId,
        fields: &CompositeFields<'_>,
        now: i64,
    ) -> Result<CompositeId, StoreError> {
        let query = sqlx::query(
            "INSERT INTO composite_models (name, kind, members, sticky, mode, judge, rubric, cache, \
             gateway_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
        );
        let row = bind_fields(query, fields)
            .bind(gateway.0)
            .bind(now)
            .fetch_one(self.conn())
            .await?;
        Ok(CompositeId(row.try_get("id")?))
    }

    /// Replaces a composite model's fields (its gateway stays).
    pub async fn update_composite(
        &mut self,
        id: CompositeId,
        fields: &CompositeFields<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "UPDATE composite_models SET name = $1, kind = $2, members = $3, sticky = $4, mode = $5, judge = $6, \
             rubric = $7, cache = $8, updated_at = $9 WHERE id = $10",
        );
        let done = bind_fields(query, fields)
            .bind(now)
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())
    }

    /// Deletes a composite model.
    pub async fn delete_composite(&mut self, id: CompositeId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM composite_models WHERE id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())
    }
}
