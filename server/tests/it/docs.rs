//! The documents stay true: every path ARCHITECTURE.md names exists.

use std::path::Path;

/// A quoted piece names a path when it is made of path characters only and has a slash or a
/// file extension (so `Path=/`, `<data_dir>/…` and URLs are not paths).
fn is_path(quoted: &str) -> bool {
    let path_chars = !quoted.is_empty()
        && !quoted.starts_with('/')
        && quoted.chars().all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
    let has_extension = [".rs", ".md", ".toml", ".sql", ".sh", ".css", ".json", ".mjs"]
        .iter()
        .any(|e| quoted.ends_with(e));
    path_chars && (quoted.contains('/') || has_extension)
}

#[test]
fn every_path_architecture_md_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    // Odd pieces are inside backticks.
    let paths: Vec<&str> = text.split('`').skip(1).step_by(2).filter(|q| is_path(q)).collect();
    for path in &paths {
        assert!(
            root.join(path).exists(),
            "ARCHITECTURE.md names `{path}`, which does not exist"
        );
    }
    assert!(
        paths.len() >= 10,
        "expected ARCHITECTURE.md to name the code map's paths, found {paths:?}"
    );
}

#[test]
fn path_detection_skips_what_is_not_a_path() {
    assert!(is_path("server/src/lib.rs") && is_path("Cargo.toml") && is_path("migrations/"));
    for not_a_path in [
        "Path=/",
        "<data_dir>/x.db",
        "http://127.0.0.1:3000",
        "/graphql",
        "ssr",
        "make run",
    ] {
        assert!(!is_path(not_a_path), "{not_a_path}");
    }
}
