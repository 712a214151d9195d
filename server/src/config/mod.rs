//! Configuration: defaults < optional TOML file < `MGW_*` environment variables < CLI flags,
//! merged once at start and validated once.
//!
//! Invariant: every error names the key it is about (`database.max_connections`, `bind`, …).
//! Environment variables map to keys by dropping `MGW_`, lower-casing, and reading `__` as a
//! dot: `MGW_DATABASE__MAX_CONNECTIONS` sets `database.max_connections`.

mod redis;
mod serving;

pub use redis::{OnFailure, RedisConfig};
pub use serving::{ListenerConfig, ProxyConfig};

use crate::secrets::Secret;
use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};
use std::{net::SocketAddr, path::Path, path::PathBuf, time::Duration};

/// `MGW_*` variables that are not configuration keys (read elsewhere), so the environment
/// provider must not treat them as unknown keys.
const NOT_CONFIG_VARS: [&str; 6] = [
    "config",
    "admin_password",
    "endpoint_api_key",
    "test_postgres_url",
    "test_redis_url",
    "test_python",
];

/// The whole configuration of one process. Its `Debug` output hides secrets and the password
/// in a database URL.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP listener binds to.
    pub bind: SocketAddr,
    /// Directory for the embedded database and generated secrets; created on first run.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; unset means `sqlite://<data_dir>/model-gateway.db`.
    pub database_url: Option<String>,
    /// The URL people reach the console at (behind a proxy, say). `https://` makes session
    /// cookies `Secure` and `__Host-` prefixed.
    pub public_url: Option<String>,
    /// Directory holding the built console assets (`pkg/admin.js`, `.wasm`, `.css`).
    pub site_root: PathBuf,
    /// Log format: `text` (human-readable) or `json`.
    pub log_format: LogFormat,
    /// Master key for encrypting provider credentials: 32 bytes, base64 or hex. Unset means
    /// read or generate `<data_dir>/master.key`.
    pub master_key: Option<Secret>,
    /// Secret for hashing gateway keys (HMAC-SHA256): 32 bytes, base64 or hex. Unset means
    /// read or generate `<data_dir>/key-hash.secret`.
    pub key_hash_secret: Option<Secret>,
    /// Database pool settings.
    pub database: DatabaseConfig,
    /// Console session lifetimes.
    pub sessions: SessionConfig,
    /// The HTTP listener: connections and how long a request's head may take (SPEC §9).
    pub listener: ListenerConfig,
    /// The inference API: timeouts, limits and shutdown (RELIABILITY R1–R5, R8).
    pub proxy: ProxyConfig,
    /// `GET /metrics`.
    pub metrics: MetricsConfig,
    /// OpenTelemetry traces (off unless an OTLP endpoint is set).
    pub traces: TracesConfig,
    /// How long request logs are kept.
    pub request_logs: RequestLogsConfig,
    /// The currency model prices are in, an ISO 4217 code: costs and spend are shown in it.
    pub currency: String,
    /// Shared counters for several replicas.
    pub redis: RedisConfig,
}

/// `GET /metrics` (Prometheus).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A token scrapers must send as `Authorization: Bearer <token>`. Unset: `/metrics` is open
    /// to whoever reaches the listener.
    pub token: Option<Secret>,
}

/// OpenTelemetry traces, exported over OTLP/HTTP (JSON).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConfig {
    /// The collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`; spans go to
    /// `<url>/v1/traces`). Unset: no spans are exported.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` the spans carry.
    pub service_name: String,
}

impl Default for TracesConfig {
    fn default() -> Self {
        TracesConfig {
            otlp_endpoint: None,
            service_name: "model-gateway".into(),
        }
    }
}

/// Request-log retention.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestLogsConfig {
    /// Request logs (with their attempts) and usage events older than this are deleted; the
    /// hourly aggregates the dashboard reads are kept.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// How often the retention job looks for old rows.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
    /// Rows deleted per statement: small batches keep the write lock short.
    pub sweep_batch: usize,
}

