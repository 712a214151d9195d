//! What the console's server functions call: the management service, acting as the signed-in
//! admin through the console (its operations check the role and record every change).
//!
//! Does not: decide a business rule or check a permission; those are `manage`'s, the same
//! GraphQL calls.

use crate::{
    manage::{
        endpoint_choice,
        limits::{parse_limit, parse_money},
        now_ms,
        validate::expires_in_days,
        Actor, HourlyKind, LimitScope, Manage, ManageError, Span, ROTATION_GRACE,
    },
    proxy::Proxy,
    secrets::Secret,
};
use app::api::{Answer, ConsoleBackend};
use app::types::{
    AdminAccount, AdminChange, AdminRole, AdminTokenId, AdminUser, AdminUserId, AuditPage, Change, CompositeForm,
    CompositeId, CompositeKind, CompositeModel, ConsoleError, CreatedAdminToken, DashboardQuery, DashboardRange,
    DashboardStats, EndpointId, EndpointListing, EndpointProbe, EndpointUpdate, Gateway, GatewayEditForm, GatewayId,
    GatewayKey, InferenceEndpoint, KeyEditForm, KeyListing, KeyUpdate, KeyUsage, LimitUsage, LogPage, LogQuery,
    ModelPrice, NewAdmin, NewEndpoint, NewGateway, NewGatewayForm, NewKey, NewKeyForm, Overview, PlaygroundSetup,
    RequestDetail, SettingsListing, ShownOnce, UsageOfKeys, VariantStats, Via, WriteOnly,
};
use app::types::{DiffLine, NewPromptForm, OwnCacheForm, Prompt, PromptId, VersionStats};
use app::types::{GuardTrial, Guardrail, GuardrailId, NewGuardrail};
use app::types::{IdentityProvider, IdentityProviderId};
use app::types::{IdentityProviderForm, RuleTest, RuleVerdict};
use std::sync::Arc;

/// The console's backend.
#[derive(Clone)]
pub struct Console {
    pub manage: Manage,
    /// The ledger, for the keys' usage against their limits.
    pub proxy: Arc<Proxy>,
    /// `public_url` from the configuration, for the gateways' URLs and snippets.
    pub public_url: Option<String>,
    /// Whether the console is served over HTTPS (the snippets' scheme without `public_url`).
    pub serves_https: bool,
    /// The prices' currency (`currency` from the configuration).
    pub currency: String,
}

/// A blank field as "not given".
fn given(text: String) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// A key form's limits (the CLI's notation) and allowed models, comma-separated.
fn key_fields(limits: &str, models: &str) -> Result<(Vec<app::types::Limit>, Vec<String>), ConsoleError> {
    let limits = items(limits).map(parse_limit).collect::<Result<Vec<_>, _>>();
    Ok((
        limits.map_err(ConsoleError::from)?,
        items(models).map(str::to_string).collect(),
    ))
}

/// A comma-separated list, trimmed, without empty items.
pub(super) fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|item| !item.is_empty())
}

/// The signed-in admin, acting through the console.
pub(super) fn actor(admin: &AdminUser) -> Actor {
    Actor::admin(admin.clone(), Via::Console)
}

