//! The SQLite database holds password hashes, key HMACs and logged payloads (issue 18, item
//! 14): it, its WAL and its shared-memory file are readable by their owner only, like the key
//! files, whether the database is new or was made more open by an earlier version.

use crate::support::TestServer;
use std::os::unix::fs::PermissionsExt;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_database_and_its_wal_and_shm_files_are_private() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let data = server.dir.path().join("data");
    for name in ["model-gateway.db", "model-gateway.db-wal", "model-gateway.db-shm"] {
        let path = data.join(name);
        assert!(path.exists(), "{name} exists while serving");
        assert_eq!(mode(&path), 0o600, "{name}");
    }
    // A database an earlier version left readable by others is narrowed at the next start.
    let dir = server.stop().await;
    let data = dir.path().join("data");
    let db = data.join("model-gateway.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let restarted = TestServer::start_with(|config| config.data_dir = data.clone()).await;
    assert_eq!(mode(&db), 0o600);
    drop(restarted);
}
