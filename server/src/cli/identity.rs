//! `model-gateway identity …`: the identity providers whose end-user tokens a gateway accepts
//! (issue #23), gateways named on the command line and resolved to ids here.

use super::{show::table, Output};
use crate::manage::{Actor, Manage, ManageError};
use app::types::{
    IdentityProviderId, JwtAlgorithm, KeySource, NewIdentityProvider, PeopleLimits, PromptCap, DEFAULT_LEEWAY_S,
};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// End users' identity providers.
#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Accept a gateway's end users' tokens from an issuer.
    Add(IdentityAdd),
    /// List identity providers (of one gateway with --gateway).
    List {
        #[arg(long)]
        gateway: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Stop accepting an issuer's tokens (the id `identity list` shows).
    Remove {
        id: i64,
        #[command(flatten)]
        output: Output,
    },
}

/// `identity add`: exactly one key source.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true)
    .args(["jwks_url", "discovery", "key_file", "secret_env"])))]
pub struct IdentityAdd {
    /// The gateway whose end users it identifies.
    #[arg(long)]
    gateway: String,
    /// The `iss` its tokens carry.
    #[arg(long)]
    issuer: String,
    /// An `aud` its tokens may carry (repeatable; at least one).
    #[arg(long = "audience", required = true)]
    audiences: Vec<String>,
    /// Its JSON Web Key Set's URL.
    #[arg(long)]
    jwks_url: Option<String>,
    /// Find the key set through the issuer's OpenID discovery document.
    #[arg(long)]
    discovery: bool,
    /// A PEM file with its public key.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// The environment variable holding its HS256 secret (the secret itself is never stored).
    #[arg(long)]
    secret_env: Option<String>,
    /// The algorithms its tokens may use, comma-separated (RS256, ES256, EdDSA, HS256; default
    /// RS256, or HS256 with a secret).
    #[arg(long = "alg", value_delimiter = ',', value_parser = parse_algorithm)]
    algorithms: Vec<JwtAlgorithm>,
    /// Clock skew allowed on `exp` and `nbf`, seconds.
    #[arg(long, default_value_t = DEFAULT_LEEWAY_S)]
    leeway: i64,
    /// A claim its tokens must carry (repeatable).
    #[arg(long = "require-claim")]
    required_claims: Vec<String>,
    #[command(flatten)]
    output: Output,
}

