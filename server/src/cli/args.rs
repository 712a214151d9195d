//! The clap definitions of the resource subcommands (`endpoint`, `gateway`, `key`, `price`) and
//! their value parsers.

use super::Output;
use crate::manage::{limits::parse_limit, param_value, ManageError};
use app::types::{ProviderKind, Strategy};
use clap::{Args, Subcommand};
use std::time::Duration;

/// Inference endpoints: the upstreams gateways route to.
#[derive(Subcommand)]
pub enum EndpointCommand {
    /// Add an endpoint.
    Add(EndpointAdd),
    /// List endpoints.
    List(Output),
    /// Change an endpoint.
    Update(EndpointChange),
    /// Remove an endpoint that no gateway uses.
    Remove {
        /// The endpoint's name.
        name: String,
        #[command(flatten)]
        output: Output,
    },
}

/// Gateways: named proxies over an ordered list of endpoints.
#[derive(Subcommand)]
pub enum GatewayCommand {
    /// Add a gateway.
    Add(GatewayAdd),
    /// List gateways.
    List(Output),
    /// Change a gateway.
    Update(Box<GatewayChange>),
    /// Remove a gateway and its keys.
    Remove {
        /// The gateway's name.
        name: String,
        #[command(flatten)]
        output: Output,
    },
}

