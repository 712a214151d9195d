//! The inference API's front door: gateway-key authentication (RELIABILITY A-01…)
//! and `GET /v1/models`, through the real server, answered from the registry.

use crate::operator::op;
use crate::{
    manage::{choice, openai},
    support::TestServer,
};
use app::types::{ModelAlias, NewEndpoint, NewGateway, NewKey};
use app::types::{ProviderKind, Strategy};
use serde_json::Value;
use server::{
    manage::{CreatedKey, Manage},
    secrets::Secret,
};

/// A server with endpoints `mini` (gpt-4o-mini) and `local` (llama3), gateway `g` over both,
/// and a key for it. Returns the server and the key's secret.
async fn server_with_key() -> (TestServer, String) {
    let server = TestServer::start().await;
    let manage = &server.state.manage;
    op(manage).create_endpoint(openai("mini")).await.unwrap();
    let local = NewEndpoint {
        provider: ProviderKind::Ollama,
        api_key: None,
        model: "llama3".into(),
        ..openai("local")
    };
    op(manage).create_endpoint(local).await.unwrap();
    let mut gateway = NewGateway::new("g", Strategy::Priority, vec![choice("mini"), choice("local")]);
    gateway.model_aliases.push(ModelAlias {
        alias: "fast".into(),
        model: "gpt-4o-mini".into(),
    });
    op(manage).create_gateway(gateway).await.unwrap();
    let key = key(
        manage,
        NewKey {
            name: "app".into(),
            ..NewKey::default()
        },
    )
    .await;
    server.state.registry.refresh(manage).await.unwrap();
    (server, key.secret.expose().to_string())
}

/// Creates a key on gateway `g`.
async fn key(manage: &Manage, new: NewKey) -> CreatedKey {
    op(manage)
        .create_key(NewKey {
            gateway: op(manage).gateway_id("g").await,
            ..new
        })
        .await
        .unwrap()
}

/// A key under `parent`, on gateway `g`.
fn child_of(parent: &CreatedKey, name: &str) -> NewKey {
    NewKey {
        name: name.into(),
        parent: Some(parent.key.public_id.clone()),
        ..NewKey::default()
    }
}

async fn models(server: &TestServer, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}/v1/models", server.url));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn ids(body: &Value) -> Vec<&str> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_key_lists_its_gateways_models_and_aliases() {
    let (server, key) = server_with_key().await;
    let response = models(&server, &[("authorization", &format!("Bearer {key}"))]).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(ids(&body), ["fast", "gpt-4o-mini", "llama3"]);
    // Azure's and Anthropic's headers work too.
    for header in ["api-key", "x-api-key"] {
        assert_eq!(models(&server, &[(header, &key)]).await.status(), 200, "{header}");
    }
}

#[tokio::test]
async fn allowed_models_narrow_the_list_down_the_key_tree() {
    let (server, _) = server_with_key().await;
    let manage = &server.state.manage;
    let allowed = |names: &[&str]| Some(names.iter().map(|n| n.to_string()).collect());
    let parent = key(
        manage,
        NewKey {
            name: "team".into(),
            allowed_models: allowed(&["gpt-4o-mini", "llama3"]),
            ..NewKey::default()
        },
    )
    .await;
    let child = key(
        manage,
        NewKey {
            allowed_models: allowed(&["llama3", "fast"]),
            ..child_of(&parent, "app")
        },
    )
    .await;
    server.state.registry.refresh(manage).await.unwrap();
    let auth = format!("Bearer {}", child.secret.expose());
    let body: Value = models(&server, &[("authorization", &auth)]).await.json().await.unwrap();
    assert_eq!(
        ids(&body),
        ["llama3"],
        "the intersection of the child's and the parent's lists"
    );
}

