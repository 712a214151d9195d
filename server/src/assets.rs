//! The console's built assets under `/pkg` (`scripts/build.sh`): served from the site root,
//! brotli or gzip when the browser accepts it (the build precompresses each file beside
//! itself), and — their names carrying a hash of their content — kept by browsers for a year.
//! Anything else there (the unhashed copies, for a binary without `hash.txt` beside it) is
//! revalidated on each use instead.
//!
//! Invariant: served without a session, like any public file; `ServeDir` keeps every path
//! inside `<site root>/pkg`.

use axum::{
    http::{header, HeaderValue, Uri},
    response::Response,
};
use std::path::Path;
use tower_http::services::ServeDir;

/// The file, beside the server's binary, in which the build lists its assets' hashes.
const HASH_FILE: &str = "hash.txt";

/// Whether the build that made this binary named its assets by content hash (Leptos then
/// names the JS and WASM it loads that way; `app::shell` the stylesheet).
pub fn hashed_names() -> bool {
    let exe = std::env::current_exe().ok();
    exe.as_deref()
        .and_then(Path::parent)
        .is_some_and(|dir| dir.join(HASH_FILE).is_file())
}

/// The `/pkg` service.
pub fn service(site_root: &Path) -> axum::Router {
    let files = ServeDir::new(site_root.join("pkg"))
        .precompressed_br()
        .precompressed_gzip();
    axum::Router::new()
        .fallback_service(files)
        .layer(axum::middleware::map_response(with_cache_control))
}

/// `Cache-Control` by name: a content-hashed file never changes; another is revalidated.
async fn with_cache_control(uri: Uri, mut response: Response) -> Response {
    let value = if is_hashed(uri.path()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    if response.status().is_success() {
        (response.headers_mut()).insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
        // The body depends on what the client accepts (brotli, gzip, neither): a shared cache
        // must not hand one client's copy to another.
        (response.headers_mut()).insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// Whether a file name carries the build's content hash: `admin.<16 hex digits>.<ext>`.
fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let mut parts = name.split('.');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(_), Some(hash), Some("js" | "wasm" | "css"), None)
            if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_content_hashed_names_are_kept_for_a_year() {
        assert!(is_hashed("/pkg/admin.0123456789abcdef.wasm"));
        assert!(is_hashed("/admin.0123456789abcdef.css"));
        assert!(!is_hashed("/pkg/admin.wasm"));
        assert!(!is_hashed("/pkg/admin.0123456789abcdef.wasm.br"));
        assert!(!is_hashed("/pkg/admin.notahexhash00000.js"));
    }
}
