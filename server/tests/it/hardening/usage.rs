//! An absurd usage figure from an upstream (issue 18, item 5): clamped and counted, never
//! corrupting the counters or the database, and a corrupted counter does not stop a start.

use crate::{
    operator::op,
    rig::{chat, endpoint, post_as, steady, Rig},
    support::TestServer,
};
use app::types::{NewKey, Period, ProviderKind};
use server::{
    manage::limits::parse_limit,
    proxy::providers::MAX_REPORTED_TOKENS,
    store::{now_ms, LimitScope},
    testing::{Behaviour, MockUpstream},
};
use sqlx::Connection;
use std::time::{Duration, Instant};

/// A chat completion that says it used `prompt` prompt tokens.
fn answer_claiming(prompt: &str) -> Behaviour {
    Behaviour::Status {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: format!(
            r#"{{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o-mini",
               "choices":[{{"index":0,"message":{{"role":"assistant","content":"hi"}},"finish_reason":"stop"}}],
               "usage":{{"prompt_tokens":{prompt},"completion_tokens":5,"total_tokens":{prompt}}}}}"#
        ),
    }
}

#[tokio::test]
async fn an_absurd_usage_is_clamped_counted_and_stored_as_an_integer() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fallback(answer_claiming("9223372036854775807"));
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    let manage = &rig.server.state.manage;
    let limited = op(manage)
        .create_key(NewKey {
            gateway: op(manage).gateway_id("g").await,
            name: "quota".into(),
            // A total: a minute's window could end between the requests (and a restart).
            limits: vec![parse_limit("tokens/total=100000").unwrap()],
            ..NewKey::default()
        })
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let secret = limited.secret.expose();

    let first = post_as(&rig.server.url, secret, "/v1/chat/completions", &chat(false)).await;
    assert_eq!(first.status(), 200);
    // The clamped figure is still far past the limit: the next request is refused.
    let second = post_as(&rig.server.url, secret, "/v1/chat/completions", &chat(false)).await;
    assert_eq!(second.status(), 429);

    let expected = i64::try_from(MAX_REPORTED_TOKENS).unwrap() + 5;
    let store = &rig.server.state.store;
    let until = Instant::now() + Duration::from_secs(5);
    let stored = loop {
        let rows = store.open_counters(now_ms()).await.unwrap();
        let total = rows
            .into_iter()
            .find(|row| row.scope == LimitScope::Key(limited.key.id) && row.period == Period::Total);
        match total {
            Some(row) if row.requests >= 1 => break row,
            _ if Instant::now() < until => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("the counter was not written: {other:?}"),
        }
    };
    assert_eq!(stored.tokens, expected);
    let metrics = rig.metrics().await;
    assert!(metrics.contains("mgw_upstream_usage_clamped_total 1"), "{metrics}");

    // The database still starts.
    let Rig { server, .. } = rig;
    let dir = server.stop().await;
    let data_dir = dir.path().join("data");
    let restarted = TestServer::start_with(|config| config.data_dir = data_dir).await;
    let response = post_as(&restarted.url, secret, "/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 429, "the clamped usage was remembered");
}

#[tokio::test]
async fn a_counter_corrupted_by_an_older_version_does_not_stop_the_start() {
    let server = TestServer::start().await;
    let dir = server.stop().await;
    let data_dir = dir.path().join("data");
    let url = format!("sqlite://{}", data_dir.join("model-gateway.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let day = Period::Day.window_start(now_ms());
    // What an overflowing sum left behind: REAL figures on SQLite, a wrapped negative one.
    sqlx::query(
        "INSERT INTO usage_counters (scope, scope_id, period, window_start, requests, prompt_tokens, \
         completion_tokens, cost_micros, updated_at) VALUES \
         ('key', 1, 'day', $1, 2, 1.8446744073709552e19, 5.0, 0, 0), \
         ('gateway', 1, 'day', $1, 2, -9223372036854775000, 5, 0, 0)",
    )
    .bind(day)
    .execute(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    let restarted = TestServer::start_with(|config| config.data_dir = data_dir).await;
    let health = reqwest::get(format!("{}/healthz", restarted.url)).await.unwrap();
    assert_eq!(health.status(), 200);
    let (used, _, _) = (restarted.state.proxy.counters)
        .usage(
            LimitScope::Gateway(app::types::GatewayId(1)),
            app::types::Metric::Tokens,
            Period::Day,
            now_ms(),
        )
        .await;
    assert!(used >= 0, "a wrapped figure is not loaded negative: {used}");
}
