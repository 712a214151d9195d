//! The resource subcommands of `model-gateway` (`endpoint`, `gateway`, `key`, `price`): thin wrappers
//! over the management service, printing a table or, with `--json`, JSON.
//!
//! Invariant: the CLI can do nothing the service would refuse elsewhere: every rule lives in
//! `manage`, and it acts as the local operator (`Actor::cli`), so every change is audited.
//! Names given on the command line are resolved to ids here, once. A key's secret is printed
//! once, by `key create`.

use crate::{
    manage::{
        limits::{format_money, parse_limit, parse_money},
        Actor, EndpointChoice, EndpointUpdate, GatewayUpdate, KeyUpdate, Manage, ManageError, NewEndpoint, NewGateway,
        NewKey,
    },
    secrets::Secret,
    store::now_ms,
};
use app::types::{GatewayKey, InferenceEndpoint, ModelPrice, ProviderKind, Strategy, Timeouts};
use clap::{Args, Subcommand};
use serde_json::json;
use std::time::Duration;

/// One resource subcommand.
pub enum Resource {
    Endpoint(EndpointCommand),
    Gateway(GatewayCommand),
    Key(KeyCommand),
    Price(PriceCommand),
}

/// Runs a resource subcommand; returns what to print.
pub async fn run(manage: &Manage, command: Resource) -> Result<String, ManageError> {
    match command {
        Resource::Endpoint(command) => endpoint(manage, command).await,
        Resource::Gateway(command) => gateway(manage, command).await,
        Resource::Key(command) => key(manage, command).await,
        Resource::Price(command) => price(manage, command).await,
    }
}

/// Inference endpoints: the upstreams gateways route to.
#[derive(Subcommand)]
pub enum EndpointCommand {
    /// Add an endpoint.
    Add(EndpointAdd),
    /// List endpoints.
    List(Output),
    /// Change an endpoint.
    Update(EndpointChange),
    /// Remove an endpoint that no gateway uses.
    Remove {
        /// The endpoint's name.
        name: String,
        #[command(flatten)]
        output: Output,
    },
}

/// Gateways: named proxies over an ordered list of endpoints.
#[derive(Subcommand)]
pub enum GatewayCommand {
    /// Add a gateway.
    Add(GatewayAdd),
    /// List gateways.
    List(Output),
    /// Change a gateway.
    Update(GatewayChange),
    /// Remove a gateway and its keys.
    Remove {
        /// The gateway's name.
        name: String,
        #[command(flatten)]
        output: Output,
    },
}

