//! End users (issue #23): the identity providers a gateway accepts tokens from, managed from
//! the command line as an operator does it — added with each kind of key source, refused
//! naming the flag's field when they could never verify a token, listed and removed; and the
//! two ways in — a token alone at `/g/{gateway}/v1/…`, or beside a gateway key — as the
//! gateway's auth mode allows, with the end user named in the request log.

use crate::{
    cli::{text, Cli},
    operator::op,
    rig::{self, Rig},
};
use app::types::{AuthMode, GatewayUpdate, KeySource, NewIdentityProvider};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use server::testing::MockUpstream;

/// A test-only key pair's file (`server/tests/fixtures/jwt/`).
pub(crate) fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn identity_providers_are_added_listed_and_removed_from_the_command_line() {
    let cli = Cli::new();
    let ok = |args: &[&str]| cli.ok(args);
    cli.gateway_over_one_endpoint("prod");
    let add = |extra: &[&str]| {
        let mut args = vec!["identity", "add", "--gateway", "prod"];
        args.extend_from_slice(extra);
        cli.run(&args)
    };
    let added = |extra: &[&str]| {
        let output = add(extra);
        assert!(output.status.success(), "{extra:?}: {}", text(&output));
        text(&output)
    };
    assert!(added(&[
        "--issuer",
        "https://id.example.com",
        "--audience",
        "gateway",
        "--jwks-url",
        "https://id.example.com/.well-known/jwks.json",
        "--alg",
        "RS256,ES256",
    ])
    .contains("Gateway prod accepts tokens from https://id.example.com"));
    added(&[
        "--issuer",
        "https://pem.example.com",
        "--audience",
        "a",
        "--audience",
        "b",
        "--key-file",
        &fixture("rsa-a.pub.pem"),
    ]);
    added(&[
        "--issuer",
        "internal",
        "--audience",
        "gw",
        "--secret-env",
        "MGW_TEST_JWT_SECRET",
    ]);
    added(&[
        "--issuer",
        "https://accounts.example.com",
        "--audience",
        "gw",
        "--discovery",
    ]);

    // Refusals name what is wrong; nothing is stored.
    let refused = |extra: &[&str], says: &str| {
        let output = add(extra);
        assert!(!output.status.success(), "{extra:?} was accepted");
        assert!(text(&output).contains(says), "{extra:?}: {}", text(&output));
    };
    let jwks = ["--jwks-url", "https://x.example.com/jwks"];
    refused(
        &["--issuer", "x", "--audience", "a", jwks[0], jwks[1], "--alg", "HS256"],
        "HS256 needs a shared secret",
    );
    refused(
        &["--issuer", "x", "--audience", "a", "--key-file", &fixture("rsa-a.pem")],
        "is a private key",
    );
    refused(
        &["--issuer", "x", "--audience", "a", "--secret-env", "my-secret"],
        "environment variable",
    );
    refused(
        &["--issuer", "not a url", "--audience", "a", "--discovery"],
        "discovery needs the issuer",
    );
    refused(&["--issuer", "x", "--audience", "a"], "--jwks-url");
    refused(&["--issuer", "x", jwks[0], jwks[1]], "--audience");
    refused(
        &[
            "--issuer",
            "https://id.example.com",
            "--audience",
            "a",
            jwks[0],
            jwks[1],
        ],
        "already accepts tokens",
    );

    let listed: Value = serde_json::from_str(&ok(&["identity", "list", "--json"])).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 4, "{listed:?}");
    let issuers: Vec<&str> = listed.iter().map(|p| p["issuer"].as_str().unwrap()).collect();
    assert_eq!(
        issuers,
        [
            "https://accounts.example.com",
            "https://id.example.com",
            "https://pem.example.com",
            "internal"
        ]
    );
    assert_eq!(listed[1]["algorithms"], serde_json::json!(["RS256", "ES256"]));
    assert_eq!(listed[3]["algorithms"], serde_json::json!(["HS256"]));
    assert_eq!(
        listed[3]["keys"],
        serde_json::json!({ "kind": "secret_env", "var": "MGW_TEST_JWT_SECRET" })
    );
    let table = ok(&["identity", "list", "--gateway", "prod"]);
    assert!(
        table.contains("https://pem.example.com") && table.contains("a,b") && table.contains("pem"),
        "{table}"
    );

    let id = listed[0]["id"].as_i64().unwrap().to_string();
    assert!(ok(&["identity", "remove", &id]).contains(&format!("Removed identity provider {id}.")));
    assert!(!ok(&["identity", "list"]).contains("accounts.example.com"));
    let again = cli.run(&["identity", "remove", &id]);
    assert!(!again.status.success());

    // The gateway's ways in.
    ok(&["gateway", "update", "prod", "--auth", "both"]);
    let gateways: Value = serde_json::from_str(&ok(&["gateway", "list", "--json"])).unwrap();
    assert_eq!(gateways[0]["auth_mode"], "both");
    ok(&["gateway", "update", "prod", "--access", "'llm' in user.groups"]);
    let gateways: Value = serde_json::from_str(&ok(&["gateway", "list", "--json"])).unwrap();
    assert_eq!(gateways[0]["access_rule"], "'llm' in user.groups");
    let unparsed = cli.run(&["gateway", "update", "prod", "--access", "user.groups.includes('llm'"]);
    assert!(
        !unparsed.status.success() && text(&unparsed).contains("line 1, column"),
        "{}",
        text(&unparsed)
    );
    ok(&["gateway", "update", "prod", "--no-access"]);
    let gateways: Value = serde_json::from_str(&ok(&["gateway", "list", "--json"])).unwrap();
    assert_eq!(gateways[0]["access_rule"], Value::Null);
    let bad = cli.run(&["gateway", "update", "prod", "--auth", "tokens"]);
    assert!(
        !bad.status.success() && text(&bad).contains("expected one of key, jwt, both"),
        "{}",
        text(&bad)
    );
}

