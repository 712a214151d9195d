//! The server's side of the console's server functions: the [`ConsoleBackend`] the server
//! provides as Leptos context (so `app` never depends on `server`), the signed-in admin, and
//! the HTTP status a refusal answers with.

use crate::types::{
    AdminAccount, AdminChange, AdminRole, AdminTokenId, AdminUser, AdminUserId, AuditPage, CompositeForm, CompositeId,
    CompositeKind, CompositeModel, ConsoleError, CreatedAdminToken, DashboardQuery, DashboardRange, DashboardStats,
    DiffLine, EndpointId, EndpointListing, EndpointProbe, EndpointUpdate, ErrorKind, Gateway, GatewayEditForm,
    GatewayId, GatewayKey, InferenceEndpoint, KeyEditForm, KeyListing, LogPage, LogQuery, ModelPrice, NewEndpoint,
    NewGatewayForm, NewKeyForm, NewPromptForm, Overview, OwnCacheForm, PlaygroundSetup, Prompt, PromptId,
    RequestDetail, SettingsListing, ShownOnce, UsageOfKeys, VariantStats, VersionStats, WriteOnly,
};
use crate::types::{GuardTrial, Guardrail, GuardrailId, NewGuardrail};
use crate::types::{IdentityProvider, IdentityProviderId};
use crate::types::{IdentityProviderForm, RuleTest, RuleVerdict};
use leptos::prelude::*;
use std::{future::Future, pin::Pin, sync::Arc};

/// A boxed future, so that [`ConsoleBackend`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a backend call answers.
pub type Answer<'a, T> = BoxFuture<'a, Result<T, ConsoleError>>;

