//! The response cache's settings (issue #24): a gateway answers a request it answered before
//! without calling a provider again, when its cache is on. Off by default.

use serde::{Deserialize, Serialize};

/// Whether, and how, a gateway's answers are cached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    /// Nothing is cached.
    #[default]
    Off,
    /// A request is answered from the cache when one like it — the same gateway, model,
    /// prompt version and body (key order, defaults, `user` and `stream` aside) — was answered
    /// within the TTL.
    Exact,
}

impl CacheMode {
    /// Both.
    pub const ALL: [CacheMode; 2] = [CacheMode::Off, CacheMode::Exact];

    /// The mode as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Off => "off",
            CacheMode::Exact => "exact",
        }
    }

    /// The mode typed `text`.
    pub fn parse(text: &str) -> Option<CacheMode> {
        CacheMode::ALL.into_iter().find(|mode| mode.as_str() == text.trim())
    }
}

/// The longest an answer may be kept: a day.
pub const MAX_CACHE_TTL_S: i64 = 86_400;
/// The largest answer a gateway may keep: 16 MiB.
pub const MAX_CACHE_ENTRY_BYTES: i64 = 16 << 20;

/// A gateway's response cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "CacheSettingsInput"))]
pub struct CacheSettings {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub mode: CacheMode,
    /// How long an answer is kept, seconds (1 to a day).
    #[serde(default = "default_ttl_s")]
    #[cfg_attr(feature = "ssr", graphql(default_with = "default_ttl_s()"))]
    pub ttl_s: i64,
    /// The largest answer kept, bytes (larger ones are served and not kept).
    #[serde(default = "default_max_entry_bytes")]
    #[cfg_attr(feature = "ssr", graphql(default_with = "default_max_entry_bytes()"))]
    pub max_entry_bytes: i64,
    /// Concurrent identical misses wait for one upstream call instead of making their own.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub collapse: bool,
}

fn default_ttl_s() -> i64 {
    600
}

fn default_max_entry_bytes() -> i64 {
    1 << 20
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            mode: CacheMode::Off,
            ttl_s: default_ttl_s(),
            max_entry_bytes: default_max_entry_bytes(),
            collapse: false,
        }
    }
}

impl CacheSettings {
    /// Whether answers are cached.
    pub fn on(&self) -> bool {
        match self.mode {
            CacheMode::Off => false,
            CacheMode::Exact => true,
        }
    }
}
