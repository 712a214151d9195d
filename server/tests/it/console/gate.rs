//! The session gate: what a request without a session gets (pages, server functions, static
//! assets, unknown paths) and cross-origin requests (CSRF).

use super::{location, OVERVIEW_FN, PAGES};
use crate::support::{TestServer, PASSWORD};

#[tokio::test]
async fn every_console_page_redirects_to_login_without_a_session() {
    let server = TestServer::start().await;
    let client = server.client();
    for page in PAGES {
        let response = client.get(format!("{}{page}", server.url)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{page}");
        let expected = if page == "/" {
            "/login".to_string()
        } else {
            format!("/login?next={page}")
        };
        assert_eq!(location(&response), expected);
    }
}

#[tokio::test]
async fn server_functions_require_a_session() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let anonymous = server
        .client()
        .post(format!("{}{OVERVIEW_FN}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let forged = server
        .client()
        .post(format!("{}{OVERVIEW_FN}", server.url))
        .header("cookie", format!("mgw_session={}", "A".repeat(43)))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    let (client, _) = server.signed_in("admin@example.com").await;
    let response = client
        .post(format!("{}{OVERVIEW_FN}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let overview: app::types::Overview = response.json().await.unwrap();
    assert_eq!(
        overview,
        app::types::Overview {
            endpoints: 0,
            gateways: 0,
            keys: 0,
            admins: 1
        }
    );
}

/// CSRF: a browser request from another site cannot act with the admin's cookie.
#[tokio::test]
async fn cross_origin_state_changes_are_refused() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let (client, _) = server.signed_in("admin@example.com").await;
    let call = |headers: &'static [(&'static str, &'static str)]| {
        let mut request = client.post(format!("{}{OVERVIEW_FN}", server.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    assert_eq!(call(&[("origin", "https://evil.test")]).await.unwrap().status(), 403);
    assert_eq!(call(&[("sec-fetch-site", "cross-site")]).await.unwrap().status(), 403);
    assert_eq!(call(&[("sec-fetch-site", "same-site")]).await.unwrap().status(), 403);
    assert_eq!(call(&[("sec-fetch-site", "same-origin")]).await.unwrap().status(), 200);
    let own_origin: &'static str = Box::leak(server.url.clone().into_boxed_str());
    let same = client
        .post(format!("{}{OVERVIEW_FN}", server.url))
        .header("origin", own_origin)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);

    // A cross-site sign-out is refused too, and the session survives it.
    let logout = client
        .post(format!("{}/logout", server.url))
        .header("origin", "https://evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 403);
    assert_eq!(
        client
            .get(format!("{}/keys", server.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // So is a cross-site sign-in (login CSRF).
    let login = client
        .post(format!("{}/login", server.url))
        .header("sec-fetch-site", "cross-site")
        .form(&[("email", "admin@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403);
}

#[tokio::test]
async fn static_assets_are_public_and_unknown_pages_are_404() {
    let server = TestServer::start().await;
    let pkg = server.dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("admin.css"), "body{}").unwrap();
    let css = server
        .client()
        .get(format!("{}/pkg/admin.css", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.text().await.unwrap(), "body{}");
    // Unknown paths are console paths too: sign in first, then "not found".
    let anonymous = server
        .client()
        .get(format!("{}/no/such/page", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    server.create_admin("admin@example.com").await;
    let (client, _) = server.signed_in("admin@example.com").await;
    let missing = client.get(format!("{}/no/such/page", server.url)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Page not found"));
}

/// The app's router reads `/keys/` as `/keys`; the session gate must too.
#[tokio::test]
async fn pages_behind_a_trailing_slash_still_need_a_session() {
    let server = TestServer::start().await;
    for path in ["/keys/", "/settings/", "/endpoints//"] {
        let response = server
            .client()
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{path}");
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("action=\"/logout\""),
            "{path} rendered the signed-in layout"
        );
    }
}
