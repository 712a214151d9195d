-- The last day's history by the minute (issue #19): the dashboard's last hour and last 6
-- hours. The same figures as usage_hourly and usage_hourly_latency, per minute; the log writer
-- adds to them in the same transaction, and retention deletes minutes older than a day.
CREATE TABLE usage_minutely (
    scope              TEXT    NOT NULL CHECK (scope IN ('gateway', 'key', 'endpoint')),
    scope_id           INTEGER NOT NULL,
    minute_start       INTEGER NOT NULL,
    requests           INTEGER NOT NULL DEFAULT 0,
    errors             INTEGER NOT NULL DEFAULT 0,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    cost_micros        INTEGER NOT NULL DEFAULT 0,
    latency_ms_sum     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, scope_id, minute_start)
) WITHOUT ROWID;

CREATE TABLE usage_minutely_latency (
    scope         TEXT    NOT NULL CHECK (scope IN ('gateway', 'key', 'endpoint')),
    scope_id      INTEGER NOT NULL,
    minute_start  INTEGER NOT NULL,
    le_ms         INTEGER NOT NULL,
    requests      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, scope_id, minute_start, le_ms)
) WITHOUT ROWID;

-- Retention deletes by time across scopes.
CREATE INDEX usage_minutely_time ON usage_minutely (minute_start);
CREATE INDEX usage_minutely_latency_time ON usage_minutely_latency (minute_start);