/// What the console needs from the server's management service. Every change is made as
/// `admin` through the console; the management service decides whether they may, and
/// records it.
pub trait ConsoleBackend: Send + Sync + 'static {
    /// Counts for the dashboard.
    fn overview(&self) -> Answer<'_, Overview>;
    /// The dashboard's series, totals and breakdown for a range and scope.
    fn dashboard(&self, query: DashboardQuery) -> Answer<'_, DashboardStats>;
    /// Every inference endpoint with its live health.
    fn endpoints(&self) -> Answer<'_, Vec<EndpointListing>>;
    /// Creates an endpoint.
    fn create_endpoint<'a>(&'a self, admin: &'a AdminUser, new: NewEndpoint) -> Answer<'a, InferenceEndpoint>;
    /// Changes endpoint `id`: blank fields keep their values; the provider stays.
    fn update_endpoint<'a>(
        &'a self,
        admin: &'a AdminUser,
        id: EndpointId,
        update: EndpointUpdate,
    ) -> Answer<'a, InferenceEndpoint>;
    /// Deletes an endpoint.
    fn delete_endpoint<'a>(&'a self, admin: &'a AdminUser, id: EndpointId) -> Answer<'a, ()>;
    /// Sends one tiny real request to an endpoint.
    fn test_endpoint<'a>(&'a self, admin: &'a AdminUser, id: EndpointId) -> Answer<'a, EndpointProbe>;
    /// Every gateway, by name.
    fn gateways(&self) -> Answer<'_, Vec<Gateway>>;
    /// The configured public URL, if any.
    fn public_url(&self) -> Option<String>;
    /// Whether the console is served over HTTPS.
    fn serves_https(&self) -> bool;
    /// Creates a gateway.
    fn create_gateway<'a>(&'a self, admin: &'a AdminUser, form: NewGatewayForm) -> Answer<'a, Gateway>;
    /// Changes a gateway from its edit form.
    fn update_gateway<'a>(&'a self, admin: &'a AdminUser, form: GatewayEditForm) -> Answer<'a, Gateway>;
    /// Deletes a gateway and its keys.
    fn delete_gateway<'a>(&'a self, admin: &'a AdminUser, id: GatewayId) -> Answer<'a, ()>;
    /// Every gateway's composite models, by name.
    fn composites(&self) -> Answer<'_, Vec<CompositeModel>>;
    /// Adds a composite model of `kind` to `gateway`, from its form.
    fn create_composite<'a>(
        &'a self,
        admin: &'a AdminUser,
        gateway: GatewayId,
        kind: CompositeKind,
        form: CompositeForm,
    ) -> Answer<'a, CompositeModel>;
    /// Changes composite `id` from its edit form (its gateway and kind stay).
    fn update_composite<'a>(
        &'a self,
        admin: &'a AdminUser,
        id: CompositeId,
        form: CompositeForm,
    ) -> Answer<'a, CompositeModel>;
    /// Removes composite `id`.
    fn delete_composite<'a>(&'a self, admin: &'a AdminUser, id: CompositeId) -> Answer<'a, ()>;
    /// How each variant of composite `id` did over `range`, up to now.
    fn variant_stats(&self, id: CompositeId, range: DashboardRange) -> Answer<'_, Vec<VariantStats>>;
    /// Every named prompt with its versions and labels, by name.
    fn prompts(&self) -> Answer<'_, Vec<Prompt>>;
    /// Creates a prompt with its first version, from the Prompts page's form.
    fn create_prompt<'a>(&'a self, admin: &'a AdminUser, form: NewPromptForm) -> Answer<'a, Prompt>;
    /// Adds the next version of prompt `id` from the template editor's state (JSON of a
    /// `TemplateForm`); answers the prompt with it.
    fn add_prompt_version<'a>(&'a self, admin: &'a AdminUser, id: PromptId, template: String) -> Answer<'a, Prompt>;
    /// Points `label` of prompt `id` at `version`.
    fn set_prompt_label<'a>(
        &'a self,
        admin: &'a AdminUser,
        id: PromptId,
        label: String,
        version: i64,
    ) -> Answer<'a, Prompt>;
    /// Sets prompt `id`'s own response cache from its form (a blank mode: the gateway's).
    fn set_prompt_cache<'a>(&'a self, admin: &'a AdminUser, id: PromptId, form: OwnCacheForm) -> Answer<'a, Prompt>;
    /// Deletes prompt `id` with its versions and labels.
    fn delete_prompt<'a>(&'a self, admin: &'a AdminUser, id: PromptId) -> Answer<'a, ()>;
    /// The line diff from version `from` to version `to` of prompt `id`.
    fn prompt_diff(&self, id: PromptId, from: i64, to: i64) -> Answer<'_, Vec<DiffLine>>;
    /// How each version of prompt `id` did over `range`, up to now.
    fn version_stats(&self, id: PromptId, range: DashboardRange) -> Answer<'_, Vec<VersionStats>>;
    /// Every gateway's end users' identity providers.
    fn identity_providers(&self) -> Answer<'_, Vec<IdentityProvider>>;
    /// Adds an identity provider to a gateway, from its form.
    fn add_identity_provider<'a>(
        &'a self,
        admin: &'a AdminUser,
        form: IdentityProviderForm,
    ) -> Answer<'a, IdentityProvider>;
    /// Removes identity provider `id`.
    fn remove_identity_provider<'a>(&'a self, admin: &'a AdminUser, id: IdentityProviderId) -> Answer<'a, ()>;
    /// Tries an access rule against a token's claims; changes nothing.
    fn test_access_rule(&self, test: RuleTest) -> Answer<'_, RuleVerdict>;
    /// Every gateway's guardrails, in the order they apply.
    fn guardrails(&self) -> Answer<'_, Vec<Guardrail>>;
    /// Adds a guardrail to a gateway.
    fn add_guardrail<'a>(&'a self, admin: &'a AdminUser, new: NewGuardrail) -> Answer<'a, Guardrail>;
    /// Removes guardrail `id`.
    fn remove_guardrail<'a>(&'a self, admin: &'a AdminUser, id: GuardrailId) -> Answer<'a, ()>;
    /// What a text becomes when a request of `gateway` sends it; changes nothing.
    fn try_guardrails(&self, gateway: GatewayId, text: String) -> Answer<'_, GuardTrial>;
    /// Every key with its gateway's name.
    fn keys(&self) -> Answer<'_, Vec<KeyListing>>;
    /// Every key's usage against its limits and this month, and the prices' currency.
    fn keys_usage(&self) -> Answer<'_, UsageOfKeys>;
    /// Creates a key; the secret is in the answer, once.
    fn create_key<'a>(&'a self, admin: &'a AdminUser, form: NewKeyForm) -> Answer<'a, ShownOnce>;
    /// Changes a key's name, models, expiry, limits and whether it is enabled.
    fn update_key<'a>(&'a self, admin: &'a AdminUser, form: KeyEditForm) -> Answer<'a, GatewayKey>;
    /// Revokes a key and its descendants; how many were revoked.
    fn revoke_key<'a>(&'a self, admin: &'a AdminUser, public_id: String) -> Answer<'a, u64>;
    /// Zeroes a key's counted usage.
    fn reset_key<'a>(&'a self, admin: &'a AdminUser, public_id: String) -> Answer<'a, ()>;
    /// Replaces a key by a new one (the old one works for the rotation grace).
    fn rotate_key<'a>(&'a self, admin: &'a AdminUser, public_id: String) -> Answer<'a, ShownOnce>;
    /// The playground's targets and prices for `admin`, and the logged request to replay (by
    /// its request id), if asked.
    fn playground<'a>(&'a self, admin: &'a AdminUser, replay: Option<String>) -> Answer<'a, PlaygroundSetup>;
    /// Every admin, admin API token and price.
    fn settings(&self) -> Answer<'_, SettingsListing>;
    /// Creates an admin user.
    fn create_admin<'a>(
        &'a self,
        admin: &'a AdminUser,
        email: String,
        password: WriteOnly,
        role: AdminRole,
    ) -> Answer<'a, AdminAccount>;
    /// Changes an admin's role, or enables or disables them.
    fn update_admin<'a>(&'a self, admin: &'a AdminUser, id: AdminUserId, change: AdminChange) -> Answer<'a, ()>;
    /// Deletes an admin with their sessions and tokens.
    fn delete_admin<'a>(&'a self, admin: &'a AdminUser, id: AdminUserId) -> Answer<'a, ()>;
    /// Changes `admin`'s own password; their other sessions end (`session`: the one making the
    /// change, which is kept).
    fn change_password<'a>(
        &'a self,
        admin: &'a AdminUser,
        current: WriteOnly,
        new: WriteOnly,
        session: Option<SessionToken>,
    ) -> Answer<'a, ()>;
    /// Creates an admin API token acting as `admin`; the secret is in the answer, once.
    /// `expires_in_days` as typed (blank: never).
    fn create_admin_token<'a>(
        &'a self,
        admin: &'a AdminUser,
        name: String,
        role: AdminRole,
        expires_in_days: String,
    ) -> Answer<'a, CreatedAdminToken>;
    /// Revokes an admin API token.
    fn revoke_admin_token<'a>(&'a self, admin: &'a AdminUser, id: AdminTokenId) -> Answer<'a, ()>;
    /// Sets a model's price from the form's decimal text.
    fn set_price<'a>(
        &'a self,
        admin: &'a AdminUser,
        model: String,
        input: String,
        output: String,
    ) -> Answer<'a, ModelPrice>;
    /// Removes a model's price.
    fn remove_price<'a>(&'a self, admin: &'a AdminUser, model: String) -> Answer<'a, ()>;
    /// A page of request logs matching `query`, newest first.
    fn request_logs(&self, query: LogQuery, limit: i64) -> Answer<'_, LogPage>;
    /// A page of the audit log, newest first, older than entry `before` when given.
    fn audit(&self, before: Option<i64>, limit: i64) -> Answer<'_, AuditPage>;
    /// One request's log, by its request id.
    fn request_log(&self, request_id: String) -> Answer<'_, Option<RequestDetail>>;
}

