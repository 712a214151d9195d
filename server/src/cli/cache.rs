//! `gateway update`'s response cache flags (issue #24): `--cache exact|semantic|off`,
//! `--cache-ttl`, `--cache-max-entry`, `--cache-collapse` / `--no-cache-collapse`, and for
//! `semantic` `--cache-embedding MODEL` and `--cache-similarity 0.95`. Each changes its own
//! part of the gateway's settings; the management service checks the result. A composite
//! model or a prompt takes the same flags for settings of its own, and `--cache-from-gateway`
//! to go back to its gateway's.

use app::types::{parse_size, parse_ttl, CacheMode, CacheSettings, Change};
use clap::Args;

#[derive(Args, Default)]
pub(super) struct CacheFlags {
    /// Its response cache: `exact` (a repeated request is answered from the cache), `semantic`
    /// (also one whose last user message means nearly the same), or `off`.
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
    /// `semantic`: the model (as clients name it on the gateway) whose embeddings compare
    /// requests.
    #[arg(long)]
    cache_embedding: Option<String>,
    /// `semantic`: how similar (cosine, above 0 up to 1) a request must be to a kept one.
    #[arg(long)]
    cache_similarity: Option<f64>,
}

impl CacheFlags {
    /// The gateway's settings with the flags given applied; `None` when none was.
    pub(super) fn applied(&self, current: &CacheSettings) -> Option<CacheSettings> {
        let given = self.cache.is_some()
            || self.cache_ttl.is_some()
            || self.cache_max_entry.is_some()
            || self.cache_collapse
            || self.no_cache_collapse
            || self.cache_embedding.is_some()
            || self.cache_similarity.is_some();
        given.then(|| CacheSettings {
            mode: self.cache.unwrap_or(current.mode),
            ttl_s: self.cache_ttl.unwrap_or(current.ttl_s),
            max_entry_bytes: self.cache_max_entry.unwrap_or(current.max_entry_bytes),
            collapse: match (self.cache_collapse, self.no_cache_collapse) {
                (true, _) => true,
                (false, true) => false,
                (false, false) => current.collapse,
            },
            embedding_model: self.cache_embedding.clone().or_else(|| current.embedding_model.clone()),
            similarity: self.cache_similarity.unwrap_or(current.similarity),
        })
    }
}

/// The flags of a composite model or a prompt, whose own settings are used instead of the
/// gateway's.
#[derive(Args, Default)]
pub(super) struct OwnCacheFlags {
    #[command(flatten)]
    flags: CacheFlags,
    /// Use its gateway's response cache settings (drop its own).
    #[arg(long, conflicts_with_all = ["cache", "cache_ttl", "cache_max_entry", "cache_collapse", "no_cache_collapse", "cache_embedding", "cache_similarity"])]
    cache_from_gateway: bool,
}

impl OwnCacheFlags {
    /// Its own settings as the flags change them: those given applied to its current ones (or,
    /// when it has none, to the defaults — the cache off until `--cache exact`).
    pub(super) fn change(&self, current: Option<&CacheSettings>) -> Change<CacheSettings> {
        if self.cache_from_gateway {
            return Change::Clear;
        }
        let default = CacheSettings::default();
        match self.flags.applied(current.unwrap_or(&default)) {
            Some(settings) => Change::Set(settings),
            None => Change::Keep,
        }
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
            ..CacheSettings::default()
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

    #[test]
    fn a_composite_or_prompt_keeps_goes_back_to_its_gateway_or_starts_its_own_from_the_defaults() {
        let own = |flags: CacheFlags, from_gateway: bool| OwnCacheFlags {
            flags,
            cache_from_gateway: from_gateway,
        };
        assert_eq!(own(CacheFlags::default(), false).change(None), Change::Keep);
        assert_eq!(own(CacheFlags::default(), true).change(None), Change::Clear);
        let exact = CacheFlags {
            cache: Some(CacheMode::Exact),
            ..CacheFlags::default()
        };
        assert_eq!(
            own(exact, false).change(None),
            Change::Set(CacheSettings {
                mode: CacheMode::Exact,
                ..CacheSettings::default()
            })
        );
    }
}
