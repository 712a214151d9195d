//! Server functions: the console's calls to the server. Thin: each checks there is a session
//! and calls the management service through [`ConsoleBackend`], which the server provides as
//! context; the management service decides what the signed-in admin may do.
//!
//! Does not: touch the database, decide any business rule, or check a role.

// A server function's arguments are its form's fields, one each; the generated code repeats
// them, so the lint cannot be silenced on the function alone.
#![allow(clippy::too_many_arguments)]

use crate::types::{
    AdminAccount, CreatedAdminToken, DashboardQuery, DashboardStats, EndpointListing, EndpointProbe, FieldError,
    Gateway, GatewayListing, InferenceEndpoint, KeyListing, LogPage, LogQuery, ModelPrice, Overview, PlaygroundSetup,
    RequestLog, SettingsListing, ShownOnce, WriteOnly,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub use backend::*;

#[cfg(feature = "ssr")]
mod backend {
    use crate::types::{
        AdminAccount, AdminRole, AdminTokenId, AdminUser, AdminUserId, CreatedAdminToken, DashboardQuery,
        DashboardStats, EndpointId, EndpointListing, EndpointProbe, FieldError, Gateway, GatewayId, InferenceEndpoint,
        KeyListing, LogPage, LogQuery, ModelPrice, NewEndpointForm, NewGatewayForm, NewKeyForm, Overview,
        PlaygroundSetup, RequestLog, SettingsListing, ShownOnce, WriteOnly,
    };
    use leptos::prelude::*;
    use std::{future::Future, pin::Pin, sync::Arc};

    /// A boxed future, so that [`ConsoleBackend`] can be used as a trait object.
    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    /// What the console needs from the server's management service. The server implements it
    /// and provides an `Arc<dyn ConsoleBackend>` as Leptos context; `app` never depends on
    /// `server`.
    pub trait ConsoleBackend: Send + Sync + 'static {
        /// Counts for the dashboard.
        fn overview(&self) -> BoxFuture<'_, Result<Overview, String>>;
        /// The dashboard's series, totals and breakdown for a range and scope.
        fn dashboard(&self, query: DashboardQuery) -> BoxFuture<'_, Result<DashboardStats, String>>;
        /// Every inference endpoint with its live health.
        fn endpoints(&self) -> BoxFuture<'_, Result<Vec<EndpointListing>, String>>;
        /// Creates an endpoint as `admin` (audited); a refused field is named.
        fn create_endpoint<'a>(
            &'a self,
            admin: &'a AdminUser,
            form: NewEndpointForm,
        ) -> BoxFuture<'a, Result<InferenceEndpoint, FieldError>>;
        /// Changes endpoint `id` as `admin` (audited); blank fields keep their values; the
        /// provider stays.
        fn update_endpoint<'a>(
            &'a self,
            admin: &'a AdminUser,
            id: EndpointId,
            form: NewEndpointForm,
        ) -> BoxFuture<'a, Result<InferenceEndpoint, FieldError>>;
        /// Deletes an endpoint as `admin` (audited).
        fn delete_endpoint<'a>(&'a self, admin: &'a AdminUser, id: EndpointId) -> BoxFuture<'a, Result<(), String>>;
        /// Every gateway, by name.
        fn gateways(&self) -> BoxFuture<'_, Result<Vec<Gateway>, String>>;
        /// The configured public URL, if any.
        fn public_url(&self) -> Option<String>;
        /// Whether the console is served over HTTPS.
        fn serves_https(&self) -> bool;
        /// Creates a gateway as `admin` (audited); a refused field is named.
        fn create_gateway<'a>(
            &'a self,
            admin: &'a AdminUser,
            form: NewGatewayForm,
        ) -> BoxFuture<'a, Result<Gateway, FieldError>>;
        /// Deletes a gateway and its keys, as `admin` (audited).
        fn delete_gateway<'a>(&'a self, admin: &'a AdminUser, id: GatewayId) -> BoxFuture<'a, Result<(), String>>;
        /// Every key with its gateway's name and usage against its limits.
        fn keys(&self) -> BoxFuture<'_, Result<Vec<KeyListing>, String>>;
        /// Creates a key as `admin` (audited); the secret is in the answer, once.
        fn create_key<'a>(
            &'a self,
            admin: &'a AdminUser,
            form: NewKeyForm,
        ) -> BoxFuture<'a, Result<ShownOnce, FieldError>>;
        /// Revokes a key and its descendants as `admin` (audited); how many were revoked.
        fn revoke_key<'a>(&'a self, admin: &'a AdminUser, public_id: String) -> BoxFuture<'a, Result<u64, String>>;
        /// Zeroes a key's counted usage as `admin` (audited).
        fn reset_key<'a>(&'a self, admin: &'a AdminUser, public_id: String) -> BoxFuture<'a, Result<(), String>>;
        /// Replaces a key by a new one (the old one works for an hour) as `admin` (audited).
        fn rotate_key<'a>(
            &'a self,
            admin: &'a AdminUser,
            public_id: String,
        ) -> BoxFuture<'a, Result<ShownOnce, String>>;
        /// The playground's targets and prices for `admin`, and the logged request to replay
        /// (by its request id), if asked.
        fn playground<'a>(
            &'a self,
            admin: &'a AdminUser,
            replay: Option<String>,
        ) -> BoxFuture<'a, Result<PlaygroundSetup, String>>;
        /// Every admin, admin API token and price.
        fn settings(&self) -> BoxFuture<'_, Result<SettingsListing, String>>;
        /// Creates an admin user as `admin` (audited); a refused field is named.
        fn create_admin<'a>(
            &'a self,
            admin: &'a AdminUser,
            email: String,
            password: WriteOnly,
            role: AdminRole,
        ) -> BoxFuture<'a, Result<AdminAccount, FieldError>>;
        /// Changes an admin's role or whether they are disabled, as `admin` (audited).
        fn update_admin<'a>(
            &'a self,
            admin: &'a AdminUser,
            id: AdminUserId,
            role: Option<AdminRole>,
            disabled: Option<bool>,
        ) -> BoxFuture<'a, Result<(), String>>;
        /// Deletes an admin with their sessions and tokens, as `admin` (audited).
        fn delete_admin<'a>(&'a self, admin: &'a AdminUser, id: AdminUserId) -> BoxFuture<'a, Result<(), String>>;
        /// Changes `admin`'s own password; their other sessions end (`session`: the one making
        /// the change, which is kept). Audited.
        fn change_password<'a>(
            &'a self,
            admin: &'a AdminUser,
            current: WriteOnly,
            new: WriteOnly,
            session: Option<SessionToken>,
        ) -> BoxFuture<'a, Result<(), FieldError>>;
        /// Creates an admin API token acting as `admin` (audited); the secret is in the answer,
        /// once. `expires_in_days` as typed (blank: never).
        fn create_admin_token<'a>(
            &'a self,
            admin: &'a AdminUser,
            name: String,
            role: AdminRole,
            expires_in_days: String,
        ) -> BoxFuture<'a, Result<CreatedAdminToken, FieldError>>;
        /// Revokes an admin API token as `admin` (audited).
        fn revoke_admin_token<'a>(
            &'a self,
            admin: &'a AdminUser,
            id: AdminTokenId,
        ) -> BoxFuture<'a, Result<(), String>>;
        /// Sets a model's price from the form's decimal text, as `admin` (audited).
        fn set_price<'a>(
            &'a self,
            admin: &'a AdminUser,
            model: String,
            input: String,
            output: String,
        ) -> BoxFuture<'a, Result<ModelPrice, FieldError>>;
        /// Removes a model's price as `admin` (audited).
        fn remove_price<'a>(&'a self, admin: &'a AdminUser, model: String) -> BoxFuture<'a, Result<(), String>>;
        /// A page of request logs matching `query`, newest first.
        fn request_logs(&self, query: LogQuery, limit: i64) -> BoxFuture<'_, Result<LogPage, String>>;
        /// One request's log, by its request id.
        fn request_log(&self, request_id: String) -> BoxFuture<'_, Result<Option<RequestLog>, String>>;
        /// Sends one tiny real request to an endpoint, as `admin` (audited).
        fn test_endpoint<'a>(
            &'a self,
            admin: &'a AdminUser,
            id: EndpointId,
        ) -> BoxFuture<'a, Result<EndpointProbe, String>>;
    }

    /// The backend the server provided.
    pub fn console_backend() -> Result<Arc<dyn ConsoleBackend>, ServerFnError> {
        use_context::<Arc<dyn ConsoleBackend>>()
            .ok_or_else(|| ServerFnError::new("console backend missing from context"))
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

    /// The signed-in admin, or an error when the request has no valid session.
    pub fn require_admin() -> Result<AdminUser, ServerFnError> {
        request_extension::<AdminUser>().ok_or_else(|| ServerFnError::new("not signed in"))
    }
}

