//! The schema on both databases: the migrations (every table, run again, a new provider kind
//! without one), foreign keys and checks; on SQLite, WAL mode, checkpoints only when asked, and
//! the query plans of retention and history reads.

use super::{raw, TestDb};
use app::types::AdminRole;
use server::store::{Backend, NewSession};
use sqlx::Row;

store_suite!(
    migrations_create_every_table_empty,
    migrations_run_again_without_change,
    a_new_provider_kind_needs_no_migration,
    foreign_keys_are_enforced,
    schema_enforces_its_checks,
);

/// Every table of the SPEC §2 data model.
const TABLES: [&str; 16] = [
    "admin_users",
    "admin_sessions",
    "admin_api_tokens",
    "inference_endpoints",
    "gateways",
    "gateway_endpoints",
    "gateway_keys",
    "limits",
    "model_prices",
    "usage_counters",
    "usage_events",
    "usage_hourly",
    "usage_hourly_latency",
    "request_logs",
    "request_attempts",
    "audit_log",
];

async fn migrations_create_every_table_empty(db: &TestDb) {
    for table in TABLES {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut raw(db).await)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        // Prices ship with defaults (migration 0004).
        let expected = if table == "model_prices" { 19 } else { 0 };
        assert_eq!(rows, expected, "{table}");
    }
}

async fn migrations_run_again_without_change(db: &TestDb) {
    let revision = db.store.config_revision().await.unwrap();
    db.store.migrate().await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut raw(db).await)
        .await
        .unwrap();
    let backend = match db.store.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/").to_string() + backend;
    let files = std::fs::read_dir(dir)
        .unwrap()
        .filter(|f| f.as_ref().unwrap().path().extension() == Some("sql".as_ref()))
        .count();
    assert_eq!(applied, i64::try_from(files).unwrap(), "every migration applied once");
    assert_eq!(db.store.config_revision().await.unwrap(), revision);
}

/// The provider column has no CHECK (issue #17: a provider is one row of facts in the code):
/// a name the code does not know yet is stored, and reading it is what refuses it; the
/// rebuilt SQLite table still bumps the revision and keeps its foreign keys.
async fn a_new_provider_kind_needs_no_migration(db: &TestDb) {
    let revision = db.store.config_revision().await.unwrap();
    sqlx::query(
        "INSERT INTO inference_endpoints (name, provider, base_url, model, created_at, updated_at) \
         VALUES ('next', 'a_provider_of_tomorrow', 'http://127.0.0.1:9', 'm', 1, 1)",
    )
    .execute(&mut raw(db).await)
    .await
    .unwrap();
    assert!(
        db.store.config_revision().await.unwrap() > revision,
        "the trigger still bumps it"
    );
    let read = db.store.endpoints().await.unwrap_err().to_string();
    assert!(read.contains("unknown provider"), "{read}");
    let orphan = sqlx::query("INSERT INTO gateway_endpoints (gateway_id, endpoint_id, position, weight, priority) VALUES (999, 999, 0, 1, 1)")
        .execute(&mut raw(db).await)
        .await;
    assert!(orphan.is_err(), "foreign keys still hold");
}

async fn foreign_keys_are_enforced(db: &TestDb) {
    let orphan = NewSession {
        token_hash: "orphan",
        admin_user_id: app::types::AdminUserId(999),
        now: 0,
        expires_at: 1,
    };
    assert!(
        tx!(db.store, insert_session(orphan)).is_err(),
        "a session needs an existing admin"
    );
    // Deleting an admin cascades to the sessions.
    let user = tx!(db.store, insert_admin("fk@example.com", "h", AdminRole::Admin, 0)).unwrap();
    tx!(
        db.store,
        insert_session(NewSession {
            token_hash: "t",
            admin_user_id: user.id,
            now: 0,
            expires_at: 1,
        })
    )
    .unwrap();
    sqlx::query("DELETE FROM admin_users WHERE id = $1")
        .bind(user.id.0)
        .execute(&mut raw(db).await)
        .await
        .unwrap();
    assert!(db.store.session("t").await.unwrap().is_none());
}

