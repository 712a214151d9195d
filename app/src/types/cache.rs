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
    /// As `exact`, and else when one whose last user message means nearly the same — its
    /// embedding (by the settings' embedding model, through the same gateway) at least
    /// `similarity` (cosine) to the kept one's, everything else the same — was answered.
    Semantic,
}

impl CacheMode {
    /// Every mode.
    pub const ALL: [CacheMode; 3] = [CacheMode::Off, CacheMode::Exact, CacheMode::Semantic];

    /// The mode as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Off => "off",
            CacheMode::Exact => "exact",
            CacheMode::Semantic => "semantic",
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// `semantic`: the model (as clients name it on the same gateway) whose embeddings compare
    /// last user messages.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub embedding_model: Option<String>,
    /// `semantic`: how close (cosine similarity, above 0 up to 1) a last user message's
    /// embedding must be to a kept one's for its answer to be given.
    #[serde(default = "default_similarity")]
    #[cfg_attr(feature = "ssr", graphql(default_with = "default_similarity()"))]
    pub similarity: f64,
}

/// The similarity a semantic cache asks for unless told otherwise.
pub const DEFAULT_SIMILARITY: f64 = 0.95;

fn default_similarity() -> f64 {
    DEFAULT_SIMILARITY
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
            embedding_model: None,
            similarity: DEFAULT_SIMILARITY,
        }
    }
}

impl CacheSettings {
    /// Whether answers are cached.
    pub fn on(&self) -> bool {
        match self.mode {
            CacheMode::Off => false,
            CacheMode::Exact | CacheMode::Semantic => true,
        }
    }

    /// The embedding model and the similarity asked for, when similar requests are answered
    /// too (`semantic`, with a model named).
    pub fn semantic(&self) -> Option<(&str, f64)> {
        match self.mode {
            CacheMode::Off | CacheMode::Exact => None,
            CacheMode::Semantic => Some((self.embedding_model.as_deref()?, self.similarity)),
        }
    }
}

/// A composite model's own response cache as the console's form types it (issue #24): a blank
/// mode is its gateway's settings; the TTL as [`parse_ttl`] and the size as [`parse_size`] read
/// them.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnCacheForm {
    /// `off`, `exact`, `semantic`, or blank for the gateway's.
    pub mode: String,
    pub ttl: String,
    pub max_entry: String,
    pub collapse: bool,
    /// `semantic`: the embedding model's name.
    pub embedding: String,
    /// `semantic`: the similarity, a number above 0 up to 1.
    pub similarity: String,
}

impl Default for OwnCacheForm {
    /// The gateway's, with the defaults shown.
    fn default() -> Self {
        OwnCacheForm::of(None)
    }
}

/// A response cache's settings as a console form types them (a gateway's, or a composite's
/// own): the mode, the TTL as [`parse_ttl`] reads it, the largest answer as [`parse_size`] does,
/// the embedding model (blank: none) and the similarity as a number; else the field refused
/// (`cache`, `cache_ttl`, `cache_max_entry`, `cache_similarity`) and why. Their ranges are
/// `manage`'s to check.
pub fn typed_cache(form: &OwnCacheForm) -> Result<CacheSettings, (&'static str, String)> {
    let similarity = form.similarity.trim();
    Ok(CacheSettings {
        mode: (CacheMode::parse(&form.mode)).ok_or(("cache", "Choose off, exact or semantic.".to_string()))?,
        ttl_s: parse_ttl(&form.ttl).map_err(|why| ("cache_ttl", why))?,
        max_entry_bytes: parse_size(&form.max_entry).map_err(|why| ("cache_max_entry", why))?,
        collapse: form.collapse,
        embedding_model: Some(form.embedding.trim().to_string()).filter(|model| !model.is_empty()),
        similarity: match similarity {
            "" => DEFAULT_SIMILARITY,
            typed => (typed.parse::<f64>().ok().filter(|number| number.is_finite()))
                .ok_or(("cache_similarity", format!("“{typed}” is not a number: write 0.95")))?,
        },
    })
}

impl OwnCacheForm {
    /// The settings typed; `None` (a blank mode) for the gateway's.
    pub fn settings(&self) -> Result<Option<CacheSettings>, (&'static str, String)> {
        if self.mode.trim().is_empty() {
            return Ok(None);
        }
        typed_cache(self).map(Some)
    }

