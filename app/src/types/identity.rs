//! End users (issue #23): the identity providers whose tokens a gateway accepts, and the end
//! user a verified token names. Gateway keys identify applications; a token identifies the
//! person behind one.

use super::{GatewayId, Limit};
use serde::{Deserialize, Serialize};

/// Identifies an identity provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdentityProviderId(pub i64);

/// A signature algorithm a provider's tokens may use. `none` is not one: it is always refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
pub enum JwtAlgorithm {
    RS256,
    ES256,
    EdDSA,
    /// A shared secret: only with [`KeySource::SecretEnv`].
    HS256,
}

impl JwtAlgorithm {
    /// Every algorithm.
    pub const ALL: [JwtAlgorithm; 4] = [
        JwtAlgorithm::RS256,
        JwtAlgorithm::ES256,
        JwtAlgorithm::EdDSA,
        JwtAlgorithm::HS256,
    ];

    /// The algorithm's name as a token's header writes it (`alg`).
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::ES256 => "ES256",
            JwtAlgorithm::EdDSA => "EdDSA",
            JwtAlgorithm::HS256 => "HS256",
        }
    }

    /// Parses a name as a token's header or a person writes it (any case).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

/// Where a provider's verification keys come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeySource {
    /// A JSON Web Key Set at this URL: fetched, cached, refetched when a token names a key id
    /// it does not hold (at most once a rate-limited interval), and kept serving the last good
    /// set while the URL fails.
    JwksUrl { url: String },
    /// The JWKS named by the issuer's OpenID discovery document
    /// (`{issuer}/.well-known/openid-configuration`, its `jwks_uri`).
    Discovery,
    /// One public key (RSA, EC P-256 or Ed25519), PEM.
    Pem { pem: String },
    /// An HS256 shared secret, read from this environment variable of the server (never stored).
    SecretEnv { var: String },
}

impl KeySource {
    /// The source's kind as the CLI and GraphQL name it.
    pub fn kind(&self) -> &'static str {
        match self {
            KeySource::JwksUrl { .. } => "jwks_url",
            KeySource::Discovery => "discovery",
            KeySource::Pem { .. } => "pem",
            KeySource::SecretEnv { .. } => "secret_env",
        }
    }
}

/// An issuer whose tokens a gateway accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub id: IdentityProviderId,
    pub gateway_id: GatewayId,
    /// The `iss` its tokens carry, exactly.
    pub issuer: String,
    /// Accepted `aud` values: a token must name one of them.
    pub audiences: Vec<String>,
    pub keys: KeySource,
    /// The algorithms its tokens may be signed with; any other is refused.
    pub algorithms: Vec<JwtAlgorithm>,
    /// Clock skew allowed on `exp` and `nbf`, seconds.
    pub leeway_s: i64,
    /// Claims a token must carry (besides `sub`, `exp`, `iss` and `aud`, always required).
    pub required_claims: Vec<String>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}

/// What it takes to add an identity provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewIdentityProvider {
    pub gateway_id: GatewayId,
    pub issuer: String,
    pub audiences: Vec<String>,
    pub keys: KeySource,
    /// Empty: RS256 for key sets and PEM keys, HS256 for a secret.
    pub algorithms: Vec<JwtAlgorithm>,
    pub leeway_s: i64,
    pub required_claims: Vec<String>,
}

/// The ways into a gateway it accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Gateway keys only (an end user's token, if sent with a key, is still verified).
    #[default]
    Key,
    /// End users' tokens only, at `/g/{gateway}/v1/…`.
    Jwt,
    /// Either.
    Both,
}

impl AuthMode {
    /// Every mode.
    pub const ALL: [AuthMode; 3] = [AuthMode::Key, AuthMode::Jwt, AuthMode::Both];

    /// The mode as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Key => "key",
            AuthMode::Jwt => "jwt",
            AuthMode::Both => "both",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.as_str() == name.trim())
    }

    /// Whether gateway keys open the gateway.
    pub fn takes_keys(self) -> bool {
        match self {
            AuthMode::Key | AuthMode::Both => true,
            AuthMode::Jwt => false,
        }
    }

    /// Whether end users' tokens alone open it.
    pub fn takes_tokens(self) -> bool {
        match self {
            AuthMode::Jwt | AuthMode::Both => true,
            AuthMode::Key => false,
        }
    }
}

/// The default clock skew allowed, seconds.
pub const DEFAULT_LEEWAY_S: i64 = 60;

/// What happens to a request asking for more tokens than a gateway's cap per prompt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum PromptCap {
    /// Refused with a 400 naming the cap.
    #[default]
    Refuse,
    /// Its `max_tokens` lowered to what the cap leaves after the prompt.
    Clamp,
}

impl PromptCap {
    /// Both.
    pub const ALL: [PromptCap; 2] = [PromptCap::Refuse, PromptCap::Clamp];

    /// The behaviour as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            PromptCap::Refuse => "refuse",
            PromptCap::Clamp => "clamp",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|cap| cap.as_str() == name.trim())
    }
}

/// Limits on the people behind a gateway's requests: each end user's own (every distinct
/// subject counts alone), each group's (the users its group rule gives the same key share
/// them), and a cap on the tokens of one request. The gateway's own limits are the total of
/// all its users. A request without an end user is limited by its key and gateway only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "PeopleLimitsInput"))]
pub struct PeopleLimits {
    /// Each end user's limits.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub per_user: Vec<Limit>,
    /// A CEL expression over `user` (the claims) giving an end user's group key, e.g.
    /// `user.department`; `None`: no groups.
    #[serde(default)]
    pub group_rule: Option<String>,
    /// Each group's limits (needs a group rule).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub per_group: Vec<Limit>,
    /// The most tokens one request may take: its prompt plus its `max_tokens`.
    #[serde(default)]
    pub max_tokens_per_prompt: Option<i64>,
    /// What happens to a request over that cap.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub over_cap: PromptCap,
}

impl PeopleLimits {
    /// Whether it limits nothing.
    pub fn is_empty(&self) -> bool {
        self.per_user.is_empty() && self.per_group.is_empty() && self.max_tokens_per_prompt.is_none()
    }
}

/// One end user's, or one group's, figures over a time range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject))]
pub struct PersonStats {
    /// The end user's subject, or the group's key.
    pub name: String,
    #[serde(flatten)]
    #[cfg_attr(feature = "ssr", graphql(flatten))]
    pub figures: super::RequestFigures,
}

/// End users one by one, or their groups (by the key a gateway's group rule gives them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PersonKind {
    User,
    Group,
}

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
