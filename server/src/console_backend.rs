//! What the console's server functions call: the management service, acting as the signed-in
//! admin through the console (its operations check the role and record every change).
//!
//! Does not: decide a business rule or check a permission; those are `manage`'s, the same
//! GraphQL calls.

use crate::{
    manage::{
        limits::{parse_limit, parse_money},
        validate::expires_in_days,
        Actor, EndpointChoice, EndpointUpdate, Manage, ManageError, NewAdmin, NewEndpoint, NewGateway, NewKey,
        ROTATION_GRACE,
    },
    proxy::{registry::Registry, Proxy},
    secrets::Secret,
    store::{now_ms, HourlyKind, HourlyScope, LimitScope, LogFilter},
};
use app::api::{BoxFuture, ConsoleBackend};
use app::types::{
    fill_hours, gateway_target, replay_of, AdminAccount, AdminRole, AdminTokenId, AdminUser, AdminUserId,
    CreatedAdminToken, DashboardQuery, DashboardRange, DashboardStats, EndpointId, EndpointListing, EndpointProbe,
    FieldError, Gateway, GatewayId, InferenceEndpoint, KeyListing, LimitUsage, LogPage, LogQuery, ModelPrice,
    NewEndpointForm, NewGatewayForm, NewKeyForm, Overview, PlaygroundSetup, PlaygroundTarget, ProviderKind, RequestLog,
    ScopeSums, SettingsListing, ShownOnce, Strategy, Timeouts, UsageSums, Via, WriteOnly,
};
use std::sync::Arc;

/// The console's backend.
#[derive(Clone)]
pub struct Console {
    pub manage: Manage,
    pub proxy: Arc<Proxy>,
    pub registry: Arc<Registry>,
    /// `public_url` from the configuration, for the gateways' URLs and snippets.
    pub public_url: Option<String>,
    /// Whether the console is served over HTTPS (the snippets' scheme without `public_url`).
    pub serves_https: bool,
}

/// A management error for a form: the field it names, if any. A conflict (a name in use) is
/// the name's.
fn field_error(error: ManageError) -> FieldError {
    match error {
        ManageError::Invalid { field, message } => FieldError {
            field: field.to_string(),
            message,
        },
        ManageError::Conflict { field, message } => FieldError {
            field: field.unwrap_or_default().to_string(),
            message,
        },
        other => FieldError {
            field: String::new(),
            message: other.to_string(),
        },
    }
}

/// A blank field as "not given".
fn given(text: String) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// A comma-separated list, trimmed, without empty items.
fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|item| !item.is_empty())
}

/// The signed-in admin, acting through the console.
fn actor(admin: &AdminUser) -> Actor {
    Actor::admin(admin.clone(), Via::Console)
}