/// RELIABILITY: missing, empty, wrong-scheme and malformed keys.
#[tokio::test]
async fn missing_or_malformed_keys_get_an_openai_shaped_401() {
    let (server, key) = server_with_key().await;
    let mut bad_checksum = key.clone();
    let last = bad_checksum.pop().unwrap();
    bad_checksum.push(if last == 'a' { 'b' } else { 'a' });
    let cases = [
        vec![],
        vec![("authorization", "Bearer ".to_string())],
        vec![("authorization", format!("Basic {key}"))],
        vec![("authorization", format!("Bearer {bad_checksum}"))],
        vec![("authorization", format!("Bearer {}", key.replacen("mgw_", "sk-_", 1)))],
        vec![("authorization", "Bearer sk-proj-not-ours".to_string())],
    ];
    for headers in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let response = models(&server, &headers).await;
        assert_eq!(response.status(), 401, "{headers:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_api_key");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"].get("param").is_some() && body["error"]["message"].is_string());
    }
    // The scheme's case does not matter.
    assert_eq!(
        models(&server, &[("authorization", &format!("bEaReR {key}"))])
            .await
            .status(),
        200
    );
}

/// RELIABILITY A-04: revoked, expired, a revoked parent, a disabled gateway — all the same 401.
#[tokio::test]
async fn revoked_expired_and_orphaned_keys_open_nothing() {
    let (server, _) = server_with_key().await;
    let manage = &server.state.manage;
    let parent = key(
        manage,
        NewKey {
            name: "team".into(),
            ..NewKey::default()
        },
    )
    .await;
    let child = key(manage, child_of(&parent, "app")).await;
    let soon = server::store::now_ms() + 300;
    let expiring = key(
        manage,
        NewKey {
            name: "short".into(),
            expires_at: Some(soon),
            ..NewKey::default()
        },
    )
    .await;
    server.state.registry.refresh(manage).await.unwrap();
    let bearer = |secret: &Secret| format!("Bearer {}", secret.expose());
    for key in [&parent.secret, &child.secret, &expiring.secret] {
        assert_eq!(models(&server, &[("authorization", &bearer(key))]).await.status(), 200);
    }

    op(manage).revoke_key(&parent.key.public_id).await.unwrap();
    server.state.registry.refresh(manage).await.unwrap();
    assert_eq!(
        models(&server, &[("authorization", &bearer(&parent.secret))])
            .await
            .status(),
        401
    );
    assert_eq!(
        models(&server, &[("authorization", &bearer(&child.secret))])
            .await
            .status(),
        401,
        "the child goes too"
    );

    // Let the expiry pass: the elapsed time is what is under test.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        models(&server, &[("authorization", &bearer(&expiring.secret))])
            .await
            .status(),
        401
    );

    let other = key(
        manage,
        NewKey {
            name: "other".into(),
            ..NewKey::default()
        },
    )
    .await;
    let disabled = app::types::GatewayUpdate {
        enabled: Some(false),
        ..Default::default()
    };
    op(manage).update_gateway("g", disabled).await.unwrap();
    server.state.registry.refresh(manage).await.unwrap();
    assert_eq!(
        models(&server, &[("authorization", &bearer(&other.secret))])
            .await
            .status(),
        401,
        "a disabled gateway"
    );
}