/// Counts of what is configured, for the dashboard.
#[server(prefix = "/api", endpoint = "dashboard_overview")]
pub async fn dashboard_overview() -> Result<Overview, ServerFnError> {
    require_admin()?;
    console_backend()?.overview().await.map_err(ServerFnError::new)
}

/// Traffic, tokens, errors, latency and cost over the dashboard's range, hour by hour.
#[server(prefix = "/api", endpoint = "dashboard_stats")]
pub async fn load_dashboard(query: DashboardQuery) -> Result<DashboardStats, ServerFnError> {
    require_admin()?;
    console_backend()?.dashboard(query).await.map_err(ServerFnError::new)
}

/// Every inference endpoint with its live health.
#[server(prefix = "/api", endpoint = "endpoints_list")]
pub async fn list_endpoints() -> Result<Vec<EndpointListing>, ServerFnError> {
    require_admin()?;
    console_backend()?.endpoints().await.map_err(ServerFnError::new)
}

/// Creates an inference endpoint from the endpoints page's form. A refused field comes back as
/// `Ok(Err(FieldError))`, so the form can show it next to the field.
#[server(prefix = "/api", endpoint = "endpoints_create")]
pub async fn create_endpoint(
    name: String,
    provider: String,
    base_url: String,
    api_key: crate::types::WriteOnly,
    model: String,
    deployment: String,
    api_version: String,
    region: String,
) -> Result<Result<InferenceEndpoint, FieldError>, ServerFnError> {
    let api_key = api_key.0;
    let admin = require_admin()?;
    let form = crate::types::NewEndpointForm {
        name,
        provider,
        base_url,
        api_key,
        model,
        deployment,
        api_version,
        region,
    };
    Ok(console_backend()?.create_endpoint(&admin, form).await)
}