/// Gateway keys: the credentials applications send.
#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a key; its secret is printed this once.
    Create(KeyCreate),
    /// List keys (never their secrets).
    List {
        /// Only this gateway's keys.
        #[arg(long)]
        gateway: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Revoke a key and every key under it.
    Revoke {
        /// The key's public id (as `key list` shows it).
        public_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Change a key: name, models, expiry, on/off, limits.
    Update(KeyChange),
    /// Replace a key by a new one; the old one keeps working for the grace period. The new
    /// secret is printed this once.
    Rotate {
        /// The key's public id.
        public_id: String,
        /// How long the old key keeps working (e.g. 1h, 7d; 0s ends it now).
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        grace: Duration,
        #[command(flatten)]
        output: Output,
    },
    /// Forget a key's counted usage: its limits start afresh (the hourly history stays).
    Reset {
        /// The key's public id.
        public_id: String,
        #[command(flatten)]
        output: Output,
    },
}

/// Model prices per million tokens, in the currency budgets are set in.
#[derive(Subcommand)]
pub enum PriceCommand {
    /// List prices.
    List(Output),
    /// Set a model's price (adds the model when it has none).
    Set {
        /// The model name, as endpoints name it (`gpt-4o-mini`, `claude-sonnet-4-0`…).
        model: String,
        /// Price per million input (prompt) tokens, e.g. 0.15.
        #[arg(long)]
        input: String,
        /// Price per million output (completion) tokens, e.g. 0.60.
        #[arg(long)]
        output: String,
        #[command(flatten)]
        format: Output,
    },
    /// Remove a model's price (its requests then cost nothing).
    Remove {
        model: String,
        #[command(flatten)]
        output: Output,
    },
}

/// The `--limit` flag, shared by keys and gateways.
const LIMIT_HELP: &str = "A limit, repeatable: METRIC/PERIOD=VALUE with METRIC requests, tokens or cost \
(currency) and PERIOD minute, hour, day, month or total (e.g. requests/minute=100, tokens/day=1000000, \
cost/month=25); or concurrency=VALUE";

#[derive(Args)]
pub struct EndpointAdd {
    /// A unique name (letters, digits, '.', '_', '-').
    #[arg(long)]
    pub(super) name: String,
    /// openai, azure_openai, anthropic, gemini, vertex, bedrock, ollama or openai_compatible.
    #[arg(long, value_parser = parse_provider)]
    pub(super) provider: ProviderKind,
    /// Base URL [default: the provider's, where it has one]
    #[arg(long)]
    pub(super) url: Option<String>,
    /// The provider API key (vertex: the service account's JSON key file, or @FILE to read
    /// it; bedrock: ACCESS_KEY_ID:SECRET_ACCESS_KEY); stored encrypted, never shown again. Prefer MGW_ENDPOINT_API_KEY to keep it out of
    /// shell history.
    #[arg(long, env = "MGW_ENDPOINT_API_KEY", hide_env_values = true)]
    pub(super) api_key: Option<String>,
    /// The model this endpoint serves.
    #[arg(long)]
    pub(super) model: String,
    /// Azure: the deployment name.
    #[arg(long)]
    pub(super) deployment: Option<String>,
    /// Azure: the api-version.
    #[arg(long)]
    pub(super) api_version: Option<String>,
    /// Vertex: the Google Cloud project [default: the service account's]
    #[arg(long)]
    pub(super) project: Option<String>,
    /// A region label (vertex: the region called [default: global]; bedrock: [default:
    /// us-east-1]).
    #[arg(long)]
    pub(super) region: Option<String>,
    /// The provider's requests per minute for this endpoint.
    #[arg(long)]
    pub(super) rpm: Option<i64>,
    /// The provider's tokens per minute for this endpoint.
    #[arg(long)]
    pub(super) tpm: Option<i64>,
    /// Add it switched off.
    #[arg(long)]
    pub(super) disabled: bool,
    #[command(flatten)]
    pub(super) output: Output,
}

#[derive(Args)]
pub struct EndpointChange {
    /// The endpoint to change.
    pub(super) name: String,
    /// A new name.
    #[arg(long = "rename")]
    pub(super) new_name: Option<String>,
    /// A new base URL.
    #[arg(long)]
    pub(super) url: Option<String>,
    /// A new API key, or @FILE to read it. (Not read from MGW_ENDPOINT_API_KEY: a key exported
    /// for `add` must not land on whichever endpoint is updated next.)
    #[arg(long)]
    pub(super) api_key: Option<String>,
    /// Forget the stored API key.
    #[arg(long, conflicts_with = "api_key")]
    pub(super) clear_api_key: bool,
    /// A new model.
    #[arg(long)]
    pub(super) model: Option<String>,
    /// Azure: a new deployment name.
    #[arg(long)]
    pub(super) deployment: Option<String>,
    /// Azure: a new api-version.
    #[arg(long)]
    pub(super) api_version: Option<String>,
    /// Vertex: a new Google Cloud project.
    #[arg(long)]
    pub(super) project: Option<String>,
    /// A new region label.
    #[arg(long)]
    pub(super) region: Option<String>,
    /// New requests per minute.
    #[arg(long)]
    pub(super) rpm: Option<i64>,
    /// New tokens per minute.
    #[arg(long)]
    pub(super) tpm: Option<i64>,
    /// Switch it on (true) or off (false).
    #[arg(long)]
    pub(super) enabled: Option<bool>,
    #[command(flatten)]
    pub(super) output: Output,
}

#[derive(Args)]
pub struct GatewayAdd {
    /// A unique name.
    #[arg(long)]
    pub(super) name: String,
    /// Endpoint names in order, comma-separated; each may carry :weight[:priority].
    #[arg(long, value_delimiter = ',', required = true)]
    pub(super) endpoints: Vec<String>,
    /// round_robin, weighted, priority, least_busy, least_latency or random.
    #[arg(long, default_value = "priority", value_parser = parse_strategy)]
    pub(super) strategy: Strategy,
    /// What the gateway is for.
    #[arg(long, default_value = "")]
    pub(super) description: String,
    /// Log request and response bodies (off by default).
    #[arg(long)]
    pub(super) log_payloads: bool,
    #[arg(long = "limit", help = LIMIT_HELP)]
    pub(super) limits: Vec<String>,
    #[command(flatten)]
    pub(super) policy: PolicyFlags,
    #[command(flatten)]
    pub(super) output: Output,
}

/// `--param-*`: a gateway's parameter policy (issue #22). On `update`, any of them replaces
/// the whole policy.
#[derive(Args)]
pub struct PolicyFlags {
    /// Set a field a request leaves out, `name=value` (the value read as JSON when it is, else
    /// as text; repeatable).
    #[arg(long = "param-default")]
    defaults: Vec<String>,
    /// Set a field over what a request sends, `name=value` (repeatable).
    #[arg(long = "param-override")]
    overrides: Vec<String>,
    /// Lower a numeric field above this to it, `name=number` (e.g. `max_tokens=1024`; repeatable).
    #[arg(long = "param-max")]
    maxima: Vec<String>,
    /// Raise a numeric field below this to it, `name=number` (repeatable).
    #[arg(long = "param-min")]
    minima: Vec<String>,
    /// Refuse requests that send this field (e.g. `logit_bias`; repeatable).
    #[arg(long = "param-deny")]
    denied: Vec<String>,
}

impl PolicyFlags {
    /// The policy the flags give; `None` when none is given.
    pub(super) fn policy(&self) -> Result<Option<app::types::ParamPolicy>, ManageError> {
        let pairs = |list: &[String]| list.iter().map(|pair| param_value(pair)).collect::<Result<Vec<_>, _>>();
        let policy = app::types::ParamPolicy {
            defaults: pairs(&self.defaults)?,
            overrides: pairs(&self.overrides)?,
            maxima: pairs(&self.maxima)?,
            minima: pairs(&self.minima)?,
            denied: self.denied.iter().map(|name| name.trim().to_string()).collect(),
        };
        Ok((!policy.is_empty()).then_some(policy))
    }
}

#[derive(Args)]
pub struct GatewayChange {
    /// The gateway to change.
    pub(super) name: String,
    /// A new name.
    #[arg(long = "rename")]
    pub(super) new_name: Option<String>,
    /// A new endpoint list (replaces the old one).
    #[arg(long, value_delimiter = ',')]
    pub(super) endpoints: Option<Vec<String>>,
    /// A new strategy.
    #[arg(long, value_parser = parse_strategy)]
    pub(super) strategy: Option<Strategy>,
    /// A new description.
    #[arg(long)]
    pub(super) description: Option<String>,
    /// Log request metadata (true/false).
    #[arg(long)]
    pub(super) log_metadata: Option<bool>,
    /// Log request and response bodies (true/false).
    #[arg(long)]
    pub(super) log_payloads: Option<bool>,
    /// Switch it on (true) or off (false).
    #[arg(long)]
    pub(super) enabled: Option<bool>,
    #[command(flatten)]
    pub(super) limits: LimitChange,
    #[command(flatten)]
    pub(super) policy: PolicyFlags,
    /// Remove its parameter policy.
    #[arg(long, conflicts_with_all = ["defaults", "overrides", "maxima", "minima", "denied"])]
    pub(super) no_param_policy: bool,
    /// Which ways in it accepts: `key` (gateway keys), `jwt` (end users' tokens alone, at
    /// `/g/NAME/v1/…`) or `both`.
    #[arg(long, value_parser = parse_auth_mode)]
    pub(super) auth: Option<app::types::AuthMode>,
    /// A CEL expression every request must satisfy, over `user` (the end user's claims),
    /// `request` (model, path, stream, max_tokens, prompt), `gateway` and `now`; e.g.
    /// `'llm-open-ai-allowed' in user.groups`.
    #[arg(long)]
    pub(super) access: Option<String>,
    /// Remove its access rule.
    #[arg(long, conflicts_with = "access")]
    pub(super) no_access: bool,
    /// An access rule on one model as clients name it (a model, an alias or a composite
    /// model): `MODEL=EXPR` (repeatable; replaces them all).
    #[arg(long = "model-access", conflicts_with = "no_model_access")]
    pub(super) model_access: Vec<String>,
    /// Remove every access rule on its models.
    #[arg(long)]
    pub(super) no_model_access: bool,
    #[command(flatten)]
    pub(super) people: super::identity::PeopleFlags,
    #[command(flatten)]
    pub(super) cache: super::cache::CacheFlags,
    #[command(flatten)]
    pub(super) output: Output,
}

/// `--limit` and `--no-limits` for `update` subcommands.
#[derive(Args)]
pub struct LimitChange {
    /// Replaces all its own limits (repeatable; see `key create --help`).
    #[arg(long = "limit", conflicts_with = "no_limits")]
    limits: Vec<String>,
    /// Remove all its own limits (a key's ancestors' and gateway's still apply).
    #[arg(long)]
    no_limits: bool,
}

impl LimitChange {
    /// `Some(new limits)` when the flags change them.
    pub(super) fn parsed(&self) -> Result<Option<Vec<app::types::Limit>>, ManageError> {
        if self.no_limits {
            return Ok(Some(Vec::new()));
        }
        if self.limits.is_empty() {
            return Ok(None);
        }
        limits(&self.limits).map(Some)
    }
}

#[derive(Args)]
pub struct KeyCreate {
    /// The gateway the key opens.
    #[arg(long)]
    pub(super) gateway: String,
    /// A name for people.
    #[arg(long)]
    pub(super) name: String,
    /// The public id of the parent key.
    #[arg(long)]
    pub(super) parent: Option<String>,
    /// Models it may use, comma-separated [default: all of the gateway's]
    #[arg(long, value_delimiter = ',')]
    pub(super) models: Option<Vec<String>>,
    /// Expire after this long (e.g. 30d, 12h).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(super) expires_in: Option<Duration>,
    #[arg(long = "limit", help = LIMIT_HELP)]
    pub(super) limits: Vec<String>,
    /// It may name the end user it calls for (`x-mgw-user`, or the body's `user`) without
    /// the user's token: for server-side applications that sign their users in themselves.
    #[arg(long)]
    pub(super) may_assert_users: bool,
    #[command(flatten)]
    pub(super) output: Output,
}

#[derive(Args)]
pub struct KeyChange {
    /// The key's public id.
    pub(super) public_id: String,
    /// A new name.
    #[arg(long = "rename")]
    pub(super) new_name: Option<String>,
    /// Models it may use, comma-separated (replaces the list).
    #[arg(long, value_delimiter = ',', conflicts_with = "all_models")]
    pub(super) models: Option<Vec<String>>,
    /// Let it use every model of its gateway.
    #[arg(long)]
    pub(super) all_models: bool,
    /// Expire this long from now (e.g. 30d).
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "no_expiry")]
    pub(super) expires_in: Option<Duration>,
    /// Never expire.
    #[arg(long)]
    pub(super) no_expiry: bool,
    /// Switch it on (true) or off (false).
    #[arg(long)]
    pub(super) enabled: Option<bool>,
    #[command(flatten)]
    pub(super) limits: LimitChange,
    /// Let it name end users without their tokens.
    #[arg(long, conflicts_with = "no_may_assert_users")]
    pub(super) may_assert_users: bool,
    /// Stop it naming end users without their tokens.
    #[arg(long)]
    pub(super) no_may_assert_users: bool,
    #[command(flatten)]
    pub(super) output: Output,
}

pub(super) fn limits(texts: &[String]) -> Result<Vec<app::types::Limit>, ManageError> {
    texts.iter().map(|text| parse_limit(text)).collect()
}

fn parse_provider(name: &str) -> Result<ProviderKind, String> {
    ProviderKind::parse(name).ok_or_else(|| {
        let names: Vec<_> = ProviderKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

fn parse_auth_mode(name: &str) -> Result<app::types::AuthMode, String> {
    use app::types::AuthMode;
    AuthMode::parse(name).ok_or_else(|| {
        let names: Vec<_> = AuthMode::ALL.iter().map(|mode| mode.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

fn parse_strategy(name: &str) -> Result<Strategy, String> {
    Strategy::parse(name).ok_or_else(|| {
        let names: Vec<_> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}
