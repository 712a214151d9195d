-- A gateway's parameter policy (issue #22): defaults, overrides, bounds and refused fields,
-- applied to every request's body before it is admitted; one JSON object
-- (`app::types::ParamPolicy`).
ALTER TABLE gateways ADD COLUMN param_policy TEXT NOT NULL DEFAULT '{}';
