-- End users (issue #23): the identity providers whose tokens a gateway accepts (`keys` is one
-- JSON object, `app::types::KeySource`; an HS256 secret is never stored, only the name of the
-- environment variable holding it), which ways in a gateway accepts, its access rule, and the
-- end user each request was made for.
CREATE TABLE identity_providers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway_id       INTEGER NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
    issuer           TEXT    NOT NULL,
    audiences        TEXT    NOT NULL DEFAULT '[]',
    keys             TEXT    NOT NULL,
    algorithms       TEXT    NOT NULL DEFAULT '[]',
    leeway_s         INTEGER NOT NULL DEFAULT 60,
    required_claims  TEXT    NOT NULL DEFAULT '[]',
    created_at       INTEGER NOT NULL,
    UNIQUE (gateway_id, issuer)
);
CREATE TRIGGER identity_providers_insert_bumps_revision AFTER INSERT ON identity_providers
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER identity_providers_update_bumps_revision AFTER UPDATE ON identity_providers
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER identity_providers_delete_bumps_revision AFTER DELETE ON identity_providers
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
-- `key` (gateway keys only), `jwt` (end users' tokens only) or `both`.
ALTER TABLE gateways ADD COLUMN auth_mode TEXT NOT NULL DEFAULT 'key';
-- A CEL expression every request must satisfy (compiled when written); NULL: none.
ALTER TABLE gateways ADD COLUMN access_rule TEXT;
ALTER TABLE request_logs ADD COLUMN end_user TEXT;
