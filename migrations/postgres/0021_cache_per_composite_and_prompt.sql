-- The response cache per composite model and per prompt (issue #24): their own settings, one
-- JSON object (`app::types::CacheSettings`) that a request naming them uses instead of its
-- gateway's; NULL: the gateway's.
ALTER TABLE composite_models ADD COLUMN cache TEXT;
ALTER TABLE prompts ADD COLUMN cache TEXT;
