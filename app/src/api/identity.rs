//! End users' server functions (issue #23, the Gateways page): list, add and remove a
//! gateway's identity providers, and try an access rule against a token's claims. The forms
//! arrive as typed (comma-separated lists, the key source picked); the server reads them.
//!
//! The identity provider's form and the rule's verdict are declared here, beside the only
//! functions that carry them.

#[cfg(feature = "ssr")]
use super::{console_backend, refused, require_admin};
#[cfg(feature = "ssr")]
use crate::types::IdentityProviderId;
use crate::types::{ConsoleError, IdentityProvider, Json};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The form that adds an identity provider, as typed: the server reads it into a
/// `NewIdentityProvider`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProviderForm {
    pub gateway_id: i64,
    /// The `iss` its tokens carry.
    pub issuer: String,
    /// Accepted `aud` values, comma-separated.
    pub audiences: String,
    /// The algorithms ticked, comma-separated (none: the key source's usual one).
    pub algorithms: String,
    /// Where its keys come from: `jwks_url`, `discovery`, `pem` or `secret_env`.
    pub key_source: String,
    /// The key set's URL (`jwks_url`).
    pub jwks_url: String,
    /// The public key, PEM (`pem`).
    pub key: String,
    /// The server's environment variable holding the HS256 secret (`secret_env`).
    pub secret_env: String,
    /// Clock skew allowed, seconds; blank for the default.
    pub leeway_s: String,
    /// Claims a token must carry, comma-separated.
    pub required_claims: String,
}

/// An access rule to try, as the gateway's edit form holds it. Trying changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleTest {
    /// The gateway's name (the rule's `gateway.name`).
    pub gateway: String,
    /// The CEL expression.
    pub rule: String,
    /// A token's claims: a JSON object (the rule's `user`).
    pub claims: String,
    /// The model asked for (the rule's `request.model`); blank for none.
    pub model: String,
}

/// What an access rule made of a request with some claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject))]
#[cfg_attr(feature = "ssr", graphql(name = "AccessRuleVerdict"))]
pub struct RuleVerdict {
    /// Whether the request would pass: only a rule that yields `true` lets it through.
    pub allowed: bool,
    /// Why the rule could not be evaluated against these claims (which denies the request).
    pub error: Option<String>,
}

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