/// Gateway keys: the credentials applications send.
#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a key; its secret is printed this once.
    Create(KeyCreate),
    /// List keys (never their secrets).
    List {
        /// Only this gateway's keys.
        #[arg(long)]
        gateway: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Revoke a key and every key under it.
    Revoke {
        /// The key's public id (as `key list` shows it).
        public_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Change a key: name, models, expiry, on/off, limits.
    Update(KeyChange),
    /// Replace a key by a new one; the old one keeps working for the grace period. The new
    /// secret is printed this once.
    Rotate {
        /// The key's public id.
        public_id: String,
        /// How long the old key keeps working (e.g. 1h, 7d; 0s ends it now).
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        grace: Duration,
        #[command(flatten)]
        output: Output,
    },
    /// Forget a key's counted usage: its limits start afresh (the hourly history stays).
    Reset {
        /// The key's public id.
        public_id: String,
        #[command(flatten)]
        output: Output,
    },
}

/// Model prices per million tokens, in the currency budgets are set in.
#[derive(Subcommand)]
pub enum PriceCommand {
    /// List prices.
    List(Output),
    /// Set a model's price (adds the model when it has none).
    Set {
        /// The model name, as endpoints name it (`gpt-4o-mini`, `claude-sonnet-4-0`…).
        model: String,
        /// Price per million input (prompt) tokens, e.g. 0.15.
        #[arg(long)]
        input: String,
        /// Price per million output (completion) tokens, e.g. 0.60.
        #[arg(long)]
        output: String,
        #[command(flatten)]
        format: Output,
    },
    /// Remove a model's price (its requests then cost nothing).
    Remove {
        model: String,
        #[command(flatten)]
        output: Output,
    },
}

/// The `--limit` flag, shared by keys and gateways.
const LIMIT_HELP: &str = "A limit, repeatable: METRIC/PERIOD=VALUE with METRIC requests, tokens or cost \
(currency) and PERIOD minute, hour, day, month or total (e.g. requests/minute=100, tokens/day=1000000, \
cost/month=25); or concurrency=VALUE";

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

#[derive(Args)]
pub struct EndpointAdd {
    /// A unique name (letters, digits, '.', '_', '-').
    #[arg(long)]
    name: String,
    /// openai, azure_openai, anthropic, ollama or openai_compatible.
    #[arg(long, value_parser = parse_provider)]
    provider: ProviderKind,
    /// Base URL [default: the provider's, where it has one]
    #[arg(long)]
    url: Option<String>,
    /// The provider API key; stored encrypted, never shown again. Prefer MGW_ENDPOINT_API_KEY
    /// to keep it out of shell history.
    #[arg(long, env = "MGW_ENDPOINT_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The model this endpoint serves.
    #[arg(long)]
    model: String,
    /// Azure: the deployment name.
    #[arg(long)]
    deployment: Option<String>,
    /// Azure: the api-version.
    #[arg(long)]
    api_version: Option<String>,
    /// A region label.
    #[arg(long)]
    region: Option<String>,
    /// The provider's requests per minute for this endpoint.
    #[arg(long)]
    rpm: Option<i64>,
    /// The provider's tokens per minute for this endpoint.
    #[arg(long)]
    tpm: Option<i64>,
    /// Add it switched off.
    #[arg(long)]
    disabled: bool,
    #[command(flatten)]
    output: Output,
}

#[derive(Args)]
pub struct EndpointChange {
    /// The endpoint to change.
    name: String,
    /// A new name.
    #[arg(long = "rename")]
    new_name: Option<String>,
    /// A new base URL.
    #[arg(long)]
    url: Option<String>,
    /// A new API key. (Not read from MGW_ENDPOINT_API_KEY: a key exported for `add` must not
    /// land on whichever endpoint is updated next.)
    #[arg(long)]
    api_key: Option<String>,
    /// Forget the stored API key.
    #[arg(long, conflicts_with = "api_key")]
    clear_api_key: bool,
    /// A new model.
    #[arg(long)]
    model: Option<String>,
    /// Azure: a new deployment name.
    #[arg(long)]
    deployment: Option<String>,
    /// Azure: a new api-version.
    #[arg(long)]
    api_version: Option<String>,
    /// A new region label.
    #[arg(long)]
    region: Option<String>,
    /// New requests per minute.
    #[arg(long)]
    rpm: Option<i64>,
    /// New tokens per minute.
    #[arg(long)]
    tpm: Option<i64>,
    /// Switch it on (true) or off (false).
    #[arg(long)]
    enabled: Option<bool>,
    #[command(flatten)]
    output: Output,
}

#[derive(Args)]
pub struct GatewayAdd {
    /// A unique name.
    #[arg(long)]
    name: String,
    /// Endpoint names in order, comma-separated; each may carry :weight[:priority].
    #[arg(long, value_delimiter = ',', required = true)]
    endpoints: Vec<String>,
    /// round_robin, weighted, priority, least_busy, least_latency or random.
    #[arg(long, default_value = "priority", value_parser = parse_strategy)]
    strategy: Strategy,
    /// What the gateway is for.
    #[arg(long, default_value = "")]
    description: String,
    /// Log request and response bodies (off by default).
    #[arg(long)]
    log_payloads: bool,
    #[arg(long = "limit", help = LIMIT_HELP)]
    limits: Vec<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(Args)]
pub struct GatewayChange {
    /// The gateway to change.
    name: String,
    /// A new name.
    #[arg(long = "rename")]
    new_name: Option<String>,
    /// A new endpoint list (replaces the old one).
    #[arg(long, value_delimiter = ',')]
    endpoints: Option<Vec<String>>,
    /// A new strategy.
    #[arg(long, value_parser = parse_strategy)]
    strategy: Option<Strategy>,
    /// A new description.
    #[arg(long)]
    description: Option<String>,
    /// Log request metadata (true/false).
    #[arg(long)]
    log_metadata: Option<bool>,
    /// Log request and response bodies (true/false).
    #[arg(long)]
    log_payloads: Option<bool>,
    /// Switch it on (true) or off (false).
    #[arg(long)]
    enabled: Option<bool>,
    #[command(flatten)]
    limits: LimitChange,
    #[command(flatten)]
    output: Output,
}

/// `--limit` and `--no-limits` for `update` subcommands.
#[derive(Args)]
pub struct LimitChange {
    /// Replaces all its own limits (repeatable; see `key create --help`).
    #[arg(long = "limit", conflicts_with = "no_limits")]
    limits: Vec<String>,
    /// Remove all its own limits (a key's ancestors' and gateway's still apply).
    #[arg(long)]
    no_limits: bool,
}

impl LimitChange {
    /// `Some(new limits)` when the flags change them.
    fn parsed(&self) -> Result<Option<Vec<app::types::Limit>>, ManageError> {
        if self.no_limits {
            return Ok(Some(Vec::new()));
        }
        if self.limits.is_empty() {
            return Ok(None);
        }
        limits(&self.limits).map(Some)
    }
}

#[derive(Args)]
pub struct KeyCreate {
    /// The gateway the key opens.
    #[arg(long)]
    gateway: String,
    /// A name for people.
    #[arg(long)]
    name: String,
    /// The public id of the parent key.
    #[arg(long)]
    parent: Option<String>,
    /// Models it may use, comma-separated [default: all of the gateway's]
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Expire after this long (e.g. 30d, 12h).
    #[arg(long, value_parser = humantime::parse_duration)]
    expires_in: Option<Duration>,
    #[arg(long = "limit", help = LIMIT_HELP)]
    limits: Vec<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(Args)]
pub struct KeyChange {
    /// The key's public id.
    public_id: String,
    /// A new name.
    #[arg(long = "rename")]
    new_name: Option<String>,
    /// Models it may use, comma-separated (replaces the list).
    #[arg(long, value_delimiter = ',', conflicts_with = "all_models")]
    models: Option<Vec<String>>,
    /// Let it use every model of its gateway.
    #[arg(long)]
    all_models: bool,
    /// Expire this long from now (e.g. 30d).
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "no_expiry")]
    expires_in: Option<Duration>,
    /// Never expire.
    #[arg(long)]
    no_expiry: bool,
    /// Switch it on (true) or off (false).
    #[arg(long)]
    enabled: Option<bool>,
    #[command(flatten)]
    limits: LimitChange,
    #[command(flatten)]
    output: Output,
}

