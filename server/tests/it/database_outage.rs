//! The database made unreachable mid-traffic (issue #20): inference goes on from the snapshot,
//! the records of that time wait in the journal on disk, management answers 503 with a
//! sentence, `/readyz` says `database: unavailable` while `/healthz` stays ok — and once the
//! database is back, every log and every unit of usage of the outage is in it, exactly once.
//!
//! The outage is a real network partition: the server reaches Postgres through a TCP forwarder
//! the test cuts (every connection closed, new ones refused) and restores.

use crate::{
    outage::Partition,
    rig::{chat, endpoint, steady, Rig},
    store::TestDb,
};
use app::types::{Period, ProviderKind};
use serde_json::{json, Value};
use server::{
    manage::ManageError,
    secrets::Secret,
    store::{now_ms, LimitScope},
    testing::MockUpstream,
};
use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

/// Waits (up to 20 s) until `check` holds; answers whether it did.
async fn within<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn through_a_database_outage_inference_goes_on_and_every_record_is_stored_once_after() {
    let Some(db) = TestDb::postgres("database_outage").await else {
        return;
    };
    let mut url = url::Url::parse(&db.url).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let partition = Partition::to(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(partition.port)).unwrap();
    let proxied = url.to_string();
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        move |config| {
            steady(config);
            config.database_url = Some(proxied);
            config.database.acquire_timeout = Duration::from_secs(1);
            // Postgres is shared, so the secrets are given (never generated).
            config.master_key = Some(Secret::new("07".repeat(32)));
            config.key_hash_secret = Some(Secret::new("08".repeat(32)));
        },
        vec![endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |_| {},
    )
    .await;
    let server = &rig.server;
    let key = server.state.manage.keys(None).await.unwrap()[0].id;
    let journal = server.dir.path().join("data/journal/requests.journal");
    for _ in 0..10 {
        assert_eq!(rig.post("/v1/chat/completions", &chat(false)).await.status(), 200);
    }
    rig.logs(10).await;

    partition.cut();
    for n in 0..40 {
        let status = rig.post("/v1/chat/completions", &chat(n % 2 == 0)).await.status();
        assert_eq!(status, 200, "request {n} during the outage is served from the snapshot");
    }
    assert!(
        within(|| async { journal.exists() }).await,
        "the outage's records wait in the journal on disk"
    );
    let health = reqwest::get(format!("{}/healthz", server.url)).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{}/readyz", server.url)).await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<Value>().await.unwrap()["database"], "unavailable");
    let graphql = reqwest::Client::new()
        .post(format!("{}/graphql", server.url))
        // Shaped like a session token (43 characters), so it must be looked up.
        .header("cookie", format!("mgw_session={}", "s".repeat(43)))
        .json(&json!({ "query": "{ gateways { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(graphql.status(), 503);
    let body: Value = graphql.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAVAILABLE", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("database cannot be reached"), "{message}");
    let read = tokio::time::timeout(Duration::from_secs(10), server.state.manage.keys(None)).await;
    assert!(
        matches!(read, Ok(Err(ManageError::Unavailable))),
        "a management read says the database is unreachable, in time"
    );

    partition.restore();
    let stored = within(|| async {
        let logs = server.state.manage.recent_request_logs(1000).await.unwrap_or_default();
        logs.len() >= 50 && !journal.exists()
    })
    .await;
    assert!(stored, "the journal is replayed once the database is back");
    let logs = server.state.manage.recent_request_logs(1000).await.unwrap();
    let ids: HashSet<&str> = logs.iter().map(|log| log.request_id.as_str()).collect();
    assert_eq!((logs.len(), ids.len()), (50, 50), "every request logged, once");
    let total = (db.store.open_counters(now_ms()).await.unwrap().into_iter())
        .find(|row| row.scope == LimitScope::Key(key) && row.period == Period::Total)
        .map(|row| row.requests);
    assert_eq!(total, Some(50), "every request's usage counted, once");
    let ready = reqwest::get(format!("{}/readyz", server.url)).await.unwrap();
    assert_eq!(ready.status(), 200);
    drop(rig);
    db.finish().await;
}
