//! `model-gateway guardrail …`: a gateway's guardrails (issue #24) — added, listed, removed,
//! and tried on a text — gateways named on the command line and resolved to ids here.

use super::{show::table, Output};
use crate::manage::{Actor, Manage, ManageError};
use app::types::{Detector, GuardAction, GuardDirection, GuardrailId, NewGuardrail};
use clap::{Args, Subcommand};

/// Guardrails: what a gateway looks for in requests and answers, and what it does.
#[derive(Subcommand)]
pub enum GuardrailCommand {
    /// Add a guardrail to a gateway.
    Add(GuardrailAdd),
    /// List guardrails (of one gateway with --gateway), in the order they apply.
    List {
        #[arg(long)]
        gateway: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Remove a guardrail (the id `guardrail list` shows).
    Remove {
        id: i64,
        #[command(flatten)]
        output: Output,
    },
    /// Print what a text becomes when a request of the gateway sends it.
    Try {
        #[arg(long)]
        gateway: String,
        #[arg(long)]
        text: String,
        #[command(flatten)]
        output: Output,
    },
}

/// `guardrail add`.
#[derive(Args)]
pub struct GuardrailAdd {
    /// The gateway whose requests and answers it reads.
    #[arg(long)]
    gateway: String,
    /// What it looks for: email, phone, card, iban, ssn, ip, secret, regex:PATTERN, words:a,b,
    /// or moderation:ENDPOINT (what an OpenAI-shaped moderation endpoint flags).
    #[arg(long, value_parser = Detector::parse)]
    detector: Detector,
    /// What it does: redact, restore (redact the request, put the originals back in the
    /// answer), block or flag.
    #[arg(long, value_parser = parse_action)]
    action: GuardAction,
    /// What it reads: request, response or both (default: request for restore and moderation,
    /// else both).
    #[arg(long, value_parser = parse_direction)]
    direction: Option<GuardDirection>,
    /// Redact only what the request log stores (the provider and client see the text as it was).
    #[arg(long)]
    logs_only: bool,
    /// Moderation only: refuse requests (503) while the endpoint cannot answer, rather than
    /// letting them pass unmoderated.
    #[arg(long)]
    fail_closed: bool,
    #[command(flatten)]
    output: Output,
}

fn parse_action(text: &str) -> Result<GuardAction, String> {
    GuardAction::parse(text).ok_or_else(|| "expected one of redact, restore, block, flag".into())
}

fn parse_direction(text: &str) -> Result<GuardDirection, String> {
    GuardDirection::parse(text).ok_or_else(|| "expected one of request, response, both".into())
}

/// Runs a `guardrail` subcommand; returns what to print.
pub async fn run(manage: &Manage, command: GuardrailCommand) -> Result<String, ManageError> {
    let actor = Actor::cli();
    match command {
        GuardrailCommand::Add(add) => {
            let new = NewGuardrail {
                gateway_id: manage.gateway_id(&add.gateway).await?,
                action: add.action,
                direction: (add.direction).unwrap_or_else(|| GuardDirection::usual(&add.detector, add.action)),
                detector: add.detector,
                logs_only: add.logs_only,
                fail_closed: add.fail_closed,
            };
            let guardrail = manage.add_guardrail(&actor, new).await?;
            Ok(add.output.show(&guardrail, || {
                format!(
                    "Gateway {} {}s {} in {} (guardrail {}).",
                    add.gateway,
                    guardrail.action.as_str(),
                    guardrail.detector,
                    match guardrail.direction {
                        GuardDirection::Request => "requests",
                        GuardDirection::Response => "answers",
                        GuardDirection::Both => "requests and answers",
                    },
                    guardrail.id.0
                )
            }))
        }
        GuardrailCommand::List { gateway, output } => {
            let gateway = match gateway {
                Some(name) => Some(manage.gateway_id(&name).await?),
                None => None,
            };
            let guardrails = manage.guardrails(gateway).await?;
            if output.json {
                return Ok(super::show::pretty(&guardrails));
            }
            let gateways = manage.gateways().await?;
            let rows = (guardrails.iter())
                .map(|g| {
                    let gateway = gateways.iter().find(|gateway| gateway.id == g.gateway_id);
                    vec![
                        g.id.0.to_string(),
                        gateway.map_or_else(String::new, |gateway| gateway.name.clone()),
                        g.detector.to_string(),
                        g.action.as_str().to_string(),
                        g.direction.as_str().to_string(),
                        match (g.logs_only, g.fail_closed) {
                            (true, _) => "logs only",
                            (false, true) => "fails closed",
                            (false, false) => "",
                        }
                        .to_string(),
                    ]
                })
                .collect();
            Ok(table(
                &["ID", "GATEWAY", "DETECTOR", "ACTION", "DIRECTION", "SCOPE"],
                rows,
            ))
        }
        GuardrailCommand::Remove { id, output } => {
            manage.remove_guardrail(&actor, GuardrailId(id)).await?;
            Ok(output.show(&serde_json::json!({ "removed": id }), || {
                format!("Removed guardrail {id}.")
            }))
        }
        GuardrailCommand::Try { gateway, text, output } => {
            let trial = manage.try_guardrails(manage.gateway_id(&gateway).await?, &text).await?;
            Ok(output.show(&trial, || match &trial.blocked_by {
                Some(detector) => format!("Blocked by the {detector} guardrail."),
                None if trial.findings.is_empty() => format!("{}\n(nothing found)", trial.text),
                None => format!("{}\n(found: {})", trial.text, trial.findings.join(", ")),
            }))
        }
    }
}