impl Default for RequestLogsConfig {
    fn default() -> Self {
        RequestLogsConfig {
            retention: Duration::from_secs(30 * 24 * 3600),
            sweep_interval: Duration::from_secs(600),
            sweep_batch: 1000,
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Database pool settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Connections for reads (SQLite) or for everything (Postgres). SQLite writes always go
    /// through one connection.
    pub max_connections: u32,
    /// How long a connection waits for a locked SQLite database.
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
    /// How long a request waits for a free connection.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

/// Console session lifetimes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A session unused for this long ends.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however active.
    #[serde(with = "humantime_serde")]
    pub absolute_timeout: Duration,
}

/// Where `scripts/build.sh` puts the console assets for this kind of build: a debug binary
/// serves the debug build's, so `make test` never replaces what a release `make run` serves.
pub const DEFAULT_SITE_ROOT: &str = if cfg!(debug_assertions) {
    "target/site-debug"
} else {
    "target/site"
};

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            public_url: None,
            site_root: PathBuf::from(DEFAULT_SITE_ROOT),
            log_format: LogFormat::Text,
            master_key: None,
            key_hash_secret: None,
            database: DatabaseConfig::default(),
            sessions: SessionConfig::default(),
            listener: ListenerConfig::default(),
            proxy: ProxyConfig::default(),
            metrics: MetricsConfig::default(),
            traces: TracesConfig::default(),
            request_logs: RequestLogsConfig::default(),
            currency: "USD".into(),
            redis: RedisConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_timeout: Duration::from_secs(12 * 3600),
            absolute_timeout: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Values given as command-line flags; they override every other source.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_root: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// A configuration that cannot be used, with the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("{0}")]
    Parse(String),
    #[error("invalid value for `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    /// Merges the sources in order of precedence, then validates the result.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.to_path_buf()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let env = Env::prefixed("MGW_")
            .filter(|key| {
                !NOT_CONFIG_VARS
                    .iter()
                    .any(|name| key.as_str().eq_ignore_ascii_case(name))
            })
            .split("__");
        let config: Config = figment
            .merge(env)
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|errors| {
                ConfigError::Parse(errors.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types alone cannot.
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_string(),
            })
        };
        if let Some(url) = &self.database_url {
            if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return invalid("database_url", "must start with sqlite:, postgres:// or postgresql://");
            }
        }
        if let Some(url) = &self.public_url {
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            if rest.is_none_or(|host| host.is_empty()) {
                return invalid("public_url", "must be an http:// or https:// URL");
            }
        }
        for origin in &self.proxy.cors_origins {
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let fits = origin == "*"
                || host.is_some_and(|host| !host.is_empty() && !host.contains(['/', ' ', '*']))
                    && axum::http::HeaderValue::from_str(origin).is_ok();
            if !fits {
                return invalid(
                    "proxy.cors_origins",
                    "each is * or an origin: http(s)://host[:port], with no path",
                );
            }
        }
        if !(self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase())) {
            return invalid(
                "currency",
                "must be an ISO 4217 code: three capital letters, like USD or EUR",
            );
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        if self.sessions.idle_timeout.is_zero() {
            return invalid("sessions.idle_timeout", "must be longer than zero");
        }
        if self.sessions.absolute_timeout < self.sessions.idle_timeout {
            return invalid(
                "sessions.absolute_timeout",
                "must not be shorter than sessions.idle_timeout",
            );
        }
        let proxy = &self.proxy;
        for (key, value) in [
            ("proxy.max_body_bytes", proxy.max_body_bytes),
            ("proxy.max_answer_bytes", proxy.max_answer_bytes),
            ("proxy.max_in_flight", proxy.max_in_flight),
            ("proxy.endpoint_max_in_flight", proxy.endpoint_max_in_flight),
            ("proxy.log_queue", proxy.log_queue),
            ("listener.max_connections", self.listener.max_connections),
            ("request_logs.sweep_batch", self.request_logs.sweep_batch),
            (
                "proxy.key_max_concurrent",
                usize::try_from(proxy.key_max_concurrent).unwrap_or(0),
            ),
        ] {
            if value == 0 {
                return invalid(key, "must be at least 1");
            }
        }
        for (key, value) in [
            ("listener.header_read_timeout", self.listener.header_read_timeout),
            ("listener.write_stall_timeout", self.listener.write_stall_timeout),
            ("proxy.body_read_timeout", proxy.body_read_timeout),
            ("proxy.connect_timeout", proxy.connect_timeout),
            ("proxy.first_byte_timeout", proxy.first_byte_timeout),
            ("proxy.stream_first_byte_timeout", proxy.stream_first_byte_timeout),
            ("proxy.idle_timeout", proxy.idle_timeout),
            ("proxy.request_deadline", proxy.request_deadline),
            ("proxy.reservation_ttl", proxy.reservation_ttl),
            ("request_logs.retention", self.request_logs.retention),
            ("request_logs.sweep_interval", self.request_logs.sweep_interval),
        ] {
            if value.is_zero() {
                return invalid(key, "must be longer than zero");
            }
        }
        if let Some(url) = &self.redis.url {
            if !(url.expose().starts_with("redis://") || url.expose().starts_with("rediss://")) {
                return invalid("redis.url", "must start with redis:// or rediss://");
            }
        }
        if self.redis.prefix.is_empty() || self.redis.prefix.contains(['{', '}']) {
            return invalid("redis.prefix", "must not be empty nor hold `{` or `}`");
        }
        if self.redis.timeout.is_zero() {
            return invalid("redis.timeout", "must be longer than zero");
        }
        if let Some(url) = &self.traces.otlp_endpoint {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return invalid("traces.otlp_endpoint", "must be an http:// or https:// URL");
            }
        }
        if self
            .metrics
            .token
            .as_ref()
            .is_some_and(|token| token.expose().is_empty())
        {
            return invalid("metrics.token", "must not be empty");
        }
        for (key, secret) in [
            ("master_key", &self.master_key),
            ("key_hash_secret", &self.key_hash_secret),
        ] {
            if let Some(secret) = secret {
                if let Err(message) = secret.key_bytes() {
                    return invalid(key, &message);
                }
            }
        }
        Ok(())
    }

    /// The database URL in force: the configured one, or the embedded SQLite file. A SQLite
    /// URL without a `mode` creates its file when missing, as the default one does.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) if url.starts_with("sqlite:") && !url.contains("mode=") => {
                let separator = if url.contains('?') { '&' } else { '?' };
                format!("{url}{separator}mode=rwc")
            }
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("model-gateway.db").display()),
        }
    }

    /// Whether the console is served over HTTPS (so cookies must be `Secure`).
    pub fn serves_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact_password))
            .field("public_url", &self.public_url)
            .field("site_root", &self.site_root)
            .field("log_format", &self.log_format)
            .field("master_key", &self.master_key)
            .field("key_hash_secret", &self.key_hash_secret)
            .field("database", &self.database)
            .field("sessions", &self.sessions)
            .field("proxy", &self.proxy)
            .field("metrics", &self.metrics)
            .field("traces", &self.traces)
            .field("request_logs", &self.request_logs)
            .field("currency", &self.currency)
            .field("redis", &self.redis)
            .finish()
    }
}

/// A URL with the password of its user-info replaced: `postgres://u:<redacted>@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:<redacted>@{host}{}", &rest[authority_end..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests;
