-- Model Gateway schema, SQLite dialect. Keep in step with ../postgres/0001_initial.sql:
-- the same tables, columns and indexes; only the types and identity syntax differ.
--
-- Conventions (both backends): ids are 64-bit integers; timestamps are Unix milliseconds
-- (INTEGER); flags are 0/1 integers; money is integer micro-units of the price currency
-- (cost_micros); ids are never reused (AUTOINCREMENT here, identity columns on Postgres);
-- secrets are stored hashed (sessions, tokens, keys) or encrypted (provider
-- credentials), never in clear.

-- Admin users sign in to the console and the management API.
CREATE TABLE admin_users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    email          TEXT    NOT NULL UNIQUE,          -- lower-cased
    password_hash  TEXT    NOT NULL,                 -- argon2id PHC string
    role           TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    last_login_at  INTEGER
);

-- Console sessions. The cookie carries a random token; only its SHA-256 is stored.
CREATE TABLE admin_sessions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash     TEXT    NOT NULL UNIQUE,
    admin_user_id  INTEGER NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL                   -- absolute expiry; idle expiry uses last_seen_at
);
CREATE INDEX admin_sessions_admin_user ON admin_sessions (admin_user_id);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

-- Admin API tokens for automation (Bearer on /graphql), shown once, stored hashed.
CREATE TABLE admin_api_tokens (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_user_id  INTEGER NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    public_id      TEXT    NOT NULL UNIQUE,          -- shown in lists and logs
    token_hash     TEXT    NOT NULL,
    role           TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    expires_at     INTEGER,
    revoked_at     INTEGER
);