/// The backend the server provided.
pub fn console_backend() -> Result<Arc<dyn ConsoleBackend>, ConsoleError> {
    use_context::<Arc<dyn ConsoleBackend>>()
        .ok_or_else(|| ConsoleError::new(ErrorKind::Internal, "console backend missing from context"))
        .map_err(refused)
}

/// A value the server's middleware put into this request's extensions (for example the
/// signed-in [`AdminUser`]); `None` outside a request.
pub fn request_extension<T: Clone + Send + Sync + 'static>() -> Option<T> {
    use_context::<axum::http::request::Parts>().and_then(|parts| parts.extensions.get::<T>().cloned())
}

/// The console session a request came with, as the server's session gate validated it (a
/// request extension). `Debug` hides it.
#[derive(Clone)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn new(token: &str) -> SessionToken {
        SessionToken(token.to_string())
    }

    /// The token itself, for the management service only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

/// The signed-in admin, or a 401 when the request has no valid session.
pub fn require_admin() -> Result<AdminUser, ConsoleError> {
    request_extension::<AdminUser>()
        .ok_or_else(|| ConsoleError::new(ErrorKind::Unauthenticated, "Your session has ended. Sign in again."))
        .map_err(refused)
}

/// Sets the HTTP status a refusal stands for (a 4xx for a refusal, never a 500), and hands it
/// back. Every server function's error goes through here, once.
pub fn refused(error: ConsoleError) -> ConsoleError {
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = axum::http::StatusCode::from_u16(error.status()) {
            options.set_status(status);
        }
    }
    error
}
