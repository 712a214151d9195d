//! Bedrock's embedding models, through `InvokeModel` (`model/{id}/invoke`): each family takes
//! its own body — Amazon Titan Text Embeddings (`amazon.titan-embed-…`, one text a call) and
//! Cohere Embed (`cohere.embed-…`, texts in a batch) — and answers are read back as OpenAI's
//! embeddings list (Titan's token count as the usage; Cohere's answer has none).

use super::super::{content_text, Answer, Invalid};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The most texts Cohere Embed takes in one request.
const COHERE_BATCH: usize = 96;

/// An embedding model family Bedrock serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Titan,
    Cohere,
}

impl Family {
    /// The family of a Bedrock model id (or inference profile, `us.cohere.embed-v4:0`).
    pub fn of(model: &str) -> Option<Family> {
        if model.contains("titan-embed") {
            Some(Family::Titan)
        } else if model.contains("cohere.embed") {
            Some(Family::Cohere)
        } else {
            None
        }
    }
}

/// The texts of OpenAI's `input` (a string or a list of them); `None` for token arrays.
fn texts(body: &Map<String, Value>) -> Option<Vec<String>> {
    match body.get("input") {
        Some(Value::Array(items)) => items.iter().map(|item| item.as_str().map(str::to_string)).collect(),
        Some(item @ Value::String(_)) => Some(vec![content_text(item)]),
        _ => None,
    }
}

/// Why an endpoint serving `model` cannot embed this input: the field and the reason.
pub fn refusal(model: &str, body: &Map<String, Value>) -> Option<(&'static str, &'static str)> {
    let Some(family) = Family::of(model) else {
        return Some((
            "model",
            "Bedrock endpoints embed with Amazon Titan Text Embeddings and Cohere Embed models only",
        ));
    };
    match (family, texts(body)) {
        (_, None) => Some(("input", "Bedrock embeds text, not token arrays: send `input` as text")),
        (Family::Titan, Some(texts)) if texts.len() > 1 => Some((
            "input",
            "Amazon Titan Text Embeddings embeds one text a request: send one `input`",
        )),
        (Family::Cohere, Some(texts)) if texts.len() > COHERE_BATCH => {
            Some(("input", "Cohere Embed embeds at most 96 texts a request"))
        }
        (Family::Titan | Family::Cohere, Some(_)) => None,
    }
}

/// The `InvokeModel` body for an embeddings request (checked by [`refusal`] first).
pub fn request(model: &str, body: &Map<String, Value>) -> Value {
    let texts = texts(body).unwrap_or_default();
    let dimensions = body.get("dimensions").and_then(Value::as_u64);
    match Family::of(model) {
        Some(Family::Cohere) => {
            let mut request = json!({ "texts": texts, "input_type": "search_document" });
            if let Some(dimensions) = dimensions {
                request["output_dimension"] = json!(dimensions);
            }
            request
        }
        Some(Family::Titan) | None => {
            let mut request = json!({ "inputText": texts.into_iter().next().unwrap_or_default() });
            if let Some(dimensions) = dimensions {
                request["dimensions"] = json!(dimensions);
            }
            request
        }
    }
}

/// Cohere's embeddings: a list of vectors, or (Embed v4) lists by type.
#[derive(Deserialize)]
#[serde(untagged)]
enum CohereVectors {
    Floats(Vec<Vec<f64>>),
    ByType { float: Vec<Vec<f64>> },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Embedded {
    Titan {
        embedding: Vec<f64>,
        #[serde(rename = "inputTextTokenCount", default)]
        tokens: Option<u64>,
    },
    Cohere {
        embeddings: CohereVectors,
    },
}

/// An `InvokeModel` answer as OpenAI's embeddings list.
pub fn answer(bytes: &[u8]) -> Result<Answer, Invalid> {
    let embedded: Embedded =
        serde_json::from_slice(bytes).map_err(|_| Invalid("the answer holds no `embedding` or `embeddings`".into()))?;
    let (vectors, tokens) = match embedded {
        Embedded::Titan { embedding, tokens } => (vec![embedding], tokens),
        Embedded::Cohere {
            embeddings: CohereVectors::Floats(vectors) | CohereVectors::ByType { float: vectors },
        } => (vectors, None),
    };
    Ok(super::super::embeddings_list(vectors, tokens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::providers::Usage;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn each_family_is_sent_its_own_body() {
        let one = object(json!({ "input": "hello", "dimensions": 256 }));
        assert_eq!(
            request("amazon.titan-embed-text-v2:0", &one),
            json!({ "inputText": "hello", "dimensions": 256 })
        );
        let many = object(json!({ "input": ["a", "b"] }));
        assert_eq!(
            request("cohere.embed-english-v3", &many),
            json!({ "texts": ["a", "b"], "input_type": "search_document" })
        );
        assert_eq!(refusal("us.cohere.embed-v4:0", &many), None);
    }

    #[test]
    fn what_a_family_cannot_embed_is_refused_by_field() {
        let many = object(json!({ "input": ["a", "b"] }));
        let tokens = object(json!({ "input": [[1, 2]] }));
        assert_eq!(
            refusal("amazon.titan-embed-text-v2:0", &many).map(|r| r.0),
            Some("input")
        );
        assert_eq!(refusal("cohere.embed-english-v3", &tokens).map(|r| r.0), Some("input"));
        assert_eq!(refusal("anthropic.claude-3-haiku", &many).map(|r| r.0), Some("model"));
        let batch = object(json!({ "input": vec!["a"; 97] }));
        assert_eq!(refusal("cohere.embed-english-v3", &batch).map(|r| r.0), Some("input"));
    }

    #[test]
    fn answers_become_openais_list_with_titans_token_count() {
        let titan = answer(br#"{"embedding":[0.1,0.2],"inputTextTokenCount":3}"#).unwrap();
        assert_eq!(
            titan.usage,
            Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 0
            })
        );
        assert_eq!(titan.body.json()["data"][0]["embedding"], json!([0.1, 0.2]));
        let cohere = answer(br#"{"id":"x","embeddings":[[0.1],[0.2]],"response_type":"embeddings_floats"}"#).unwrap();
        assert_eq!(cohere.body.json()["data"][1]["index"], 1);
        assert_eq!(cohere.usage, None);
        let typed = answer(br#"{"embeddings":{"float":[[0.5]]}}"#).unwrap();
        assert_eq!(typed.body.json()["data"][0]["embedding"], json!([0.5]));
        assert!(answer(br#"{"output":{}}"#).is_err());
    }
}