-- Upstreams that serve inference requests.
CREATE TABLE inference_endpoints (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    name                   TEXT    NOT NULL UNIQUE,
    provider               TEXT    NOT NULL CHECK (provider IN ('openai', 'azure_openai', 'anthropic', 'ollama', 'openai_compatible')),
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

-- Named proxies over an ordered list of endpoints; the gateway key selects the gateway.
CREATE TABLE gateways (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT    NOT NULL UNIQUE,
    description         TEXT    NOT NULL DEFAULT '',
    strategy            TEXT    NOT NULL DEFAULT 'priority',
    retry_max_attempts  INTEGER NOT NULL DEFAULT 3,
    retry_base_ms       INTEGER NOT NULL DEFAULT 100,
    retry_cap_ms        INTEGER NOT NULL DEFAULT 2000,
    deadline_ms         INTEGER,
    log_metadata        INTEGER NOT NULL DEFAULT 1,
    log_payloads        INTEGER NOT NULL DEFAULT 0,
    model_aliases       TEXT    NOT NULL DEFAULT '{}', -- JSON object: alias -> model
    sticky_header       TEXT,
    enabled             INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

-- Which endpoints a gateway routes to, in what order, with what weight and priority.
CREATE TABLE gateway_endpoints (
    gateway_id   INTEGER NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
    endpoint_id  INTEGER NOT NULL REFERENCES inference_endpoints(id) ON DELETE RESTRICT,
    position     INTEGER NOT NULL,
    weight       INTEGER NOT NULL DEFAULT 1 CHECK (weight >= 0),
    priority     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (gateway_id, endpoint_id)
);
CREATE INDEX gateway_endpoints_endpoint ON gateway_endpoints (endpoint_id);

-- Credentials applications send. Stored as a keyed hash (HMAC-SHA256) of the secret part.
CREATE TABLE gateway_keys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway_id      INTEGER NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
    parent_id       INTEGER REFERENCES gateway_keys(id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    public_id       TEXT    NOT NULL UNIQUE,         -- the key id embedded in the key
    secret_hash     TEXT    NOT NULL,
    masked          TEXT    NOT NULL,                -- e.g. mgw_ab12…wxyz, for display
    allowed_models  TEXT,                            -- JSON array; NULL = all
    expires_at      INTEGER,
    enabled         INTEGER NOT NULL DEFAULT 1,
    revoked_at      INTEGER,
    rotated_from    INTEGER REFERENCES gateway_keys(id) ON DELETE SET NULL,
    grace_until     INTEGER,                         -- a rotated-out key stays valid until then
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX gateway_keys_gateway ON gateway_keys (gateway_id);
CREATE INDEX gateway_keys_parent ON gateway_keys (parent_id);

-- Limits on a gateway or on a key: one row per (metric, period).
CREATE TABLE limits (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway_id  INTEGER REFERENCES gateways(id) ON DELETE CASCADE,
    key_id      INTEGER REFERENCES gateway_keys(id) ON DELETE CASCADE,
    metric      TEXT    NOT NULL CHECK (metric IN ('requests', 'tokens', 'cost_micros', 'concurrency')),
    period      TEXT    NOT NULL CHECK (period IN ('minute', 'hour', 'day', 'month', 'total')),
    max_value   INTEGER NOT NULL CHECK (max_value >= 0),
    CHECK ((gateway_id IS NULL) <> (key_id IS NULL))
);
CREATE UNIQUE INDEX limits_gateway ON limits (gateway_id, metric, period) WHERE gateway_id IS NOT NULL;
CREATE UNIQUE INDEX limits_key ON limits (key_id, metric, period) WHERE key_id IS NOT NULL;

-- Prices per model, per million tokens, in micro-units of the currency.
CREATE TABLE model_prices (
    model                 TEXT    PRIMARY KEY,
    input_per_mtok_micros  INTEGER NOT NULL CHECK (input_per_mtok_micros >= 0),
    output_per_mtok_micros INTEGER NOT NULL CHECK (output_per_mtok_micros >= 0),
    updated_at            INTEGER NOT NULL
);

-- Settled usage per scope ('gateway' or 'key') and window; written in batches.
CREATE TABLE usage_counters (
    scope              TEXT    NOT NULL CHECK (scope IN ('gateway', 'key')),
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

-- One row per settled request: makes settlement idempotent per request id.
CREATE TABLE usage_events (
    request_id         TEXT    PRIMARY KEY,
    gateway_id         INTEGER NOT NULL,
    key_id             INTEGER,
    prompt_tokens      INTEGER NOT NULL,
    completion_tokens  INTEGER NOT NULL,
    cost_micros        INTEGER NOT NULL,
    created_at         INTEGER NOT NULL
);
CREATE INDEX usage_events_key_time ON usage_events (key_id, created_at);

-- Hourly history for charts, per scope ('gateway', 'key', 'endpoint').
CREATE TABLE usage_hourly (
    scope              TEXT    NOT NULL CHECK (scope IN ('gateway', 'key', 'endpoint')),
    scope_id           INTEGER NOT NULL,
    hour_start         INTEGER NOT NULL,
    requests           INTEGER NOT NULL DEFAULT 0,
    errors             INTEGER NOT NULL DEFAULT 0,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    cost_micros        INTEGER NOT NULL DEFAULT 0,
    latency_ms_sum     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, scope_id, hour_start)
);

-- One row per inference request. No foreign keys: logs outlive the configuration they name.
CREATE TABLE request_logs (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id         TEXT    NOT NULL UNIQUE,
    created_at         INTEGER NOT NULL,
    gateway_id         INTEGER,
    key_id             INTEGER,
    endpoint_id        INTEGER,                      -- the endpoint that answered, if any
    api                TEXT    NOT NULL,             -- 'openai', 'azure' or 'anthropic' shape
    operation          TEXT    NOT NULL,             -- 'chat', 'completions', 'embeddings', 'messages'
    model              TEXT,
    stream             INTEGER NOT NULL DEFAULT 0,
    status             INTEGER NOT NULL,
    latency_ms         INTEGER NOT NULL,
    ttft_ms            INTEGER,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    cost_micros        INTEGER NOT NULL DEFAULT 0,
    error_class        TEXT,
    request_body       TEXT,                         -- only when the gateway logs payloads
    response_body      TEXT
);
CREATE INDEX request_logs_gateway_time ON request_logs (gateway_id, created_at);
CREATE INDEX request_logs_key_time ON request_logs (key_id, created_at);
CREATE INDEX request_logs_time ON request_logs (created_at);

-- One row per upstream attempt of a request.
CREATE TABLE request_attempts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    request_log_id     INTEGER NOT NULL REFERENCES request_logs(id) ON DELETE CASCADE,
    attempt            INTEGER NOT NULL,
    endpoint_id        INTEGER,
    started_at         INTEGER NOT NULL,
    status             INTEGER,
    latency_ms         INTEGER NOT NULL,
    ttft_ms            INTEGER,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    error_class        TEXT
);
CREATE INDEX request_attempts_log ON request_attempts (request_log_id);

-- Who changed what, when. Never a secret.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at   INTEGER NOT NULL,
    actor_kind   TEXT    NOT NULL CHECK (actor_kind IN ('admin', 'api_token', 'cli', 'system')),
    actor_id     INTEGER,
    actor_label  TEXT    NOT NULL,
    action       TEXT    NOT NULL,                   -- e.g. 'gateway.create'
    target_kind  TEXT,
    target_id    INTEGER,
    details      TEXT    NOT NULL DEFAULT '{}'       -- JSON
);
CREATE INDEX audit_log_time ON audit_log (created_at);
