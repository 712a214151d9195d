//! End users in GraphQL (issue #23): the `IdentityProvider` node, listed under its gateway, the
//! mutations that add and remove one — each one management operation, which checks it and
//! records the change — and `testAccessRule`, which tries a rule against a token's claims.
//!
//! Does not: check a provider (`manage` does, naming the field it refuses); change or record
//! anything when a rule is tried.

use super::{
    actor, error, manage, reader,
    types::{global_id, numeric_id, NodeKind},
};
use app::types::RuleVerdict;
use app::types::{
    GatewayId, IdentityProvider, IdentityProviderId, JwtAlgorithm, KeySource, NewIdentityProvider, DEFAULT_LEEWAY_S,
};
use async_graphql::{Context, InputObject, Json, Object, Result, ID};
use serde_json::{Map, Value};

/// An issuer whose end-user tokens (JWTs) a gateway accepts.
pub struct IdentityProviderNode(pub IdentityProvider);

#[Object(name = "IdentityProvider")]
impl IdentityProviderNode {
    pub(super) async fn id(&self) -> ID {
        global_id(NodeKind::IdentityProvider, self.0.id.0)
    }
    async fn gateway_id(&self) -> ID {
        global_id(NodeKind::Gateway, self.0.gateway_id.0)
    }
    /// The `iss` its tokens carry.
    async fn issuer(&self) -> &str {
        &self.0.issuer
    }
    /// Accepted `aud` values.
    async fn audiences(&self) -> &[String] {
        &self.0.audiences
    }
    /// Where its keys come from: `jwks_url`, `discovery`, `pem` or `secret_env`.
    async fn key_source(&self) -> &'static str {
        self.0.keys.kind()
    }
    /// The key set's URL (`jwks_url` only).
    async fn jwks_url(&self) -> Option<&str> {
        match &self.0.keys {
            KeySource::JwksUrl { url } => Some(url),
            KeySource::Discovery | KeySource::Pem { .. } | KeySource::SecretEnv { .. } => None,
        }
    }
    /// The server's environment variable holding the HS256 shared key (`secret_env` only; its
    /// name, never its value).
    async fn environment_variable(&self) -> Option<&str> {
        match &self.0.keys {
            KeySource::SecretEnv { var } => Some(var),
            KeySource::JwksUrl { .. } | KeySource::Discovery | KeySource::Pem { .. } => None,
        }
    }
    async fn algorithms(&self) -> &[JwtAlgorithm] {
        &self.0.algorithms
    }
    /// Clock skew allowed on `exp` and `nbf`, seconds.
    async fn leeway_s(&self) -> i64 {
        self.0.leeway_s
    }
    /// Claims its tokens must carry, besides `sub`, `exp`, `iss` and `aud`.
    async fn required_claims(&self) -> &[String] {
        &self.0.required_claims
    }
    /// Unix milliseconds.
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
}

/// A new identity provider: exactly one of `jwksUrl`, `discovery`, `publicKeyPem`, `secretEnv`.
#[derive(InputObject)]
pub struct AddIdentityProviderInput {
    pub gateway_id: ID,
    pub issuer: String,
    pub audiences: Vec<String>,
    pub jwks_url: Option<String>,
    /// Find the key set through the issuer's OpenID discovery document.
    #[graphql(default)]
    pub discovery: bool,
    pub public_key_pem: Option<String>,
    /// The server's environment variable holding an HS256 secret.
    pub secret_env: Option<String>,
    /// Empty: RS256, or HS256 with a secret.
    #[graphql(default)]
    pub algorithms: Vec<JwtAlgorithm>,
    #[graphql(default_with = "DEFAULT_LEEWAY_S")]
    pub leeway_s: i64,
    #[graphql(default)]
    pub required_claims: Vec<String>,
}

impl AddIdentityProviderInput {
    /// The one key source it names.
    fn keys(&self) -> Result<KeySource> {
        let mut given = Vec::new();
        if let Some(url) = &self.jwks_url {
            given.push(KeySource::JwksUrl { url: url.clone() });
        }
        if self.discovery {
            given.push(KeySource::Discovery);
        }
        if let Some(pem) = &self.public_key_pem {
            given.push(KeySource::Pem { pem: pem.clone() });
        }
        if let Some(var) = &self.secret_env {
            given.push(KeySource::SecretEnv { var: var.clone() });
        }
        match <[KeySource; 1]>::try_from(given) {
            Ok([keys]) => Ok(keys),
            Err(_) => Err(error::invalid(
                "keys",
                "give exactly one of jwksUrl, discovery, publicKeyPem and secretEnv",
            )),
        }
    }
}

/// The mutations of end users' identity.
#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Accepts a gateway's end users' tokens from an issuer.
    async fn add_identity_provider(
        &self,
        ctx: &Context<'_>,
        input: AddIdentityProviderInput,
    ) -> Result<IdentityProviderNode> {
        let new = NewIdentityProvider {
            gateway_id: GatewayId(numeric_id(&input.gateway_id, NodeKind::Gateway, "gatewayId")?),
            keys: input.keys()?,
            issuer: input.issuer,
            audiences: input.audiences,
            algorithms: input.algorithms,
            leeway_s: input.leeway_s,
            required_claims: input.required_claims,
        };
        let provider = (manage(ctx).add_identity_provider(actor(ctx)?, new).await).map_err(error::manage)?;
        Ok(IdentityProviderNode(provider))
    }

    /// Stops accepting an issuer's tokens; answers the id.
    async fn remove_identity_provider(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let number = IdentityProviderId(numeric_id(&id, NodeKind::IdentityProvider, "id")?);
        (manage(ctx).remove_identity_provider(actor(ctx)?, number).await).map_err(error::manage)?;
        Ok(id)
    }
}

/// `testAccessRule`: what access rule `expression` makes of a chat request
/// (`/v1/chat/completions`) for `model`, by an end user with `claims`, to `gateway` (its name is
/// the rule's `gateway.name`; none: empty), now. A rule that does not compile is refused under
/// `expression`, saying where.
pub(super) async fn test_access_rule(
    ctx: &Context<'_>,
    expression: String,
    claims: Json<Map<String, Value>>,
    model: Option<String>,
    gateway: Option<ID>,
) -> Result<RuleVerdict> {
    reader(ctx)?;
    let gateway = match gateway {
        Some(id) => {
            let id = GatewayId(numeric_id(&id, NodeKind::Gateway, "gateway")?);
            manage(ctx).gateway(id).await.map_err(error::manage)?.name
        }
        None => String::new(),
    };
    let now = crate::manage::now_ms() / 1000;
    crate::rules::try_rule(&expression, &claims.0, model.as_deref(), &gateway, now)
        .map_err(|fault| error::invalid("expression", fault))
}
