-- Guardrails (issue #24): what each gateway looks for in requests and answers, and what it
-- does on finding it. `detector` is written as the CLI writes it (`email`, `regex:PATTERN`,
-- `words:a,b`; a pattern is compiled before it is stored); `action` is redact, restore, block
-- or flag; `direction` request, response or both. And what a request's guardrails found.
CREATE TABLE guardrails (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway_id  INTEGER NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
    detector    TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    direction   TEXT    NOT NULL,
    logs_only   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX guardrails_gateway ON guardrails (gateway_id);
CREATE TRIGGER guardrails_insert_bumps_revision AFTER INSERT ON guardrails
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER guardrails_update_bumps_revision AFTER UPDATE ON guardrails
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER guardrails_delete_bumps_revision AFTER DELETE ON guardrails
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
ALTER TABLE request_logs ADD COLUMN guardrails TEXT;
