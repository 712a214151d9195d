//! Limits, admission and usage through the real server (RELIABILITY C-01…C-04, C-06, C-07,
//! C-09, C-10): concurrent requests released together against a mock upstream, then the
//! answers, the mock's call count, the ledger and the stored counters compared.

use crate::operator::op;
use crate::rig::{chat, endpoint, metric, post_as, steady, Rig};
use app::types::{KeyId, Limit, Metric, Period, ProviderKind, RequestLog};
use app::types::{KeyUpdate, NewKey};
use serde_json::{json, Value};
use server::{
    manage::{limits::parse_limit, CreatedKey},
    proxy::limits::Counters,
    store::{now_ms, Finished, HourlyScope, LimitScope},
    testing::{Behaviour, MockUpstream, Usage},
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::Barrier;

const CHAT: &str = "/v1/chat/completions";

fn limits(texts: &[&str]) -> Vec<Limit> {
    texts.iter().map(|t| parse_limit(t).unwrap()).collect()
}

/// A rig over one OpenAI endpoint at `mock`, with gateway `g`.
async fn rig(mock: &MockUpstream) -> Rig {
    Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await
}

/// Creates a key on gateway `g` with these limits, under `parent`.
pub async fn key(rig: &Rig, name: &str, parent: Option<&CreatedKey>, texts: &[&str]) -> CreatedKey {
    op(&rig.server.state.manage)
        .create_key(NewKey {
            gateway: op(&rig.server.state.manage).gateway_id("g").await,
            name: name.into(),
            parent: parent.map(|p| p.key.public_id.clone()),
            limits: limits(texts),
            ..NewKey::default()
        })
        .await
        .unwrap()
}

/// A mock whose every answer reports this usage.
pub async fn mock_using(prompt: u32, completion: u32) -> MockUpstream {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fallback(Behaviour::Answer {
        usage: Usage { prompt, completion },
        chunks: 1,
    });
    mock
}

/// Waits until no minute boundary is within two seconds, so a burst stays in one window.
pub async fn away_from_a_minute_edge() {
    let into = now_ms().rem_euclid(60_000);
    if into > 57_000 {
        tokio::time::sleep(Duration::from_millis(u64::try_from(61_000 - into).unwrap())).await;
    }
}

/// Sends `count` copies of `body` with `secret` at once (released together by a barrier);
/// returns the statuses and the responses' headers.
async fn burst(rig: &Rig, secret: &str, body: Value, count: usize) -> Vec<(u16, reqwest::header::HeaderMap)> {
    let client = reqwest::Client::new();
    let barrier = Arc::new(Barrier::new(count));
    let mut tasks = Vec::new();
    for _ in 0..count {
        let (client, barrier, body) = (client.clone(), barrier.clone(), body.clone());
        let url = format!("{}/v1/chat/completions", rig.server.url);
        let secret = secret.to_string();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let response = client.post(url).bearer_auth(secret).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let _ = response.bytes().await;
            (status, headers)
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

fn count(results: &[(u16, reqwest::header::HeaderMap)], status: u16) -> usize {
    results.iter().filter(|(s, _)| *s == status).count()
}

/// The stored counter of a key for `period`'s current window, once the writer has caught up
/// with `requests` requests (or after 5 s).
async fn stored(rig: &Rig, key: KeyId, period: Period, requests: i64) -> (i64, i64) {
    let store = &rig.server.state.store;
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let row = store
            .open_counters(now_ms())
            .await
            .unwrap()
            .into_iter()
            .find(|row| row.scope == LimitScope::Key(key) && row.period == period);
        let found = row.map_or((0, 0), |row| (row.requests, row.tokens));
        if found.0 >= requests || Instant::now() > until {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn ledger(rig: &Rig, key: KeyId, metric: Metric, period: Period) -> (i64, i64, i64) {
    (rig.server.state.proxy.counters)
        .usage(LimitScope::Key(key), metric, period, now_ms())
        .await
}

/// RELIABILITY C-01: RPM 100, 200 concurrent requests → exactly 100 answered, 100 refused
/// with 429 and OpenAI's headers, 100 upstream calls, 100 requests counted and stored.
#[tokio::test]
async fn c01_a_request_limit_admits_exactly_its_value_under_concurrency() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let limited = key(&rig, "rpm", None, &["requests/minute=100", "concurrency=256"]).await;
    away_from_a_minute_edge().await;
    let results = burst(&rig, limited.secret.expose(), chat(false), 200).await;
    let (ok, refused) = (count(&results, 200), count(&results, 429));
    metric("c01_successes", ok);
    metric("c01_429s", refused);
    metric("c01_upstream_calls", mock.requests_received());
    assert_eq!((ok, refused), (100, 100));
    assert_eq!(mock.requests_received(), 100);
    let (_, headers) = results.iter().find(|(s, _)| *s == 429).unwrap();
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    assert_eq!(headers["x-ratelimit-limit-requests"], "100");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "0");
    assert!(headers.contains_key("x-ratelimit-reset-requests"));
    let (_, headers) = results.iter().find(|(s, _)| *s == 200).unwrap();
    assert_eq!(headers["x-ratelimit-limit-requests"], "100");
    let (requests, _) = stored(&rig, limited.key.id, Period::Minute, 100).await;
    assert_eq!(requests, 100, "requests stored for the minute");
    assert_eq!(
        ledger(&rig, limited.key.id, Metric::Requests, Period::Minute).await,
        (100, 0, 0)
    );
    // The dashboard's history counts the refusals too: 200 requests, 100 of them errors
    // (any status >= 400), for the key and its gateway.
    for scope in [HourlyScope::Key(limited.key.id), HourlyScope::AllGateways] {
        assert_eq!(history(&rig, scope, 200).await, (200, 100), "{scope:?}");
    }
}

/// A scope's requests and errors in the hourly history, once `requests` are there (or 5 s).
async fn history(rig: &Rig, scope: HourlyScope, requests: i64) -> (i64, i64) {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let hours = (rig.server.state.store)
            .hourly_usage(scope, now_ms() - 7_200_000, now_ms() + 3_600_000)
            .await
            .unwrap();
        let sums = (hours.iter()).fold((0, 0), |(r, e), hour| (r + hour.requests, e + hour.errors));
        if sums.0 >= requests || Instant::now() > until {
            return sums;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A chat request whose reservation is exactly `tokens` (the prompt "hello there" is
/// estimated at 7 tokens).
pub fn reserving(tokens: u64) -> Value {
    let mut body = chat(false);
    body["max_tokens"] = json!(tokens - 7);
    body
}

/// RELIABILITY C-02: TPM 10,000; each request reserves 1,000 and uses 1,000; 50 concurrent →
/// exactly 10 succeed, 10,000 used, nothing left reserved.
#[tokio::test]
async fn c02_a_token_limit_admits_exactly_what_fits() {
    let mock = mock_using(100, 900).await;
    let rig = rig(&mock).await;
    let limited = key(&rig, "tpm", None, &["tokens/minute=10000"]).await;
    away_from_a_minute_edge().await;
    let results = burst(&rig, limited.secret.expose(), reserving(1_000), 50).await;
    let ok = count(&results, 200);
    let (used, reserved, _) = ledger(&rig, limited.key.id, Metric::Tokens, Period::Minute).await;
    metric("c02_successes", ok);
    metric("c02_used", used);
    metric("c02_reserved", reserved);
    assert_eq!((ok, count(&results, 429)), (10, 40));
    assert_eq!((used, reserved), (10_000, 0));
    let (_, headers) = results.iter().find(|(s, _)| *s == 429).unwrap();
    assert_eq!(headers["x-ratelimit-limit-tokens"], "10000");
    assert_eq!(stored(&rig, limited.key.id, Period::Minute, 10).await, (10, 10_000));
}

/// Issue 18, item 4: each of `n` choices may take the whole `max_tokens`, so a request
/// reserves `n` times it. TPM 10,000; `n` = 100 and `max_tokens` = 10 reserve 1,007 and use
/// 1,007; 20 concurrent → 9 succeed (not 20, billing 20,140).
#[tokio::test]
async fn n_choices_reserve_n_times_the_completion_allowance() {
    let mock = mock_using(7, 1_000).await;
    let rig = rig(&mock).await;
    let limited = key(&rig, "tpm", None, &["tokens/minute=10000"]).await;
    away_from_a_minute_edge().await;
    let mut body = chat(false);
    body["n"] = json!(100);
    body["max_tokens"] = json!(10);
    let results = burst(&rig, limited.secret.expose(), body, 20).await;
    let (used, reserved, _) = ledger(&rig, limited.key.id, Metric::Tokens, Period::Minute).await;
    assert_eq!((count(&results, 200), count(&results, 429)), (9, 11));
    assert_eq!((used, reserved), (9 * 1_007, 0));
}

/// RELIABILITY C-03: a total quota of 1,000 tokens; 50 concurrent requests using 100 each →
/// no overshoot, the counters equal the sum of the usage events, nothing negative reserved,
/// and the refusals say the quota is spent.
#[tokio::test]
async fn c03_a_quota_is_never_overshot_and_the_counters_match_the_events() {
    let mock = mock_using(7, 93).await;
    let rig = rig(&mock).await;
    let limited = key(&rig, "quota", None, &["tokens/total=1000"]).await;
    let results = burst(&rig, limited.secret.expose(), reserving(100), 50).await;
    let (used, reserved, _) = ledger(&rig, limited.key.id, Metric::Tokens, Period::Total).await;
    let (_, stored_tokens) = stored(&rig, limited.key.id, Period::Total, 10).await;
    let (events, event_tokens, _) = rig.server.state.store.usage_event_totals(limited.key.id).await.unwrap();
    metric("c03_overshoot", (used - 1_000).max(0));
    metric("c03_drift", stored_tokens - event_tokens);
    assert_eq!(count(&results, 200), 10);
    assert_eq!((used, reserved), (1_000, 0));
    assert_eq!((events, event_tokens, stored_tokens), (10, 1_000, 1_000));
    let response = rig.post("/v1/chat/completions", &reserving(100)).await;
    assert_eq!(response.status(), 200, "the rig's own key has no quota");
    let refused = post_as(&rig.server.url, limited.secret.expose(), CHAT, &reserving(100)).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get("retry-after").is_none(), "waiting will not help");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_quota", "{body}");
}

/// RELIABILITY C-04: a parent at 100 RPM with two children at 80 each, 100 concurrent
/// requests on each child → 100 in all, neither child past 80.
#[tokio::test]
async fn c04_a_parent_limit_caps_its_children_together() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let parent = key(&rig, "team", None, &["requests/minute=100", "concurrency=400"]).await;
    let a = key(&rig, "a", Some(&parent), &["requests/minute=80", "concurrency=200"]).await;
    let b = key(&rig, "b", Some(&parent), &["requests/minute=80", "concurrency=200"]).await;
    away_from_a_minute_edge().await;
    let (on_a, on_b) = tokio::join!(
        burst(&rig, a.secret.expose(), chat(false), 100),
        burst(&rig, b.secret.expose(), chat(false), 100)
    );
    let (ok_a, ok_b) = (count(&on_a, 200), count(&on_b, 200));
    metric("c04_child_a", ok_a);
    metric("c04_child_b", ok_b);
    metric("c04_parent", ok_a + ok_b);
    assert_eq!(ok_a + ok_b, 100);
    assert!(ok_a <= 80 && ok_b <= 80, "{ok_a} {ok_b}");
    assert_eq!(count(&on_a, 429) + count(&on_b, 429), 100);
    assert_eq!(mock.requests_received(), 100);
    assert_eq!(
        ledger(&rig, parent.key.id, Metric::Requests, Period::Minute).await.0,
        100
    );
}

/// A child's limit above its parent's is refused, and so is a parent's below a child's.
#[tokio::test]
async fn a_child_limit_never_exceeds_its_parents() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let manage = &rig.server.state.manage;
    let parent = key(&rig, "team", None, &["requests/minute=100"]).await;
    let error = op(manage)
        .create_key(NewKey {
            gateway: op(manage).gateway_id("g").await,
            name: "greedy".into(),
            parent: Some(parent.key.public_id.clone()),
            limits: limits(&["requests/minute=101"]),
            ..NewKey::default()
        })
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with("limits: requests/minute=101 exceeds"),
        "{error}"
    );
    let child = key(&rig, "app", Some(&parent), &["requests/minute=50"]).await;
    let error = op(manage)
        .set_key_limits(&parent.key.public_id, limits(&["requests/minute=40"]))
        .await
        .unwrap_err();
    assert!(error.to_string().contains(&child.key.public_id), "{error}");
    op(manage)
        .set_key_limits(&parent.key.public_id, limits(&["requests/minute=60"]))
        .await
        .unwrap();
}

/// RELIABILITY C-06: a key revoked while 100 of its requests are in flight opens nothing from
/// the moment the revocation returns.
#[tokio::test]
async fn c06_a_revocation_stops_the_very_next_request() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fallback(Behaviour::HangBeforeHeaders(Duration::from_millis(500)));
    let rig = rig(&mock).await;
    let victim = key(&rig, "victim", None, &["concurrency=200"]).await;
    let secret = victim.secret.expose().to_string();
    let in_flight = {
        let rig_url = rig.server.url.clone();
        let secret = secret.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let requests = (0..100).map(|_| {
                client
                    .post(format!("{rig_url}/v1/chat/completions"))
                    .bearer_auth(&secret)
                    .json(&chat(false))
                    .send()
            });
            futures_util::future::join_all(requests).await
        })
    };
    let until = Instant::now() + Duration::from_secs(5);
    while mock.requests_received() < 100 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    op(&rig.server.state.manage)
        .revoke_key(&victim.key.public_id)
        .await
        .unwrap();
    metric("c06_revocation_ms", started.elapsed().as_millis());
    let after = burst(&rig, &secret, chat(false), 20).await;
    assert_eq!(
        count(&after, 401),
        20,
        "no request succeeds once the revocation returned"
    );
    let before = in_flight.await.unwrap();
    assert_eq!(before.len(), 100);
}

