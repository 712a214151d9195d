-- Vertex AI endpoints (issue #25) name the Google Cloud project their URLs carry; NULL for
-- every other kind.
ALTER TABLE inference_endpoints ADD COLUMN project TEXT;
