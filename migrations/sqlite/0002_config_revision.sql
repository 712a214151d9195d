-- Every change to the routing configuration bumps one revision number, in the same
-- transaction, through triggers (so no write path can forget). Running servers poll the number
-- and reload their in-memory snapshot when it moves (issue #3: a change made by the CLI or by
-- another process reaches a running server within about a second).
CREATE TABLE config_revision (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    revision  INTEGER NOT NULL
);
INSERT INTO config_revision (id, revision) VALUES (1, 0);
CREATE TRIGGER inference_endpoints_insert_bumps_revision AFTER INSERT ON inference_endpoints
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER inference_endpoints_update_bumps_revision AFTER UPDATE ON inference_endpoints
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER inference_endpoints_delete_bumps_revision AFTER DELETE ON inference_endpoints
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER gateways_insert_bumps_revision AFTER INSERT ON gateways
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER gateways_update_bumps_revision AFTER UPDATE ON gateways
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER gateways_delete_bumps_revision AFTER DELETE ON gateways
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER gateway_endpoints_insert_bumps_revision AFTER INSERT ON gateway_endpoints
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER gateway_endpoints_update_bumps_revision AFTER UPDATE ON gateway_endpoints
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER gateway_endpoints_delete_bumps_revision AFTER DELETE ON gateway_endpoints
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER gateway_keys_insert_bumps_revision AFTER INSERT ON gateway_keys
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER gateway_keys_update_bumps_revision AFTER UPDATE ON gateway_keys
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER gateway_keys_delete_bumps_revision AFTER DELETE ON gateway_keys
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER limits_insert_bumps_revision AFTER INSERT ON limits
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER limits_update_bumps_revision AFTER UPDATE ON limits
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
CREATE TRIGGER limits_delete_bumps_revision AFTER DELETE ON limits
BEGIN UPDATE config_revision SET revision = revision + 1 WHERE id = 1; END;
