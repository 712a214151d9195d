-- Access rules (issue #23) on a gateway's models as clients name them (a model, an alias or a
-- composite model): a JSON array of `app::types::ModelRule`; and on named prompts.
ALTER TABLE gateways ADD COLUMN model_rules TEXT NOT NULL DEFAULT '[]';
ALTER TABLE prompts ADD COLUMN access_rule TEXT;
