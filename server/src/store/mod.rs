//! The database: one [`Store`] over sqlx's `Any` driver with SQL that runs on SQLite and
//! Postgres alike. One file per aggregate; no policy decisions here.
//!
//! Invariant: on SQLite every write goes through a single connection (no `SQLITE_BUSY`),
//! with WAL, `synchronous=FULL`, foreign keys on and a busy timeout (RELIABILITY R7).
//! Invariant: values are portable: 64-bit integers, text, blobs; timestamps are Unix
//! milliseconds; flags are 0/1 integers.

mod admins;
mod composites;
mod endpoints;
mod feedback;
mod gateways;
mod guardrails;
mod hourly;
mod identity;
mod keys;
mod limits;
mod log_reads;
mod logs;
mod prompts;
mod registry;
mod retention;
mod stats;
mod tokens;
mod usage;

pub use admins::{AdminCredentials, NewSession, SessionRecord};
pub use composites::CompositeFields;
pub use endpoints::{CredentialChange, EndpointFields};
pub use feedback::Breakdown;
pub use gateways::{EndpointLink, GatewayFields};
pub use hourly::{HourlyKind, HourlyScope, Span, LATENCY_BOUNDS_MS, MINUTES_KEPT_MS};
pub use keys::{KeyFields, NewKeyRow};
pub use limits::{person_id, CounterRow, LimitOwner, LimitScope};
pub use log_reads::LogFilter;
pub use logs::Finished;
pub use registry::{ConfigNotices, Notice};
pub use tokens::{NewAudit, NewTokenRow, TokenRecord};

use crate::config::DatabaseConfig;
use sqlx::{
    any::{AnyPoolOptions, AnyRow},
    migrate::Migrator,
    AnyPool, Executor, Row,
};
use std::{sync::Once, time::Duration};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database the store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique value is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A row refers to one that does not exist, or is still referred to.
    #[error("reference: {0}")]
    Reference(String),
    #[error("database error: {0}")]
    Db(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_string()),
            // SQLite reports an `ON DELETE RESTRICT` violation as a trigger constraint (1811),
            // which sqlx does not classify; its message is the same as for other key failures.
            sqlx::Error::Database(db)
                if db.is_foreign_key_violation() || db.message().contains("FOREIGN KEY constraint failed") =>
            {
                StoreError::Reference(db.message().to_string())
            }
            _ => StoreError::Db(error),
        }
    }
}

/// The database handle shared by the whole process.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    /// Reads (and, on Postgres, everything).
    reader: AnyPool,
    /// Writes: one connection on SQLite, the reader pool on Postgres.
    writer: AnyPool,
    /// SQLite's database file and the identity (device, inode) it had when opened: a file
    /// deleted or replaced under the running process is written to no more.
    file: Option<(std::path::PathBuf, FileIdentity)>,
    /// On Postgres, the URL again, for the listener of configuration notices (it holds the
    /// password: never printed).
    listen_url: Option<std::sync::Arc<crate::secrets::Secret>>,
}

/// A file's device and inode.
type FileIdentity = (u64, u64);

fn identity(path: &std::path::Path) -> Option<FileIdentity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).ok().map(|_| (0, 0))
    }
}

/// The database file a `sqlite:` URL names; `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let memory = path.is_empty() || path == ":memory:" || query.split('&').any(|pair| pair == "mode=memory");
    (!memory).then(|| std::path::PathBuf::from(path))
}

/// Keeps the database and its WAL and shared-memory files readable by this user only: they hold
/// password hashes, key HMACs and logged payloads. A new database is created 0600 (SQLite gives
/// its WAL and SHM files the database's mode); an existing one open to others is narrowed.
fn private_files(path: &std::path::Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let io = |error: std::io::Error| {
            let error = std::io::Error::new(error.kind(), format!("{}: {error}", path.display()));
            StoreError::Db(sqlx::Error::Io(error))
        };
        if !path.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(io)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            let Ok(metadata) = std::fs::metadata(&file) else {
                continue;
            };
            if metadata.permissions().mode() & 0o077 != 0 {
                // Another user's file (a volume made by root, say) cannot be narrowed by us: say
                // so, and serve.
                if let Err(error) = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                    tracing::warn!(file = %file.display(), error = %error, "the database file is readable by others and cannot be made private");
                }
            }
        }
    }
    Ok(())
}