pub(crate) const ISSUER: &str = "https://id.example.com";

/// An RS256 token for `sub`, signed with the test-only key `rsa-a`, valid for an hour from
/// `issued` seconds ago.
fn token(sub: &str, audience: &str, issued: i64) -> String {
    let now = now_s() as i64;
    signed(
        &json!({ "iss": ISSUER, "aud": audience, "sub": sub, "iat": now - issued,
                    "exp": now - issued + 3600, "department": "sales" }),
    )
}

/// Unix seconds now.
pub(crate) fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `claims` as an RS256 token signed with the test-only key `rsa-a`.
pub(crate) fn signed(claims: &Value) -> String {
    let pem = std::fs::read(fixture("rsa-a.pem")).unwrap();
    let key = EncodingKey::from_rsa_pem(&pem).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

/// Makes gateway `g` of `rig` accept tokens from [`ISSUER`] signed with the test-only key
/// `rsa-a`, for audience `g`, requiring these claims besides the registered ones.
pub(crate) async fn trust_test_issuer(rig: &Rig, required_claims: &[&str]) {
    let manage = &rig.server.state.manage;
    op(manage)
        .add_identity_provider(NewIdentityProvider {
            gateway_id: op(manage).gateway_id("g").await,
            issuer: ISSUER.into(),
            audiences: vec!["g".into()],
            keys: KeySource::Pem {
                pem: std::fs::read_to_string(fixture("rsa-a.pub.pem")).unwrap(),
            },
            algorithms: Vec::new(),
            leeway_s: 60,
            required_claims: required_claims.iter().map(|claim| claim.to_string()).collect(),
        })
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
}

/// A request's headers: (name, value).
type Headers<'a> = &'a [(&'a str, &'a str)];

/// POSTs a chat body to `path` with these headers.
pub(crate) async fn chat(rig: &Rig, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", rig.server.url))
        .json(&rig::chat(false));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn end_users_come_in_with_a_token_alone_or_beside_a_key_as_the_gateway_allows() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::openai(&mock).await;
    let manage = &rig.server.state.manage;
    let gateway = op(manage).gateway_id("g").await;
    trust_test_issuer(&rig, &["department"]).await;
    let rig = &rig;
    let set_mode = |mode: AuthMode| async move {
        let update = GatewayUpdate {
            auth_mode: Some(mode),
            ..GatewayUpdate::default()
        };
        let manage = &rig.server.state.manage;
        op(manage).update_gateway("g", update).await.unwrap();
        rig.server.state.registry.refresh(manage).await.unwrap();
    };
    let alice = format!("Bearer {}", token("alice", "g", 0));
    let key = format!("Bearer {}", rig.key);
    let path = "/g/g/v1/chat/completions";

    // The default mode takes keys only: a token alone is refused, saying why.
    let (status, body) = chat(rig, path, &[("authorization", &alice)]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "invalid_user_token");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("send a gateway key"),
        "{body}"
    );

    set_mode(AuthMode::Both).await;
    // (a) The token alone.
    let (status, body) = chat(rig, path, &[("authorization", &alice)]).await;
    assert_eq!(status, 200, "{body}");
    // (b) A key, with the user's token beside it.
    let bob = token("bob", "g", 0);
    let (status, body) = chat(
        rig,
        "/v1/chat/completions",
        &[("authorization", &key), ("x-mgw-user-token", &bob)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // A key alone still works.
    let (status, _) = chat(rig, "/v1/chat/completions", &[("authorization", &key)]).await;
    assert_eq!(status, 200);
    let logs = rig.logs(3).await;
    let named: Vec<(Option<&str>, bool)> = (logs.iter().rev())
        .map(|log| (log.end_user.as_deref(), log.key_id.is_some()))
        .collect();
    assert_eq!(named, [(Some("alice"), false), (Some("bob"), true), (None, true)]);
    assert!(logs.iter().all(|log| log.gateway_id == Some(gateway)));
    assert_eq!(mock.requests_received(), 3);

    // Refused tokens, each saying why and reaching nothing: expired, for another audience,
    // tampered with, not a JWT; and a key whose user token does not verify.
    let expired = format!("Bearer {}", token("alice", "g", 7_200));
    let elsewhere = format!("Bearer {}", token("alice", "other", 0));
    let mut tampered = token("alice", "g", 0);
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let tampered = format!("Bearer {tampered}");
    let cases: [(&str, Headers<'_>, &str); 5] = [
        (path, &[("authorization", &expired)], "expired"),
        (path, &[("authorization", &elsewhere)], "not meant for this gateway"),
        (path, &[("authorization", &tampered)], "signature"),
        (path, &[("authorization", &key)], "not a well-formed JWT"),
        (
            "/v1/chat/completions",
            &[("authorization", &key), ("x-mgw-user-token", "nope")],
            "not a well-formed JWT",
        ),
    ];
    for (path, headers, says) in cases {
        let (status, body) = chat(rig, path, headers).await;
        assert_eq!(status, 401, "{says}: {body}");
        assert_eq!(body["error"]["code"], "invalid_user_token", "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{says}: {body}"
        );
        assert!(
            !body.to_string().contains("alice"),
            "a refusal never echoes claims: {body}"
        );
    }
    let (status, _) = chat(rig, "/g/nope/v1/chat/completions", &[("authorization", &alice)]).await;
    assert_eq!(status, 401);
    assert_eq!(mock.requests_received(), 3, "nothing refused reached the upstream");

    // Tokens only: a key is refused, saying where tokens go.
    set_mode(AuthMode::Jwt).await;
    let (status, body) = chat(rig, "/v1/chat/completions", &[("authorization", &key)]).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("/g/g/v1/"),
        "{body}"
    );
    let (status, _) = chat(rig, path, &[("authorization", &alice)]).await;
    assert_eq!(status, 200);
}

/// Both ways in through the official OpenAI SDK: the token alone as its API key at
/// `/g/g/v1`, and the key with the token in a default header; bad tokens are its
/// `AuthenticationError`.
#[tokio::test]
async fn the_openai_sdk_comes_in_both_ways_with_an_end_users_token() {
    let Some(python) = crate::sdk::python() else { return };
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        rig::steady,
        vec![rig::endpoint("mock", app::types::ProviderKind::OpenAi, &mock.url())],
        |gateway| gateway.auth_mode = AuthMode::Both,
    )
    .await;
    trust_test_issuer(&rig, &[]).await;
    let script = format!("{}/tests/sdk/end_users_sdk.py", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(python)
        .args([&script, &rig.server.url, &rig.key, &token("carol", "g", 0)])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for check in ["token alone", "key and token", "refusals"] {
        assert!(
            stdout.lines().any(|l| l == format!("{check} ok")),
            "{check} not reached:\n{stdout}"
        );
    }
    let logs = rig.logs(4).await;
    assert!(
        logs.iter().all(|log| log.end_user.as_deref() == Some("carol")),
        "{logs:?}"
    );
}

/// An access rule over the end user's claims (the documentation's `includes` form): a user
/// outside the group gets a 403 naming the rule, never the claims; a request the rule cannot
/// be evaluated for (a key without a user token) is denied; a rule that does not parse is
/// refused when saved, with where; removed, nothing is denied.
#[tokio::test]
async fn an_access_rule_on_claims_lets_the_group_in_and_denies_the_rest() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        rig::quick,
        vec![rig::endpoint("a", app::types::ProviderKind::OpenAi, &mock.url())],
        |gateway| gateway.auth_mode = AuthMode::Both,
    )
    .await;
    let manage = &rig.server.state.manage;
    trust_test_issuer(&rig, &[]).await;
    let rule = |rule: app::types::Change<String>| GatewayUpdate {
        access_rule: rule,
        ..GatewayUpdate::default()
    };
    let refused = op(manage)
        .update_gateway(
            "g",
            rule(app::types::Change::Set("user.department.includes('sales'".into())),
        )
        .await;
    match refused {
        Err(server::manage::ManageError::Invalid {
            field: "access",
            message,
        }) => {
            assert!(message.starts_with("line 1, column"), "{message}")
        }
        other => panic!("a rule that does not parse was saved: {other:?}"),
    }
    // `token()` carries `"department": "sales"`.
    let set = rule(app::types::Change::Set(
        "user.department == 'sales' && request.model.startsWith('gpt')".into(),
    ));
    let saved = op(manage).update_gateway("g", set).await.unwrap();
    assert_eq!(
        saved.access_rule.as_deref(),
        Some("user.department == 'sales' && request.model.startsWith('gpt')")
    );
    rig.server.state.registry.refresh(manage).await.unwrap();

    let path = "/g/g/v1/chat/completions";
    let sales = format!("Bearer {}", token("alice", "g", 0));
    let (status, body) = chat(&rig, path, &[("authorization", &sales)]).await;
    assert_eq!(status, 200, "{body}");
    // A key without a user token: `user` has no department, so the rule cannot hold.
    let key = format!("Bearer {}", rig.key);
    let (status, body) = chat(&rig, "/v1/chat/completions", &[("authorization", &key)]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "access_denied");
    assert_eq!(
        body["error"]["message"],
        "The request is denied by gateway g's access rule."
    );

    // A group rule in the documentation's form: alice's token has no `groups`, so it denies.
    let groups = rule(app::types::Change::Set(
        "user.groups.includes('llm-open-ai-allowed')".into(),
    ));
    op(manage).update_gateway("g", groups).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let (status, body) = chat(&rig, path, &[("authorization", &sales)]).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        !body.to_string().contains("sales"),
        "a denial never echoes claims: {body}"
    );
    assert_eq!(mock.requests_received(), 1, "denied requests reach nothing");

    op(manage)
        .update_gateway("g", rule(app::types::Change::Clear))
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let (status, _) = chat(&rig, "/v1/chat/completions", &[("authorization", &key)]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn pages_of_the_configured_origins_may_call_the_token_ways_in_and_no_other_route() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        |config| config.proxy.cors_origins = vec!["https://app.example.com".into()],
        vec![rig::endpoint("a", app::types::ProviderKind::OpenAi, &mock.url())],
        |g| g.auth_mode = AuthMode::Both,
    )
    .await;
    let preflight = |path: &'static str, origin: &'static str| {
        let url = format!("{}{path}", rig.server.url);
        async move {
            reqwest::Client::new()
                .request(reqwest::Method::OPTIONS, url)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization, content-type")
                .send()
                .await
                .unwrap()
        }
    };
    let allowed = preflight("/g/g/v1/chat/completions", "https://app.example.com").await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let methods = allowed.headers()["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let other = preflight("/g/g/v1/chat/completions", "https://evil.example.com").await;
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    // A key's route answers no page: a key does not belong in a browser.
    let keyed = preflight("/v1/chat/completions", "https://app.example.com").await;
    assert!(!keyed.headers().contains_key("access-control-allow-origin"));
    assert_eq!(mock.requests_received(), 0);
}