impl Console {
    /// The playground's targets (each endpoint, and each enabled gateway's models and aliases),
    /// the prices, and the logged request to replay.
    async fn playground_setup(
        &self,
        admin: &AdminUser,
        replay: Option<String>,
    ) -> Result<PlaygroundSetup, ManageError> {
        let endpoints = self.manage.endpoints().await?;
        let gateways = self.manage.gateways().await?;
        let mut setup = PlaygroundSetup {
            can_send: actor(admin).may_write(),
            prices: self.manage.prices().await?,
            endpoint_models: endpoints.iter().map(|e| (e.name.clone(), e.model.clone())).collect(),
            ..PlaygroundSetup::default()
        };
        for endpoint in &endpoints {
            setup.targets.push(PlaygroundTarget {
                value: format!("endpoint:{}", endpoint.id.0),
                label: format!("{} ({})", endpoint.name, endpoint.model),
                group: "Endpoints".into(),
            });
        }
        for gateway in gateways.iter().filter(|g| g.enabled) {
            let mut models: Vec<&str> = (gateway.endpoints.iter())
                .filter_map(|link| endpoints.iter().find(|e| e.id == link.endpoint_id))
                .map(|e| e.model.as_str())
                .chain(gateway.model_aliases.keys().map(String::as_str))
                .collect();
            models.sort_unstable();
            models.dedup();
            for model in models {
                setup.targets.push(PlaygroundTarget {
                    value: gateway_target(gateway.id, model),
                    label: format!("{model} via {}", gateway.name),
                    group: format!("Gateway {}", gateway.name),
                });
            }
        }
        if let Some(request_id) = replay.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
            let log = self
                .manage
                .request_log(request_id)
                .await?
                .ok_or(ManageError::NotFound)?
                .1;
            let wanted = match (log.gateway_id, &log.model) {
                (Some(gateway), Some(model)) => Some(gateway_target(gateway, model)),
                _ => log.endpoint_id.map(|id| format!("endpoint:{}", id.0)),
            };
            let target = wanted.filter(|value| setup.targets.iter().any(|t| &t.value == value));
            setup.replay = Some(replay_of(&log, target));
        }
        Ok(setup)
    }

    /// The dashboard: the scope's hours over the range (the current hour last), and for every
    /// gateway, each gateway's and each endpoint's sums.
    async fn dashboard_stats(&self, query: DashboardQuery) -> Result<DashboardStats, ManageError> {
        const HOUR_MS: i64 = 3_600_000;
        let range = DashboardRange::parse(query.range.trim());
        let read_at = now_ms();
        let to = read_at - read_at.rem_euclid(HOUR_MS) + HOUR_MS;
        let from = to - range.hours() * HOUR_MS;
        let gateways = self.manage.gateways().await?;
        let endpoints = self.manage.endpoints().await?;
        let scope_text = query.scope.trim();
        let scope = match scope_text.split_once(':') {
            None if scope_text.is_empty() => HourlyScope::AllGateways,
            Some(("gateway", name)) => HourlyScope::Gateway(
                gateways
                    .iter()
                    .find(|g| g.name == name)
                    .ok_or_else(|| ManageError::invalid("scope", format!("no gateway is named {name:?}")))?
                    .id,
            ),
            Some(("endpoint", name)) => HourlyScope::Endpoint(
                endpoints
                    .iter()
                    .find(|e| e.name == name)
                    .ok_or_else(|| ManageError::invalid("scope", format!("no endpoint is named {name:?}")))?
                    .id,
            ),
            _ => {
                return Err(ManageError::invalid(
                    "scope",
                    "is not `gateway:<name>` or `endpoint:<name>`",
                ))
            }
        };
        let series = fill_hours(from, range.hours(), self.manage.hourly_usage(scope, from, to).await?);
        let mut stats = DashboardStats {
            range,
            scope: scope_text.to_string(),
            totals: UsageSums::of(&series),
            series,
            gateway_names: gateways.iter().map(|g| g.name.clone()).collect(),
            endpoint_names: endpoints.iter().map(|e| e.name.clone()).collect(),
            read_at,
            ..DashboardStats::default()
        };
        if scope == HourlyScope::AllGateways {
            // One grouped read per kind; a gateway or endpoint without traffic sums to zero.
            let by_gateway = self.manage.hourly_sums(HourlyKind::Gateway, from, to).await?;
            let by_endpoint = self.manage.hourly_sums(HourlyKind::Endpoint, from, to).await?;
            let sums =
                |map: &std::collections::BTreeMap<i64, UsageSums>, id: i64| map.get(&id).cloned().unwrap_or_default();
            stats.gateways = (gateways.iter())
                .map(|g| ScopeSums {
                    name: g.name.clone(),
                    sums: sums(&by_gateway, g.id.0),
                })
                .collect();
            stats.endpoints = (endpoints.iter())
                .map(|e| ScopeSums {
                    name: e.name.clone(),
                    sums: sums(&by_endpoint, e.id.0),
                })
                .collect();
            for list in [&mut stats.gateways, &mut stats.endpoints] {
                list.sort_by(|a, b| b.sums.requests.cmp(&a.sums.requests).then_with(|| a.name.cmp(&b.name)));
            }
        }
        Ok(stats)
    }
}

