//! Migrations that rebuild a table, run against a database the earlier migrations made and
//! that holds data: nothing is lost, and what refers to the rebuilt table still does.

use server::{config::DatabaseConfig, store::Store};
use sqlx::Connection;

/// A SQLite database made by the migrations before `version` (and the directory holding it),
/// with `data` inserted; its URL.
async fn database_before(version: &str, data: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let earlier = tempfile::tempdir().unwrap();
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite");
    for file in std::fs::read_dir(source).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.as_str() < version {
            std::fs::copy(&path, earlier.path().join(name)).unwrap();
        }
    }
    let mut old = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let migrator = sqlx::migrate::Migrator::new(earlier.path()).await.unwrap();
    migrator.run(&mut old).await.unwrap();
    sqlx::raw_sql(data).execute(&mut old).await.unwrap();
    old.close().await.unwrap();
    (dir, url)
}

/// Migration 0007 keeps the id sequence when every endpoint was deleted before it (the rebuilt
/// table copies no row, so SQLite alone would start again at 1 and give a deleted endpoint's
/// id — and its request logs and history — to a new one).
#[tokio::test]
async fn a_deleted_endpoints_id_is_not_given_again_after_the_rebuild_even_with_none_left() {
    let (_dir, url) = database_before(
        "0007",
        "INSERT INTO inference_endpoints (name, provider, base_url, model, created_at, updated_at) VALUES \
             ('e1', 'openai', 'https://api.openai.com/v1', 'gpt-4o-mini', 1, 1), \
             ('e2', 'openai', 'https://api.openai.com/v1', 'gpt-4o', 1, 1); \
         DELETE FROM inference_endpoints;",
    )
    .await;
    let store = Store::connect(&url, &DatabaseConfig::default()).await.unwrap();
    store.migrate().await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO inference_endpoints (name, provider, base_url, model, created_at, updated_at) \
         VALUES ('e3', 'openai', 'https://api.openai.com/v1', 'gpt-4o-mini', 1, 1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let id: i64 = sqlx::query_scalar("SELECT id FROM inference_endpoints WHERE name = 'e3'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(id, 3);
    store.close().await;
}

/// Migration 0006 gives the audit entries written before it their way in: the console marked
/// its own in the details; every other admin's or token's came through GraphQL.
#[tokio::test]
async fn audit_entries_written_before_the_via_column_get_their_way_in() {
    let (_dir, url) = database_before(
        "0006",
        "INSERT INTO audit_log (created_at, actor_kind, actor_id, actor_label, action, details) VALUES \
             (1, 'admin', 1, 'a@example.com', 'endpoint.create', '{\"name\":\"e\",\"via\":\"console\"}'), \
             (2, 'admin', 1, 'a@example.com', 'gateway.create', '{\"name\":\"g\"}'), \
             (3, 'api_token', 1, 'ci (x)', 'key.revoke', '{}');",
    )
    .await;
    let store = Store::connect(&url, &DatabaseConfig::default()).await.unwrap();
    store.migrate().await.unwrap();
    let entries = store.audit_entries(None, 10).await.unwrap();
    let ways: Vec<(&str, Option<app::types::Via>)> = entries.iter().map(|e| (e.action.as_str(), e.via)).collect();
    use app::types::Via;
    assert_eq!(
        ways,
        [
            ("key.revoke", Some(Via::Graphql)),
            ("gateway.create", Some(Via::Graphql)),
            ("endpoint.create", Some(Via::Console)),
        ]
    );
    store.close().await;
}

/// Migration 0007 rebuilds `inference_endpoints` on SQLite (to drop the provider CHECK): the
/// endpoints, the gateways' links to them (with weight and priority) and the id sequence (a
/// deleted endpoint's id is never given again) all survive, and foreign keys still hold.
#[tokio::test]
async fn endpoints_their_links_and_their_ids_survive_the_provider_rebuild_on_sqlite() {
    let (_dir, url) = database_before(
        "0007",
        "INSERT INTO inference_endpoints (name, provider, base_url, model, created_at, updated_at) VALUES \
             ('e1', 'openai', 'https://api.openai.com/v1', 'gpt-4o-mini', 1, 1), \
             ('e2', 'ollama', 'http://127.0.0.1:11434/v1', 'llama3', 1, 1), \
             ('e3', 'anthropic', 'https://api.anthropic.com', 'claude', 1, 1); \
         DELETE FROM inference_endpoints WHERE name = 'e3'; \
         INSERT INTO gateways (name, created_at, updated_at) VALUES ('g', 1, 1); \
         INSERT INTO gateway_endpoints (gateway_id, endpoint_id, position, weight, priority) VALUES \
             (1, 1, 0, 2, 5), (1, 2, 1, 1, 4);",
    )
    .await;
    let store = Store::connect(&url, &DatabaseConfig::default()).await.unwrap();
    store.migrate().await.unwrap();
    let endpoints = store.endpoints().await.unwrap();
    let names: Vec<(i64, &str)> = endpoints.iter().map(|e| (e.id.0, e.name.as_str())).collect();
    assert_eq!(names, [(1, "e1"), (2, "e2")]);
    let gateway = store.gateway_by_name("g").await.unwrap().expect("the gateway");
    let links: Vec<(i64, i64, i64)> = (gateway.endpoints.iter())
        .map(|link| (link.endpoint_id.0, link.weight, link.priority))
        .collect();
    assert_eq!(links, [(1, 2, 5), (2, 1, 4)], "the links survive, in order");

    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO inference_endpoints (name, provider, base_url, model, created_at, updated_at) \
         VALUES ('e4', 'a_provider_of_tomorrow', 'http://127.0.0.1:9', 'm', 1, 1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let id: i64 = sqlx::query_scalar("SELECT id FROM inference_endpoints WHERE name = 'e4'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(id, 4, "e3's id is not given again");
    let dangling = sqlx::query(
        "INSERT INTO gateway_endpoints (gateway_id, endpoint_id, position, weight, priority) VALUES (1, 99, 2, 1, 1)",
    )
    .execute(&mut conn)
    .await;
    assert!(dangling.is_err(), "the links still refer to the endpoints");
    let still_used = sqlx::query("DELETE FROM inference_endpoints WHERE id = 1")
        .execute(&mut conn)
        .await;
    assert!(still_used.is_err(), "an endpoint a gateway uses cannot be deleted");
    store.close().await;
}
