-- External moderation (issue #24): a guardrail whose detector is `moderation` asks an
-- inference endpoint (OpenAI's `/v1/moderations` shape) about the request before it is
-- forwarded; `endpoint_id` names it (an endpoint a guardrail uses cannot be deleted), and
-- `fail_closed` says whether the request is refused when the endpoint cannot answer.
ALTER TABLE guardrails ADD COLUMN endpoint_id BIGINT REFERENCES inference_endpoints(id);
ALTER TABLE guardrails ADD COLUMN fail_closed BIGINT NOT NULL DEFAULT 0;