/// RELIABILITY C-07: the same usage event stored twice (a retried batch) counts once.
#[tokio::test]
async fn c07_a_settlement_stored_twice_counts_once() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let store = &rig.server.state.store;
    let scope = LimitScope::Key(KeyId(4242));
    let finished = || Finished {
        log: RequestLog {
            request_id: "settle-once".into(),
            created_at: now_ms(),
            key_id: Some(KeyId(4242)),
            gateway_id: Some(app::types::GatewayId(1)),
            prompt_tokens: 10,
            completion_tokens: 5,
            status: 200,
            ..RequestLog::default()
        },
        store_log: false,
        scopes: vec![scope],
        admitted: true,
        saved_micros: 0,
    };
    store.store_finished(&[finished()]).await.unwrap();
    store.store_finished(&[finished()]).await.unwrap();
    let rows = store.open_counters(now_ms()).await.unwrap();
    let day = rows
        .iter()
        .find(|r| r.scope == scope && r.period == Period::Day)
        .unwrap();
    metric("c07_used_delta", day.tokens);
    assert_eq!((day.requests, day.tokens), (1, 15));
    // The ledger's own settle is idempotent too.
    let Counters::Local(ledger) = &rig.server.state.proxy.counters else {
        panic!("the test server counts in memory");
    };
    ledger.settle("never-admitted", 100, 0);
    assert_eq!(ledger.open_leases(), 0);
}

