-- Running servers are told of each configuration change when it commits (issue #20): the
-- trigger that bumps the revision also notifies the channel `mgw_config` with the new revision
-- (Postgres delivers a notice at commit, to every session listening). Servers still poll the
-- revision, as the fallback for a listener that lost its connection.
CREATE OR REPLACE FUNCTION bump_config_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bumped BIGINT;
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision INTO bumped;
    PERFORM pg_notify('mgw_config', bumped::text);
    RETURN NULL;
END
$$;
