//! `model-gateway prompt …`: named prompts (issue #22), their versions and labels, named on
//! the command line and resolved to ids here. A template is a YAML (or JSON) file: `messages`
//! (role and content, with `{{ variable }}`), optional `model` and `params`, and `parameters`
//! (name → `type`, `required`, `default`, `description`).

use super::{
    cache::OwnCacheFlags,
    show::{pretty, table},
    Output,
};
use crate::{
    manage::{Manage, ManageError},
    prompts,
};
use app::types::{prompt_reference, Change, NewPrompt, Prompt, PromptTemplate, VersionRef};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// Named prompts: templates applications call by name.
#[derive(Subcommand)]
pub enum PromptCommand {
    /// Create a prompt from a template file (its version 1).
    Create(PromptCreate),
    /// Add the next version of a prompt from a template file.
    Version {
        /// The prompt.
        name: String,
        /// The template file (YAML or JSON).
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        output: Output,
    },
    /// Point a label (`production`, `staging`, any name) at a version; it moves at once.
    Label {
        /// The prompt.
        name: String,
        label: String,
        /// The version it is to point at.
        #[arg(value_name = "VERSION")]
        number: i64,
        #[command(flatten)]
        output: Output,
    },
    /// Show a version's template (`NAME`, `NAME@3` or `NAME:LABEL`), its versions and labels.
    Show {
        /// The prompt, and which version.
        name: String,
        #[command(flatten)]
        output: Output,
    },
    /// List the prompts.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Render a version with parameters, as the gateway would send it (no upstream call).
    Render {
        /// The prompt, and which version (`NAME`, `NAME@3` or `NAME:LABEL`).
        name: String,
        /// A parameter, `name=value` (the value read as JSON when it is, else as text).
        #[arg(long = "param")]
        params: Vec<String>,
    },
    /// Set the access rule requests using a prompt must satisfy (a CEL expression over `user`,
    /// `request`, `gateway` and `now`), or remove it with --none.
    Access {
        name: String,
        #[arg(required_unless_present = "none", conflicts_with = "none")]
        rule: Option<String>,
        /// Remove its rule.
        #[arg(long)]
        none: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Give a prompt response cache settings of its own, used instead of the gateway's for
    /// requests using it (`--cache exact --cache-ttl 1h`), or go back to the gateway's
    /// (`--cache-from-gateway`).
    Cache(PromptCache),
    /// Remove a prompt with its versions and labels.
    Remove {
        name: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Args)]
pub struct PromptCache {
    name: String,
    #[command(flatten)]
    cache: OwnCacheFlags,
    #[command(flatten)]
    output: Output,
}

#[derive(Args)]
pub struct PromptCreate {
    /// Its name, unique.
    #[arg(long)]
    name: String,
    /// The template file (YAML or JSON).
    #[arg(long)]
    file: PathBuf,
    /// A gateway whose keys may use it (repeatable; none: every gateway).
    #[arg(long = "gateway")]
    gateways: Vec<String>,
    #[arg(long, default_value = "")]
    description: String,
    #[command(flatten)]
    output: Output,
}

/// A template file read.
fn template(file: &PathBuf) -> Result<PromptTemplate, ManageError> {
    let text = std::fs::read_to_string(file)
        .map_err(|error| ManageError::invalid("file", format!("cannot read {}: {error}", file.display())))?;
    yaml_serde::from_str(&text).map_err(|error| ManageError::invalid("file", format!("{}: {error}", file.display())))
}

/// The prompt a reference names, and its version.
async fn resolve(manage: &Manage, reference: &str) -> Result<(Prompt, VersionRef), ManageError> {
    let (name, version) = prompt_reference(reference)
        .ok_or_else(|| ManageError::invalid("name", "a prompt is NAME, NAME@VERSION or NAME:LABEL"))?;
    let prompt = manage.prompt(manage.prompt_id(name).await?).await?;
    Ok((prompt, version))
}

/// `name=value`, the value read as JSON when it is.
fn parameter(text: &str) -> Result<(String, Value), ManageError> {
    let (name, value) = (text.split_once('='))
        .ok_or_else(|| ManageError::invalid("param", format!("{text:?}: expected name=value")))?;
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
    Ok((name.trim().to_string(), value))
}

/// Runs a `prompt` subcommand.
pub async fn run(manage: &Manage, command: PromptCommand) -> Result<String, ManageError> {
    let actor = crate::manage::Actor::cli();
    match command {
        PromptCommand::Create(create) => {
            let mut gateways = Vec::new();
            for name in &create.gateways {
                gateways.push(manage.gateway_id(name).await.map_err(|error| match error {
                    ManageError::NotFound => ManageError::invalid("gateway", format!("no gateway named {name:?}")),
                    other => other,
                })?);
            }
            let new = NewPrompt {
                name: create.name,
                description: create.description,
                gateways,
                template: template(&create.file)?,
            };
            let prompt = manage.create_prompt(&actor, new).await?;
            Ok(create
                .output
                .show(&prompt, || format!("Created prompt {} (version 1).", prompt.name)))
        }
        PromptCommand::Version { name, file, output } => {
            let id = manage.prompt_id(&name).await?;
            let version = manage.add_prompt_version(&actor, id, template(&file)?).await?;
            Ok(output.show(&json!({ "name": name, "version": version }), || {
                format!("Added version {version} of {name}.")
            }))
        }
        PromptCommand::Label {
            name,
            label,
            number,
            output,
        } => {
            let id = manage.prompt_id(&name).await?;
            let prompt = manage.set_prompt_label(&actor, id, &label, number).await?;
            Ok(output.show(&prompt, || format!("{name}:{label} is version {number}.")))
        }
        PromptCommand::Show { name, output } => {
            let (prompt, reference) = resolve(manage, &name).await?;
            let version = prompt.version(&reference).ok_or(ManageError::NotFound)?;
            if output.json {
                return Ok(pretty(version));
            }
            let labels: Vec<String> = (prompt.labels.iter()).map(|(l, v)| format!("{l} → {v}")).collect();
            let yaml = yaml_serde::to_string(&version.template).map_err(|e| ManageError::internal(e.to_string()))?;
            Ok(format!(
                "# {} version {} of {} · labels: {}\n{yaml}",
                prompt.name,
                version.version,
                prompt.versions.len(),
                if labels.is_empty() {
                    "none".into()
                } else {
                    labels.join(", ")
                },
            ))
        }
        PromptCommand::List { output } => {
            let all = manage.prompts().await?;
            if output.json {
                return Ok(pretty(&all));
            }
            let gateways = manage.gateways().await?;
            let gateway_name =
                |id| (gateways.iter().find(|g| g.id == id)).map_or_else(|| format!("#{}", id.0), |g| g.name.clone());
            Ok(table(
                &["NAME", "VERSIONS", "LABELS", "GATEWAYS", "DESCRIPTION"],
                (all.iter())
                    .map(|p| {
                        let labels: Vec<String> = p.labels.iter().map(|(l, v)| format!("{l}={v}")).collect();
                        let for_gateways: Vec<String> = p.gateways.iter().map(|id| gateway_name(*id)).collect();
                        vec![
                            p.name.clone(),
                            p.versions.len().to_string(),
                            labels.join(","),
                            if for_gateways.is_empty() {
                                "all".into()
                            } else {
                                for_gateways.join(",")
                            },
                            p.description.clone(),
                        ]
                    })
                    .collect(),
            ))
        }
        PromptCommand::Render { name, params } => {
            let (prompt, reference) = resolve(manage, &name).await?;
            let version = prompt.version(&reference).ok_or(ManageError::NotFound)?;
            let given: Map<String, Value> = params.iter().map(|p| parameter(p)).collect::<Result<_, _>>()?;
            let bound = prompts::bind(&version.template, &given)
                .map_err(|fault| ManageError::invalid("param", format!("{}: {}", fault.name, fault.message)))?;
            let request = prompts::request(&version.template, &bound, Map::new())
                .map_err(|fault| ManageError::invalid("param", fault.message))?;
            Ok(pretty(&request))
        }
        PromptCommand::Access {
            name,
            rule,
            none: _,
            output,
        } => {
            let id = manage.prompt_id(&name).await?;
            let prompt = manage.set_prompt_access(&actor, id, rule.as_deref()).await?;
            Ok(output.show(&prompt, || match &prompt.access_rule {
                Some(rule) => format!("Requests using {name} must satisfy: {rule}"),
                None => format!("{name} has no access rule."),
            }))
        }
        PromptCommand::Cache(PromptCache { name, cache, output }) => {
            let id = manage.prompt_id(&name).await?;
            let current = manage.prompt(id).await?;
            let cache = match cache.change(current.cache.as_ref()) {
                Change::Keep => {
                    let wanted = "give --cache exact|off, a --cache-* setting, or --cache-from-gateway";
                    return Err(ManageError::invalid("cache", wanted));
                }
                change => change.apply(None),
            };
            let prompt = manage.set_prompt_cache(&actor, id, cache).await?;
            Ok(output.show(&prompt, || match &prompt.cache {
                Some(cache) if cache.on() => {
                    format!("{name}'s answers are cached for {} s.", cache.ttl_s)
                }
                Some(_) => format!("{name}'s answers are not cached."),
                None => format!("{name} uses its gateway's response cache."),
            }))
        }
        PromptCommand::Remove { name, output } => {
            let id = manage.prompt_id(&name).await?;
            manage.delete_prompt(&actor, id).await?;
            Ok(output.show(&json!({ "removed": name }), || format!("Removed prompt {name}.")))
        }
    }
}
