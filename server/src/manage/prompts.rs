//! Named prompts (issue #22): validate (names, the gateways they are for, templates that
//! compile and use only their parameters), store, audit.
//!
//! Invariant: every stored version's template passed `prompts::check`, so a request can fail
//! on its own parameters only, never on the template.
//! Invariant: a label points at an existing version of its own prompt.

use super::{already_exists, audit::record, validate::name, Actor, AuditEvent, Manage, ManageError};
use crate::{
    prompts,
    store::{now_ms, Breakdown},
};
use app::types::{CacheSettings, NewPrompt, Prompt, PromptId, PromptTemplate, VersionStats};

/// A template checked, or refused naming the part of it that is wrong.
fn checked(template: &PromptTemplate) -> Result<(), ManageError> {
    prompts::check(template)
        .map_err(|fault| ManageError::invalid("template", format!("{}: {}", fault.field, fault.message)))
}

impl Manage {
    /// Creates a prompt with its first version.
    pub async fn create_prompt(&self, actor: &Actor, new: NewPrompt) -> Result<Prompt, ManageError> {
        actor.must_write()?;
        let prompt_name = name("name", &new.name)?;
        for gateway in &new.gateways {
            self.gateway(*gateway).await.map_err(|error| match error {
                ManageError::NotFound => ManageError::invalid("gateways", format!("no gateway has id {}", gateway.0)),
                other => other,
            })?;
        }
        checked(&new.template)?;
        let description = new.description.trim();
        let mut tx = self.store.begin().await?;
        let id = (tx
            .insert_prompt(&prompt_name, description, &new.gateways, &new.template, now_ms())
            .await)
            .map_err(already_exists("name", format!("a prompt named {prompt_name} exists")))?;
        let event = AuditEvent::PromptCreated { id, name: prompt_name };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        self.prompt(id).await
    }

    /// Adds a prompt's next version; answers its number.
    pub async fn add_prompt_version(
        &self,
        actor: &Actor,
        id: PromptId,
        template: PromptTemplate,
    ) -> Result<i64, ManageError> {
        actor.must_write()?;
        let prompt = self.prompt(id).await?;
        checked(&template)?;
        let mut tx = self.store.begin().await?;
        let version = tx.add_prompt_version(id, &template, now_ms()).await?;
        let event = AuditEvent::PromptVersionAdded {
            id,
            name: prompt.name,
            version,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        Ok(version)
    }

    /// Points `label` of a prompt at one of its versions (adding it, or moving it at once).
    pub async fn set_prompt_label(
        &self,
        actor: &Actor,
        id: PromptId,
        label: &str,
        version: i64,
    ) -> Result<Prompt, ManageError> {
        actor.must_write()?;
        let prompt = self.prompt(id).await?;
        let label = name("label", label)?;
        if !prompt.versions.iter().any(|v| v.version == version) {
            return Err(ManageError::invalid(
                "version",
                format!("{} has no version {version}", prompt.name),
            ));
        }
        let mut tx = self.store.begin().await?;
        let before = tx.set_prompt_label(id, &label, version, now_ms()).await?;
        let event = AuditEvent::PromptLabelSet {
            id,
            name: prompt.name,
            label,
            version,
            before,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        self.prompt(id).await
    }

    /// Deletes a prompt with its versions and labels (requests naming it are then refused).
    pub async fn delete_prompt(&self, actor: &Actor, id: PromptId) -> Result<(), ManageError> {
        actor.must_write()?;
        let prompt = self.prompt(id).await?;
        let mut tx = self.store.begin().await?;
        tx.delete_prompt(id).await?;
        let event = AuditEvent::PromptDeleted { id, name: prompt.name };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }

    /// Sets a prompt's access rule (compiled, or refused under `access` with where), or with
    /// `None` or a blank rule removes it.
    pub async fn set_prompt_access(
        &self,
        actor: &Actor,
        id: PromptId,
        rule: Option<&str>,
    ) -> Result<Prompt, ManageError> {
        actor.must_write()?;
        let prompt = self.prompt(id).await?;
        let rule = super::gateways::access_rule(rule)?;
        let mut tx = self.store.begin().await?;
        tx.set_prompt_access(id, rule.as_deref(), now_ms()).await?;
        let event = AuditEvent::PromptAccessSet {
            id,
            name: prompt.name,
            rule: rule.is_some(),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        self.prompt(id).await
    }

    /// Sets a prompt's own response cache settings (checked as a gateway's), or with `None`
    /// goes back to the gateway's (issue #24).
    pub async fn set_prompt_cache(
        &self,
        actor: &Actor,
        id: PromptId,
        cache: Option<CacheSettings>,
    ) -> Result<Prompt, ManageError> {
        actor.must_write()?;
        let prompt = self.prompt(id).await?;
        let cache = cache.map(super::gateways::cache).transpose()?;
        let mut tx = self.store.begin().await?;
        tx.set_prompt_cache(id, cache.as_ref(), now_ms()).await?;
        let event = AuditEvent::PromptCacheSet {
            id,
            name: prompt.name,
            cache: cache.map(|cache| cache.mode),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        self.prompt(id).await
    }

    /// Every prompt, by name.
    pub async fn prompts(&self) -> Result<Vec<Prompt>, ManageError> {
        Ok(self.store.prompts().await?)
    }

    /// The prompt with this id.
    pub async fn prompt(&self, id: PromptId) -> Result<Prompt, ManageError> {
        self.store.prompt(id).await?.ok_or(ManageError::NotFound)
    }

    /// How each version of `prompt` did in `[from, to)` (Unix milliseconds): requests, errors,
    /// latency, tokens, cost and feedback — what a version change is judged by. Versions
    /// without requests in the range are left out.
    pub async fn version_stats(&self, prompt: &Prompt, from: i64, to: i64) -> Result<Vec<VersionStats>, ManageError> {
        let breakdown = Breakdown::PromptVersions { prompt: &prompt.name };
        let figures = self.store.request_figures(breakdown, from, to).await?;
        let mut stats: Vec<VersionStats> = (figures.into_iter())
            .filter_map(|(version, figures)| {
                Some(VersionStats {
                    version: version.parse().ok()?,
                    figures,
                })
            })
            .collect();
        // Grouped as text, so 10 came before 9.
        stats.sort_by_key(|stats| stats.version);
        Ok(stats)
    }

    /// The id of the prompt named `name` (for the CLI, which names things).
    pub async fn prompt_id(&self, name: &str) -> Result<PromptId, ManageError> {
        (self.prompts().await?.into_iter())
            .find(|prompt| prompt.name == name.trim())
            .map(|prompt| prompt.id)
            .ok_or(ManageError::NotFound)
    }
}
