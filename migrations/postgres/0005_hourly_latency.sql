-- The hourly history's latency distribution (issue #7), so the dashboard draws percentiles
-- from aggregates instead of reading request logs (which retention deletes after 30 days).
-- Per scope ('gateway', 'key', 'endpoint') and hour: how many requests finished within each
-- bound, a request counting in the first bound it does not exceed. The bounds are the
-- gateway's fixed set (server/src/store/hourly.rs); 9223372036854775807 holds the rest.
CREATE TABLE usage_hourly_latency (
    scope       TEXT    NOT NULL CHECK (scope IN ('gateway', 'key', 'endpoint')),
    scope_id    BIGINT  NOT NULL,
    hour_start  BIGINT  NOT NULL,
    le_ms       BIGINT  NOT NULL,
    requests    BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, scope_id, hour_start, le_ms)
);
