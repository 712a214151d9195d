//! `model-gateway composite …`: a gateway's composite models (issue #21), named by gateway and
//! name on the command line and resolved to ids here.

use super::{
    cache::OwnCacheFlags,
    show::{pretty, table},
    Output,
};
use crate::manage::{composite_member, Actor, Manage, ManageError};
use app::types::{Change, CompositeKind, CompositeMember, CompositeUpdate, GatewayId, MultiMode, NewComposite};
use clap::{Args, Subcommand};
use serde_json::json;

/// Composite models: one model name that stands for several.
#[derive(Subcommand)]
pub enum CompositeCommand {
    /// Add a composite model to a gateway.
    Add(CompositeAdd),
    /// List composite models (of one gateway with --gateway).
    List {
        /// Only this gateway's.
        #[arg(long)]
        gateway: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Change a composite model.
    Update(CompositeChange),
    /// Remove a composite model.
    Remove {
        /// Its gateway.
        #[arg(long)]
        gateway: String,
        /// Its name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        output: Output,
    },
}

const MEMBER_HELP: &str = "A member: an endpoint name of the gateway, a model it serves, or another composite; \
     `=N` is a ratio (ab) or weight (load); `category:REF=0.8` names an ab category. Repeat for each member.";

#[derive(Args)]
pub struct CompositeAdd {
    /// The gateway whose clients send its name as `model`.
    #[arg(long)]
    gateway: String,
    /// Its name, unique within the gateway.
    #[arg(long)]
    name: String,
    /// load, ab, multi or best.
    #[arg(long, value_parser = parse_kind)]
    kind: CompositeKind,
    #[arg(long = "member", required = true, help = MEMBER_HELP)]
    members: Vec<String>,
    /// load: keep each end user on the same member while it is healthy (ab always does).
    #[arg(long)]
    sticky: bool,
    /// multi: waitforall or first.
    #[arg(long, value_parser = parse_mode)]
    mode: Option<MultiMode>,
    /// best: the reference that judges.
    #[arg(long)]
    judge: Option<String>,
    /// best: the judge's instructions, in place of the default rubric.
    #[arg(long)]
    rubric: Option<String>,
    #[command(flatten)]
    cache: OwnCacheFlags,
    #[command(flatten)]
    output: Output,
}

#[derive(Args)]
pub struct CompositeChange {
    /// Its gateway.
    #[arg(long)]
    gateway: String,
    /// The composite to change.
    #[arg(long)]
    name: String,
    /// A new name.
    #[arg(long = "rename")]
    new_name: Option<String>,
    /// New members (replace the old ones).
    #[arg(long = "member", help = MEMBER_HELP)]
    members: Vec<String>,
    /// load: sticky per end user, or not.
    #[arg(long)]
    sticky: Option<bool>,
    /// multi: waitforall or first.
    #[arg(long, value_parser = parse_mode)]
    mode: Option<MultiMode>,
    /// best: a new judge.
    #[arg(long)]
    judge: Option<String>,
    /// best: new instructions for the judge; empty goes back to the default rubric.
    #[arg(long)]
    rubric: Option<String>,
    #[command(flatten)]
    cache: OwnCacheFlags,
    #[command(flatten)]
    output: Output,
}

fn parse_kind(name: &str) -> Result<CompositeKind, String> {
    CompositeKind::parse(name).ok_or_else(|| "expected one of load, ab, multi, best".into())
}

fn parse_mode(name: &str) -> Result<MultiMode, String> {
    MultiMode::parse(name).ok_or_else(|| "expected waitforall or first".into())
}

fn members(listed: &[String]) -> Result<Vec<CompositeMember>, ManageError> {
    listed.iter().map(|item| composite_member(item)).collect()
}

/// The gateway named on the command line.
async fn gateway(manage: &Manage, name: &str) -> Result<GatewayId, ManageError> {
    manage.gateway_id(name).await.map_err(|error| match error {
        ManageError::NotFound => ManageError::invalid("gateway", format!("no gateway named {name:?}")),
        other => other,
    })
}

/// Runs a `composite` subcommand.
pub async fn run(manage: &Manage, command: CompositeCommand) -> Result<String, ManageError> {
    match command {
        CompositeCommand::Add(add) => {
            let new = NewComposite {
                gateway_id: gateway(manage, &add.gateway).await?,
                name: add.name,
                kind: add.kind,
                members: members(&add.members)?,
                sticky: add.sticky,
                mode: add.mode.unwrap_or_default(),
                judge: add.judge,
                rubric: add.rubric,
                cache: add.cache.change(None).apply(None),
            };
            let composite = manage.create_composite(&Actor::cli(), new).await?;
            Ok(add.output.show(&composite, || {
                format!("Added composite model {} to {}.", composite.name, add.gateway)
            }))
        }
        CompositeCommand::List { gateway: name, output } => {
            let only = match &name {
                Some(name) => Some(gateway(manage, name).await?),
                None => None,
            };
            let composites = manage.composites(only).await?;
            if output.json {
                return Ok(pretty(&composites));
            }
            let gateways = manage.gateways().await?;
            let gateway_name =
                |id: GatewayId| (gateways.iter().find(|g| g.id == id)).map_or_else(String::new, |g| g.name.clone());
            Ok(table(
                &["GATEWAY", "NAME", "KIND", "MEMBERS", "STICKY"],
                (composites.iter())
                    .map(|c| {
                        let members: Vec<String> = (c.members.iter())
                            .map(|m| match m.category == m.target {
                                true => format!("{}={}", m.target, m.share),
                                false => format!("{}:{}={}", m.category, m.target, m.share),
                            })
                            .collect();
                        vec![
                            gateway_name(c.gateway_id),
                            c.name.clone(),
                            c.kind.as_str().into(),
                            members.join(","),
                            (c.sticky || c.kind == CompositeKind::Ab).to_string(),
                        ]
                    })
                    .collect(),
            ))
        }
        CompositeCommand::Update(change) => {
            let gateway_id = gateway(manage, &change.gateway).await?;
            let id = manage.composite_id(gateway_id, &change.name).await?;
            let current = manage.composite(id).await?;
            let update = CompositeUpdate {
                name: change.new_name,
                members: (!change.members.is_empty())
                    .then(|| members(&change.members))
                    .transpose()?,
                sticky: change.sticky,
                mode: change.mode,
                judge: change.judge.map_or(Change::Keep, Change::Set),
                rubric: match change.rubric {
                    None => Change::Keep,
                    Some(rubric) if rubric.trim().is_empty() => Change::Clear,
                    Some(rubric) => Change::Set(rubric),
                },
                cache: change.cache.change(current.cache.as_ref()),
            };
            let composite = manage.update_composite(&Actor::cli(), id, update).await?;
            Ok(change
                .output
                .show(&composite, || format!("Updated composite model {}.", composite.name)))
        }
        CompositeCommand::Remove {
            gateway: gateway_name,
            name,
            output,
        } => {
            let id = manage
                .composite_id(gateway(manage, &gateway_name).await?, &name)
                .await?;
            manage.delete_composite(&Actor::cli(), id).await?;
            Ok(output.show(&json!({ "removed": name }), || {
                format!("Removed composite model {name} from {gateway_name}.")
            }))
        }
    }
}