fn parse_algorithm(name: &str) -> Result<JwtAlgorithm, String> {
    JwtAlgorithm::parse(name).ok_or_else(|| {
        let names: Vec<_> = JwtAlgorithm::ALL.iter().map(|alg| alg.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

impl IdentityAdd {
    /// The key source its flags name (clap makes sure there is exactly one).
    fn keys(&self) -> Result<KeySource, ManageError> {
        if let Some(url) = &self.jwks_url {
            return Ok(KeySource::JwksUrl { url: url.clone() });
        }
        if let Some(path) = &self.key_file {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| ManageError::invalid("key", format!("{}: {e}", path.display())))?;
            return Ok(KeySource::Pem { pem });
        }
        if let Some(var) = &self.secret_env {
            return Ok(KeySource::SecretEnv { var: var.clone() });
        }
        Ok(KeySource::Discovery)
    }
}

/// Runs an `identity` subcommand; returns what to print.
pub async fn run(manage: &Manage, command: IdentityCommand) -> Result<String, ManageError> {
    let actor = Actor::cli();
    match command {
        IdentityCommand::Add(add) => {
            let new = NewIdentityProvider {
                gateway_id: manage.gateway_id(&add.gateway).await?,
                keys: add.keys()?,
                issuer: add.issuer,
                audiences: add.audiences,
                algorithms: add.algorithms,
                leeway_s: add.leeway,
                required_claims: add.required_claims,
            };
            let provider = manage.add_identity_provider(&actor, new).await?;
            Ok(add.output.show(&provider, || {
                format!(
                    "Gateway {} accepts tokens from {} (identity provider {}).",
                    add.gateway, provider.issuer, provider.id.0
                )
            }))
        }
        IdentityCommand::List { gateway, output } => {
            let gateway = match gateway {
                Some(name) => Some(manage.gateway_id(&name).await?),
                None => None,
            };
            let providers = manage.identity_providers(gateway).await?;
            let gateways = manage.gateways().await?;
            if output.json {
                return Ok(super::show::pretty(&providers));
            }
            let rows = (providers.iter())
                .map(|p| {
                    let gateway = gateways.iter().find(|g| g.id == p.gateway_id);
                    let algorithms: Vec<&str> = p.algorithms.iter().map(|alg| alg.as_str()).collect();
                    vec![
                        p.id.0.to_string(),
                        gateway.map_or_else(String::new, |g| g.name.clone()),
                        p.issuer.clone(),
                        p.audiences.join(","),
                        p.keys.kind().to_string(),
                        algorithms.join(","),
                    ]
                })
                .collect();
            Ok(table(
                &["ID", "GATEWAY", "ISSUER", "AUDIENCES", "KEYS", "ALGORITHMS"],
                rows,
            ))
        }
        IdentityCommand::Remove { id, output } => {
            manage.remove_identity_provider(&actor, IdentityProviderId(id)).await?;
            Ok(output.show(&serde_json::json!({ "removed": id }), || {
                format!("Removed identity provider {id}.")
            }))
        }
    }
}

/// `gateway update`'s flags for the limits on people (issue #23); each list flag replaces its
/// list, as `--limit` does.
#[derive(Args)]
pub struct PeopleFlags {
    /// Each end user's own limit (repeatable; replaces them): `prompts/hour=60`,
    /// `tokens/day=100000`, `cost/month=5` (`prompts` means requests).
    #[arg(long = "user-limit", conflicts_with = "no_user_limits")]
    user_limits: Vec<String>,
    /// Remove every per-user limit.
    #[arg(long)]
    no_user_limits: bool,
    /// A CEL expression over `user` (the claims) naming an end user's group, e.g.
    /// `user.department`: users it gives the same value share the group's limits.
    #[arg(long, conflicts_with = "no_group_rule")]
    group_rule: Option<String>,
    /// Remove the group rule and the group limits.
    #[arg(long, conflicts_with = "group_limits")]
    no_group_rule: bool,
    /// Each group's limit (repeatable; replaces them), as `--user-limit`.
    #[arg(long = "group-limit", conflicts_with = "no_group_limits")]
    group_limits: Vec<String>,
    /// Remove every per-group limit.
    #[arg(long)]
    no_group_limits: bool,
    /// The most tokens one request may take: its prompt plus its `max_tokens`.
    #[arg(long, conflicts_with = "no_max_tokens_per_prompt")]
    max_tokens_per_prompt: Option<i64>,
    /// Remove the cap per prompt.
    #[arg(long)]
    no_max_tokens_per_prompt: bool,
    /// What a request over the cap gets: `refuse` (400) or `clamp` (its max_tokens lowered).
    #[arg(long, value_parser = parse_prompt_cap)]
    over_prompt_cap: Option<PromptCap>,
}

fn parse_prompt_cap(name: &str) -> Result<PromptCap, String> {
    PromptCap::parse(name).ok_or_else(|| "expected refuse or clamp".to_string())
}

impl PeopleFlags {
    /// The gateway's limits on people with these flags applied to `current`; `None` when no
    /// flag changes them.
    pub fn applied(&self, current: &PeopleLimits) -> Result<Option<PeopleLimits>, ManageError> {
        let mut people = current.clone();
        let mut changed = false;
        let mut replace = |list: &mut Vec<app::types::Limit>, texts: &[String], clear: bool| {
            if clear || !texts.is_empty() {
                changed = true;
                *list = super::args::limits(texts)?;
            }
            Ok::<(), ManageError>(())
        };
        replace(&mut people.per_user, &self.user_limits, self.no_user_limits)?;
        replace(&mut people.per_group, &self.group_limits, self.no_group_limits)?;
        if self.no_group_rule {
            people.group_rule = None;
            people.per_group.clear();
            changed = true;
        } else if let Some(rule) = &self.group_rule {
            people.group_rule = Some(rule.clone());
            changed = true;
        }
        if self.no_max_tokens_per_prompt {
            people.max_tokens_per_prompt = None;
            changed = true;
        } else if let Some(cap) = self.max_tokens_per_prompt {
            people.max_tokens_per_prompt = Some(cap);
            changed = true;
        }
        if let Some(over) = self.over_prompt_cap {
            people.over_cap = over;
            changed = true;
        }
        Ok(changed.then_some(people))
    }
}
