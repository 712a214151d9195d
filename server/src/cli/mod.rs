//! The resource subcommands of `model-gateway` (`endpoint`, `gateway`, `composite`, `prompt`,
//! `identity`, `guardrail`, `key`, `price`): thin wrappers over the management service, printing a table
//! or, with `--json`, JSON.
//!
//! Invariant: the CLI can do nothing the service would refuse elsewhere: every rule lives in
//! `manage`, and it acts as the local operator (`Actor::cli`), so every change is audited.
//! Names given on the command line are resolved to ids here, once. A key's secret is printed
//! once, by `key create`.

mod args;
mod cache;
mod commands;
mod composite;
mod guardrail;
mod identity;
mod prompt;
mod show;

pub use args::{
    EndpointAdd, EndpointChange, EndpointCommand, GatewayAdd, GatewayChange, GatewayCommand, KeyChange, KeyCommand,
    KeyCreate, LimitChange, PriceCommand,
};
pub use composite::CompositeCommand;
pub use guardrail::GuardrailCommand;
pub use identity::IdentityCommand;
pub use prompt::PromptCommand;

use crate::manage::{Manage, ManageError};
use clap::Args;
use show::pretty;

/// One resource subcommand.
pub enum Resource {
    Endpoint(EndpointCommand),
    Gateway(GatewayCommand),
    Composite(CompositeCommand),
    Prompt(PromptCommand),
    Identity(IdentityCommand),
    Guardrail(GuardrailCommand),
    Key(KeyCommand),
    Price(PriceCommand),
}

/// Runs a resource subcommand; returns what to print.
pub async fn run(manage: &Manage, command: Resource) -> Result<String, ManageError> {
    match command {
        Resource::Endpoint(command) => commands::endpoint(manage, command).await,
        Resource::Gateway(command) => commands::gateway(manage, command).await,
        Resource::Composite(command) => composite::run(manage, command).await,
        Resource::Prompt(command) => prompt::run(manage, command).await,
        Resource::Identity(command) => identity::run(manage, command).await,
        Resource::Guardrail(command) => guardrail::run(manage, command).await,
        Resource::Key(command) => commands::key(manage, command).await,
        Resource::Price(command) => commands::price(manage, command).await,
    }
}

/// Output format.
#[derive(Args, Clone, Copy, Default)]
pub struct Output {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl Output {
    /// `value` as JSON with `--json`, else the text `message` makes.
    fn show(self, value: &impl serde::Serialize, message: impl FnOnce() -> String) -> String {
        if self.json {
            pretty(value)
        } else {
            message()
        }
    }
}