/// (The provider of an endpoint is not among them: `a_new_provider_kind_needs_no_migration`.)
async fn schema_enforces_its_checks(db: &TestDb) {
    let mut conn = raw(db).await;
    for bad in [
        "INSERT INTO admin_users (email, password_hash, role, created_at, updated_at) VALUES ('r@x.io', 'h', 'root', 0, 0)",
        "INSERT INTO limits (metric, period, max_value) VALUES ('requests', 'minute', 10)",
    ] {
        assert!(sqlx::query(bad).execute(&mut conn).await.is_err(), "accepted: {bad}");
    }
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_full_sync() {
    let db = TestDb::sqlite().await;
    assert_eq!(db.store.backend(), Backend::Sqlite);
    let mut conn = raw(&db).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    db.finish().await;
}

/// The store's own connections never checkpoint on commit (the writer must not stall on the
/// database file's fsync); `Store::checkpoint` copies the whole log, from a reader.
#[tokio::test]
async fn sqlite_checkpoints_only_when_asked() {
    use app::types::RequestLog;
    let db = TestDb::sqlite().await;
    let logs: Vec<RequestLog> = (0..3000)
        .map(|i| RequestLog {
            request_id: format!("wal-{i:05}"),
            api: "openai".into(),
            operation: "chat".into(),
            response_body: Some("x".repeat(2000)),
            ..RequestLog::default()
        })
        .collect();
    for chunk in logs.chunks(300) {
        db.store.insert_request_logs(chunk).await.unwrap();
    }
    // Sizes on disk: a look that checkpoints nothing (any `wal_checkpoint` call would).
    let path = db
        .url
        .trim_start_matches("sqlite://")
        .trim_end_matches("?mode=rwc")
        .to_string();
    let size = |suffix: &str| std::fs::metadata(format!("{path}{suffix}")).unwrap().len();
    let page = 4096 + 24;
    assert!(
        size("-wal") > 2_000 * page,
        "the log kept every commit (the default checkpoints at 1,000 pages): {} bytes",
        size("-wal")
    );
    let before = size("");
    db.store.checkpoint().await.unwrap();
    assert!(
        size("") > before + 1_000 * 4096,
        "copied into the database: {before} → {}",
        size("")
    );
    db.finish().await;
}

/// RELIABILITY L-05's `EXPLAIN`: retention and the dashboard's hourly reads go through keys —
/// no statement scans a table that grows with traffic (the latency side is `bench/run.sh -L`).
#[tokio::test]
async fn l05_retention_and_history_reads_use_their_keys() {
    let db = TestDb::sqlite().await;
    let mut conn = raw(&db).await;
    let searches = [
        "DELETE FROM request_logs WHERE id <= 5",
        "DELETE FROM request_attempts WHERE request_log_id = 5",
        "DELETE FROM usage_events WHERE request_id IN \
         (SELECT request_id FROM usage_events WHERE request_id < '0190' ORDER BY request_id LIMIT 5)",
        "SELECT * FROM usage_hourly WHERE scope = 'gateway' AND scope_id = 1 \
         AND hour_start >= 0 AND hour_start < 10 ORDER BY hour_start",
        "SELECT * FROM usage_hourly_latency WHERE scope = 'gateway' AND scope_id = 1 \
         AND hour_start >= 0 AND hour_start < 10 ORDER BY hour_start, le_ms",
        "SELECT * FROM request_logs WHERE request_id = 'x'",
    ];
    for sql in searches {
        let plan = plan(&mut conn, sql).await;
        assert!(
            plan.contains("SEARCH") && !plan.contains("SCAN") && !plan.contains("TEMP B-TREE"),
            "{sql}: {plan}"
        );
    }
    // The oldest logs are read in id order, stopping at the limit: no sort.
    let oldest = plan(
        &mut conn,
        "SELECT id, created_at FROM request_logs ORDER BY id LIMIT 1000",
    )
    .await;
    assert!(!oldest.contains("TEMP B-TREE"), "{oldest}");
    db.finish().await;
}

/// SQLite's query plan for `sql`, its steps joined by " | ".
async fn plan(conn: &mut sqlx::AnyConnection, sql: &str) -> String {
    let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
        .fetch_all(conn)
        .await
        .unwrap();
    let steps: Vec<String> = rows.iter().map(|row| row.try_get("detail").unwrap()).collect();
    steps.join(" | ")
}
