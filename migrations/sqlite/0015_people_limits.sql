-- Limits for the people behind a gateway's requests (issue #23): one JSON object,
-- `app::types::PeopleLimits` (each end user's limits, the group rule and each group's limits,
-- the cap on one request's tokens). The gateway's own limits are the total of all its users.
ALTER TABLE gateways ADD COLUMN people_limits TEXT NOT NULL DEFAULT '{}';
-- A key that may name the end user it calls for (`x-mgw-user`, or the body's `user`)
-- without the user's token: for server-side applications that authenticate people themselves.
ALTER TABLE gateway_keys ADD COLUMN may_assert_users INTEGER NOT NULL DEFAULT 0;
-- The group key the gateway's group rule gave the request's end user (NULL: none).
ALTER TABLE request_logs ADD COLUMN end_user_group TEXT;
-- Usage by end user over a range (the dashboard's top users, GraphQL `usage(user:)`).
CREATE INDEX request_logs_end_user ON request_logs (end_user, created_at) WHERE end_user IS NOT NULL;
-- Counters for end users and their groups too (ids: `store::person_id`). SQLite cannot change
-- a CHECK constraint: the table is made again with the wider one.
CREATE TABLE usage_counters_new (
    scope              TEXT    NOT NULL CHECK (scope IN ('gateway', 'key', 'end_user', 'user_group')),
    scope_id           INTEGER NOT NULL,
    period             TEXT    NOT NULL CHECK (period IN ('minute', 'hour', 'day', 'month', 'total')),
    window_start       INTEGER NOT NULL,             -- 0 for 'total'
    requests           INTEGER NOT NULL DEFAULT 0,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    cost_micros        INTEGER NOT NULL DEFAULT 0,
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (scope, scope_id, period, window_start)
);
INSERT INTO usage_counters_new SELECT scope, scope_id, period, window_start, requests, prompt_tokens,
    completion_tokens, cost_micros, updated_at FROM usage_counters;
DROP TABLE usage_counters;
ALTER TABLE usage_counters_new RENAME TO usage_counters;
