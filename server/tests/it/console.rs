//! The console over HTTP: the session gate, signing in and out, cookies, throttling (A-08),
//! replayed cookies (A-06) and cross-origin requests (CSRF).

use crate::operator::op;
use crate::support::{session_cookie, TestServer, PASSWORD};
use std::time::Duration;

const PAGES: [&str; 7] = [
    "/",
    "/endpoints",
    "/gateways",
    "/keys",
    "/logs",
    "/playground",
    "/settings",
];
const OVERVIEW_FN: &str = "/api/dashboard_overview";

fn location(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

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
async fn the_login_page_is_a_plain_form() {
    let server = TestServer::start().await;
    let response = server
        .client()
        .get(format!("{}/login", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<form method="post" action="/login""#), "{html}");
    assert!(html.contains(r#"name="email""#) && html.contains(r#"name="password""#));
    assert!(
        html.contains("/pkg/admin.wasm"),
        "the page loads the WASM bundle to hydrate"
    );
}

#[tokio::test]
async fn signing_in_sets_a_hardened_cookie_and_opens_every_page() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let client = server.client();
    let response = client
        .post(format!("{}/login?next=%2Fkeys", server.url))
        .form(&[("email", "Admin@Example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/keys");
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("Domain") && !set_cookie.contains("Secure"),
        "{set_cookie}"
    );
    let token = session_cookie(&response).unwrap();
    assert_eq!(token.len(), 43, "32 random bytes, base64url");

    for page in PAGES {
        let response = client.get(format!("{}{page}", server.url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{page}");
        let html = response.text().await.unwrap();
        assert!(html.contains("admin@example.com"), "{page} shows the signed-in user");
        assert!(html.contains(r#"action="/logout""#), "{page} offers sign-out");
    }
    // Signed-in people are sent on from the login page.
    let response = client.get(format!("{}/login", server.url)).send().await.unwrap();
    assert_eq!((response.status().as_u16(), location(&response)), (303, "/"));
}

#[tokio::test]
async fn the_session_token_is_stored_only_as_a_hash() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let (_, token) = server.signed_in("admin@example.com").await;
    server.state.manage.store().close().await;
    let db = std::fs::read(server.dir.path().join("data/model-gateway.db")).unwrap();
    let wal = std::fs::read(server.dir.path().join("data/model-gateway.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the raw token is in the database"
        );
    }
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_gets_the_same_401_page() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let client = server.client();
    let mut pages = Vec::new();
    for (email, password) in [
        ("admin@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
    ] {
        let response = server.sign_in(&client, email, password).await;
        assert_eq!(response.status(), 401);
        assert!(session_cookie(&response).is_none());
        let html = response.text().await.unwrap();
        assert!(html.contains(r#"role="alert""#) && html.contains("Incorrect email or password."));
        assert!(
            html.contains(&format!(r#"value="{email}""#)),
            "the typed address is kept"
        );
        // Compare the body: the head carries a per-response nonce.
        let body = html.split("<body").nth(1).unwrap().split("<script").next().unwrap();
        pages.push(body.replace(email, "EMAIL"));
    }
    assert_eq!(pages[0], pages[1], "the answer does not reveal which accounts exist");
}

#[tokio::test]
async fn an_empty_form_is_a_400_with_a_message() {
    let server = TestServer::start().await;
    let response = server.sign_in(&server.client(), "", "").await;
    assert_eq!(response.status(), 400);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("Enter your email and password."));
}

#[tokio::test]
async fn sign_in_redirects_only_to_local_paths() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    for next in ["https%3A%2F%2Fevil.test%2F", "%2F%2Fevil.test", "%2F%5Cevil.test"] {
        let response = server
            .client()
            .post(format!("{}/login?next={next}", server.url))
            .form(&[("email", "admin@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&response), "/", "{next}");
    }
}

/// RELIABILITY A-08, per account: five failures lock the account for 15 minutes.
#[tokio::test]
async fn the_sixth_sign_in_after_five_failures_is_throttled_with_retry_after() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let client = server.client();
    for attempt in 1..=5 {
        let response = server.sign_in(&client, "admin@example.com", "wrong password!").await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    // Even the right password is refused now, without being checked.
    let response = server.sign_in(&client, "admin@example.com", PASSWORD).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (800..=900).contains(&retry_after),
        "about 15 minutes, got {retry_after}"
    );
    assert!(response.text().await.unwrap().contains("Too many sign-in attempts"));
    // Another account is not affected.
    server.create_admin("other@example.com").await;
    assert_eq!(
        server.sign_in(&client, "other@example.com", PASSWORD).await.status(),
        303
    );
}

/// RELIABILITY A-08, per address: 20 attempts a minute.
#[tokio::test]
async fn the_twenty_first_attempt_in_a_minute_from_one_address_is_throttled() {
    let server = TestServer::start().await;
    let client = server.client();
    for attempt in 1..=20 {
        let response = server
            .sign_in(&client, &format!("user{attempt}@example.com"), "wrong password!")
            .await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let response = server.sign_in(&client, "user21@example.com", "wrong password!").await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

/// RELIABILITY A-06: after sign-out the old cookie opens nothing.
#[tokio::test]
async fn signing_out_ends_the_session_and_a_replayed_cookie_is_refused() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let (client, token) = server.signed_in("admin@example.com").await;
    let response = client.post(format!("{}/logout", server.url)).send().await.unwrap();
    assert_eq!(
        (response.status().as_u16(), location(&response)),
        (303, "/login?signed_out=1")
    );
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("mgw_session=;"),
        "the cookie is cleared"
    );

    let replay = server.client();
    let cookie = format!("mgw_session={token}");
    let page = replay
        .get(format!("{}/settings", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "a page redirects to the login");
    let call = replay
        .post(format!("{}{OVERVIEW_FN}", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 401, "a server function refuses");
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

/// Signs in with the given session lifetimes, checks a page opens, lets `wait` pass (the
/// elapsed time is what is under test), and returns the page's status then.
async fn status_after(idle: Duration, absolute: Duration, wait: Duration) -> u16 {
    let server = TestServer::start_with(|config| {
        config.sessions.idle_timeout = idle;
        config.sessions.absolute_timeout = absolute;
    })
    .await;
    server.create_admin("admin@example.com").await;
    let (client, _) = server.signed_in("admin@example.com").await;
    let url = format!("{}/keys", server.url);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    tokio::time::sleep(wait).await;
    client.get(&url).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn an_idle_session_expires() {
    let status = status_after(
        Duration::from_millis(600),
        Duration::from_secs(3600),
        Duration::from_millis(700),
    )
    .await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn a_session_within_its_limits_stays_open() {
    let status = status_after(
        Duration::from_secs(3600),
        Duration::from_secs(3600),
        Duration::from_millis(700),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_and_host_prefixed() {
    let server = TestServer::start_with(|config| config.public_url = Some("https://gateway.example.com".into())).await;
    server.create_admin("admin@example.com").await;
    let response = server.sign_in(&server.client(), "admin@example.com", PASSWORD).await;
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(set_cookie.starts_with("__Host-mgw_session="), "{set_cookie}");
    assert!(set_cookie.contains("Secure") && set_cookie.contains("Path=/") && !set_cookie.contains("Domain"));
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

/// The endpoints page's server functions as the browser calls them (form-encoded POSTs with
/// the session cookie): a refused field is named, an endpoint is created, listed with its
/// health, tested against the mock upstream, and deleted; each change is audited.
#[tokio::test]
async fn endpoint_server_functions_create_test_and_delete() {
    let mock = server::testing::MockUpstream::start().await.unwrap();
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let (client, _) = server.signed_in("admin@example.com").await;
    let call = |endpoint: &str, form: Vec<(&str, String)>| {
        client
            .post(format!("{}/api/{endpoint}", server.url))
            .header("accept", "application/json")
            .form(&form)
            .send()
    };
    let fields = |name: &str| {
        vec![
            ("name", name.to_string()),
            ("provider", "openai".to_string()),
            ("base_url", format!("{}/v1", mock.url())),
            ("api_key", crate::rig::CANARY.to_string()),
            ("model", "gpt-4o-mini".to_string()),
            ("deployment", String::new()),
            ("api_version", String::new()),
            ("region", String::new()),
        ]
    };

    let refused: serde_json::Value = call("endpoints_create", fields("bad name!"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["field"], "name", "{refused}");
    let created: serde_json::Value = call("endpoints_create", fields("mock"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap_or_else(|| panic!("{created}"));
    let taken: serde_json::Value = call("endpoints_create", fields("mock"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(taken["field"], "name", "a name in use is the name's error: {taken}");
    assert!(
        !created.to_string().contains(crate::rig::CANARY),
        "the credential is never sent back"
    );

    let listed = call("endpoints_list", vec![]).await.unwrap().text().await.unwrap();
    assert!(
        listed.contains("\"name\":\"mock\"") && listed.contains("\"health\":\"Healthy\""),
        "{listed}"
    );
    let probe: serde_json::Value = call("endpoints_test", vec![("id", id.to_string())])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(probe["status"], 200, "{probe}");
    assert_eq!(probe["error"], serde_json::Value::Null);
    assert_eq!(mock.requests_received(), 1);

    // An edit: the model changes, the blank key keeps the stored credential.
    let mut edit = fields("mock");
    edit.retain(|(name, _)| *name != "provider");
    edit.push(("id", id.to_string()));
    for (name, value) in &mut edit {
        match *name {
            "model" => *value = "gpt-4o".into(),
            "api_key" => value.clear(),
            _ => {}
        }
    }
    let edited: serde_json::Value = call("endpoints_update", edit).await.unwrap().json().await.unwrap();
    assert_eq!(edited["model"], "gpt-4o", "{edited}");
    assert_eq!(edited["has_credential"], true, "{edited}");

    let deleted = call("endpoints_delete", vec![("id", id.to_string())]).await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert!(server.state.manage.endpoints().await.unwrap().is_empty());
    let audit = server.state.manage.audit_log(None, 10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "endpoint.delete",
            "endpoint.update",
            "endpoint.test",
            "endpoint.create",
            "admin.login",
            "admin.create"
        ],
        "the test's own admin is created by the local operator, and audited too"
    );
    let changes = audit
        .iter()
        .filter(|e| !matches!(e.action.as_str(), "admin.login" | "admin.create"));
    assert!(changes.clone().all(|e| e.actor_label == "admin@example.com"));
    assert!(changes.clone().count() == 4 && changes.into_iter().all(|e| e.via == Some(app::types::Via::Console)));
}

/// The gateways page's server functions: a refused endpoint list names its field; a gateway is
/// created over an endpoint, listed with the URL and model for its snippets, and deleted.
#[tokio::test]
async fn gateway_server_functions_create_list_and_delete() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let manage = &server.state.manage;
    op(manage)
        .create_endpoint(crate::rig::endpoint(
            "a",
            app::types::ProviderKind::OpenAi,
            "http://127.0.0.1:9",
        ))
        .await
        .unwrap();
    let (client, _) = server.signed_in("admin@example.com").await;
    let call = |endpoint: &str, form: Vec<(&str, &str)>| {
        client
            .post(format!("{}/api/{endpoint}", server.url))
            .header("accept", "application/json")
            .form(&form)
            .send()
    };
    let form = |endpoints: &'static str| {
        vec![
            ("name", "main"),
            ("description", "the main one"),
            ("strategy", "weighted"),
            ("endpoints", endpoints),
            ("log_payloads", "on"),
        ]
    };
    let refused: serde_json::Value = call("gateways_create", form("nope"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["field"], "endpoints", "{refused}");
    let created: serde_json::Value = call("gateways_create", form("a:3"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["strategy"], "weighted", "{created}");
    assert_eq!(created["log_payloads"], true);
    assert_eq!(created["endpoints"][0]["weight"], 3);

    let listed: serde_json::Value = call("gateways_list", vec![]).await.unwrap().json().await.unwrap();
    assert_eq!(listed["base_url"], server.url.as_str(), "{listed}");
    assert_eq!(listed["models"][0][1], "gpt-4o-mini");
    let id = listed["gateways"][0]["id"].as_i64().unwrap();
    let deleted = call("gateways_delete", vec![("id", &id.to_string())]).await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert!(manage.gateways().await.unwrap().is_empty());
    let actions: Vec<String> = (manage.audit_log(None, 3).await.unwrap().into_iter())
        .map(|e| e.action)
        .collect();
    assert_eq!(actions[..2], ["gateway.delete", "gateway.create"]);
}

/// The keys page's server functions: bad limits name their field; a key and a child are
/// created (the secret shown once), listed with their usage against their limits, reset,
/// rotated (a new secret, once) and revoked with the child.
#[tokio::test]
async fn key_server_functions_create_list_rotate_and_revoke() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let manage = &server.state.manage;
    op(manage)
        .create_endpoint(crate::rig::endpoint(
            "a",
            app::types::ProviderKind::OpenAi,
            "http://127.0.0.1:9",
        ))
        .await
        .unwrap();
    let choice = server::manage::EndpointChoice::parse("a").unwrap();
    op(manage)
        .create_gateway(server::manage::NewGateway::new(
            "g",
            app::types::Strategy::Priority,
            vec![choice],
        ))
        .await
        .unwrap();
    let (client, _) = server.signed_in("admin@example.com").await;
    let call = |endpoint: &str, form: Vec<(&str, String)>| {
        client
            .post(format!("{}/api/{endpoint}", server.url))
            .header("accept", "application/json")
            .form(&form)
            .send()
    };
    let gateway = op(manage).gateway_id("g").await;
    let key = |name: &str, parent: &str, limits: &str| {
        vec![
            ("gateway", gateway.0.to_string()),
            ("name", name.to_string()),
            ("parent", parent.to_string()),
            ("allowed_models", "gpt-4o-mini".to_string()),
            ("expires_in_days", "30".to_string()),
            ("limits", limits.to_string()),
        ]
    };
    let refused: serde_json::Value = call("keys_create", key("team", "", "requests/fortnight=5"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["field"], "limits", "{refused}");
    let team: serde_json::Value = call("keys_create", key("team", "", "requests/minute=100"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let team_id = team["key"]["public_id"].as_str().unwrap().to_string();
    assert!(team["secret"].as_str().unwrap().starts_with("mgw_"), "{team}");
    assert!(team["key"]["expires_at"].is_i64());
    let app: serde_json::Value = call("keys_create", key("app", &team_id, ""))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(app["key"]["allowed_models"], serde_json::json!(["gpt-4o-mini"]));

    let listed: serde_json::Value = call("keys_list", vec![]).await.unwrap().json().await.unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    let team_row = listed.iter().find(|k| k["key"]["name"] == "team").unwrap();
    assert_eq!(team_row["gateway"], "g");
    assert_eq!(team_row["usage"][0]["limit"]["max_value"], 100);
    assert_eq!(team_row["usage"][0]["used"], 0);
    let text = serde_json::Value::Array(listed.clone()).to_string();
    for secret in [&team["secret"], &app["secret"]] {
        assert!(!text.contains(secret.as_str().unwrap()), "no secret in the list");
    }

    assert_eq!(
        call("keys_reset", vec![("public_id", team_id.clone())])
            .await
            .unwrap()
            .status(),
        200
    );
    let rotated: serde_json::Value = call("keys_rotate", vec![("public_id", team_id.clone())])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(rotated["secret"].as_str().unwrap().starts_with("mgw_"), "{rotated}");
    // The child moved to the new key: revoking that takes the child too, and the key it was
    // rotated from, which would otherwise keep working for its hour of grace.
    let new_id = rotated["key"]["public_id"].as_str().unwrap().to_string();
    let revoked: serde_json::Value = call("keys_revoke", vec![("public_id", new_id)])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        revoked.as_u64().unwrap(),
        3,
        "the key, its child and its predecessor: {revoked}"
    );
    assert!(
        manage.key(&team_id).await.unwrap().revoked_at.is_some(),
        "the predecessor is revoked"
    );
    let actions: Vec<String> = (manage.audit_log(None, 5).await.unwrap().into_iter())
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions[..5],
        ["key.revoke", "key.rotate", "key.reset", "key.create", "key.create"]
    );
}