    /// The form as it starts for these settings (`None`: the gateway's, the defaults shown).
    pub fn of(cache: Option<&CacheSettings>) -> OwnCacheForm {
        let default = CacheSettings::default();
        let shown = cache.unwrap_or(&default);
        OwnCacheForm {
            mode: cache.map_or_else(String::new, |cache| cache.mode.as_str().to_string()),
            ttl: ttl_text(shown.ttl_s),
            max_entry: size_text(shown.max_entry_bytes),
            collapse: shown.collapse,
            embedding: shown.embedding_model.clone().unwrap_or_default(),
            similarity: shown.similarity.to_string(),
        }
    }
}

/// Own settings in words, for a card: `None` (the gateway's) says so.
pub fn own_cache_text(cache: Option<&CacheSettings>) -> String {
    match cache {
        None => "Response cache: the gateway's.".into(),
        Some(cache) if !cache.on() => "Response cache: off (its own setting).".into(),
        Some(cache) => format!(
            "Response cache: {}, {} (its own setting){}.",
            cache_mode_text(cache),
            ttl_text(cache.ttl_s),
            if cache.collapse {
                ", identical misses collapsed"
            } else {
                ""
            }
        ),
    }
}

/// A caching mode in words: `exact`, or `semantic` with its model and similarity.
pub fn cache_mode_text(cache: &CacheSettings) -> String {
    match cache.semantic() {
        Some((model, similarity)) => format!("semantic by {model} at {similarity}"),
        None => cache.mode.as_str().to_string(),
    }
}

/// A TTL as typed (the CLI's `--cache-ttl`, the console's field): seconds, or a whole number
/// with `s`, `m`, `h` or `d` (`30s`, `10m`, `1h`, `1d`; the words too: `2days`, `90 minutes`).
/// Its range is `manage`'s to check.
pub fn parse_ttl(text: &str) -> Result<i64, String> {
    scaled(text, "a duration: write 30s, 10m, 1h or 1d", |unit| match unit {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => Some(1),
        "m" | "min" | "mins" | "minute" | "minutes" => Some(60),
        "h" | "hr" | "hour" | "hours" => Some(3600),
        "d" | "day" | "days" => Some(86_400),
        _ => None,
    })
}

/// A whole number followed by a unit (any case, spaces between allowed) that `scale` knows,
/// multiplied out; else why not, saying what `text` should be.
fn scaled(text: &str, should_be: &str, scale: impl Fn(&str) -> Option<i64>) -> Result<i64, String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let wrong = || format!("“{text}” is not {should_be}");
    let number: i64 = number.parse().map_err(|_| wrong())?;
    let scale = scale(&unit.trim().to_ascii_lowercase()).ok_or_else(wrong)?;
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("“{text}” is too large"))
}

/// A TTL written back as [`parse_ttl`] reads it, in the largest unit that divides it.
pub fn ttl_text(seconds: i64) -> String {
    match seconds {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A size as typed (`--cache-max-entry`, the console's field): bytes, or with `KiB` / `MiB`
/// (also `K`, `KB`, `M`, `MB`, read as the binary units).
pub fn parse_size(text: &str) -> Result<i64, String> {
    scaled(text, "a size: write bytes, or 512KiB, 1MiB", |unit| match unit {
        "" | "b" => Some(1),
        "k" | "kb" | "kib" => Some(1 << 10),
        "m" | "mb" | "mib" => Some(1 << 20),
        _ => None,
    })
}

/// A size written back as [`parse_size`] reads it.
pub fn size_text(bytes: i64) -> String {
    match bytes {
        b if b > 0 && b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
        b if b > 0 && b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
        b => b.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_and_sizes_read_back_as_they_are_written() {
        assert_eq!(parse_ttl("30s"), Ok(30));
        assert_eq!(parse_ttl(" 10m "), Ok(600));
        assert_eq!(parse_ttl("1d"), Ok(86_400));
        assert_eq!(parse_ttl("45"), Ok(45));
        assert_eq!(parse_ttl("2days"), Ok(172_800));
        assert_eq!(parse_ttl("90 minutes"), Ok(5400));
        assert!(parse_ttl("an hour").is_err() && parse_ttl("1 fortnight").is_err() && parse_ttl("m").is_err());
        assert!(parse_ttl("").is_err());
        for seconds in [1, 59, 60, 600, 3600, 5400, 86_400] {
            assert_eq!(parse_ttl(&ttl_text(seconds)), Ok(seconds));
        }
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("2 mb"), Ok(2 << 20));
        assert!(parse_size("1GiB").is_err() && parse_size("MiB").is_err());
        for bytes in [1, 1000, 1024, 1 << 20, 3 << 19] {
            assert_eq!(parse_size(&size_text(bytes)), Ok(bytes));
        }
    }
}
