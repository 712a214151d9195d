-- Composite models (issue #21): a model name of a gateway that stands for several. Members are
-- a JSON list of {category, target, share}: targets are names (an endpoint of the gateway, a
-- model it serves, another composite of it), resolved when the snapshot routes a request, so
-- renaming or unlinking an endpoint leaves a member that routes nowhere rather than a dangling
-- id. A request's variant (the member that served it, by category) goes to its log row.
CREATE TABLE composite_models (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway_id  INTEGER NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    members     TEXT    NOT NULL,
    sticky      INTEGER NOT NULL DEFAULT 0,
    mode        TEXT    NOT NULL DEFAULT 'waitforall',
    judge       TEXT,
    rubric      TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (gateway_id, name)
);
CREATE TRIGGER composite_models_insert_bumps_revision AFTER INSERT ON composite_models
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER composite_models_update_bumps_revision AFTER UPDATE ON composite_models
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER composite_models_delete_bumps_revision AFTER DELETE ON composite_models
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
ALTER TABLE request_logs ADD COLUMN variant TEXT;
-- A `multi` composite's member calls are attempts of its request: each names its member and cost.
ALTER TABLE request_attempts ADD COLUMN variant TEXT;
ALTER TABLE request_attempts ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;
-- Feedback on a request (`POST /v1/feedback`), by the key that made it: the latest score kept.
CREATE TABLE request_feedback (
    request_id  TEXT    PRIMARY KEY,
    key_id      INTEGER NOT NULL,
    score       REAL    NOT NULL,
    created_at  INTEGER NOT NULL
);
