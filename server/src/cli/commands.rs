//! The per-resource subcommands: each resolves names to ids, calls the management service as the
//! local operator, and returns what to print.

use super::{
    args::limits,
    show::{endpoints_table, keys_table, pretty, table},
    EndpointCommand, GatewayCommand, KeyCommand, PriceCommand,
};
use crate::{
    manage::{
        endpoint_choice,
        limits::{format_money, parse_money},
        Actor, Manage, ManageError,
    },
    store::now_ms,
};
use app::types::{
    Change, EndpointChoice, EndpointUpdate, GatewayUpdate, KeyUpdate, ModelPrice, NewEndpoint, NewGateway, NewKey,
    WriteOnly,
};
use serde_json::json;
use std::time::Duration;

fn in_ms(duration: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
}

/// The gateway's endpoints from the command line's `name[:weight[:priority]]` items.
fn choices(listed: &[String]) -> Result<Vec<EndpointChoice>, ManageError> {
    listed.iter().map(|item| endpoint_choice(item)).collect()
}

/// `--api-key`: the key itself, or `@FILE` for a file's contents (a service account's key
/// file is JSON of several lines).
fn key_argument(argument: String) -> Result<WriteOnly, ManageError> {
    match argument.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map(WriteOnly)
            .map_err(|error| ManageError::invalid("api_key", format!("cannot read {path}: {error}"))),
        None => Ok(WriteOnly(argument)),
    }
}

/// Runs an `endpoint` subcommand.
pub(super) async fn endpoint(manage: &Manage, command: EndpointCommand) -> Result<String, ManageError> {
    match command {
        EndpointCommand::Add(add) => {
            let endpoint = manage
                .create_endpoint(
                    &Actor::cli(),
                    NewEndpoint {
                        name: add.name,
                        provider: add.provider,
                        base_url: add.url,
                        api_key: add.api_key.map(key_argument).transpose()?,
                        model: add.model,
                        deployment: add.deployment,
                        api_version: add.api_version,
                        project: add.project,
                        region: add.region,
                        rpm_limit: add.rpm,
                        tpm_limit: add.tpm,
                        timeouts: None,
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
                        api_key: change.api_key.map(key_argument).transpose()?,
                        clear_api_key: change.clear_api_key,
                        model: change.model,
                        deployment: change.deployment,
                        api_version: change.api_version,
                        project: change.project,
                        region: change.region,
                        rpm_limit: change.rpm.map_or(Change::Keep, Change::Set),
                        tpm_limit: change.tpm.map_or(Change::Keep, Change::Set),
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
pub(super) async fn gateway(manage: &Manage, command: GatewayCommand) -> Result<String, ManageError> {
    match command {
        GatewayCommand::Add(add) => {
            let endpoints = choices(&add.endpoints)?;
            let mut new = NewGateway::new(add.name, add.strategy, endpoints);
            new.description = add.description;
            new.log_payloads = add.log_payloads;
            new.limits = limits(&add.limits)?;
            new.param_policy = add.policy.policy()?.unwrap_or_default();
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
            let current = manage.gateway(id).await?;
            let people = change.people.applied(&current.people)?;
            let cache = change.cache.applied(&current.cache);
            let model_rules = match (change.no_model_access, change.model_access.is_empty()) {
                (true, _) => Some(Vec::new()),
                (false, true) => None,
                (false, false) => Some(
                    (change.model_access.iter())
                        .map(|text| {
                            let (model, rule) = text.split_once('=').ok_or_else(|| {
                                ManageError::invalid("model_rules", format!("{text:?}: expected MODEL=EXPR"))
                            })?;
                            Ok(app::types::ModelRule {
                                model: model.trim().to_string(),
                                rule: rule.to_string(),
                            })
                        })
                        .collect::<Result<Vec<_>, ManageError>>()?,
                ),
            };
            let param_policy = match change.no_param_policy {
                true => Some(app::types::ParamPolicy::default()),
                false => change.policy.policy()?,
            };
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
                        param_policy,
                        auth_mode: change.auth,
                        access_rule: match (change.access, change.no_access) {
                            (Some(rule), _) => app::types::Change::Set(rule),
                            (None, true) => app::types::Change::Clear,
                            (None, false) => app::types::Change::Keep,
                        },
                        people,
                        model_rules,
                        cache,
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
pub(super) async fn key(manage: &Manage, command: KeyCommand) -> Result<String, ManageError> {
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
                        may_assert_users: create.may_assert_users,
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
                allowed_models: match (change.all_models, change.models) {
                    (true, _) => Change::Clear,
                    (false, models) => models.map_or(Change::Keep, Change::Set),
                },
                expires_at: match (change.no_expiry, change.expires_in) {
                    (true, _) => Change::Clear,
                    (false, expiry) => expiry.map_or(Change::Keep, |d| Change::Set(in_ms(d))),
                },
                enabled: change.enabled,
                limits: change.limits.parsed()?,
                may_assert_users: match (change.may_assert_users, change.no_may_assert_users) {
                    (true, _) => Some(true),
                    (false, true) => Some(false),
                    (false, false) => None,
                },
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
pub(super) async fn price(manage: &Manage, command: PriceCommand) -> Result<String, ManageError> {
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
