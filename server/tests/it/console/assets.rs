//! The console's assets under `/pkg`: precompressed by the build, served compressed to a
//! browser that accepts it, kept a year when their name carries their hash, without a session.

use crate::support::TestServer;

const HASHED: &str = "admin.0123456789abcdef.wasm";

async fn get(server: &TestServer, path: &str, encoding: Option<&str>) -> reqwest::Response {
    let mut request = server.client().get(format!("{}{path}", server.url));
    if let Some(encoding) = encoding {
        request = request.header("accept-encoding", encoding);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_hashed_asset_is_served_compressed_and_kept_for_a_year() {
    let server = TestServer::start().await;
    let pkg = server.state.config.site_root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join(HASHED), b"\0asm raw bytes").unwrap();
    std::fs::write(pkg.join(format!("{HASHED}.br")), b"brotli bytes").unwrap();
    std::fs::write(pkg.join(format!("{HASHED}.gz")), b"gzip bytes").unwrap();
    std::fs::write(pkg.join("admin.wasm"), b"\0asm unhashed").unwrap();

    let brotli = get(&server, &format!("/pkg/{HASHED}"), Some("gzip, deflate, br")).await;
    assert_eq!(brotli.status(), 200);
    assert_eq!(brotli.headers()["content-encoding"], "br");
    assert_eq!(brotli.headers()["content-type"], "application/wasm");
    assert_eq!(brotli.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(
        brotli.headers()["vary"],
        "accept-encoding",
        "shared caches keep one copy per encoding"
    );
    assert_eq!(&brotli.bytes().await.unwrap()[..], b"brotli bytes");

    let gzip = get(&server, &format!("/pkg/{HASHED}"), Some("gzip")).await;
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert_eq!(&gzip.bytes().await.unwrap()[..], b"gzip bytes");

    let raw = get(&server, &format!("/pkg/{HASHED}"), None).await;
    assert!(raw.headers().get("content-encoding").is_none());
    assert_eq!(&raw.bytes().await.unwrap()[..], b"\0asm raw bytes");

    // A name without a hash may change under it: revalidated on each use.
    let unhashed = get(&server, "/pkg/admin.wasm", Some("br")).await;
    assert_eq!(unhashed.status(), 200);
    assert_eq!(unhashed.headers()["cache-control"], "no-cache");

    // Nothing outside the assets, however the path is written.
    std::fs::write(server.state.config.site_root.join("secret.txt"), b"not an asset").unwrap();
    for path in [
        "/pkg/../secret.txt",
        "/pkg/%2e%2e/secret.txt",
        "/pkg/..%2fsecret.txt",
        "/pkg/missing.js",
    ] {
        let response = get(&server, path, None).await;
        assert_ne!(response.status(), 200, "{path}");
        assert!(!response.text().await.unwrap().contains("not an asset"), "{path}");
    }
}
