//! RELIABILITY SC-01: canary secrets given to the real binary never appear in its logs, its
//! answers or its database.

use super::Binary;
use crate::rig::{chat, metric, post_as, CANARY};
use serde_json::{json, Value};
use server::testing::{Behaviour, MockUpstream};

/// The global id of the (only) endpoint, read over GraphQL.
async fn server_endpoint_id(client: &reqwest::Client, url: &str, token: &str) -> String {
    let body: Value = client
        .post(format!("{url}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ inferenceEndpoints { id } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["inferenceEndpoints"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// RELIABILITY SC-01: the real binary at `RUST_LOG=trace`, given canary secrets — a provider
/// key, an admin password, the master key, the key-hash secret, a metrics token — and a
/// gateway key, serves answers, stream, refusals, a sign-in and an upstream credential
/// refusal. None of the canaries appears in its logs, in any answer, or in the database
/// (read without the credential ciphertext).
#[tokio::test]
async fn sc01_canary_secrets_never_leave() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let master = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
    let hash_secret = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
    let password = "canary-admin-password-42";
    let token = "canary-metrics-token-42";
    let env = [
        ("MGW_MASTER_KEY", master),
        ("MGW_KEY_HASH_SECRET", hash_secret),
        ("MGW_ADMIN_PASSWORD", password),
        ("MGW_METRICS__TOKEN", token),
        ("RUST_LOG", "trace"),
    ];
    let logs = dir.path().join("logs.txt");
    let binary = Binary {
        data: data.clone(),
        env: env.to_vec(),
    };
    let output = |args: &[&str]| binary.ok(args);
    let mut captured = String::new();
    let base = format!("{}/v1", mock.url());
    for args in [
        vec!["admin", "create", "--email", "ops@example.com"],
        vec![
            "endpoint",
            "add",
            "--name",
            "a",
            "--provider",
            "openai",
            "--url",
            &base,
            "--api-key",
            CANARY,
            "--model",
            "gpt-4o-mini",
        ],
        vec![
            "gateway",
            "add",
            "--name",
            "g",
            "--endpoints",
            "a",
            "--strategy",
            "priority",
        ],
    ] {
        let out = output(&args);
        captured.push_str(&String::from_utf8_lossy(&out.stderr));
        captured.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    // The key's secret is printed this once, on stdout: that is its one allowed appearance.
    let created = output(&["key", "create", "--gateway", "g", "--name", "app", "--json"]);
    captured.push_str(&String::from_utf8_lossy(&created.stderr));
    let created: Value = serde_json::from_slice(&created.stdout).unwrap();
    let key = created["key"].as_str().unwrap().to_string();

    let (child, url) = binary.serve(&[], &logs).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut answers = String::new();
    let note = |response: reqwest::Response| async move {
        let mut text = format!("{:?}\n", response.headers());
        text.push_str(&response.text().await.unwrap_or_default());
        text
    };
    answers.push_str(&note(post_as(&url, &key, "/v1/chat/completions", &chat(false)).await).await);
    answers.push_str(&note(post_as(&url, &key, "/v1/chat/completions", &chat(true)).await).await);
    // A wrong secret for the right key id, and the provider refusing our credential.
    let wrong = format!("{}x", &key[..key.len() - 1]);
    answers.push_str(&note(post_as(&url, &wrong, "/v1/chat/completions", &chat(false)).await).await);
    mock.push(Behaviour::Status {
        status: 401,
        headers: vec![],
        body: json!({ "error": { "message": format!("Incorrect API key provided: {CANARY}") } }).to_string(),
    });
    let refused = post_as(&url, &key, "/v1/chat/completions", &chat(false)).await;
    assert_eq!(refused.status(), 502);
    answers.push_str(&note(refused).await);
    for attempt in ["wrong-password", password] {
        let signed = client
            .post(format!("{url}/login"))
            .form(&[("email", "ops@example.com"), ("password", attempt)])
            .send()
            .await
            .unwrap();
        answers.push_str(&note(signed).await);
    }
    // GraphQL: sign in (the password in a JSON body), create an admin API token (its secret is
    // in that one answer, left out of `answers`), then use it: list, test the endpoint while
    // the provider refuses the credential and echoes it, read logs and the audit log.
    let graphql = |query: &str, variables: Value| {
        client
            .post(format!("{url}/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
    };
    let login = "mutation($p: String!) { login(email: \"ops@example.com\", password: $p) { role } }";
    let signed = graphql(login, json!({ "p": password })).send().await.unwrap();
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    answers.push_str(&note(signed).await);
    let created = graphql(
        "mutation { createAdminApiToken(input: { name: \"ci\" }) { secret } }",
        json!({}),
    )
    .header("cookie", &cookie)
    .send()
    .await
    .unwrap();
    let admin_token = created.json::<Value>().await.unwrap()["data"]["createAdminApiToken"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    mock.push(Behaviour::Status {
        status: 401,
        headers: vec![],
        body: json!({ "error": { "message": format!("Incorrect API key provided: {CANARY}") } }).to_string(),
    });
    for query in [
        "{ inferenceEndpoints { id name baseUrl hasCredential } gateways { name keys { name masked publicId } } }",
        "{ requestLogs(first: 50) { edges { node { requestId status errorClass requestBody responseBody } } } }",
        "{ auditLog(first: 50) { edges { node { action actor details } } } adminApiTokens { name publicId } }",
    ] {
        let answer = graphql(query, json!({}))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answers.push_str(&note(answer).await);
    }
    let endpoint_id = server_endpoint_id(&client, &url, &admin_token).await;
    let probe = graphql(
        "mutation($id: ID!) { testEndpoint(id: $id) { ok status error } }",
        json!({ "id": endpoint_id }),
    )
    .bearer_auth(&admin_token)
    .send()
    .await
    .unwrap();
    let probe = note(probe).await;
    assert!(probe.contains("refused the endpoint's credential"), "{probe}");
    answers.push_str(&probe);
    let scraped = client
        .get(format!("{url}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), 200);
    answers.push_str(&note(scraped).await);
    Binary::stop(child);
    captured.push_str(&std::fs::read_to_string(&logs).unwrap());
    assert!(captured.contains("TRACE"), "logs were captured at trace level");

    // The database, every table and column but the sealed credential, as text.
    let db = format!("sqlite://{data}/model-gateway.db");
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let mut dump = String::new();
    for table in &tables {
        let columns: Vec<String> = sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for column in columns.iter().filter(|c| *c != "credential_ciphertext") {
            // As bytes: hashes and tokens are blobs; text columns come out as their UTF-8.
            let values: Vec<Option<Vec<u8>>> =
                sqlx::query_scalar(&format!("SELECT CAST({column} AS BLOB) FROM {table}"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            for value in values.into_iter().flatten() {
                dump.push_str(&String::from_utf8_lossy(&value));
                dump.push('\n');
            }
        }
    }
    assert!(dump.contains("gpt-4o-mini"), "the dump read the tables");

    let canaries = [
        CANARY,
        master,
        hash_secret,
        password,
        token,
        &key,
        &key[key.len() - 20..],
        &admin_token,
        &admin_token[admin_token.len() - 20..],
    ];
    let mut found = 0;
    for canary in canaries {
        for (place, text) in [("logs", &captured), ("answers", &answers), ("database", &dump)] {
            let hits = text.matches(canary).count();
            assert_eq!(hits, 0, "{canary} appears {hits} times in the {place}");
            found += hits;
        }
    }
    metric("sc01_canary_occurrences", found);
}
