//! `[redis]`: the shared counters of several replicas (issue #20). Unset, each process counts
//! its own traffic in memory.

use crate::secrets::Secret;
use serde::Deserialize;
use std::time::Duration;

/// Redis, where replicas share the limits' counters.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://[:password@]host:port[/db]` (or `rediss://`); a secret, since it may hold a
    /// password. Unset: limits are counted in this process's memory.
    pub url: Option<Secret>,
    /// What every key this deployment writes starts with (inside one hash tag, so a request's
    /// keys share a cluster slot): two deployments may share one Redis with different prefixes.
    pub prefix: String,
    /// What admission does while Redis cannot be reached.
    pub on_failure: OnFailure,
    /// How long one Redis call may take before it counts as a failure.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

/// What admission does while Redis cannot be reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Refuse with 503 `limits_unavailable`: no limit is ever exceeded.
    #[default]
    FailClosed,
    /// Count in this process's memory against its share of each limit (the limit divided by
    /// the replicas last seen alive), until Redis answers again.
    FailOpen,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: None,
            prefix: "mgw".into(),
            on_failure: OnFailure::FailClosed,
            timeout: Duration::from_millis(500),
        }
    }
}
