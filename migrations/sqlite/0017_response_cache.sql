-- The response cache (issue #24): a gateway's settings, one JSON object
-- (`app::types::CacheSettings`; `{}` is off); and whether a request was answered from the
-- cache ('hit'), or looked there first and went on to a provider ('miss').
ALTER TABLE gateways ADD COLUMN cache TEXT NOT NULL DEFAULT '{}';
ALTER TABLE request_logs ADD COLUMN cache TEXT;