/// RELIABILITY C-10: 200 concurrent streams on a key allowed 64 at once → 64 served, 136
/// refused at once with 429 (no queueing).
#[tokio::test]
async fn c10_a_concurrency_limit_refuses_the_excess_at_once() {
    let mock = MockUpstream::start().await.unwrap();
    // Long enough for all 200 to arrive while the first 64 still wait, on a loaded machine.
    mock.set_fallback(Behaviour::HangBeforeHeaders(Duration::from_secs(2)));
    let rig = rig(&mock).await;
    let limited = key(&rig, "streams", None, &[]).await; // the default: 64
    let started = Instant::now();
    let results = burst(&rig, limited.secret.expose(), chat(true), 200).await;
    let (ok, refused) = (count(&results, 200), count(&results, 429));
    metric("c10_served", ok);
    metric("c10_refused", refused);
    metric("c10_max_in_flight_upstream", mock.requests_received());
    assert_eq!((ok, refused), (64, 136));
    assert_eq!(mock.requests_received(), 64);
    let (_, headers) = results.iter().find(|(s, _)| *s == 429).unwrap();
    assert_eq!(headers["retry-after"], "1");
    assert!(started.elapsed() < Duration::from_secs(15));
}

/// RELIABILITY C-09: 50 workers making admin mutations while proxy traffic runs at about 200
/// requests a second, for 30 s, on SQLite: never `database is locked`.
#[tokio::test]
async fn c09_mutations_and_traffic_share_sqlite_without_lock_errors() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Arc::new(rig(&mock).await);
    let until = Instant::now() + Duration::from_secs(30);
    let traffic = {
        let rig = rig.clone();
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            let body = chat(false);
            while Instant::now() < until {
                // 40 every ~170 ms (the wave's own time included): about 200 a second.
                let wave = (0..40).map(|_| rig.post("/v1/chat/completions", &body));
                for response in futures_util::future::join_all(wave).await {
                    statuses.push(response.status().as_u16());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            statuses
        })
    };
    let mut mutations = Vec::new();
    for worker in 0..50 {
        let rig = rig.clone();
        mutations.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            let mut round = 0;
            // A mutation a worker every ~50 ms: hundreds a second in all, one writer.
            while Instant::now() < until {
                let manage = &rig.server.state.manage;
                let created = op(manage)
                    .create_key(NewKey {
                        gateway: op(manage).gateway_id("g").await,
                        name: format!("w{worker}-{round}"),
                        limits: limits(&["requests/minute=1000"]),
                        ..NewKey::default()
                    })
                    .await;
                match created {
                    Ok(created) => {
                        let update = KeyUpdate {
                            limits: Some(limits(&["requests/minute=500"])),
                            ..KeyUpdate::default()
                        };
                        if let Err(error) = op(manage).update_key(&created.key.public_id, update).await {
                            errors.push(error.to_string());
                        }
                    }
                    Err(error) => errors.push(error.to_string()),
                }
                round += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            errors
        }));
    }
    let mut errors = Vec::new();
    for mutation in mutations {
        errors.extend(mutation.await.unwrap());
    }
    let statuses = traffic.await.unwrap();
    let locked = errors.iter().filter(|e| e.contains("locked")).count();
    metric("c09_lock_errors", locked);
    // Each worker round created a key and changed its limits (the rig's own key aside).
    let created = rig.server.state.manage.keys(None).await.unwrap().len() - 1;
    metric("c09_mutations", created * 2);
    metric("c09_proxy_requests", statuses.len());
    metric("c09_proxy_requests_per_second", statuses.len() / 30);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

