-- Which way each administrative change came (issue #17): 'console', 'graphql' or 'cli'. The
-- details of an entry are the same whichever way; the way is recorded here, beside them.
-- Reads validate the value (no CHECK: a new way in should not need a migration).
ALTER TABLE audit_log ADD COLUMN via TEXT;
-- Entries written before: the console marked its own in the details; every other entry by an
-- admin or an admin API token came through GraphQL (the CLI recorded nothing then).
UPDATE audit_log SET via = CASE
    WHEN json_extract(details, '$.via') = 'console' THEN 'console'
    WHEN actor_kind IN ('admin', 'api_token') THEN 'graphql'
    END;