fn limits(texts: &[String]) -> Result<Vec<app::types::Limit>, ManageError> {
    texts.iter().map(|text| parse_limit(text)).collect()
}

fn in_ms(duration: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
}

fn parse_provider(name: &str) -> Result<ProviderKind, String> {
    ProviderKind::parse(name).ok_or_else(|| {
        let names: Vec<_> = ProviderKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

fn parse_strategy(name: &str) -> Result<Strategy, String> {
    Strategy::parse(name).ok_or_else(|| {
        let names: Vec<_> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// The gateway's endpoints from the command line's `name[:weight[:priority]]` items.
fn choices(listed: &[String]) -> Result<Vec<EndpointChoice>, ManageError> {
    listed.iter().map(|item| EndpointChoice::parse(item)).collect()
}

/// Rows as an aligned text table.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn optional(value: &Option<impl ToString>) -> String {
    value.as_ref().map_or_else(|| "-".to_string(), ToString::to_string)
}

fn endpoints_table(endpoints: &[InferenceEndpoint]) -> String {
    table(
        &["NAME", "PROVIDER", "MODEL", "URL", "KEY", "ENABLED"],
        endpoints
            .iter()
            .map(|e| {
                vec![
                    e.name.clone(),
                    e.provider.as_str().into(),
                    e.model.clone(),
                    e.base_url.clone(),
                    if e.has_credential { "set" } else { "-" }.into(),
                    e.enabled.to_string(),
                ]
            })
            .collect(),
    )
}

fn keys_table(keys: &[GatewayKey]) -> String {
    table(
        &["ID", "NAME", "KEY", "PARENT", "STATE", "LIMITS"],
        keys.iter()
            .map(|k| {
                let parent = k
                    .parent_id
                    .and_then(|p| keys.iter().find(|o| o.id == p))
                    .map(|p| p.public_id.clone());
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else if k.grace_until.is_some_and(|at| at <= now_ms()) {
                    "rotated"
                } else if k.grace_until.is_some() {
                    "rotating"
                } else if k.enabled {
                    "active"
                } else {
                    "disabled"
                };
                vec![
                    k.public_id.clone(),
                    k.name.clone(),
                    k.masked.clone(),
                    optional(&parent),
                    state.into(),
                    k.limits
                        .iter()
                        .map(app::types::Limit::spelled)
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            })
            .collect(),
    )
}

/// Runs an `endpoint` subcommand.
async fn endpoint(manage: &Manage, command: EndpointCommand) -> Result<String, ManageError> {
    match command {
        EndpointCommand::Add(add) => {
            let endpoint = manage
                .create_endpoint(
                    &Actor::cli(),
                    NewEndpoint {
                        name: add.name,
                        provider: add.provider,
                        base_url: add.url,
                        api_key: add.api_key.map(Secret::new),
                        model: add.model,
                        deployment: add.deployment,
                        api_version: add.api_version,
                        region: add.region,
                        rpm_limit: add.rpm,
                        tpm_limit: add.tpm,
                        timeouts: Timeouts::default(),
                        enabled: !add.disabled,
                    },
                )
                .await?;
            Ok(add
                .output
                .show(&endpoint, || format!("Added endpoint {}.", endpoint.name)))
        }
        EndpointCommand::List(output) => {
            let endpoints = manage.endpoints().await?;
            Ok(output.show(&endpoints, || endpoints_table(&endpoints)))
        }
        EndpointCommand::Update(change) => {
            let id = manage.endpoint_id(&change.name).await?;
            let endpoint = manage
                .update_endpoint(
                    &Actor::cli(),
                    id,
                    EndpointUpdate {
                        name: change.new_name,
                        base_url: change.url,
                        api_key: change.api_key.map(Secret::new),
                        clear_api_key: change.clear_api_key,
                        model: change.model,
                        deployment: change.deployment,
                        api_version: change.api_version,
                        region: change.region,
                        rpm_limit: change.rpm,
                        tpm_limit: change.tpm,
                        enabled: change.enabled,
                    },
                )
                .await?;
            Ok(change
                .output
                .show(&endpoint, || format!("Updated endpoint {}.", endpoint.name)))
        }
        EndpointCommand::Remove { name, output } => {
            let id = manage.endpoint_id(&name).await?;
            manage.delete_endpoint(&Actor::cli(), id).await?;
            Ok(output.show(&json!({ "removed": name }), || format!("Removed endpoint {name}.")))
        }
    }
}

/// Runs a `gateway` subcommand.
async fn gateway(manage: &Manage, command: GatewayCommand) -> Result<String, ManageError> {
    match command {
        GatewayCommand::Add(add) => {
            let endpoints = choices(&add.endpoints)?;
            let mut new = NewGateway::new(add.name, add.strategy, endpoints);
            new.description = add.description;
            new.log_payloads = add.log_payloads;
            new.limits = limits(&add.limits)?;
            let gateway = manage.create_gateway(&Actor::cli(), new).await?;
            Ok(add.output.show(&gateway, || format!("Added gateway {}.", gateway.name)))
        }
        GatewayCommand::List(output) => {
            let gateways = manage.gateways().await?;
            if output.json {
                return Ok(pretty(&gateways));
            }
            Ok(table(
                &["NAME", "STRATEGY", "ENDPOINTS", "ENABLED"],
                gateways
                    .iter()
                    .map(|g| {
                        let endpoints: Vec<String> = g
                            .endpoints
                            .iter()
                            .map(|e| format!("{}:{}:{}", e.endpoint_name, e.weight, e.priority))
                            .collect();
                        vec![
                            g.name.clone(),
                            g.strategy.as_str().into(),
                            endpoints.join(","),
                            g.enabled.to_string(),
                        ]
                    })
                    .collect(),
            ))
        }
        GatewayCommand::Update(change) => {
            let endpoints = change.endpoints.as_deref().map(choices).transpose()?;
            let id = manage.gateway_id(&change.name).await?;
            let new_limits = change.limits.parsed()?;
            let gateway = manage
                .update_gateway(
                    &Actor::cli(),
                    id,
                    GatewayUpdate {
                        name: change.new_name,
                        description: change.description,
                        strategy: change.strategy,
                        endpoints,
                        log_metadata: change.log_metadata,
                        log_payloads: change.log_payloads,
                        enabled: change.enabled,
                        limits: new_limits,
                        ..GatewayUpdate::default()
                    },
                )
                .await?;
            Ok(change
                .output
                .show(&gateway, || format!("Updated gateway {}.", gateway.name)))
        }
        GatewayCommand::Remove { name, output } => {
            let id = manage.gateway_id(&name).await?;
            manage.delete_gateway(&Actor::cli(), id).await?;
            Ok(output.show(&json!({ "removed": name }), || {
                format!("Removed gateway {name} and its keys.")
            }))
        }
    }
}

/// Runs a `key` subcommand.
async fn key(manage: &Manage, command: KeyCommand) -> Result<String, ManageError> {
    match command {
        KeyCommand::Create(create) => {
            let gateway = manage.gateway_id(&create.gateway).await.map_err(|error| match error {
                ManageError::NotFound => {
                    ManageError::invalid("gateway", format!("no gateway named {:?}", create.gateway))
                }
                other => other,
            })?;
            let created = manage
                .create_key(
                    &Actor::cli(),
                    NewKey {
                        gateway,
                        name: create.name,
                        parent: create.parent,
                        allowed_models: create.models,
                        expires_at: create.expires_in.map(in_ms),
                        limits: limits(&create.limits)?,
                    },
                )
                .await?;
            Ok(create.output.show(
                &json!({ "key": created.secret.expose(), "details": created.key }),
                || {
                    format!(
                        "Created key {} ({}). Its secret is shown this once:\n\n{}\n",
                        created.key.public_id,
                        created.key.name,
                        created.secret.expose()
                    )
                },
            ))
        }
        KeyCommand::List { gateway, output } => {
            let gateway = match gateway {
                Some(name) => Some(manage.gateway_id(&name).await?),
                None => None,
            };
            let keys = manage.keys(gateway).await?;
            Ok(output.show(&keys, || keys_table(&keys)))
        }
        KeyCommand::Revoke { public_id, output } => {
            let revoked = manage.revoke_key(&Actor::cli(), &public_id).await?;
            Ok(output.show(&json!({ "revoked": revoked }), || {
                format!("Revoked {revoked} key(s): {public_id} and its descendants.")
            }))
        }
        KeyCommand::Update(change) => {
            let update = KeyUpdate {
                name: change.new_name,
                allowed_models: if change.all_models {
                    Some(None)
                } else {
                    change.models.map(Some)
                },
                expires_at: if change.no_expiry {
                    Some(None)
                } else {
                    change.expires_in.map(|d| Some(in_ms(d)))
                },
                enabled: change.enabled,
                limits: change.limits.parsed()?,
            };
            let key = manage.update_key(&Actor::cli(), &change.public_id, update).await?;
            Ok(change.output.show(&key, || format!("Updated key {}.", key.public_id)))
        }
        KeyCommand::Rotate {
            public_id,
            grace,
            output,
        } => {
            let created = manage.rotate_key(&Actor::cli(), &public_id, grace).await?;
            Ok(output.show(
                &json!({ "key": created.secret.expose(), "details": created.key, "replaces": public_id }),
                || {
                    format!(
                        "Rotated {public_id}: it works for {} more. The new key is {}; its secret is shown this once:\n\n{}\n",
                        humantime::format_duration(grace),
                        created.key.public_id,
                        created.secret.expose()
                    )
                },
            ))
        }
        KeyCommand::Reset { public_id, output } => {
            let key = manage.reset_key_usage(&Actor::cli(), &public_id).await?;
            Ok(output.show(&key, || format!("Reset the counted usage of key {}.", key.public_id)))
        }
    }
}

/// Runs a `price` subcommand.
async fn price(manage: &Manage, command: PriceCommand) -> Result<String, ManageError> {
    match command {
        PriceCommand::List(output) => {
            let prices = manage.prices().await?;
            Ok(output.show(&prices, || {
                table(
                    &["MODEL", "INPUT / 1M", "OUTPUT / 1M"],
                    prices
                        .iter()
                        .map(|p| {
                            vec![
                                p.model.clone(),
                                format_money(p.input_per_mtok_micros),
                                format_money(p.output_per_mtok_micros),
                            ]
                        })
                        .collect(),
                )
            }))
        }
        PriceCommand::Set {
            model,
            input,
            output,
            format,
        } => {
            let price = manage
                .set_price(
                    &Actor::cli(),
                    ModelPrice {
                        model,
                        input_per_mtok_micros: parse_money("input", &input)?,
                        output_per_mtok_micros: parse_money("output", &output)?,
                    },
                )
                .await?;
            Ok(format.show(&price, || format!("Set the price of {}.", price.model)))
        }
        PriceCommand::Remove { model, output } => {
            manage.remove_price(&Actor::cli(), &model).await?;
            Ok(output.show(&json!({ "removed": model }), || {
                format!("Removed the price of {model}.")
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let text = table(
            &["A", "LONGER"],
            vec![vec!["wide cell".into(), "x".into()], vec!["y".into(), "z".into()]],
        );
        assert_eq!(text, "A          LONGER\nwide cell  x\ny          z");
    }
}
