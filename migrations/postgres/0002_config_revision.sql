-- Every change to the routing configuration bumps one revision number, in the same
-- transaction, through triggers (so no write path can forget). Running servers poll the number
-- and reload their in-memory snapshot when it moves (issue #3: a change made by the CLI or by
-- another process reaches a running server within about a second).
CREATE TABLE config_revision (
    id        BIGINT PRIMARY KEY CHECK (id = 1),
    revision  BIGINT NOT NULL
);
INSERT INTO config_revision (id, revision) VALUES (1, 0);

CREATE FUNCTION bump_config_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE config_revision SET revision = revision + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER inference_endpoints_bumps_revision AFTER INSERT OR UPDATE OR DELETE ON inference_endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_revision();
CREATE TRIGGER gateways_bumps_revision AFTER INSERT OR UPDATE OR DELETE ON gateways
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_revision();
CREATE TRIGGER gateway_endpoints_bumps_revision AFTER INSERT OR UPDATE OR DELETE ON gateway_endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_revision();
CREATE TRIGGER gateway_keys_bumps_revision AFTER INSERT OR UPDATE OR DELETE ON gateway_keys
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_revision();
CREATE TRIGGER limits_bumps_revision AFTER INSERT OR UPDATE OR DELETE ON limits
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_revision();
