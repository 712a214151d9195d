//! `gateway update`'s response cache flags (issue #24): `--cache exact|off`, `--cache-ttl`,
//! `--cache-max-entry`, `--cache-collapse` / `--no-cache-collapse`. Each changes its own
//! part of the gateway's settings; the management service checks the result.

use app::types::{parse_size, parse_ttl, CacheMode, CacheSettings};
use clap::Args;

#[derive(Args, Default)]
pub(super) struct CacheFlags {
    /// Its response cache: `exact` (a repeated request is answered from the cache) or `off`.
    #[arg(long, value_parser = parse_mode)]
    cache: Option<CacheMode>,
    /// How long an answer is kept: 30s, 10m, 1h30m, 1d (at most a day).
    #[arg(long, value_parser = ttl)]
    cache_ttl: Option<i64>,
    /// The largest answer kept: bytes, or with KiB / MiB (at most 16MiB).
    #[arg(long, value_parser = parse_size)]
    cache_max_entry: Option<i64>,
    /// Concurrent identical misses wait for one upstream call instead of making their own.
    #[arg(long, conflicts_with = "no_cache_collapse")]
    cache_collapse: bool,
    /// Each miss makes its own upstream call.
    #[arg(long)]
    no_cache_collapse: bool,
}

impl CacheFlags {
    /// The gateway's settings with the flags given applied; `None` when none was.
    pub(super) fn applied(&self, current: &CacheSettings) -> Option<CacheSettings> {
        let given = self.cache.is_some()
            || self.cache_ttl.is_some()
            || self.cache_max_entry.is_some()
            || self.cache_collapse
            || self.no_cache_collapse;
        given.then(|| CacheSettings {
            mode: self.cache.unwrap_or(current.mode),
            ttl_s: self.cache_ttl.unwrap_or(current.ttl_s),
            max_entry_bytes: self.cache_max_entry.unwrap_or(current.max_entry_bytes),
            collapse: match (self.cache_collapse, self.no_cache_collapse) {
                (true, _) => true,
                (false, true) => false,
                (false, false) => current.collapse,
            },
        })
    }
}

/// A TTL: a humantime duration (`1h30m`), or as the console reads it (`90 minutes`).
fn ttl(text: &str) -> Result<i64, String> {
    match humantime::parse_duration(text) {
        Ok(duration) => Ok(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)),
        Err(_) => parse_ttl(text),
    }
}

fn parse_mode(text: &str) -> Result<CacheMode, String> {
    CacheMode::parse(text).ok_or_else(|| {
        let names: Vec<_> = CacheMode::ALL.iter().map(|mode| mode.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_flags_given_change_the_settings() {
        let current = CacheSettings {
            mode: CacheMode::Exact,
            ttl_s: 60,
            max_entry_bytes: 1024,
            collapse: true,
        };
        assert_eq!(CacheFlags::default().applied(&current), None);
        let ttl = CacheFlags {
            cache_ttl: Some(600),
            ..CacheFlags::default()
        };
        assert_eq!(
            ttl.applied(&current),
            Some(CacheSettings {
                ttl_s: 600,
                ..current.clone()
            })
        );
        let off = CacheFlags {
            cache: Some(CacheMode::Off),
            no_cache_collapse: true,
            ..CacheFlags::default()
        };
        let applied = off.applied(&current).unwrap();
        assert_eq!(
            (applied.mode, applied.collapse, applied.ttl_s),
            (CacheMode::Off, false, 60)
        );
    }
}