/// Changes endpoint `id` from the edit form: blank fields keep their values (a blank key keeps
/// the stored one).
#[server(prefix = "/api", endpoint = "endpoints_update")]
pub async fn update_endpoint(
    id: i64,
    name: String,
    base_url: String,
    api_key: crate::types::WriteOnly,
    model: String,
    deployment: String,
    api_version: String,
    region: String,
) -> Result<Result<InferenceEndpoint, FieldError>, ServerFnError> {
    let admin = require_admin()?;
    let form = crate::types::NewEndpointForm {
        name,
        provider: String::new(),
        base_url,
        api_key: api_key.0,
        model,
        deployment,
        api_version,
        region,
    };
    let id = crate::types::EndpointId(id);
    Ok(console_backend()?.update_endpoint(&admin, id, form).await)
}

/// Deletes an inference endpoint (one no gateway uses).
#[server(prefix = "/api", endpoint = "endpoints_delete")]
pub async fn delete_endpoint(id: i64) -> Result<(), ServerFnError> {
    let admin = require_admin()?;
    let id = crate::types::EndpointId(id);
    console_backend()?
        .delete_endpoint(&admin, id)
        .await
        .map_err(ServerFnError::new)
}

/// "Test connection": one tiny real request to the endpoint.
#[server(prefix = "/api", endpoint = "endpoints_test")]
pub async fn test_endpoint(id: i64) -> Result<EndpointProbe, ServerFnError> {
    let admin = require_admin()?;
    let id = crate::types::EndpointId(id);
    console_backend()?
        .test_endpoint(&admin, id)
        .await
        .map_err(ServerFnError::new)
}

/// Every gateway, and the URL clients reach them at.
#[server(prefix = "/api", endpoint = "gateways_list")]
pub async fn list_gateways() -> Result<GatewayListing, ServerFnError> {
    require_admin()?;
    let backend = console_backend()?;
    let base_url = match backend.public_url() {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let host = use_context::<axum::http::request::Parts>()
                .and_then(|parts| {
                    parts
                        .headers
                        .get("host")
                        .and_then(|h| h.to_str().ok())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "127.0.0.1:3000".into());
            let scheme = if backend.serves_https() { "https" } else { "http" };
            format!("{scheme}://{host}")
        }
    };
    let gateways = backend.gateways().await.map_err(ServerFnError::new)?;
    let endpoints = backend.endpoints().await.map_err(ServerFnError::new)?;
    let models = (gateways.iter())
        .filter_map(|gateway| {
            let first = gateway.endpoints.first()?;
            let listing = endpoints.iter().find(|l| l.endpoint.id == first.endpoint_id)?;
            Some((gateway.id, listing.endpoint.model.clone()))
        })
        .collect();
    Ok(GatewayListing {
        gateways,
        base_url,
        models,
    })
}