impl ConsoleBackend for Console {
    fn overview(&self) -> Answer<'_, Overview> {
        Box::pin(async move { self.manage.overview().await.map_err(ConsoleError::from) })
    }

    fn playground<'a>(&'a self, admin: &'a AdminUser, replay: Option<String>) -> Answer<'a, PlaygroundSetup> {
        Box::pin(async move { self.playground_setup(admin, replay).await.map_err(ConsoleError::from) })
    }

    fn settings(&self) -> Answer<'_, SettingsListing> {
        Box::pin(async move {
            let listing = async {
                Ok::<_, ManageError>(SettingsListing {
                    admins: self.manage.admin_accounts().await?,
                    tokens: self.manage.admin_tokens().await?,
                    prices: self.manage.prices().await?,
                    read_at: now_ms(),
                })
            };
            listing.await.map_err(ConsoleError::from)
        })
    }

    fn create_admin<'a>(
        &'a self,
        admin: &'a AdminUser,
        email: String,
        password: WriteOnly,
        role: AdminRole,
    ) -> Answer<'a, AdminAccount> {
        Box::pin(async move {
            let new = NewAdmin { email, password, role };
            let user = self
                .manage
                .create_admin(&actor(admin), new)
                .await
                .map_err(ConsoleError::from)?;
            self.manage.admin_account(user.id).await.map_err(ConsoleError::from)
        })
    }

    fn update_admin<'a>(&'a self, admin: &'a AdminUser, id: AdminUserId, change: AdminChange) -> Answer<'a, ()> {
        Box::pin(async move {
            let (role, disabled) = change.role_and_disabled();
            (self.manage.update_admin(&actor(admin), id, role, disabled).await).map_err(ConsoleError::from)?;
            Ok(())
        })
    }

    fn delete_admin<'a>(&'a self, admin: &'a AdminUser, id: AdminUserId) -> Answer<'a, ()> {
        Box::pin(async move { (self.manage.delete_admin(&actor(admin), id).await).map_err(ConsoleError::from) })
    }

    fn change_password<'a>(
        &'a self,
        admin: &'a AdminUser,
        current: WriteOnly,
        new: WriteOnly,
        session: Option<app::api::SessionToken>,
    ) -> Answer<'a, ()> {
        Box::pin(async move {
            let session = session.as_ref().map(app::api::SessionToken::expose);
            let (current, new) = (Secret::new(current.0), Secret::new(new.0));
            (self.manage.change_password(&actor(admin), current, new, session).await).map_err(ConsoleError::from)
        })
    }

    fn create_admin_token<'a>(
        &'a self,
        admin: &'a AdminUser,
        name: String,
        role: AdminRole,
        days: String,
    ) -> Answer<'a, CreatedAdminToken> {
        Box::pin(async move {
            let expires_at = expires_in_days("expires_in_days", &days).map_err(ConsoleError::from)?;
            let created = (self
                .manage
                .create_admin_token(&actor(admin), &name, role, expires_at)
                .await)
                .map_err(ConsoleError::from)?;
            Ok(CreatedAdminToken {
                token: created.token,
                secret: created.secret.expose().to_string(),
            })
        })
    }

    fn revoke_admin_token<'a>(&'a self, admin: &'a AdminUser, id: AdminTokenId) -> Answer<'a, ()> {
        Box::pin(async move {
            (self.manage.revoke_admin_token(&actor(admin), id).await).map_err(ConsoleError::from)?;
            Ok(())
        })
    }

    fn set_price<'a>(
        &'a self,
        admin: &'a AdminUser,
        model: String,
        input: String,
        output: String,
    ) -> Answer<'a, ModelPrice> {
        Box::pin(async move {
            let price = ModelPrice {
                model,
                input_per_mtok_micros: parse_money("input", input.trim()).map_err(ConsoleError::from)?,
                output_per_mtok_micros: parse_money("output", output.trim()).map_err(ConsoleError::from)?,
            };
            self.manage
                .set_price(&actor(admin), price)
                .await
                .map_err(ConsoleError::from)
        })
    }

    fn remove_price<'a>(&'a self, admin: &'a AdminUser, model: String) -> Answer<'a, ()> {
        Box::pin(async move { (self.manage.remove_price(&actor(admin), &model).await).map_err(ConsoleError::from) })
    }

    fn dashboard(&self, query: DashboardQuery) -> Answer<'_, DashboardStats> {
        Box::pin(async move { self.dashboard_stats(query).await.map_err(ConsoleError::from) })
    }

    fn endpoints(&self) -> Answer<'_, Vec<EndpointListing>> {
        Box::pin(async move {
            let endpoints = self.manage.endpoints().await.map_err(ConsoleError::from)?;
            Ok(endpoints
                .into_iter()
                .map(|endpoint| EndpointListing {
                    health: self.manage.endpoint_health(endpoint.id),
                    endpoint,
                })
                .collect())
        })
    }

    fn create_endpoint<'a>(&'a self, admin: &'a AdminUser, new: NewEndpoint) -> Answer<'a, InferenceEndpoint> {
        Box::pin(async move { (self.manage.create_endpoint(&actor(admin), new).await).map_err(ConsoleError::from) })
    }

    fn update_endpoint<'a>(
        &'a self,
        admin: &'a AdminUser,
        id: EndpointId,
        update: EndpointUpdate,
    ) -> Answer<'a, InferenceEndpoint> {
        Box::pin(
            async move { (self.manage.update_endpoint(&actor(admin), id, update).await).map_err(ConsoleError::from) },
        )
    }

    fn delete_endpoint<'a>(&'a self, admin: &'a AdminUser, id: EndpointId) -> Answer<'a, ()> {
        Box::pin(async move { (self.manage.delete_endpoint(&actor(admin), id).await).map_err(ConsoleError::from) })
    }

    fn gateways(&self) -> Answer<'_, Vec<Gateway>> {
        Box::pin(async move { self.manage.gateways().await.map_err(ConsoleError::from) })
    }

    fn public_url(&self) -> Option<String> {
        self.public_url.clone()
    }

    fn serves_https(&self) -> bool {
        self.serves_https
    }

    fn create_gateway<'a>(&'a self, admin: &'a AdminUser, form: NewGatewayForm) -> Answer<'a, Gateway> {
        Box::pin(async move {
            let endpoints = items(&form.endpoints)
                .map(endpoint_choice)
                .collect::<Result<Vec<_>, _>>()
                .map_err(ConsoleError::from)?;
            let mut new = NewGateway::new(form.name, form.strategy, endpoints);
            new.description = form.description;
            new.log_payloads = form.log_payloads;
            self.manage
                .create_gateway(&actor(admin), new)
                .await
                .map_err(ConsoleError::from)
        })
    }

    fn update_gateway<'a>(&'a self, admin: &'a AdminUser, form: GatewayEditForm) -> Answer<'a, Gateway> {
        Box::pin(self.change_gateway(admin, form))
    }

    fn delete_gateway<'a>(&'a self, admin: &'a AdminUser, id: GatewayId) -> Answer<'a, ()> {
        Box::pin(async move { (self.manage.delete_gateway(&actor(admin), id).await).map_err(ConsoleError::from) })
    }

    fn composites(&self) -> Answer<'_, Vec<CompositeModel>> {
        Box::pin(async move { self.manage.composites(None).await.map_err(ConsoleError::from) })
    }

    fn create_composite<'a>(
        &'a self,
        admin: &'a AdminUser,
        gateway: GatewayId,
        kind: CompositeKind,
        form: CompositeForm,
    ) -> Answer<'a, CompositeModel> {
        Box::pin(async move { (self.add_composite(admin, gateway, kind, form).await).map_err(ConsoleError::from) })
    }

    fn update_composite<'a>(
        &'a self,
        admin: &'a AdminUser,
        id: CompositeId,
        form: CompositeForm,
    ) -> Answer<'a, CompositeModel> {
        Box::pin(async move { (self.change_composite(admin, id, form).await).map_err(ConsoleError::from) })
    }

    fn delete_composite<'a>(&'a self, admin: &'a AdminUser, id: CompositeId) -> Answer<'a, ()> {
        Box::pin(async move { (self.manage.delete_composite(&actor(admin), id).await).map_err(ConsoleError::from) })
    }

    fn variant_stats(&self, id: CompositeId, range: DashboardRange) -> Answer<'_, Vec<VariantStats>> {
        Box::pin(async move { self.variants(id, range).await.map_err(ConsoleError::from) })
    }

    fn prompts(&self) -> Answer<'_, Vec<Prompt>> {
        Box::pin(async move { self.manage.prompts().await.map_err(ConsoleError::from) })
    }

    fn create_prompt<'a>(&'a self, admin: &'a AdminUser, form: NewPromptForm) -> Answer<'a, Prompt> {
        Box::pin(self.add_prompt(admin, form))
    }

    fn add_prompt_version<'a>(&'a self, admin: &'a AdminUser, id: PromptId, template: String) -> Answer<'a, Prompt> {
        Box::pin(async move { self.add_version(admin, id, &template).await })
    }

    fn set_prompt_label<'a>(
        &'a self,
        admin: &'a AdminUser,
        id: PromptId,
        label: String,
        version: i64,
    ) -> Answer<'a, Prompt> {
        Box::pin(async move {
            (self.manage.set_prompt_label(&actor(admin), id, &label, version).await).map_err(ConsoleError::from)
        })
    }

    fn set_prompt_cache<'a>(&'a self, admin: &'a AdminUser, id: PromptId, form: OwnCacheForm) -> Answer<'a, Prompt> {
        Box::pin(async move { self.prompt_cache(admin, id, &form).await.map_err(ConsoleError::from) })
    }

    fn delete_prompt<'a>(&'a self, admin: &'a AdminUser, id: PromptId) -> Answer<'a, ()> {
        Box::pin(async move { (self.manage.delete_prompt(&actor(admin), id).await).map_err(ConsoleError::from) })
    }

    fn prompt_diff(&self, id: PromptId, from: i64, to: i64) -> Answer<'_, Vec<DiffLine>> {
        Box::pin(async move { self.version_diff(id, from, to).await.map_err(ConsoleError::from) })
    }

    fn version_stats(&self, id: PromptId, range: DashboardRange) -> Answer<'_, Vec<VersionStats>> {
        Box::pin(async move { self.version_figures(id, range).await.map_err(ConsoleError::from) })
    }

    fn identity_providers(&self) -> Answer<'_, Vec<IdentityProvider>> {
        Box::pin(async move { self.manage.identity_providers(None).await.map_err(ConsoleError::from) })
    }

    fn add_identity_provider<'a>(
        &'a self,
        admin: &'a AdminUser,
        form: IdentityProviderForm,
    ) -> Answer<'a, IdentityProvider> {
        Box::pin(self.add_provider(admin, form))
    }

    fn remove_identity_provider<'a>(&'a self, admin: &'a AdminUser, id: IdentityProviderId) -> Answer<'a, ()> {
        Box::pin(
            async move { (self.manage.remove_identity_provider(&actor(admin), id).await).map_err(ConsoleError::from) },
        )
    }

    fn test_access_rule(&self, test: RuleTest) -> Answer<'_, RuleVerdict> {
        Box::pin(async move { super::identity::test_rule(&test) })
    }

    fn guardrails(&self) -> Answer<'_, Vec<Guardrail>> {
        Box::pin(async move { self.manage.guardrails(None).await.map_err(ConsoleError::from) })
    }

    fn add_guardrail<'a>(&'a self, admin: &'a AdminUser, new: NewGuardrail) -> Answer<'a, Guardrail> {
        Box::pin(async move { (self.manage.add_guardrail(&actor(admin), new).await).map_err(ConsoleError::from) })
    }

    fn remove_guardrail<'a>(&'a self, admin: &'a AdminUser, id: GuardrailId) -> Answer<'a, ()> {
        Box::pin(async move { (self.manage.remove_guardrail(&actor(admin), id).await).map_err(ConsoleError::from) })
    }

    fn try_guardrails(&self, gateway: GatewayId, text: String) -> Answer<'_, GuardTrial> {
        Box::pin(async move { (self.manage.try_guardrails(gateway, &text).await).map_err(ConsoleError::from) })
    }

    fn keys(&self) -> Answer<'_, Vec<KeyListing>> {
        Box::pin(async move {
            let gateways = self.manage.gateways().await.map_err(ConsoleError::from)?;
            let keys = self.manage.keys(None).await.map_err(ConsoleError::from)?;
            let now = now_ms();
            Ok(keys
                .into_iter()
                .map(|key| {
                    let gateway = (gateways.iter().find(|g| g.id == key.gateway_id))
                        .map(|g| g.name.clone())
                        .unwrap_or_default();
                    KeyListing {
                        status: app::types::KeyStatus::of(&key, now),
                        key,
                        gateway,
                    }
                })
                .collect())
        })
    }

    fn keys_usage(&self) -> Answer<'_, UsageOfKeys> {
        Box::pin(async move {
            let keys = self.manage.keys(None).await.map_err(ConsoleError::from)?;
            let now = now_ms();
            let month_start = app::types::Period::Month.window_start(now);
            let month = (self
                .manage
                .hourly_sums(HourlyKind::Key, Span::Hour, month_start, now + 3_600_000)
                .await)
                .map_err(ConsoleError::from)?;
            let mut usage = Vec::with_capacity(keys.len());
            for key in keys {
                let mut limits = Vec::with_capacity(key.limits.len());
                for limit in &key.limits {
                    let scope = LimitScope::Key(key.id);
                    let (used, _, in_flight) = (self.proxy.counters)
                        .usage(scope, limit.metric, limit.period, now)
                        .await;
                    let used = match limit.metric {
                        app::types::Metric::Concurrency => in_flight,
                        _ => used,
                    };
                    limits.push(LimitUsage { limit: *limit, used });
                }
                usage.push(KeyUsage {
                    id: key.id,
                    limits,
                    month: month.get(&key.id.0).cloned().unwrap_or_default(),
                });
            }
            let keys = usage;
            Ok(UsageOfKeys {
                currency: self.currency.clone(),
                keys,
            })
        })
    }

    fn create_key<'a>(&'a self, admin: &'a AdminUser, form: NewKeyForm) -> Answer<'a, ShownOnce> {
        Box::pin(async move {
            let (limits, models) = key_fields(&form.limits, &form.allowed_models)?;
            let expires_at = expires_in_days("expires_in_days", &form.expires_in_days).map_err(ConsoleError::from)?;
            let gateway = (form.gateway.trim().parse().map(GatewayId))
                .map_err(|_| ConsoleError::invalid("gateway_id", "Choose a gateway."))?;
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
                        may_assert_users: form.may_assert_users,
                    },
                )
                .await
                .map_err(ConsoleError::from)?;
            Ok(ShownOnce {
                secret: created.secret.expose().to_string(),
                key: created.key,
            })
        })
    }

    fn update_key<'a>(&'a self, admin: &'a AdminUser, form: KeyEditForm) -> Answer<'a, GatewayKey> {
        Box::pin(async move {
            let (limits, models) = key_fields(&form.limits, &form.allowed_models)?;
            let expires_at = match form.expires_in_days.trim() {
                "" => Change::Keep,
                never if never.eq_ignore_ascii_case("never") => Change::Clear,
                days => match expires_in_days("expires_in_days", days).map_err(ConsoleError::from)? {
                    Some(at) => Change::Set(at),
                    None => Change::Keep,
                },
            };
            let update = KeyUpdate {
                name: Some(form.name),
                allowed_models: if models.is_empty() {
                    Change::Clear
                } else {
                    Change::Set(models)
                },
                expires_at,
                enabled: Some(form.enabled),
                limits: Some(limits),
                may_assert_users: Some(form.may_assert_users),
            };
            (self.manage.update_key(&actor(admin), &form.public_id, update).await).map_err(ConsoleError::from)
        })
    }

    fn revoke_key<'a>(&'a self, admin: &'a AdminUser, public_id: String) -> Answer<'a, u64> {
        Box::pin(async move { (self.manage.revoke_key(&actor(admin), &public_id).await).map_err(ConsoleError::from) })
    }

    fn reset_key<'a>(&'a self, admin: &'a AdminUser, public_id: String) -> Answer<'a, ()> {
        Box::pin(async move {
            (self.manage.reset_key_usage(&actor(admin), &public_id).await).map_err(ConsoleError::from)?;
            Ok(())
        })
    }

    fn rotate_key<'a>(&'a self, admin: &'a AdminUser, public_id: String) -> Answer<'a, ShownOnce> {
        Box::pin(async move {
            let created = (self.manage.rotate_key(&actor(admin), &public_id, ROTATION_GRACE).await)
                .map_err(ConsoleError::from)?;
            Ok(ShownOnce {
                secret: created.secret.expose().to_string(),
                key: created.key,
            })
        })
    }

    fn request_logs(&self, query: LogQuery, limit: i64) -> Answer<'_, LogPage> {
        Box::pin(async move {
            let (filter, names) = super::logs::log_filter(&self.manage, &query).await?;
            let mut rows =
                (self.manage.request_logs(&filter, query.before, limit + 1).await).map_err(ConsoleError::from)?;
            let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let next = if more { rows.last().map(|(id, _)| *id) } else { None };
            Ok(LogPage {
                logs: rows.into_iter().map(|(_, log)| log).collect(),
                names,
                next,
            })
        })
    }

    fn request_log(&self, request_id: String) -> Answer<'_, Option<RequestDetail>> {
        Box::pin(async move {
            let found = self.manage.request_log(&request_id).await.map_err(ConsoleError::from)?;
            let Some((_, log)) = found else { return Ok(None) };
            let (_, names) = super::logs::log_filter(&self.manage, &LogQuery::default()).await?;
            Ok(Some(RequestDetail { log, names }))
        })
    }

    fn audit(&self, before: Option<i64>, limit: i64) -> Answer<'_, AuditPage> {
        Box::pin(async move {
            let mut entries = self.manage.audit_log(before, limit + 1).await?;
            let more = i64::try_from(entries.len()).unwrap_or(i64::MAX) > limit;
            entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let next = if more {
                entries.last().map(|entry| entry.id)
            } else {
                None
            };
            Ok(AuditPage { entries, next })
        })
    }

    fn test_endpoint<'a>(&'a self, admin: &'a AdminUser, id: EndpointId) -> Answer<'a, EndpointProbe> {
        Box::pin(async move { (self.manage.test_endpoint(&actor(admin), id).await).map_err(ConsoleError::from) })
    }
}
