//! `gateway update`'s response cache flags (issue #24): `--cache exact|off`, `--cache-ttl`,
//! `--cache-max-entry`, `--cache-collapse` / `--no-cache-collapse`. Each changes its own
//! part of the gateway's settings; the management service checks the result.

use app::types::{CacheMode, CacheSettings};
use clap::Args;
use std::time::Duration;

#[derive(Args, Default)]
pub(super) struct CacheFlags {
    /// Its response cache: `exact` (a repeated request is answered from the cache) or `off`.
    #[arg(long, value_parser = parse_mode)]
    cache: Option<CacheMode>,
    /// How long an answer is kept: 30s, 10m, 1h (at most a day).
    #[arg(long, value_parser = humantime::parse_duration)]
    cache_ttl: Option<Duration>,
    /// The largest answer kept: bytes, or with KiB / MiB (at most 16MiB).
    #[arg(long, value_parser = parse_bytes)]
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
            ttl_s: (self.cache_ttl).map_or(current.ttl_s, |ttl| i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            max_entry_bytes: self.cache_max_entry.unwrap_or(current.max_entry_bytes),
            collapse: match (self.cache_collapse, self.no_cache_collapse) {
                (true, _) => true,
                (false, true) => false,
                (false, false) => current.collapse,
            },
        })
    }
}

fn parse_mode(text: &str) -> Result<CacheMode, String> {
    CacheMode::parse(text).ok_or_else(|| {
        let names: Vec<_> = CacheMode::ALL.iter().map(|mode| mode.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// A size: `4096`, `512KiB`, `1MiB` (also `KB`/`MB`, read as the binary units).
fn parse_bytes(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a size such as 1MiB"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        _ => return Err(format!("{text:?}: expected a size such as 1MiB")),
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_in_bytes_kib_and_mib() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("512KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("1MiB"), Ok(1 << 20));
        assert_eq!(parse_bytes("2 mb"), Ok(2 << 20));
        assert!(parse_bytes("1GiB").is_err());
        assert!(parse_bytes("MiB").is_err());
    }

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
            cache_ttl: Some(Duration::from_secs(600)),
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