/// Creates a gateway from the gateways page's form. A refused field comes back as
/// `Ok(Err(FieldError))`.
#[server(prefix = "/api", endpoint = "gateways_create")]
pub async fn create_gateway(
    name: String,
    description: String,
    strategy: String,
    endpoints: String,
    #[server(default)] log_payloads: Option<String>,
) -> Result<Result<Gateway, FieldError>, ServerFnError> {
    let admin = require_admin()?;
    let form = crate::types::NewGatewayForm {
        name,
        description,
        strategy,
        endpoints,
        log_payloads: log_payloads.is_some(),
    };
    Ok(console_backend()?.create_gateway(&admin, form).await)
}

/// Deletes a gateway and its keys.
#[server(prefix = "/api", endpoint = "gateways_delete")]
pub async fn delete_gateway(id: i64) -> Result<(), ServerFnError> {
    let admin = require_admin()?;
    let id = crate::types::GatewayId(id);
    console_backend()?
        .delete_gateway(&admin, id)
        .await
        .map_err(ServerFnError::new)
}

/// Every key, with its gateway and usage against its limits.
#[server(prefix = "/api", endpoint = "keys_list")]
pub async fn list_keys() -> Result<Vec<KeyListing>, ServerFnError> {
    require_admin()?;
    console_backend()?.keys().await.map_err(ServerFnError::new)
}

/// Creates a key from the keys page's form; its secret comes back this once.
#[server(prefix = "/api", endpoint = "keys_create")]
pub async fn create_key(
    gateway: String,
    name: String,
    #[server(default)] parent: String,
    #[server(default)] allowed_models: String,
    #[server(default)] expires_in_days: String,
    #[server(default)] limits: String,
) -> Result<Result<ShownOnce, FieldError>, ServerFnError> {
    let admin = require_admin()?;
    let form = crate::types::NewKeyForm {
        gateway,
        name,
        parent,
        allowed_models,
        expires_in_days,
        limits,
    };
    Ok(console_backend()?.create_key(&admin, form).await)
}

/// Revokes a key and every key derived from it.
#[server(prefix = "/api", endpoint = "keys_revoke")]
pub async fn revoke_key(public_id: String) -> Result<u64, ServerFnError> {
    let admin = require_admin()?;
    console_backend()?
        .revoke_key(&admin, public_id)
        .await
        .map_err(ServerFnError::new)
}

/// Zeroes a key's counted usage.
#[server(prefix = "/api", endpoint = "keys_reset")]
pub async fn reset_key(public_id: String) -> Result<(), ServerFnError> {
    let admin = require_admin()?;
    console_backend()?
        .reset_key(&admin, public_id)
        .await
        .map_err(ServerFnError::new)
}

/// Replaces a key by a new one; the new secret comes back this once.
#[server(prefix = "/api", endpoint = "keys_rotate")]
pub async fn rotate_key(public_id: String) -> Result<ShownOnce, ServerFnError> {
    let admin = require_admin()?;
    console_backend()?
        .rotate_key(&admin, public_id)
        .await
        .map_err(ServerFnError::new)
}

/// Logs on one page.
#[cfg(feature = "ssr")]
const LOG_PAGE: i64 = 50;

/// A page of request logs matching the logs page's filters.
#[server(prefix = "/api", endpoint = "logs_list")]
pub async fn list_logs(query: LogQuery) -> Result<LogPage, ServerFnError> {
    require_admin()?;
    console_backend()?
        .request_logs(query, LOG_PAGE)
        .await
        .map_err(ServerFnError::new)
}

/// One request's log, by its request id.
#[server(prefix = "/api", endpoint = "logs_one")]
pub async fn log_detail(request_id: String) -> Result<Option<RequestLog>, ServerFnError> {
    require_admin()?;
    console_backend()?
        .request_log(request_id)
        .await
        .map_err(ServerFnError::new)
}

/// What the playground can compare, at what price, and the logged request to replay (`log`:
/// its request id), if any.
#[server(prefix = "/api", endpoint = "playground_setup")]
pub async fn load_playground(log: Option<String>) -> Result<PlaygroundSetup, ServerFnError> {
    let admin = require_admin()?;
    console_backend()?
        .playground(&admin, log)
        .await
        .map_err(ServerFnError::new)
}