/// RELIABILITY A-07: a console session opens nothing on the inference API, and a gateway key
/// opens nothing in the console.
#[tokio::test]
async fn admin_sessions_and_gateway_keys_are_separate_credentials() {
    let (server, key) = server_with_key().await;
    server.create_admin("admin@example.com").await;
    let (client, _) = server.signed_in("admin@example.com").await;
    assert_eq!(
        client
            .get(format!("{}/v1/models", server.url))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let console = reqwest::Client::new()
        .post(format!("{}/api/dashboard_overview", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(console.status(), 401);
}

/// SPEC §8 / RELIABILITY R5 (a): authentication is served from memory, so it keeps working
/// while the database is away.
#[tokio::test]
async fn keys_are_checked_without_the_database() {
    let (server, key) = server_with_key().await;
    server.state.store.close().await;
    assert_eq!(
        models(&server, &[("authorization", &format!("Bearer {key}"))])
            .await
            .status(),
        200
    );
    assert_eq!(
        models(&server, &[("authorization", "Bearer mgw_nope")]).await.status(),
        401
    );
}

#[tokio::test]
async fn cross_origin_callers_with_a_key_are_not_treated_as_csrf() {
    let (server, _) = server_with_key().await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/models", server.url))
        .header("origin", "https://some-app.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        405,
        "routed (method not allowed), not refused as cross-origin"
    );
}

/// RELIABILITY A-03: an unknown key id and a known id with a wrong secret are both 401, and take
/// about as long (both are hashed and compared; the figure is reported, not a gate).
#[tokio::test]
async fn a03_unknown_ids_and_wrong_secrets_are_refused_alike() {
    use axum::http::{HeaderMap, HeaderValue};
    use server::{gateway_key, proxy::auth::authenticate};
    let (server, key) = server_with_key().await;
    let parsed = gateway_key::parse(&key).unwrap();
    let wrong_secret = gateway_key::assemble(parsed.public_id, &"x".repeat(32));
    let unknown_id = gateway_key::assemble("ZZZZZZZZZZZZ", &"x".repeat(32));
    for candidate in [&wrong_secret, &unknown_id] {
        let auth = format!("Bearer {candidate}");
        let response = models(&server, &[("authorization", &auth)]).await;
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_api_key");
    }
    let snapshot = server.state.registry.snapshot();
    let secret = &server.state.key_hasher;
    let mean_ns = |key: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
        );
        let started = std::time::Instant::now();
        for _ in 0..1_000 {
            assert!(authenticate(&snapshot, secret, &headers, 0).is_err());
        }
        started.elapsed().as_nanos() / 1_000
    };
    // Interleaved rounds, so drift on a shared machine hits both alike.
    let (mut unknown, mut wrong) = (0, 0);
    for _ in 0..5 {
        unknown += mean_ns(&unknown_id);
        wrong += mean_ns(&wrong_secret);
    }
    crate::rig::metric("a03_unknown_id_mean_ns", unknown / 5);
    crate::rig::metric("a03_wrong_secret_mean_ns", wrong / 5);
}

/// RELIABILITY A-05: a key of gateway A cannot reach gateway B. The key selects its gateway (all
/// gateways share one port), so asking for B's model is answered exactly as for a model that
/// exists nowhere: nothing says that B, or its model, exists.
#[tokio::test]
async fn a05_a_key_reaches_only_its_own_gateway() {
    let (server, key_a) = server_with_key().await;
    let manage = &server.state.manage;
    let only_b = NewEndpoint {
        model: "b-only-model".into(),
        ..openai("b-endpoint")
    };
    op(manage).create_endpoint(only_b).await.unwrap();
    op(manage)
        .create_gateway(NewGateway::new("b", Strategy::Priority, vec![choice("b-endpoint")]))
        .await
        .unwrap();
    let ask = |model: &str| {
        let url = format!("{}/v1/chat/completions", server.url);
        let body = serde_json::json!({ "model": model, "messages": [{ "role": "user", "content": "hi" }] });
        let key = key_a.clone();
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let (status_b, body_b) = ask("b-only-model").await;
    let (status_none, body_none) = ask("no-such-model").await;
    assert_eq!((status_b, status_none), (404, 404));
    let message = |body: &Value, model: &str| body["error"]["message"].as_str().unwrap().replace(model, "M");
    assert_eq!(message(&body_b, "b-only-model"), message(&body_none, "no-such-model"));
    assert_eq!(body_b["error"]["code"], body_none["error"]["code"]);
    let listed: Value = models(&server, &[("authorization", &format!("Bearer {key_a}"))])
        .await
        .json()
        .await
        .unwrap();
    assert!(!ids(&listed).contains(&"b-only-model"));
}
