-- A provider kind is one row of facts in the code (app::types::ProviderSpec) and one adapter
-- (issue #17): adding one must not need a migration, so the column loses its CHECK; reads
-- validate the name.
ALTER TABLE inference_endpoints DROP CONSTRAINT IF EXISTS inference_endpoints_provider_check;
