//! Vertex AI's Gemini models as an upstream (issue #25): Gemini's bodies, answers, streams and
//! errors (`gemini`), at a project's and region's publisher-model URLs, with an access token
//! (the service account's, exchanged by `proxy::token`) as the bearer. Embeddings are Vertex's
//! own `:predict`.
//!
//! Invariant: the project and the region come from the endpoint, never from the request.

use super::{gemini, join, Answer, Call, Invalid, Operation, Outbound, UpstreamError};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The region used when an endpoint names none: Google's global endpoint.
pub const GLOBAL: &str = "global";

/// Vertex AI: Gemini's dialect at Google Cloud's addresses.
pub struct Vertex;

use gemini::TOKENS_REFUSED;

impl super::Adapter for Vertex {
    fn supports(&self, operation: Operation) -> bool {
        matches!(operation, Operation::Chat | Operation::Embeddings)
    }

    fn refuses(
        &self,
        _endpoint: &app::types::InferenceEndpoint,
        operation: Operation,
        body: &Map<String, Value>,
    ) -> Option<(&'static str, &'static str)> {
        super::embeds_tokens(operation, body).then_some(("input", TOKENS_REFUSED))
    }

    fn request(&self, call: &Call<'_>) -> Outbound {
        let endpoint = call.endpoint;
        let project = endpoint.project.as_deref().unwrap_or_default();
        let region = endpoint.region.as_deref().unwrap_or(GLOBAL);
        let model = endpoint.model.strip_prefix("models/").unwrap_or(&endpoint.model);
        let method = match call.operation {
            Operation::Embeddings => format!("models/{}:predict", super::path_segment(model)),
            Operation::Chat | Operation::Completions | Operation::Responses => {
                gemini::path(model, call.operation, call.stream)
            }
        };
        let path = format!(
            "projects/{}/locations/{}/publishers/google/{method}",
            super::path_segment(project),
            super::path_segment(region)
        );
        let mut headers = Vec::new();
        if let Some(token) = call.credential {
            headers.push(("authorization", format!("Bearer {token}")));
        }
        let body = match call.operation {
            Operation::Embeddings => predict_request(call.body),
            Operation::Chat | Operation::Completions | Operation::Responses => gemini::generate_request(call.body),
        };
        Outbound {
            url: join(&endpoint.base_url, &path),
            headers,
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }

    fn answer(&self, operation: Operation, bytes: bytes::Bytes, stamp: &super::Stamp) -> Result<Answer, Invalid> {
        match operation {
            Operation::Embeddings => predict_answer(&bytes),
            Operation::Chat | Operation::Completions | Operation::Responses => gemini::answer(&bytes, stamp),
        }
    }

    fn stream_decoder(&self, _operation: Operation, stamp: &super::Stamp) -> super::StreamDecoder {
        super::StreamDecoder::Gemini(gemini::StreamDecoder::new(stamp.clone()))
    }

    fn error(&self, body: &Value) -> UpstreamError {
        gemini::error(body)
    }
}

/// An OpenAI embeddings request as Vertex's `:predict`: one instance a text.
fn predict_request(body: &Map<String, Value>) -> Value {
    let texts: Vec<String> = match body.get("input") {
        Some(Value::Array(items)) => items.iter().map(super::content_text).collect(),
        Some(item) => vec![super::content_text(item)],
        None => vec![],
    };
    let instances: Vec<Value> = texts.into_iter().map(|text| json!({ "content": text })).collect();
    let mut out = json!({ "instances": instances });
    if let Some(dimensions) = body.get("dimensions").and_then(Value::as_u64) {
        out["parameters"] = json!({ "outputDimensionality": dimensions });
    }
    out
}

/// A `:predict` answer as OpenAI's embeddings list, its token counts as the usage.
fn predict_answer(bytes: &[u8]) -> Result<Answer, Invalid> {
    #[derive(Deserialize)]
    struct Predicted {
        predictions: Vec<Prediction>,
    }
    #[derive(Deserialize)]
    struct Prediction {
        embeddings: Embedding,
    }
    #[derive(Deserialize)]
    struct Embedding {
        values: Vec<f64>,
        #[serde(default)]
        statistics: Option<Statistics>,
    }
    #[derive(Deserialize)]
    struct Statistics {
        #[serde(default)]
        token_count: Option<f64>,
    }
    let predicted: Predicted = serde_json::from_slice(bytes).map_err(|e| Invalid(e.to_string()))?;
    let mut tokens = None::<u64>;
    let vectors: Vec<Vec<f64>> = (predicted.predictions.into_iter())
        .map(|prediction| {
            if let Some(count) = prediction.embeddings.statistics.and_then(|s| s.token_count) {
                // Counts are whole numbers written as floats; clamped when they are not.
                let count = if count.is_finite() && count > 0.0 {
                    count as u64
                } else {
                    0
                };
                tokens = Some(tokens.unwrap_or(0).saturating_add(count));
            }
            prediction.embeddings.values
        })
        .collect();
    Ok(super::embeddings_list(vectors, tokens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::providers::{Adapter, Usage};
    use app::types::{EndpointId, InferenceEndpoint, ProviderKind, Timeouts};

    fn endpoint(region: Option<&str>) -> InferenceEndpoint {
        InferenceEndpoint {
            id: EndpointId(1),
            name: "v".into(),
            provider: ProviderKind::Vertex,
            base_url: ProviderKind::Vertex.default_base_url(region).unwrap_or_default(),
            model: "gemini-2.5-flash".into(),
            deployment: None,
            api_version: None,
            project: Some("my-project".into()),
            region: region.map(str::to_string),
            rpm_limit: None,
            tpm_limit: None,
            timeouts: Timeouts::default(),
            enabled: true,
            has_credential: true,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn calls_go_to_the_projects_region_with_the_token_as_bearer() {
        let body = json!({ "messages": [{ "role": "user", "content": "hi" }] });
        for (region, stream, url) in [
            (Some("europe-west4"), false, "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"),
            (None, true, "https://aiplatform.googleapis.com/v1/projects/my-project/locations/global/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
        ] {
            let endpoint = endpoint(region);
            let outbound = Vertex.request(&Call {
                endpoint: &endpoint,
                credential: Some("ya29.token"),
                operation: Operation::Chat,
                body: body.as_object().unwrap(),
                stream,
            });
            assert_eq!(outbound.url, url);
            assert_eq!(outbound.headers, vec![("authorization", "Bearer ya29.token".to_string())]);
            let sent: Value = serde_json::from_slice(&outbound.body).unwrap();
            assert_eq!(sent["contents"][0]["parts"][0]["text"], "hi");
        }
    }

    #[test]
    fn embeddings_are_predicted_with_their_token_counts_as_usage() {
        let endpoint = endpoint(Some("us-central1"));
        let body = json!({ "input": ["a", "b"], "dimensions": 4 });
        let outbound = Vertex.request(&Call {
            endpoint: &endpoint,
            credential: None,
            operation: Operation::Embeddings,
            body: body.as_object().unwrap(),
            stream: false,
        });
        assert!(
            outbound
                .url
                .ends_with("/publishers/google/models/gemini-2.5-flash:predict"),
            "{}",
            outbound.url
        );
        let sent: Value = serde_json::from_slice(&outbound.body).unwrap();
        assert_eq!(
            sent,
            json!({ "instances": [{ "content": "a" }, { "content": "b" }], "parameters": { "outputDimensionality": 4 } })
        );
        let answer = predict_answer(
            br#"{"predictions":[{"embeddings":{"values":[0.5],"statistics":{"token_count":2.0,"truncated":false}}},{"embeddings":{"values":[1],"statistics":{"token_count":3}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            answer.usage,
            Some(Usage {
                prompt_tokens: 5,
                completion_tokens: 0
            })
        );
        assert_eq!(answer.body.json()["data"][1]["embedding"], json!([1.0]));
        assert!(predict_answer(b"{\"predictions\":[{}]}").is_err());
    }
}
