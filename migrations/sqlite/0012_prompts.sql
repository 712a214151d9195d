-- Named prompts (issue #22): a name with immutable numbered versions and movable labels. A
-- version's template (messages with variables, default model and params, the parameters'
-- schema) is one JSON document, the shape of the CLI's template file. `gateways` is a JSON list
-- of the gateway ids that may use the prompt (empty: every gateway).
CREATE TABLE prompts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    description  TEXT    NOT NULL DEFAULT '',
    gateways     TEXT    NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE TABLE prompt_versions (
    prompt_id   INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    template    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (prompt_id, version)
);
CREATE TABLE prompt_labels (
    prompt_id   INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
    label       TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (prompt_id, label),
    FOREIGN KEY (prompt_id, version) REFERENCES prompt_versions(prompt_id, version)
);
CREATE TRIGGER prompts_insert_bumps_revision AFTER INSERT ON prompts
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER prompts_update_bumps_revision AFTER UPDATE ON prompts
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER prompts_delete_bumps_revision AFTER DELETE ON prompts
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER prompt_versions_insert_bumps_revision AFTER INSERT ON prompt_versions
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER prompt_labels_insert_bumps_revision AFTER INSERT ON prompt_labels
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER prompt_labels_update_bumps_revision AFTER UPDATE ON prompt_labels
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER prompt_labels_delete_bumps_revision AFTER DELETE ON prompt_labels
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
-- A request made from a prompt names it, its version and (when payloads are logged) its
-- parameters, as JSON.
ALTER TABLE request_logs ADD COLUMN prompt TEXT;
ALTER TABLE request_logs ADD COLUMN prompt_version INTEGER;
ALTER TABLE request_logs ADD COLUMN prompt_parameters TEXT;
