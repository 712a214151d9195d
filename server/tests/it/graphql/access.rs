//! Who may call the API: sessions refused when missing, expired or replayed, gateway keys
//! and admin sessions kept apart, admin API tokens and their roles, and the sign-in throttle.

use super::{server, Api, ADMIN};
use crate::{rig::chat, support::TestServer};
use serde_json::{json, Value};
use server::testing::MockUpstream;
use std::time::Duration;

/// no session, an expired one, or a cookie replayed after logout: 401, no resolver runs.
#[tokio::test]
async fn a06_no_expired_or_replayed_sessions_get_401_and_run_nothing() {
    let query = "{ viewer { role } inferenceEndpoints { name } }";
    // Resolver calls made while answering `api`'s request, which must be refused.
    async fn refused(server: &TestServer, api: &Api, query: &str, case: &str) -> u64 {
        let before = server.state.graphql.resolver_calls();
        let (status, _) = api.send(query, json!({})).await;
        assert_eq!(status, 401, "{case}");
        server.state.graphql.resolver_calls() - before
    }

    let server = TestServer::start_with(|config| config.sessions.idle_timeout = Duration::from_millis(1)).await;
    server.create_admin(ADMIN).await;
    let mut calls = refused(&server, &Api::anonymous(&server), query, "no session").await;
    // Idle for longer than the (1 ms) idle timeout: expired.
    let expired = Api::login(&server, ADMIN).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    calls += refused(&server, &expired, query, "expired session").await;

    // A cookie replayed after its owner signed out.
    let server = self::server().await;
    let (client, cookie) = server.signed_in(ADMIN).await;
    let signed_in = Api {
        url: server.url.clone(),
        client,
        token: None,
    };
    signed_in.ok("{ viewer { role } }", json!({})).await;
    assert_eq!(signed_in.ok("mutation { logout }", json!({})).await["logout"], true);
    let replay = Api {
        url: server.url.clone(),
        client: reqwest::Client::builder()
            .default_headers(
                [(
                    reqwest::header::COOKIE,
                    format!("mgw_session={cookie}").parse().unwrap(),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .unwrap(),
        token: None,
    };
    calls += refused(&server, &replay, query, "replayed cookie").await;
    assert_eq!(calls, 0, "resolver calls for refused requests");
    crate::rig::metric("a06_resolver_calls_refused", calls);
}

/// a gateway key opens nothing on the admin API, and an admin cookie nothing on `/v1`.
#[tokio::test]
async fn a07_gateway_keys_and_admin_sessions_are_separate_credentials() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = crate::rig::Rig::openai(&mock).await;
    rig.server.create_admin(ADMIN).await;
    let calls = rig.server.state.graphql.resolver_calls();
    let (status, _) = Api::with_token(&rig.server, &rig.key)
        .send("{ viewer { role } }", json!({}))
        .await;
    assert_eq!(status, 401, "a gateway key against /graphql");
    assert_eq!(rig.server.state.graphql.resolver_calls(), calls);

    let (client, _) = rig.server.signed_in(ADMIN).await;
    let response = client
        .post(format!("{}/v1/chat/completions", rig.server.url))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "an admin cookie against /v1");
    assert_eq!(mock.requests_received(), 0);
}

/// Admin API tokens: shown once, stored hashed, acting with at most their role; a viewer
/// reads but cannot write; a revoked token stops at once.
#[tokio::test]
async fn admin_api_tokens_authenticate_with_their_role_until_revoked() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let create = "mutation($role: AdminRole!) { createAdminApiToken(input: { name: \"bot\", role: $role }) { secret token { id role publicId } } }";
    let admin = api.ok(create, json!({ "role": "ADMIN" })).await["createAdminApiToken"].clone();
    let viewer = api.ok(create, json!({ "role": "VIEWER" })).await["createAdminApiToken"].clone();
    let admin_secret = admin["secret"].as_str().unwrap();
    assert!(admin_secret.starts_with("mgwa_"));

    let bot = Api::with_token(&server, admin_secret);
    let me = bot
        .ok("{ viewer { role authenticatedBy user { email } } }", json!({}))
        .await;
    assert_eq!(
        me["viewer"],
        json!({ "role": "ADMIN", "authenticatedBy": "API_TOKEN", "user": { "email": ADMIN } })
    );
    bot.ok(
        "mutation { setPrice(input: { model: \"m\", inputPerMtokMicros: 1, outputPerMtokMicros: 1 }) { model } }",
        json!({}),
    )
    .await;
    let audit = bot
        .ok(
            "{ auditLog(first: 1) { edges { node { actor actorKind } } } }",
            json!({}),
        )
        .await;
    let entry = &audit["auditLog"]["edges"][0]["node"];
    assert_eq!(entry["actorKind"], "API_TOKEN");
    assert!(entry["actor"].as_str().unwrap().starts_with("bot ("), "{entry}");

    // A token cannot mint tokens (one that outlived it would survive its revocation).
    let error = bot
        .fails(
            "mutation { createAdminApiToken(input: { name: \"copy\" }) { secret } }",
            json!({}),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "owner");
    let reader = Api::with_token(&server, viewer["secret"].as_str().unwrap());
    reader
        .ok("{ inferenceEndpoints { name } prices { model } }", json!({}))
        .await;
    reader
        .fails("mutation { deletePrice(model: \"m\") }", json!({}), "FORBIDDEN")
        .await;

    // The secret is stored only as a hash.
    let dir = server.dir.path().join("data");
    let database = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(".db"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .unwrap_or_default();
    // `mgwa_<public id>_<secret>`: the secret's base64url may itself hold `_`.
    let secret_part = admin_secret.splitn(3, '_').nth(2).unwrap();
    assert!(secret_part.len() >= 43, "{secret_part}");
    assert!(!database.windows(secret_part.len()).any(|w| w == secret_part.as_bytes()));

    api.ok(
        "mutation($id: ID!) { revokeAdminApiToken(id: $id) { revokedAt } }",
        json!({ "id": admin["token"]["id"] }),
    )
    .await;
    let (status, _) = bot.send("{ viewer { role } }", json!({})).await;
    assert_eq!(status, 401, "a revoked token");
    let (status, _) = Api::with_token(&server, &format!("{admin_secret}x"))
        .send("{ viewer { role } }", json!({}))
        .await;
    assert_eq!(status, 401, "a wrong token");
}

/// Sign-in over GraphQL: a wrong password is UNAUTHENTICATED (with no cookie), and the
/// throttle answers RATE_LIMITED with the wait.
#[tokio::test]
async fn login_refuses_wrong_passwords_and_is_throttled() {
    let server = server().await;
    let api = Api::anonymous(&server);
    let login = "mutation($p: String!) { login(email: \"admin@example.com\", password: $p) { role } }";
    let response = api
        .request()
        .json(&json!({ "query": login, "variables": { "p": "wrong password!" } }))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("set-cookie").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let mut last = Value::Null;
    for _ in 0..6 {
        last = api.send(login, json!({ "p": "wrong password!" })).await.1;
    }
    assert_eq!(last["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{last}");
    assert!(last["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap() > 0);
}
