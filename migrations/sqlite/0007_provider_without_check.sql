-- A provider kind is one row of facts in the code (app::types::ProviderSpec) and one adapter
-- (issue #17): adding one must not need a migration, so the column loses its CHECK; reads
-- validate the name. SQLite cannot drop a constraint, so the table is rebuilt: inside the
-- migration's transaction, where foreign keys stay on, so the links that refer to it are set
-- aside first (dropping a table still referred to fails its ON DELETE RESTRICT) and put back
-- after. The id sequence is kept, so the id of a deleted endpoint (still named by request
-- logs) is never given to a new one; the revision triggers are made again.
CREATE TEMP TABLE endpoint_sequence AS
    SELECT seq FROM sqlite_sequence WHERE name = 'inference_endpoints';
CREATE TEMP TABLE endpoint_links AS SELECT * FROM gateway_endpoints;
DELETE FROM gateway_endpoints;
CREATE TABLE inference_endpoints_new (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    name                   TEXT    NOT NULL UNIQUE,
    provider               TEXT    NOT NULL,
    base_url               TEXT    NOT NULL,
    credential_ciphertext  BLOB,                     -- AEAD nonce || ciphertext under the master key
    model                  TEXT    NOT NULL,
    deployment             TEXT,                     -- Azure
    api_version            TEXT,                     -- Azure
    region                 TEXT,
    rpm_limit              INTEGER,
    tpm_limit              INTEGER,
    connect_timeout_ms     INTEGER,
    first_byte_timeout_ms  INTEGER,
    idle_timeout_ms        INTEGER,
    total_timeout_ms       INTEGER,
    enabled                INTEGER NOT NULL DEFAULT 1,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);
INSERT INTO inference_endpoints_new
    (id, name, provider, base_url, credential_ciphertext, model, deployment, api_version, region, rpm_limit,
     tpm_limit, connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms, total_timeout_ms, enabled,
     created_at, updated_at)
    SELECT id, name, provider, base_url, credential_ciphertext, model, deployment, api_version, region, rpm_limit,
     tpm_limit, connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms, total_timeout_ms, enabled,
     created_at, updated_at
    FROM inference_endpoints;
DROP TABLE inference_endpoints;
ALTER TABLE inference_endpoints_new RENAME TO inference_endpoints;
INSERT INTO gateway_endpoints SELECT * FROM temp.endpoint_links;
DROP TABLE temp.endpoint_links;
-- The copy made a sequence row only if it copied a row: put the larger of the two back.
INSERT INTO temp.endpoint_sequence SELECT seq FROM sqlite_sequence WHERE name = 'inference_endpoints';
DELETE FROM sqlite_sequence WHERE name = 'inference_endpoints';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'inference_endpoints', MAX(seq) FROM temp.endpoint_sequence HAVING COUNT(*) > 0;
DROP TABLE temp.endpoint_sequence;
CREATE TRIGGER inference_endpoints_insert_bumps_revision AFTER INSERT ON inference_endpoints
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER inference_endpoints_update_bumps_revision AFTER UPDATE ON inference_endpoints
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER inference_endpoints_delete_bumps_revision AFTER DELETE ON inference_endpoints
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
