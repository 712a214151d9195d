//! Several replicas on one Postgres database (issue #20): three `model-gateway serve`
//! processes, each with its own port and data directory, sharing the database and the two
//! secrets, as an operator runs them behind a load balancer.
//!
//! Here: a key revoked through one replica is refused by all three at once (the configuration
//! notices of migration 0009; the 250 ms poll is the fallback); with Redis (`MGW_TEST_REDIS_URL`),
//! one limit holds exactly across the three (C-05), a replica killed with `kill -9` gives
//! its concurrency places back when its leases expire, and the three ride out a Redis crash and
//! a database partition.

use crate::{
    limits::{away_from_a_minute_edge, mock_using, reserving},
    operator::op,
    outage::{OwnRedis, Partition},
    rig::{chat, endpoint, metric, post_as},
    store::TestDb,
    support::{serve, Binary, PASSWORD},
};
use app::types::WriteOnly;
use app::types::{
    AdminRole, EndpointChoice, EndpointRef, GatewayId, KeyId, NewAdmin, NewGateway, NewKey, Period, ProviderKind,
    Strategy,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};
use server::{
    manage::{limits::parse_limit, CreatedKey},
    store::{now_ms, LimitScope},
    testing::{Behaviour, Usage},
};
use server::{
    manage::{Manage, SessionPolicy},
    secrets::{Key, Keyring},
    testing::MockUpstream,
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::Barrier;

const REPLICAS: usize = 3;
const REVOCATIONS: usize = 20;

/// The secrets every replica shares (set as `MGW_MASTER_KEY` and `MGW_KEY_HASH_SECRET`).
const MASTER_KEY: [u8; 32] = [7; 32];
const KEY_HASH_SECRET: [u8; 32] = [8; 32];

/// Three replicas on `db`, ready; `extra` adds to their environment.
async fn replicas(db: &TestDb, extra: &[(&str, &str)]) -> (Vec<Binary>, Vec<String>, Vec<tempfile::TempDir>) {
    let (master, hash) = (hex::encode(MASTER_KEY), hex::encode(KEY_HASH_SECRET));
    let mut env = vec![
        ("MGW_DATABASE_URL", db.url.as_str()),
        ("MGW_MASTER_KEY", master.as_str()),
        ("MGW_KEY_HASH_SECRET", hash.as_str()),
    ];
    env.extend_from_slice(extra);
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

/// The management service over `db`, with the shared secrets.
fn manage_over(db: &TestDb) -> Manage {
    let keyring = Keyring {
        master_key: Key(MASTER_KEY),
        key_hash_secret: Key(KEY_HASH_SECRET),
    };
    let sessions = SessionPolicy {
        idle_timeout: Duration::from_secs(600),
        absolute_timeout: Duration::from_secs(3600),
    };
    Manage::new(db.store.clone(), Arc::new(keyring), sessions)
}

/// Endpoint `a` (OpenAI, at `mock`) and gateway `g` over it; answers the gateway's id.
async fn gateway_over(manage: &Manage, mock: &MockUpstream) -> GatewayId {
    op(manage)
        .create_endpoint(endpoint("a", ProviderKind::OpenAi, &mock.url()))
        .await
        .unwrap();
    let choice = EndpointChoice {
        endpoint: EndpointRef::Name("a".into()),
        weight: 1,
        priority: None,
    };
    op(manage)
        .create_gateway(NewGateway::new("g", Strategy::Priority, vec![choice]))
        .await
        .unwrap();
    op(manage).gateway_id("g").await
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
    let manage = manage_over(&db);
    let gateway = gateway_over(&manage, &mock).await;
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

    let (children, urls, _dirs) = replicas(&db, &[]).await;
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

/// The test Redis (`MGW_TEST_REDIS_URL`) and a key prefix of this test's own; `None` (skipped)
/// without one, except in CI.
pub(crate) fn redis(test: &str) -> Option<(String, String)> {
    let Ok(url) = std::env::var("MGW_TEST_REDIS_URL") else {
        assert!(std::env::var_os("CI").is_none(), "CI must set MGW_TEST_REDIS_URL");
        eprintln!("NOTE: {test} was SKIPPED: set MGW_TEST_REDIS_URL to run it");
        return None;
    };
    Some((url, format!("test:{test}:{:x}", rand::random::<u64>())))
}

/// A key on gateway `gateway` with these limits (CLI notation).
async fn limited_key(manage: &Manage, gateway: GatewayId, name: &str, limits: &[&str]) -> CreatedKey {
    let new = NewKey {
        gateway,
        name: name.into(),
        limits: limits.iter().map(|text| parse_limit(text).unwrap()).collect(),
        ..NewKey::default()
    };
    op(manage).create_key(new).await.unwrap()
}

/// Sends `count` copies of `body` with `secret` at once, the n-th to replica n mod 3; answers
/// the statuses.
async fn spread(urls: &[String], secret: &str, body: &Value, count: usize) -> Vec<u16> {
    let client = reqwest::Client::new();
    let barrier = Arc::new(Barrier::new(count));
    let tasks: Vec<_> = (0..count)
        .map(|n| {
            let request = client
                .post(format!("{}/v1/chat/completions", urls[n % urls.len()]))
                .bearer_auth(secret)
                .json(body);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

/// One window's used and reserved figures (requests, tokens, cost) in Redis.
async fn redis_window(url: &str, prefix: &str, key: KeyId, period: Period, now: i64) -> ([i64; 3], [i64; 3]) {
    let mut connection = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let window = format!(
        "{{{prefix}}}:w:k{}:{}:{}",
        key.0,
        period.as_str(),
        period.window_start(now)
    );
    let fields: Vec<Option<i64>> = redis::cmd("HMGET")
        .arg(&window)
        .arg(&["u1", "u2", "u3", "r1", "r2", "r3"])
        .query_async(&mut connection)
        .await
        .unwrap();
    let at = |i: usize| fields[i].unwrap_or(0);
    ([at(0), at(1), at(2)], [at(3), at(4), at(5)])
}

/// The members of a sorted set in Redis.
async fn redis_count(url: &str, key: &str) -> usize {
    let mut connection = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("ZCARD").arg(key).query_async(&mut connection).await.unwrap()
}

/// Waits (up to 10 s) until `check` holds, asking every 50 ms; answers whether it did.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// RELIABILITY C-05 over three processes sharing Postgres and Redis: 300 concurrent requests
/// spread over the replicas against a key allowed 100 a minute admit exactly 100; the same for
/// a tokens/minute limit and a budget, each request settled with its real usage (which equals
/// its reservation here, so the count is exact whatever the timing). Then Redis and the database
/// agree: what each window used is what the requests used, and nothing is left reserved.
#[tokio::test]
async fn c05_three_replicas_admit_exactly_one_limit_between_them() {
    let Some(db) = TestDb::postgres("replicas_c05").await else {
        return;
    };
    let Some((redis_url, prefix)) = redis("c05") else {
        return db.finish().await;
    };
    // "hello there" with max_tokens 993 reserves 1,000 tokens, priced 597 micro-units
    // (gpt-4o-mini: 0.15 in, 0.60 out per million); the mock uses exactly that.
    let mock = mock_using(7, 993).await;
    let manage = manage_over(&db);
    let gateway = gateway_over(&manage, &mock).await;
    let places = "concurrency=1000";
    let keys = [
        limited_key(&manage, gateway, "rpm", &["requests/minute=100", places]).await,
        limited_key(&manage, gateway, "tpm", &["tokens/minute=100000", places]).await,
        limited_key(&manage, gateway, "budget", &["cost_micros/minute=59700", places]).await,
    ];
    let env = [
        ("MGW_REDIS__URL", redis_url.as_str()),
        ("MGW_REDIS__PREFIX", prefix.as_str()),
    ];
    let (children, urls, _dirs) = replicas(&db, &env).await;
    away_from_a_minute_edge().await;
    let now = now_ms();
    let body = reserving(1_000);
    for key in &keys {
        let statuses = spread(&urls, key.secret.expose(), &body, 300).await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let refused = statuses.iter().filter(|s| **s == 429).count();
        metric(&format!("c05_{}_admitted", key.key.name), ok);
        assert_eq!((ok, refused), (100, 200), "key {}: {statuses:?}", key.key.name);
    }
    for key in &keys {
        let settled = eventually(|| async {
            redis_window(&redis_url, &prefix, key.key.id, Period::Minute, now).await == ([100, 100_000, 59_700], [0; 3])
        })
        .await;
        let window = redis_window(&redis_url, &prefix, key.key.id, Period::Minute, now).await;
        assert!(
            settled,
            "key {}: Redis counts 100 requests' real usage, nothing reserved: {window:?}",
            key.key.name
        );
        let stored = eventually(|| async {
            let rows = db.store.open_counters(now_ms()).await.unwrap();
            (rows.iter()).any(|row| {
                row.scope == LimitScope::Key(key.key.id)
                    && row.period == Period::Minute
                    && (row.requests, row.tokens, row.cost_micros) == (100, 100_000, 59_700)
            })
        })
        .await;
        assert!(stored, "key {}: the database's counter matches Redis's", key.key.name);
    }
    drop(children);
    db.finish().await;
}

/// `kill -9` of a replica holding a key's every concurrency place: the other replicas refuse
/// the key until the dead one's leases expire (`proxy.reservation_ttl`, 3 s here), then admit
/// it again without a restart; nothing stays reserved and what was used is what was answered.
#[tokio::test]
async fn a_replica_killed_mid_request_frees_its_places_when_its_leases_expire() {
    let Some(db) = TestDb::postgres("replicas_kill").await else {
        return;
    };
    let Some((redis_url, prefix)) = redis("kill") else {
        return db.finish().await;
    };
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fallback(Behaviour::HangBeforeHeaders(Duration::from_secs(60)));
    let manage = manage_over(&db);
    let gateway = gateway_over(&manage, &mock).await;
    let key = limited_key(&manage, gateway, "four", &["concurrency=4", "requests/total=1000"]).await;
    let env = [
        ("MGW_REDIS__URL", redis_url.as_str()),
        ("MGW_REDIS__PREFIX", prefix.as_str()),
        ("MGW_PROXY__RESERVATION_TTL", "3s"),
    ];
    let (mut children, urls, _dirs) = replicas(&db, &env).await;
    let secret = key.secret.expose().to_string();
    // Four requests hang on replica 2, holding the key's four places.
    let hanging: Vec<_> = (0..4)
        .map(|_| {
            let (url, secret) = (urls[2].clone(), secret.clone());
            tokio::spawn(async move {
                post_as(&url, &secret, "/v1/chat/completions", &chat(false))
                    .await
                    .status()
            })
        })
        .collect();
    let places = format!("{{{prefix}}}:c:k{}", key.key.id.0);
    let held = eventually(|| async { redis_count(&redis_url, &places).await == 4 }).await;
    assert!(held, "the four hanging on replica 2 hold the key's places in Redis");
    let status = post_as(&urls[0], &secret, "/v1/chat/completions", &chat(false))
        .await
        .status();
    assert_eq!(status, 429, "replica 0 finds the key's places full");
    mock.set_fallback(Behaviour::Answer {
        usage: Usage {
            prompt: 7,
            completion: 3,
        },
        chunks: 1,
    });
    let killed_at = Instant::now();
    children[2].kill();
    // Their client side goes too (their answers are not the point).
    for task in hanging {
        task.abort();
    }
    let freed = eventually(|| async {
        post_as(&urls[0], &secret, "/v1/chat/completions", &chat(false))
            .await
            .status()
            == 200
    })
    .await;
    let after = killed_at.elapsed();
    metric("replica_kill_places_freed_ms", after.as_millis());
    assert!(freed, "the dead replica's places are free once its leases expire");
    assert!(
        after >= Duration::from_millis(2_500),
        "not before the lease expires: {after:?}"
    );
    // The key's total window (its `requests/total` limit keeps it in Redis): no minute edge
    // can split what this test did.
    let now = now_ms();
    let consistent = eventually(|| async {
        let (used, reserved) = redis_window(&redis_url, &prefix, key.key.id, Period::Total, now).await;
        reserved == [0; 3] && used[0] == 1
    })
    .await;
    let window = redis_window(&redis_url, &prefix, key.key.id, Period::Total, now).await;
    assert!(
        consistent,
        "one request answered and counted, nothing reserved: {window:?}"
    );
    drop(children);
    db.finish().await;
}

/// Three replicas through a Redis crash and a database partition, mid-traffic. Redis killed:
/// with `fail_closed` every replica refuses with 503 `limits_unavailable`; Redis started again:
/// every replica admits again, none restarted. Postgres cut off: all three go on serving, and
/// once it is back every request of the test is logged once and every admitted one counted once.
#[tokio::test]
async fn three_replicas_ride_out_a_redis_crash_and_a_database_partition() {
    let Some(db) = TestDb::postgres("replicas_outages").await else {
        return;
    };
    let Some(mut redis) = OwnRedis::start().await else {
        return db.finish().await;
    };
    let mock = MockUpstream::start().await.unwrap();
    let manage = manage_over(&db);
    let gateway = gateway_over(&manage, &mock).await;
    let key = limited_key(&manage, gateway, "k", &["requests/day=100000", "concurrency=1000"]).await;
    let mut database = url::Url::parse(&db.url).unwrap();
    let target = format!("{}:{}", database.host_str().unwrap(), database.port().unwrap_or(5432));
    let partition = Partition::to(target).await;
    database.set_host(Some("127.0.0.1")).unwrap();
    database.set_port(Some(partition.port)).unwrap();
    let (database, redis_url) = (database.to_string(), redis.url());
    let env = [
        ("MGW_DATABASE_URL", database.as_str()),
        ("MGW_DATABASE__ACQUIRE_TIMEOUT", "1s"),
        ("MGW_REDIS__URL", redis_url.as_str()),
        ("MGW_REDIS__TIMEOUT", "200ms"),
    ];
    let (children, urls, _dirs) = replicas(&db, &env).await;
    let (secret, body) = (key.secret.expose(), chat(false));
    let (mut sent, mut admitted) = (0, 0);
    let mut send = |statuses: Vec<u16>| {
        sent += statuses.len();
        admitted += statuses.iter().filter(|s| **s == 200).count();
        statuses
    };
    assert!(send(spread(&urls, secret, &body, 30).await).iter().all(|s| *s == 200));

    redis.stop();
    let refused = send(spread(&urls, secret, &body, 30).await);
    assert!(refused.iter().all(|s| *s == 503), "fail_closed: {refused:?}");
    assert!(redis.restart().await);
    for url in &urls {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let status = post_as(url, secret, "/v1/chat/completions", &body).await.status();
            if send(vec![status.as_u16()])[0] == 200 {
                break;
            }
            assert!(
                Instant::now() < until,
                "{url} admits again once Redis is back, without a restart"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    partition.cut();
    let during = send(spread(&urls, secret, &body, 60).await);
    assert!(
        during.iter().all(|s| *s == 200),
        "served through the partition: {during:?}"
    );
    partition.restore();
    let stored = eventually(|| async { db.store.recent_request_logs(10_000).await.unwrap().len() >= sent }).await;
    let logs = db.store.recent_request_logs(10_000).await.unwrap();
    let ids: std::collections::HashSet<&str> = logs.iter().map(|log| log.request_id.as_str()).collect();
    assert!(
        stored,
        "the replicas' journals are replayed: {} of {sent} logs",
        logs.len()
    );
    assert_eq!((logs.len(), ids.len()), (sent, sent), "every request logged once");
    let counted = (db.store.open_counters(now_ms()).await.unwrap().into_iter())
        .find(|row| row.scope == LimitScope::Key(key.key.id) && row.period == Period::Total)
        .map(|row| row.requests);
    assert_eq!(
        counted,
        Some(i64::try_from(admitted).unwrap()),
        "every admitted request counted once"
    );
    drop(children);
    db.finish().await;
}
