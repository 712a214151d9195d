-- Issue #4: default prices, and price changes announced like other configuration changes
-- (the registry serves prices to the request path). Prices are per million tokens, in
-- micro-units of the currency (US dollars for these defaults, the providers' list prices for
-- standard, non-batch use; Azure OpenAI deployments are priced by their model's name). Edit
-- them with `model-gateway price set`; `updated_at` 0 marks a shipped default.
INSERT INTO model_prices (model, input_per_mtok_micros, output_per_mtok_micros, updated_at) VALUES
    ('gpt-4o',                    2500000, 10000000, 0),
    ('gpt-4o-mini',                150000,   600000, 0),
    ('gpt-4.1',                   2000000,  8000000, 0),
    ('gpt-4.1-mini',               400000,  1600000, 0),
    ('gpt-4.1-nano',               100000,   400000, 0),
    ('o3',                        2000000,  8000000, 0),
    ('o3-mini',                   1100000,  4400000, 0),
    ('o4-mini',                   1100000,  4400000, 0),
    ('gpt-4-turbo',              10000000, 30000000, 0),
    ('gpt-3.5-turbo',              500000,  1500000, 0),
    ('text-embedding-3-small',      20000,        0, 0),
    ('text-embedding-3-large',     130000,        0, 0),
    ('text-embedding-ada-002',     100000,        0, 0),
    ('claude-opus-4-0',          15000000, 75000000, 0),
    ('claude-sonnet-4-0',         3000000, 15000000, 0),
    ('claude-3-7-sonnet-latest',  3000000, 15000000, 0),
    ('claude-3-5-sonnet-latest',  3000000, 15000000, 0),
    ('claude-3-5-haiku-latest',    800000,  4000000, 0),
    ('claude-3-haiku-20240307',    250000,  1250000, 0);

CREATE TRIGGER model_prices_bumps_revision AFTER INSERT OR UPDATE OR DELETE ON model_prices
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_revision();

-- A key's counted usage was reset then: servers zero their in-memory counters for it.
ALTER TABLE gateway_keys ADD COLUMN usage_reset_at BIGINT;
