-- Which way each administrative change came (issue #17): 'console', 'graphql' or 'cli'. The
-- details of an entry are the same whichever way; the way is recorded here, beside them.
-- Entries written before this migration have none. Reads validate the value (no CHECK: a new
-- way in should not need a migration).
ALTER TABLE audit_log ADD COLUMN via TEXT;
