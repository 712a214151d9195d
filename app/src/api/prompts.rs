//! The named prompts' server functions (the Prompts page, and the playground's "save as
//! prompt"): list, create, add a version, move a label, delete, a diff between two versions,
//! and how each version did. A template arrives as its editor holds it (JSON of a
//! `TemplateForm`); the server reads it.

#[cfg(feature = "ssr")]
use super::{console_backend, refused, require_admin};
use crate::types::{ConsoleError, DashboardRange, DiffLine, Json, Prompt, PromptsListing, VersionStats};
#[cfg(feature = "ssr")]
use crate::types::{NewPromptForm, PromptId};
use leptos::prelude::*;

/// Every prompt with its versions and labels, and the gateways' names.
#[server(prefix = "/api", endpoint = "prompts_list", output = Json)]
pub async fn list_prompts() -> Result<PromptsListing, ConsoleError> {
    require_admin()?;
    let backend = console_backend()?;
    let prompts = backend.prompts().await.map_err(refused)?;
    let gateways = backend.gateways().await.map_err(refused)?;
    Ok(PromptsListing {
        prompts,
        gateways: gateways.into_iter().map(|g| (g.id, g.name)).collect(),
    })
}

/// Creates a prompt with its first version. `gateways`: ids, comma-separated (empty: every
/// gateway); `template`: the editor's state as JSON.
#[server(prefix = "/api", endpoint = "prompts_create", output = Json)]
pub async fn create_prompt(
    name: String,
    #[server(default)] description: String,
    #[server(default)] gateways: String,
    template: String,
) -> Result<Prompt, ConsoleError> {
    let admin = require_admin()?;
    let form = NewPromptForm {
        name,
        description,
        gateways,
        template,
    };
    console_backend()?.create_prompt(&admin, form).await.map_err(refused)
}

/// Adds the next version of prompt `id` from the editor's state (JSON); answers the prompt
/// with it.
#[server(prefix = "/api", endpoint = "prompts_version", output = Json)]
pub async fn add_prompt_version(id: i64, template: String) -> Result<Prompt, ConsoleError> {
    let admin = require_admin()?;
    console_backend()?
        .add_prompt_version(&admin, PromptId(id), template)
        .await
        .map_err(refused)
}

/// Points `label` of prompt `id` at `version` (adding the label, or moving it at once).
#[server(prefix = "/api", endpoint = "prompts_label", output = Json)]
pub async fn set_prompt_label(id: i64, label: String, version: i64) -> Result<Prompt, ConsoleError> {
    let admin = require_admin()?;
    console_backend()?
        .set_prompt_label(&admin, PromptId(id), label, version)
        .await
        .map_err(refused)
}

/// Sets prompt `id`'s own response cache from its form (a blank `cache`: the gateway's).
#[server(prefix = "/api", endpoint = "prompts_cache", output = Json)]
pub async fn set_prompt_cache(
    id: i64,
    #[server(default)] cache: String,
    #[server(default)] cache_ttl: String,
    #[server(default)] cache_max_entry: String,
    #[server(default)] cache_collapse: Option<String>,
    #[server(default)] cache_embedding: String,
    #[server(default)] cache_similarity: String,
) -> Result<Prompt, ConsoleError> {
    let admin = require_admin()?;
    let form = super::composites::own_cache(
        cache,
        cache_ttl,
        cache_max_entry,
        cache_collapse,
        cache_embedding,
        cache_similarity,
    );
    console_backend()?
        .set_prompt_cache(&admin, PromptId(id), form)
        .await
        .map_err(refused)
}

/// Deletes prompt `id` with its versions and labels.
#[server(prefix = "/api", endpoint = "prompts_delete", output = Json)]
pub async fn delete_prompt(id: i64) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    console_backend()?
        .delete_prompt(&admin, PromptId(id))
        .await
        .map_err(refused)
}

/// The line diff from version `from` to version `to` of prompt `id`.
#[server(prefix = "/api", endpoint = "prompts_diff", output = Json)]
pub async fn prompt_diff(id: i64, from: i64, to: i64) -> Result<Vec<DiffLine>, ConsoleError> {
    require_admin()?;
    console_backend()?
        .prompt_diff(PromptId(id), from, to)
        .await
        .map_err(refused)
}

/// How each version of prompt `id` did over `range`, up to now.
#[server(prefix = "/api", endpoint = "prompts_version_stats", output = Json)]
pub async fn prompt_version_stats(id: i64, range: DashboardRange) -> Result<Vec<VersionStats>, ConsoleError> {
    require_admin()?;
    console_backend()?
        .version_stats(PromptId(id), range)
        .await
        .map_err(refused)
}
