-- As on SQLite (see its 0003): attempts keyed by their request and number, and no time-only
-- index on request logs (ids grow with time). The two backends keep one logical schema.
DROP INDEX request_logs_time;
ALTER TABLE request_attempts DROP COLUMN id;
DROP INDEX request_attempts_log;
ALTER TABLE request_attempts ADD PRIMARY KEY (request_log_id, attempt);