impl ConsoleBackend for Console {
    fn overview(&self) -> BoxFuture<'_, Result<Overview, String>> {
        Box::pin(async move { self.manage.overview().await.map_err(|e| e.to_string()) })
    }

    fn playground<'a>(
        &'a self,
        admin: &'a AdminUser,
        replay: Option<String>,
    ) -> BoxFuture<'a, Result<PlaygroundSetup, String>> {
        Box::pin(async move { self.playground_setup(admin, replay).await.map_err(|e| e.to_string()) })
    }

    fn settings(&self) -> BoxFuture<'_, Result<SettingsListing, String>> {
        Box::pin(async move {
            let listing = async {
                Ok::<_, ManageError>(SettingsListing {
                    admins: self.manage.admin_accounts().await?,
                    tokens: self.manage.admin_tokens().await?,
                    prices: self.manage.prices().await?,
                    read_at: now_ms(),
                })
            };
            listing.await.map_err(|e| e.to_string())
        })
    }

    fn create_admin<'a>(
        &'a self,
        admin: &'a AdminUser,
        email: String,
        password: WriteOnly,
        role: AdminRole,
    ) -> BoxFuture<'a, Result<AdminAccount, FieldError>> {
        Box::pin(async move {
            let new = NewAdmin {
                email,
                password: Secret::new(password.0),
                role,
            };
            let user = self
                .manage
                .create_admin(&actor(admin), new)
                .await
                .map_err(field_error)?;
            self.manage.admin_account(user.id).await.map_err(field_error)
        })
    }

    fn update_admin<'a>(
        &'a self,
        admin: &'a AdminUser,
        id: AdminUserId,
        role: Option<AdminRole>,
        disabled: Option<bool>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            (self.manage.update_admin(&actor(admin), id, role, disabled).await).map_err(|e| e.to_string())?;
            Ok(())
        })
    }

    fn delete_admin<'a>(&'a self, admin: &'a AdminUser, id: AdminUserId) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { (self.manage.delete_admin(&actor(admin), id).await).map_err(|e| e.to_string()) })
    }

    fn change_password<'a>(
        &'a self,
        admin: &'a AdminUser,
        current: WriteOnly,
        new: WriteOnly,
        session: Option<app::api::SessionToken>,
    ) -> BoxFuture<'a, Result<(), FieldError>> {
        Box::pin(async move {
            let session = session.as_ref().map(app::api::SessionToken::expose);
            let (current, new) = (Secret::new(current.0), Secret::new(new.0));
            (self.manage.change_password(&actor(admin), current, new, session).await).map_err(field_error)
        })
    }

    fn create_admin_token<'a>(
        &'a self,
        admin: &'a AdminUser,
        name: String,
        role: AdminRole,
        days: String,
    ) -> BoxFuture<'a, Result<CreatedAdminToken, FieldError>> {
        Box::pin(async move {
            let expires_at = expires_in_days("expires_in_days", &days).map_err(field_error)?;
            let created = (self
                .manage
                .create_admin_token(&actor(admin), &name, role, expires_at)
                .await)
                .map_err(field_error)?;
            Ok(CreatedAdminToken {
                token: created.token,
                secret: created.secret.expose().to_string(),
            })
        })
    }

    fn revoke_admin_token<'a>(&'a self, admin: &'a AdminUser, id: AdminTokenId) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            (self.manage.revoke_admin_token(&actor(admin), id).await).map_err(|e| e.to_string())?;
            Ok(())
        })
    }

    fn set_price<'a>(
        &'a self,
        admin: &'a AdminUser,
        model: String,
        input: String,
        output: String,
    ) -> BoxFuture<'a, Result<ModelPrice, FieldError>> {
        Box::pin(async move {
            let price = ModelPrice {
                model,
                input_per_mtok_micros: parse_money("input", input.trim()).map_err(field_error)?,
                output_per_mtok_micros: parse_money("output", output.trim()).map_err(field_error)?,
            };
            self.manage.set_price(&actor(admin), price).await.map_err(field_error)
        })
    }

    fn remove_price<'a>(&'a self, admin: &'a AdminUser, model: String) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { (self.manage.remove_price(&actor(admin), &model).await).map_err(|e| e.to_string()) })
    }

    fn dashboard(&self, query: DashboardQuery) -> BoxFuture<'_, Result<DashboardStats, String>> {
        Box::pin(async move { self.dashboard_stats(query).await.map_err(|e| e.to_string()) })
    }

    fn endpoints(&self) -> BoxFuture<'_, Result<Vec<EndpointListing>, String>> {
        Box::pin(async move {
            let endpoints = self.manage.endpoints().await.map_err(|e| e.to_string())?;
            Ok(endpoints
                .into_iter()
                .map(|endpoint| EndpointListing {
                    health: self.manage.endpoint_health(endpoint.id),
                    endpoint,
                })
                .collect())
        })
    }

    fn create_endpoint<'a>(
        &'a self,
        admin: &'a AdminUser,
        form: NewEndpointForm,
    ) -> BoxFuture<'a, Result<InferenceEndpoint, FieldError>> {
        Box::pin(async move {
            let provider = ProviderKind::parse(form.provider.trim()).ok_or_else(|| FieldError {
                field: "provider".into(),
                message: "choose a provider".into(),
            })?;
            let new = NewEndpoint {
                name: form.name,
                provider,
                base_url: given(form.base_url),
                api_key: given(form.api_key).map(Secret::new),
                model: form.model.trim().to_string(),
                deployment: given(form.deployment),
                api_version: given(form.api_version),
                region: given(form.region),
                rpm_limit: None,
                tpm_limit: None,
                timeouts: Timeouts::default(),
                enabled: true,
            };
            self.manage
                .create_endpoint(&actor(admin), new)
                .await
                .map_err(field_error)
        })
    }

    fn update_endpoint<'a>(
        &'a self,
        admin: &'a AdminUser,
        id: EndpointId,
        form: NewEndpointForm,
    ) -> BoxFuture<'a, Result<InferenceEndpoint, FieldError>> {
        Box::pin(async move {
            let update = EndpointUpdate {
                name: given(form.name),
                base_url: given(form.base_url),
                api_key: given(form.api_key).map(Secret::new),
                model: given(form.model),
                deployment: given(form.deployment),
                api_version: given(form.api_version),
                region: given(form.region),
                ..EndpointUpdate::default()
            };
            self.manage
                .update_endpoint(&actor(admin), id, update)
                .await
                .map_err(field_error)
        })
    }

    fn delete_endpoint<'a>(&'a self, admin: &'a AdminUser, id: EndpointId) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { (self.manage.delete_endpoint(&actor(admin), id).await).map_err(|e| e.to_string()) })
    }

    fn gateways(&self) -> BoxFuture<'_, Result<Vec<Gateway>, String>> {
        Box::pin(async move { self.manage.gateways().await.map_err(|e| e.to_string()) })
    }

    fn public_url(&self) -> Option<String> {
        self.public_url.clone()
    }

    fn serves_https(&self) -> bool {
        self.serves_https
    }

    fn create_gateway<'a>(
        &'a self,
        admin: &'a AdminUser,
        form: NewGatewayForm,
    ) -> BoxFuture<'a, Result<Gateway, FieldError>> {
        Box::pin(async move {
            let strategy = Strategy::parse(form.strategy.trim()).ok_or_else(|| FieldError {
                field: "strategy".into(),
                message: "choose a strategy".into(),
            })?;
            let endpoints = items(&form.endpoints)
                .map(EndpointChoice::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(field_error)?;
            let mut new = NewGateway::new(form.name, strategy, endpoints);
            new.description = form.description;
            new.log_payloads = form.log_payloads;
            self.manage
                .create_gateway(&actor(admin), new)
                .await
                .map_err(field_error)
        })
    }

    fn delete_gateway<'a>(&'a self, admin: &'a AdminUser, id: GatewayId) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { (self.manage.delete_gateway(&actor(admin), id).await).map_err(|e| e.to_string()) })
    }

    fn keys(&self) -> BoxFuture<'_, Result<Vec<KeyListing>, String>> {
        Box::pin(async move {
            let gateways = self.manage.gateways().await.map_err(|e| e.to_string())?;
            let keys = self.manage.keys(None).await.map_err(|e| e.to_string())?;
            let now = now_ms();
            Ok(keys
                .into_iter()
                .map(|key| {
                    let usage = (key.limits.iter())
                        .map(|limit| {
                            let (used, _, in_flight) =
                                (self.proxy.ledger).usage(LimitScope::Key(key.id), limit.metric, limit.period, now);
                            let used = match limit.metric {
                                app::types::Metric::Concurrency => in_flight,
                                _ => used,
                            };
                            LimitUsage { limit: *limit, used }
                        })
                        .collect();
                    let gateway = (gateways.iter().find(|g| g.id == key.gateway_id))
                        .map(|g| g.name.clone())
                        .unwrap_or_default();
                    KeyListing {
                        status: app::types::KeyStatus::of(&key, now),
                        key,
                        gateway,
                        usage,
                    }
                })
                .collect())
        })
    }

    fn create_key<'a>(
        &'a self,
        admin: &'a AdminUser,
        form: NewKeyForm,
    ) -> BoxFuture<'a, Result<ShownOnce, FieldError>> {
        Box::pin(async move {
            let limits = items(&form.limits)
                .map(parse_limit)
                .collect::<Result<Vec<_>, _>>()
                .map_err(field_error)?;
            let models: Vec<String> = items(&form.allowed_models).map(str::to_string).collect();
            let expires_at = expires_in_days("expires_in_days", &form.expires_in_days).map_err(field_error)?;
            let gateway = form.gateway.trim().parse().map(GatewayId).map_err(|_| FieldError {
                field: "gateway".into(),
                message: "choose a gateway".into(),
            })?;
            let created = self
                .manage
                .create_key(
                    &actor(admin),
                    NewKey {
                        gateway,
                        name: form.name,
                        parent: given(form.parent),
                        allowed_models: (!models.is_empty()).then_some(models),
                        expires_at,
                        limits,
                    },
                )
                .await
                .map_err(field_error)?;
            Ok(ShownOnce {
                secret: created.secret.expose().to_string(),
                key: created.key,
            })
        })
    }

    fn revoke_key<'a>(&'a self, admin: &'a AdminUser, public_id: String) -> BoxFuture<'a, Result<u64, String>> {
        Box::pin(async move { (self.manage.revoke_key(&actor(admin), &public_id).await).map_err(|e| e.to_string()) })
    }

    fn reset_key<'a>(&'a self, admin: &'a AdminUser, public_id: String) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            (self.manage.reset_key_usage(&actor(admin), &public_id).await).map_err(|e| e.to_string())?;
            Ok(())
        })
    }

    fn rotate_key<'a>(&'a self, admin: &'a AdminUser, public_id: String) -> BoxFuture<'a, Result<ShownOnce, String>> {
        Box::pin(async move {
            let created =
                (self.manage.rotate_key(&actor(admin), &public_id, ROTATION_GRACE).await).map_err(|e| e.to_string())?;
            Ok(ShownOnce {
                secret: created.secret.expose().to_string(),
                key: created.key,
            })
        })
    }

    fn request_logs(&self, query: LogQuery, limit: i64) -> BoxFuture<'_, Result<LogPage, String>> {
        Box::pin(async move {
            let gateways = self.manage.gateways().await.map_err(|e| e.to_string())?;
            let mut filter = LogFilter {
                model: given(query.model),
                ..LogFilter::default()
            };
            if let Some(name) = given(query.gateway) {
                // A gateway that no longer exists matches nothing.
                let id = gateways.iter().find(|g| g.name == name).map_or(GatewayId(-1), |g| g.id);
                filter.gateway = Some(id);
            }
            match query.status.trim() {
                "" => {}
                "errors" => filter.errors_only = true,
                code => filter.status = Some(code.parse().map_err(|_| format!("{code:?} is not a status"))?),
            }
            let mut rows =
                (self.manage.request_logs(&filter, query.before, limit + 1).await).map_err(|e| e.to_string())?;
            let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let next = if more { rows.last().map(|(id, _)| *id) } else { None };
            Ok(LogPage {
                logs: rows.into_iter().map(|(_, log)| log).collect(),
                gateways: gateways.into_iter().map(|g| (g.id, g.name)).collect(),
                next,
            })
        })
    }

    fn request_log(&self, request_id: String) -> BoxFuture<'_, Result<Option<RequestLog>, String>> {
        Box::pin(async move {
            let found = self.manage.request_log(&request_id).await.map_err(|e| e.to_string())?;
            Ok(found.map(|(_, log)| log))
        })
    }

    fn test_endpoint<'a>(
        &'a self,
        admin: &'a AdminUser,
        id: EndpointId,
    ) -> BoxFuture<'a, Result<EndpointProbe, String>> {
        Box::pin(async move { (self.manage.test_endpoint(&actor(admin), id).await).map_err(|e| e.to_string()) })
    }
}
