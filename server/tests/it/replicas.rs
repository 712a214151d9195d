//! Several replicas on one Postgres database (issue #20): three `model-gateway serve`
//! processes, each with its own port and data directory, sharing the database and the two
//! secrets, as an operator runs them behind a load balancer.
//!
//! Here: a key revoked through one replica is refused by all three at once (the configuration
//! notices of migration 0009; the 250 ms poll is the fallback). Shared limits (C-05) come with
//! the Redis ledger.

use crate::{
    operator::op,
    rig::{chat, endpoint, post_as},
    store::TestDb,
    support::{serve, Binary, PASSWORD},
};
use app::types::WriteOnly;
use app::types::{AdminRole, EndpointChoice, EndpointRef, NewAdmin, NewGateway, NewKey, ProviderKind, Strategy};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};
use server::{
    manage::{Manage, SessionPolicy},
    secrets::{Key, Keyring},
    testing::MockUpstream,
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

const REPLICAS: usize = 3;
const REVOCATIONS: usize = 20;

/// The secrets every replica shares (set as `MGW_MASTER_KEY` and `MGW_KEY_HASH_SECRET`).
const MASTER_KEY: [u8; 32] = [7; 32];
const KEY_HASH_SECRET: [u8; 32] = [8; 32];

/// Three replicas on `db`, ready.
async fn replicas(db: &TestDb) -> (Vec<Binary>, Vec<String>, Vec<tempfile::TempDir>) {
    let (master, hash) = (hex::encode(MASTER_KEY), hex::encode(KEY_HASH_SECRET));
    let env = [
        ("MGW_DATABASE_URL", db.url.as_str()),
        ("MGW_MASTER_KEY", master.as_str()),
        ("MGW_KEY_HASH_SECRET", hash.as_str()),
    ];
    let (mut children, mut urls, mut dirs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..REPLICAS {
        let dir = tempfile::tempdir().unwrap();
        let (child, url) = serve(dir.path().to_str().unwrap(), &env).await;
        children.push(child);
        urls.push(url);
        dirs.push(dir);
    }
    (children, urls, dirs)
}

/// How long after `since` every replica refuses `key` (401), asking each every 5 ms; `None`
/// when one still admits it after `within`.
async fn refused_everywhere(urls: &[String], key: &str, since: Instant, within: Duration) -> Option<Duration> {
    let mut slowest = Duration::ZERO;
    for url in urls {
        loop {
            let status = post_as(url, key, "/v1/chat/completions", &chat(false)).await.status();
            if status == 401 {
                break;
            }
            assert_eq!(status, 200, "a key is admitted or refused as revoked, nothing else");
            if since.elapsed() > within {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        slowest = slowest.max(since.elapsed());
    }
    Some(slowest)
}

/// A key revoked through one replica (its GraphQL API, as an admin signed in there) is refused
/// by all three within a second. Reported: the p50 and p99 over 20 revocations, from the
/// mutation's answer to the last replica's refusal. Asserted with room for a loaded machine
/// (3 s); without notices a replica would still see it at its next 250 ms poll.
#[tokio::test]
async fn a_key_revoked_through_one_replica_is_refused_by_all_three_at_once() {
    let Some(db) = TestDb::postgres("replicas").await else {
        return;
    };
    let mock = MockUpstream::start().await.unwrap();
    let keyring = Keyring {
        master_key: Key(MASTER_KEY),
        key_hash_secret: Key(KEY_HASH_SECRET),
    };
    let sessions = SessionPolicy {
        idle_timeout: Duration::from_secs(600),
        absolute_timeout: Duration::from_secs(3600),
    };
    let manage = Manage::new(db.store.clone(), Arc::new(keyring), sessions);
    op(&manage)
        .create_endpoint(endpoint("a", ProviderKind::OpenAi, &mock.url()))
        .await
        .unwrap();
    let choice = EndpointChoice {
        endpoint: EndpointRef::Name("a".into()),
        weight: 1,
        priority: None,
    };
    op(&manage)
        .create_gateway(NewGateway::new("g", Strategy::Priority, vec![choice]))
        .await
        .unwrap();
    let gateway = op(&manage).gateway_id("g").await;
    let mut keys = Vec::new();
    for n in 0..REVOCATIONS {
        let new = NewKey {
            gateway,
            name: format!("k{n}"),
            ..NewKey::default()
        };
        keys.push(op(&manage).create_key(new).await.unwrap());
    }
    let admin = NewAdmin {
        email: "ops@example.com".into(),
        password: WriteOnly(PASSWORD.into()),
        role: AdminRole::Admin,
    };
    op(&manage).create_admin(admin).await.unwrap();

    let (children, urls, _dirs) = replicas(&db).await;
    let graphql = |replica: usize| format!("{}/graphql", urls[replica]);
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let ask = |replica: usize, query: &'static str, variables: Value| {
        let request = client
            .post(graphql(replica))
            .json(&json!({ "query": query, "variables": variables }));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let signed_in = ask(
        0,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { role } }",
        json!({ "e": "ops@example.com", "p": PASSWORD }),
    )
    .await;
    assert_eq!(signed_in["data"]["login"]["role"], "ADMIN", "{signed_in}");

    let mut seen = Vec::new();
    for key in &keys {
        let secret = key.secret.expose();
        for url in &urls {
            let status = post_as(url, secret, "/v1/chat/completions", &chat(false))
                .await
                .status();
            assert_eq!(status, 200, "every replica admits the key before its revocation");
        }
        let id = URL_SAFE_NO_PAD.encode(format!("GatewayKey:{}", key.key.public_id));
        let revoked = ask(0, "mutation($id: ID!) { revokeKey(id: $id) }", json!({ "id": id })).await;
        assert_eq!(revoked["data"]["revokeKey"], 1, "{revoked}");
        let since = Instant::now();
        let all = refused_everywhere(&urls, secret, since, Duration::from_secs(3)).await;
        seen.push(all.expect("every replica refuses a revoked key within 3 s"));
    }
    seen.sort();
    let at = |q: f64| seen[((seen.len() - 1) as f64 * q).round() as usize];
    // Reported, not asserted (`--nocapture` shows it).
    eprintln!(
        "revocation refused by all {REPLICAS} replicas after: p50 {:?}, p99 {:?} ({REVOCATIONS} revocations)",
        at(0.5),
        at(0.99)
    );
    drop(children);
    db.finish().await;
}
