//! Signing in and out: the login form, the session cookie, throttling (A-08), replayed cookies
//! (A-06) and session expiry.

use super::{location, OVERVIEW_FN, PAGES};
use crate::support::{session_cookie, TestServer, PASSWORD};
use std::time::Duration;

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
    server.state.store.close().await;
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

/// RELIABILITY A-08, per account and address: after five failures an address waits (30 s, then
/// twice as long each time), even with the right password; another address is not kept out.
#[tokio::test]
async fn five_failures_make_that_address_wait_but_never_lock_the_account_out_elsewhere() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let guesser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    for attempt in 1..=5 {
        let response = server.sign_in(&guesser, "admin@example.com", "wrong password!").await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    // From the guessing address even the right password is refused now, without being checked.
    let response = server.sign_in(&guesser, "admin@example.com", PASSWORD).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((25..=30).contains(&retry_after), "about 30 s, got {retry_after}");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Too many failed sign-ins from this address. Try again in"),
        "{page}"
    );
    assert!(page.contains(" seconds."), "the wait in seconds: {page}");
    // The admin, from their own address, signs in.
    let admin = server.client();
    assert_eq!(
        server.sign_in(&admin, "admin@example.com", PASSWORD).await.status(),
        303,
        "an address that has not failed is never locked out"
    );
    // Another account is not affected from the guessing address either.
    server.create_admin("other@example.com").await;
    assert_eq!(
        server.sign_in(&guesser, "other@example.com", PASSWORD).await.status(),
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
