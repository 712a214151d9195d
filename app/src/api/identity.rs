//! End users' server functions (issue #23, the Gateways page): list, add and remove a
//! gateway's identity providers, and try an access rule against a token's claims. The forms
//! arrive as typed (comma-separated lists, the key source picked); the server reads them.

#[cfg(feature = "ssr")]
use super::{console_backend, refused, require_admin};
use crate::types::{ConsoleError, IdentityProvider, Json, RuleVerdict};
#[cfg(feature = "ssr")]
use crate::types::{IdentityProviderForm, IdentityProviderId, RuleTest};
use leptos::prelude::*;

/// Every gateway's identity providers, by gateway and issuer.
#[server(prefix = "/api", endpoint = "identity_list", output = Json)]
pub async fn list_identity_providers() -> Result<Vec<IdentityProvider>, ConsoleError> {
    require_admin()?;
    console_backend()?.identity_providers().await.map_err(refused)
}

/// Adds an identity provider to gateway `gateway_id` (only the field the key source picked
/// is read).
#[server(prefix = "/api", endpoint = "identity_create", output = Json)]
pub async fn add_identity_provider(
    gateway_id: i64,
    #[server(default)] issuer: String,
    #[server(default)] audiences: String,
    #[server(default)] algorithms: String,
    #[server(default)] key_source: String,
    #[server(default)] jwks_url: String,
    #[server(default)] key: String,
    #[server(default)] secret_env: String,
    #[server(default)] leeway_s: String,
    #[server(default)] required_claims: String,
) -> Result<IdentityProvider, ConsoleError> {
    let admin = require_admin()?;
    let form = IdentityProviderForm {
        gateway_id,
        issuer,
        audiences,
        algorithms,
        key_source,
        jwks_url,
        key,
        secret_env,
        leeway_s,
        required_claims,
    };
    console_backend()?
        .add_identity_provider(&admin, form)
        .await
        .map_err(refused)
}

/// Removes identity provider `id`: its tokens are refused from then on.
#[server(prefix = "/api", endpoint = "identity_delete", output = Json)]
pub async fn remove_identity_provider(id: i64) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    console_backend()?
        .remove_identity_provider(&admin, IdentityProviderId(id))
        .await
        .map_err(refused)
}

/// Tries access rule `access` on a chat request to `gateway` for `model`, by an end user with
/// `claims` (a JSON object), now. A rule that does not compile is refused under `access`,
/// claims that are not an object under `claims`.
#[server(prefix = "/api", endpoint = "access_rule_test", output = Json)]
pub async fn test_access_rule(
    #[server(default)] gateway: String,
    #[server(default)] access: String,
    #[server(default)] claims: String,
    #[server(default)] model: String,
) -> Result<RuleVerdict, ConsoleError> {
    require_admin()?;
    let test = RuleTest {
        gateway,
        rule: access,
        claims,
        model,
    };
    console_backend()?.test_access_rule(test).await.map_err(refused)
}
