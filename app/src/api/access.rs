//! The Settings page's server functions: admins, admin API tokens, prices and one's own
//! password. Roles arrive as [`AdminRole`]s; the management service decides who may change
//! what (a viewer only their own password).

#[cfg(feature = "ssr")]
use super::{console_backend, refused, request_extension, require_admin, SessionToken};
use crate::types::{
    AdminAccount, AdminChange, AdminRole, ConsoleError, CreatedAdminToken, Json, ModelPrice, SettingsListing, WriteOnly,
};
use leptos::prelude::*;

/// Every admin, admin API token and price, for the Settings page.
#[server(prefix = "/api", endpoint = "settings_list", output = Json)]
pub async fn list_settings() -> Result<SettingsListing, ConsoleError> {
    require_admin()?;
    console_backend()?.settings().await.map_err(refused)
}

/// Adds an admin user.
#[server(prefix = "/api", endpoint = "admins_create", output = Json)]
pub async fn create_admin(email: String, password: WriteOnly, role: AdminRole) -> Result<AdminAccount, ConsoleError> {
    let admin = require_admin()?;
    console_backend()?
        .create_admin(&admin, email, password, role)
        .await
        .map_err(refused)
}

/// Changes an admin's role, or enables or disables them.
#[server(prefix = "/api", endpoint = "admins_update", output = Json)]
pub async fn update_admin(id: i64, change: AdminChange) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    let id = crate::types::AdminUserId(id);
    console_backend()?
        .update_admin(&admin, id, change)
        .await
        .map_err(refused)
}

/// Deletes an admin user.
#[server(prefix = "/api", endpoint = "admins_delete", output = Json)]
pub async fn delete_admin(id: i64) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    let id = crate::types::AdminUserId(id);
    console_backend()?.delete_admin(&admin, id).await.map_err(refused)
}

/// Changes the signed-in admin's own password (viewers too: it is their own).
#[server(prefix = "/api", endpoint = "password_change", output = Json)]
pub async fn change_password(
    current_password: WriteOnly,
    new_password: WriteOnly,
    confirm_password: WriteOnly,
) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    if new_password.0 != confirm_password.0 {
        let mismatch = ConsoleError::invalid("confirm_password", "This does not match the new password.");
        return Err(refused(mismatch));
    }
    let session = request_extension::<SessionToken>();
    console_backend()?
        .change_password(&admin, current_password, new_password, session)
        .await
        .map_err(refused)
}

/// Creates an admin API token acting as the signed-in admin.
#[server(prefix = "/api", endpoint = "tokens_create", output = Json)]
pub async fn create_admin_token(
    name: String,
    role: AdminRole,
    expires_in_days: String,
) -> Result<CreatedAdminToken, ConsoleError> {
    let admin = require_admin()?;
    console_backend()?
        .create_admin_token(&admin, name, role, expires_in_days)
        .await
        .map_err(refused)
}

/// Revokes an admin API token.
#[server(prefix = "/api", endpoint = "tokens_revoke", output = Json)]
pub async fn revoke_admin_token(id: i64) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    let id = crate::types::AdminTokenId(id);
    console_backend()?.revoke_admin_token(&admin, id).await.map_err(refused)
}

/// Sets a model's price per million tokens (decimal currency, e.g. `0.15`).
#[server(prefix = "/api", endpoint = "prices_set", output = Json)]
pub async fn set_price(model: String, input: String, output: String) -> Result<ModelPrice, ConsoleError> {
    let admin = require_admin()?;
    console_backend()?
        .set_price(&admin, model, input, output)
        .await
        .map_err(refused)
}

/// Removes a model's price.
#[server(prefix = "/api", endpoint = "prices_remove", output = Json)]
pub async fn remove_price(model: String) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    console_backend()?.remove_price(&admin, model).await.map_err(refused)
}
