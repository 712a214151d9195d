-- The response cache in the dashboard's history (issue #24): per hour and per minute, how many
-- requests the cache answered (`cache_hits`), how many looked there and went on to a provider
-- (`cache_misses`), and what the hits saved (`saved_micros`: the kept answers' cost).
ALTER TABLE usage_hourly ADD COLUMN cache_hits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN cache_misses INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN saved_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_minutely ADD COLUMN cache_hits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_minutely ADD COLUMN cache_misses INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_minutely ADD COLUMN saved_micros INTEGER NOT NULL DEFAULT 0;