/// Usage is priced by the served model and stored on the log; a budget refuses once spent.
#[tokio::test]
async fn requests_are_priced_and_budgets_hold() {
    let mock = mock_using(1_000, 1_000).await;
    let rig = rig(&mock).await;
    // gpt-4o-mini ships at 0.15 in and 0.60 out per million tokens: 750 micro-units here.
    let budget = key(&rig, "budget", None, &["cost/day=0.002"]).await;
    let body = reserving(1_000);
    let send = || post_as(&rig.server.url, budget.secret.expose(), CHAT, &body);
    assert_eq!(send().await.status(), 200);
    assert_eq!(send().await.status(), 200);
    let third = send().await;
    // 1,500 spent of 2,000; the third's estimate (7 prompt and 993 completion tokens: 597)
    // does not fit.
    assert_eq!(third.status(), 429);
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
    let logs = rig.logs(3).await;
    let costs: Vec<i64> = logs.iter().map(|l| l.cost_micros).collect();
    assert_eq!(costs, [0, 750, 750], "newest first: the refused one costs nothing");
}

/// Rotation: the successor works at once, the old key until its grace ends; usage reset
/// frees a spent limit; a disabled key opens nothing until enabled again.
#[tokio::test]
async fn keys_rotate_reset_and_switch_off() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let manage = &rig.server.state.manage;
    let old = key(&rig, "app", None, &["requests/day=1"]).await;
    let child = key(&rig, "child", Some(&old), &[]).await;
    let body = chat(false);
    let status = |secret: String| {
        let (url, body) = (rig.server.url.clone(), &body);
        async move { post_as(&url, &secret, CHAT, body).await.status().as_u16() }
    };
    assert_eq!(status(old.secret.expose().into()).await, 200);
    assert_eq!(status(old.secret.expose().into()).await, 429, "one a day");
    op(manage).reset_key_usage(&old.key.public_id).await.unwrap();
    assert_eq!(status(old.secret.expose().into()).await, 200, "reset frees it");

    let new = op(manage)
        .rotate_key(&old.key.public_id, Duration::from_millis(400))
        .await
        .unwrap();
    assert_eq!(new.key.limits, old.key.limits);
    assert_eq!(new.key.rotated_from, Some(old.key.id));
    op(manage).reset_key_usage(&new.key.public_id).await.unwrap();
    assert_eq!(status(new.secret.expose().into()).await, 200);
    assert_eq!(
        status(old.secret.expose().into()).await,
        429,
        "still valid, still limited"
    );
    let moved = manage.key(&child.key.public_id).await.unwrap();
    assert_eq!(moved.parent_id, Some(new.key.id), "children follow the successor");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status(old.secret.expose().into()).await, 401, "grace over");
    assert_eq!(
        status(child.secret.expose().into()).await,
        429,
        "limited by its new parent"
    );

    let off = KeyUpdate {
        enabled: Some(false),
        ..KeyUpdate::default()
    };
    op(manage).update_key(&child.key.public_id, off).await.unwrap();
    assert_eq!(status(child.secret.expose().into()).await, 401);
}

/// Usage survives a restart: the counters of open windows are loaded at start.
#[tokio::test]
async fn counted_usage_survives_a_restart() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let limited = key(&rig, "daily", None, &["requests/day=3"]).await;
    for _ in 0..3 {
        let response = post_as(&rig.server.url, limited.secret.expose(), CHAT, &chat(false)).await;
        assert_eq!(response.status(), 200);
    }
    let Rig { server, .. } = rig;
    let dir = server.stop().await;
    let data_dir = dir.path().join("data");
    let restarted = crate::support::TestServer::start_with(|config| {
        config.data_dir = data_dir;
        steady(config);
    })
    .await;
    let response = post_as(&restarted.url, limited.secret.expose(), CHAT, &chat(false)).await;
    assert_eq!(response.status(), 429, "the three requests of today were remembered");
    drop(dir);
}
