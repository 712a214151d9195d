-- Request logs are written at request rate, and SQLite runs in the gateway's process: every
-- B-tree a row touches is paid for on the request path's core (bench/logwriter: 10 → 7 µs of
-- CPU per request). So:
-- * attempts are keyed by their request and number: one B-tree, instead of a rowid table plus
--   an index on the request;
-- * the time-only index goes: ids grow with time, so retention and "newest first" read by id
--   (the gateway and key indexes stay, with their time column).
DROP INDEX request_logs_time;

CREATE TABLE request_attempts_keyed (
    request_log_id     INTEGER NOT NULL REFERENCES request_logs(id) ON DELETE CASCADE,
    attempt            INTEGER NOT NULL,
    endpoint_id        INTEGER,
    started_at         INTEGER NOT NULL,
    status             INTEGER,
    latency_ms         INTEGER NOT NULL,
    ttft_ms            INTEGER,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    error_class        TEXT,
    PRIMARY KEY (request_log_id, attempt)
) WITHOUT ROWID;
INSERT INTO request_attempts_keyed (request_log_id, attempt, endpoint_id, started_at, status,
    latency_ms, ttft_ms, prompt_tokens, completion_tokens, error_class)
SELECT request_log_id, attempt, endpoint_id, started_at, status,
    latency_ms, ttft_ms, prompt_tokens, completion_tokens, error_class
FROM request_attempts;
DROP TABLE request_attempts;
ALTER TABLE request_attempts_keyed RENAME TO request_attempts;
