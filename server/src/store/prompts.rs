//! Named prompts (issue #22): each prompt with its versions (immutable, numbered from 1) and
//! its labels (each pointing at one of its versions).
//!
//! Invariant: a version, once written, is never changed; a prompt's next version number is
//! taken in the transaction that writes it (the primary key refuses a second writer's).
//! Invariant: every change writes before it reads, so on SQLite it waits for another
//! process's writer (the busy timeout) instead of failing.

use super::{found, own_cache, own_cache_json, Store, StoreError, Tx};
use app::types::{CacheSettings, GatewayId, Prompt, PromptId, PromptTemplate, PromptVersion};
use sqlx::{any::AnyRow, Row};
use std::collections::BTreeMap;

fn decode(what: String) -> sqlx::Error {
    sqlx::Error::Decode(what.into())
}

/// A prompt's row, without its versions and labels yet.
fn prompt(row: &AnyRow) -> Result<Prompt, sqlx::Error> {
    let gateways: String = row.try_get("gateways")?;
    let gateways: Vec<i64> = serde_json::from_str(&gateways).map_err(|e| decode(format!("gateways: {e}")))?;
    Ok(Prompt {
        id: PromptId(row.try_get("id")?),
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        gateways: gateways.into_iter().map(GatewayId).collect(),
        versions: Vec::new(),
        labels: BTreeMap::new(),
        access_rule: row.try_get("access_rule")?,
        cache: own_cache(row)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn version(row: &AnyRow) -> Result<(PromptId, PromptVersion), sqlx::Error> {
    let template: String = row.try_get("template")?;
    let template: PromptTemplate = serde_json::from_str(&template).map_err(|e| decode(format!("template: {e}")))?;
    let version = PromptVersion {
        version: row.try_get("version")?,
        template,
        created_at: row.try_get("created_at")?,
    };
    Ok((PromptId(row.try_get("prompt_id")?), version))
}

fn gateways_json(gateways: &[GatewayId]) -> String {
    let ids: Vec<i64> = gateways.iter().map(|id| id.0).collect();
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())
}

fn template_json(template: &PromptTemplate) -> String {
    // A template is plain data: serialising it cannot fail.
    serde_json::to_string(template).unwrap_or_else(|_| "{}".into())
}

impl Store {
    /// Every prompt with its versions and labels, by name.
    pub async fn prompts(&self) -> Result<Vec<Prompt>, StoreError> {
        let rows = sqlx::query("SELECT * FROM prompts ORDER BY name")
            .fetch_all(&self.reader)
            .await?;
        let mut prompts: Vec<Prompt> = rows.iter().map(prompt).collect::<Result<_, _>>()?;
        let versions = sqlx::query("SELECT * FROM prompt_versions ORDER BY prompt_id, version")
            .fetch_all(&self.reader)
            .await?;
        let labels = sqlx::query("SELECT prompt_id, label, version FROM prompt_labels")
            .fetch_all(&self.reader)
            .await?;
        let mut by_id: BTreeMap<i64, &mut Prompt> = prompts.iter_mut().map(|p| (p.id.0, p)).collect();
        for row in &versions {
            let (id, version) = version(row)?;
            if let Some(prompt) = by_id.get_mut(&id.0) {
                prompt.versions.push(version);
            }
        }
        for row in &labels {
            let id: i64 = row.try_get("prompt_id")?;
            if let Some(prompt) = by_id.get_mut(&id) {
                prompt.labels.insert(row.try_get("label")?, row.try_get("version")?);
            }
        }
        Ok(prompts)
    }

    /// The prompt with this id, with its versions and labels.
    pub async fn prompt(&self, id: PromptId) -> Result<Option<Prompt>, StoreError> {
        Ok(self.prompts().await?.into_iter().find(|prompt| prompt.id == id))
    }
}

impl Tx {
    /// Adds a prompt and its first version; `Conflict` when the name is taken.
    pub async fn insert_prompt(
        &mut self,
        name: &str,
        description: &str,
        gateways: &[GatewayId],
        template: &PromptTemplate,
        now: i64,
    ) -> Result<PromptId, StoreError> {
        let row = sqlx::query(
            "INSERT INTO prompts (name, description, gateways, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             RETURNING id",
        )
        .bind(name)
        .bind(description)
        .bind(gateways_json(gateways))
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        let id = PromptId(row.try_get("id")?);
        self.insert_version(id, 1, template, now).await?;
        Ok(id)
    }

    /// Adds a prompt's next version; answers its number.
    pub async fn add_prompt_version(
        &mut self,
        id: PromptId,
        template: &PromptTemplate,
        now: i64,
    ) -> Result<i64, StoreError> {
        self.touch_prompt(id, now).await?;
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS latest FROM prompt_versions WHERE prompt_id = $1")
            .bind(id.0)
            .fetch_one(self.conn())
            .await?;
        let next = row.try_get::<i64, _>("latest")? + 1;
        self.insert_version(id, next, template, now).await?;
        Ok(next)
    }

    /// Marks a prompt changed. Written first in its transaction: on SQLite a transaction that
    /// read before it writes cannot wait for another writer (it fails at once with "database
    /// is locked"), while one that writes first waits up to the busy timeout.
    async fn touch_prompt(&mut self, id: PromptId, now: i64) -> Result<(), StoreError> {
        let touched = sqlx::query("UPDATE prompts SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(touched.rows_affected())
    }

    async fn insert_version(
        &mut self,
        id: PromptId,
        version: i64,
        template: &PromptTemplate,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO prompt_versions (prompt_id, version, template, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id.0)
            .bind(version)
            .bind(template_json(template))
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Points a prompt's label at one of its versions (adding the label, or moving it); the
    /// version it pointed at before, if any.
    pub async fn set_prompt_label(
        &mut self,
        id: PromptId,
        label: &str,
        version: i64,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.touch_prompt(id, now).await?;
        let before = sqlx::query("SELECT version FROM prompt_labels WHERE prompt_id = $1 AND label = $2")
            .bind(id.0)
            .bind(label)
            .fetch_optional(self.conn())
            .await?
            .map(|row| row.try_get::<i64, _>("version"))
            .transpose()?;
        sqlx::query(
            "INSERT INTO prompt_labels (prompt_id, label, version, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (prompt_id, label) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(id.0)
        .bind(label)
        .bind(version)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(before)
    }

    /// Sets (or, with `None`, removes) a prompt's access rule.
    pub async fn set_prompt_access(&mut self, id: PromptId, rule: Option<&str>, now: i64) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE prompts SET access_rule = $2, updated_at = $3 WHERE id = $1")
            .bind(id.0)
            .bind(rule)
            .bind(now)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())
    }

    /// Sets a prompt's own response cache settings (`None`: its gateway's).
    pub async fn set_prompt_cache(
        &mut self,
        id: PromptId,
        cache: Option<&CacheSettings>,
        now: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE prompts SET cache = $2, updated_at = $3 WHERE id = $1")
            .bind(id.0)
            .bind(own_cache_json(cache))
            .bind(now)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())
    }

    /// Deletes a prompt, its versions and labels.
    pub async fn delete_prompt(&mut self, id: PromptId) -> Result<(), StoreError> {
        // Labels first: they point at versions.
        sqlx::query("DELETE FROM prompt_labels WHERE prompt_id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        sqlx::query("DELETE FROM prompt_versions WHERE prompt_id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        let done = sqlx::query("DELETE FROM prompts WHERE id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())
    }
}