impl Store {
    /// Connects to `url` (`sqlite:…` or `postgres://…`). Does not run migrations.
    pub async fn connect(url: &str, config: &DatabaseConfig) -> Result<Store, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        if url.starts_with("sqlite:") {
            let file = sqlite_file(url);
            if let Some(path) = &file {
                private_files(path)?;
            }
            let busy_ms = config.busy_timeout.as_millis();
            let options = move || {
                AnyPoolOptions::new().after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        conn.execute(&*format!(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_ms}; \
                             PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 0; \
                             PRAGMA journal_size_limit = {WAL_LIMIT_BYTES};"
                        ))
                        .await?;
                        Ok(())
                    })
                })
            };
            // The writer connects first, so it creates the file and switches it to WAL.
            // The one writer is a queue: every change (with its audit entry) and every batch of
            // request logs takes its turn on it. Under a burst of changes a turn can take longer
            // than a reader's wait, and a change should wait for it rather than fail.
            let writer = options()
                .max_connections(1)
                .acquire_timeout(config.acquire_timeout.max(WRITER_QUEUE_WAIT))
                .connect(url)
                .await?;
            // Readers connect when first used, after the migrations: a connection opened before
            // them keeps the old shape of a table a migration altered, and a `SELECT *` on it
            // then reads the wrong number of columns.
            let reader = options()
                .max_connections(config.max_connections)
                .acquire_timeout(config.acquire_timeout)
                .connect_lazy(url)?;
            let file = file.and_then(|path| identity(&path).map(|id| (path, id)));
            Ok(Store {
                backend: Backend::Sqlite,
                reader,
                writer,
                file,
                listen_url: None,
            })
        } else {
            let pool = AnyPoolOptions::new()
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        // A stuck statement must not hold a connection forever.
                        conn.execute("SET statement_timeout = '30s'").await?;
                        Ok(())
                    })
                })
                .max_connections(config.max_connections)
                .acquire_timeout(config.acquire_timeout)
                .connect(url)
                .await?;
            Ok(Store {
                backend: Backend::Postgres,
                reader: pool.clone(),
                writer: pool,
                file: None,
                listen_url: Some(std::sync::Arc::new(crate::secrets::Secret::new(url.to_string()))),
            })
        }
    }

    /// Brings the schema up to date. Each migration runs in its own transaction.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.writer).await?;
        Ok(())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether SQLite's database file is still the one opened: `Err` says what happened to it
    /// (deleted, or replaced by another file) — the process then writes to a file no one can
    /// read again, so it must not say it is ready.
    pub fn file_intact(&self) -> Result<(), &'static str> {
        let Some((path, opened)) = &self.file else {
            return Ok(());
        };
        match identity(path) {
            None => Err("deleted"),
            Some(now) if now != *opened => Err("replaced"),
            Some(_) => Ok(()),
        }
    }

    /// Answers when the database does, for reads and for writes, within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), StoreError> {
        let both = async {
            sqlx::query("SELECT 1").fetch_one(&self.reader).await?;
            sqlx::query("SELECT 1").fetch_one(&self.writer).await
        };
        match tokio::time::timeout(timeout, both).await {
            Ok(result) => result.map(drop).map_err(StoreError::from),
            Err(_) => Err(StoreError::Db(sqlx::Error::PoolTimedOut)),
        }
    }

    /// SQLite: copies the write-ahead log into the database file without blocking the writer
    /// (`PASSIVE`), on a reader connection. Connections never checkpoint on their own
    /// (`wal_autocheckpoint = 0`): the automatic checkpoint runs inside the committing writer,
    /// and its fsync of the database file stalled the request-log writer for up to a second.
    /// A passive checkpoint cannot rewind the log while commits keep arriving, so past
    /// [`WAL_LIMIT_BYTES`] one `RESTART` checkpoint (which makes the writer wait) rewinds it.
    /// Postgres: nothing to do.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                let (_busy, frames, _copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&self.reader)
                    .await?;
                if frames.saturating_mul(WAL_FRAME_BYTES) > WAL_LIMIT_BYTES {
                    sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                        .execute(&self.reader)
                        .await?;
                }
            }
            Backend::Postgres => {}
        }
        Ok(())
    }

    /// Opens a write transaction: a change and its audit entry are made through it and
    /// committed together, or not at all (dropping it rolls back).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            tx: self.writer.begin().await?,
            backend: self.backend,
        })
    }

    /// Closes every connection (checkpointing SQLite's WAL).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// One write transaction (see [`Store::begin`]). Every change of the configuration, of the
/// admins and of the tokens is a method of it, so none can be made without the transaction
/// its audit entry is written in.
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
}

impl Tx {
    /// Makes every change of this transaction durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    /// The transaction's connection, for statements.
    fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// The least a change waits for SQLite's one writer connection.
const WRITER_QUEUE_WAIT: Duration = Duration::from_secs(30);

/// The size past which SQLite's write-ahead log is rewound (and its file truncated back to).
const WAL_LIMIT_BYTES: i64 = 64 * 1024 * 1024;
/// One WAL frame: a 4 KiB page and its header.
const WAL_FRAME_BYTES: i64 = 4096 + 24;

/// The current time in Unix milliseconds, the store's timestamp representation.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// A query on the `Any` driver, for helpers that bind a shared list of columns.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// `NotFound` when a statement that names one row by id touched none.
fn found(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Reads a composite's or a prompt's own response cache settings (issue #24): a JSON object,
/// or NULL for its gateway's.
fn own_cache(row: &AnyRow) -> Result<Option<app::types::CacheSettings>, sqlx::Error> {
    let cache: Option<String> = row.try_get("cache")?;
    (cache.as_deref())
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| sqlx::Error::Decode(format!("cache: {e}").into()))
}

/// A composite's or a prompt's own response cache settings as stored (NULL: its gateway's).
fn own_cache_json(cache: Option<&app::types::CacheSettings>) -> Option<String> {
    cache.map(|cache| serde_json::to_string(cache).unwrap_or_else(|_| "{}".into()))
}

/// Reads a 0/1 flag column.
fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}