/// A role's name from a form, or the field's error.
#[cfg(feature = "ssr")]
fn role_field(role: &str) -> Result<crate::types::AdminRole, FieldError> {
    crate::types::AdminRole::parse(role.trim()).ok_or_else(|| FieldError {
        field: "role".into(),
        message: "choose admin or viewer".into(),
    })
}

/// Every admin, admin API token and price, for the Settings page.
#[server(prefix = "/api", endpoint = "settings_list")]
pub async fn list_settings() -> Result<SettingsListing, ServerFnError> {
    require_admin()?;
    console_backend()?.settings().await.map_err(ServerFnError::new)
}

/// Adds an admin user.
#[server(prefix = "/api", endpoint = "admins_create")]
pub async fn create_admin(
    email: String,
    password: WriteOnly,
    role: String,
) -> Result<Result<AdminAccount, FieldError>, ServerFnError> {
    let admin = require_admin()?;
    let role = match role_field(&role) {
        Ok(role) => role,
        Err(error) => return Ok(Err(error)),
    };
    Ok(console_backend()?.create_admin(&admin, email, password, role).await)
}

/// Changes an admin's role (`admin`, `viewer`) or enables or disables them (`enable`,
/// `disable`).
#[server(prefix = "/api", endpoint = "admins_update")]
pub async fn update_admin(id: i64, change: String) -> Result<(), ServerFnError> {
    let admin = require_admin()?;
    let (role, disabled) = match change.as_str() {
        "enable" => (None, Some(false)),
        "disable" => (None, Some(true)),
        role => (Some(role_field(role).map_err(|e| ServerFnError::new(e.message))?), None),
    };
    console_backend()?
        .update_admin(&admin, crate::types::AdminUserId(id), role, disabled)
        .await
        .map_err(ServerFnError::new)
}

/// Deletes an admin user.
#[server(prefix = "/api", endpoint = "admins_delete")]
pub async fn delete_admin(id: i64) -> Result<(), ServerFnError> {
    let admin = require_admin()?;
    console_backend()?
        .delete_admin(&admin, crate::types::AdminUserId(id))
        .await
        .map_err(ServerFnError::new)
}

/// Changes the signed-in admin's own password (viewers too: it is their own).
#[server(prefix = "/api", endpoint = "password_change")]
pub async fn change_password(
    current_password: WriteOnly,
    new_password: WriteOnly,
    confirm_password: WriteOnly,
) -> Result<Result<(), FieldError>, ServerFnError> {
    let admin = require_admin()?;
    if new_password.0 != confirm_password.0 {
        return Ok(Err(FieldError {
            field: "confirm_password".into(),
            message: "does not match the new password".into(),
        }));
    }
    let session = request_extension::<SessionToken>();
    Ok(console_backend()?
        .change_password(&admin, current_password, new_password, session)
        .await)
}

/// Creates an admin API token acting as the signed-in admin.
#[server(prefix = "/api", endpoint = "tokens_create")]
pub async fn create_admin_token(
    name: String,
    role: String,
    expires_in_days: String,
) -> Result<Result<CreatedAdminToken, FieldError>, ServerFnError> {
    let admin = require_admin()?;
    let role = match role_field(&role) {
        Ok(role) => role,
        Err(error) => return Ok(Err(error)),
    };
    Ok(console_backend()?
        .create_admin_token(&admin, name, role, expires_in_days)
        .await)
}

/// Revokes an admin API token.
#[server(prefix = "/api", endpoint = "tokens_revoke")]
pub async fn revoke_admin_token(id: i64) -> Result<(), ServerFnError> {
    let admin = require_admin()?;
    console_backend()?
        .revoke_admin_token(&admin, crate::types::AdminTokenId(id))
        .await
        .map_err(ServerFnError::new)
}

/// Sets a model's price per million tokens (decimal currency, e.g. `0.15`).
#[server(prefix = "/api", endpoint = "prices_set")]
pub async fn set_price(
    model: String,
    input: String,
    output: String,
) -> Result<Result<ModelPrice, FieldError>, ServerFnError> {
    let admin = require_admin()?;
    Ok(console_backend()?.set_price(&admin, model, input, output).await)
}

/// Removes a model's price.
#[server(prefix = "/api", endpoint = "prices_remove")]
pub async fn remove_price(model: String) -> Result<(), ServerFnError> {
    let admin = require_admin()?;
    console_backend()?
        .remove_price(&admin, model)
        .await
        .map_err(ServerFnError::new)
}
