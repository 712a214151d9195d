//! OpenAI and OpenAI-compatible servers (vLLM, LM Studio, Groq, …): the canonical shape, so
//! requests pass through with only the model replaced, and streams are asked to report usage.

use super::{
    join, Answer, AnswerBody, Call, Invalid, Operation, Outbound, StreamFault, StreamItem, UpstreamError, Usage,
};
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

/// The body for an OpenAI-shaped upstream, serialised straight from the client's (no copy of
/// it is made): its fields untouched and in order, the endpoint's model, and — for streams —
/// `stream_options.include_usage`, so usage is always counted.
pub fn body(call: &Call<'_>) -> Vec<u8> {
    let include_usage = call.stream && call.operation != Operation::Embeddings;
    let mut out = Vec::with_capacity(512);
    let written = (|| {
        let mut serializer = serde_json::Serializer::new(&mut out);
        let mut map = serializer.serialize_map(None)?;
        let (mut model, mut options) = (false, false);
        for (name, value) in call.body {
            match name.as_str() {
                "model" => {
                    model = true;
                    map.serialize_entry(name, &call.endpoint.model)?;
                }
                "stream_options" if include_usage => {
                    options = true;
                    let mut merged = value.as_object().cloned().unwrap_or_default();
                    merged.insert("include_usage".into(), Value::Bool(true));
                    map.serialize_entry(name, &merged)?;
                }
                _ => map.serialize_entry(name, value)?,
            }
        }
        if !model {
            map.serialize_entry("model", &call.endpoint.model)?;
        }
        if include_usage && !options {
            map.serialize_entry("stream_options", &serde_json::json!({ "include_usage": true }))?;
        }
        map.end()
    })();
    // Serialising JSON values into memory cannot fail.
    debug_assert!(written.is_ok(), "{written:?}");
    out
}

/// OpenAI, and any server that speaks its API.
pub struct OpenAi;

impl super::Adapter for OpenAi {
    fn request(&self, call: &Call<'_>) -> Outbound {
        request(call)
    }
}

pub fn request(call: &Call<'_>) -> Outbound {
    let mut headers = Vec::new();
    if let Some(credential) = call.credential {
        headers.push(("authorization", format!("Bearer {credential}")));
    }
    Outbound {
        url: join(&call.endpoint.base_url, call.operation.openai_path()),
        headers,
        body: body(call),
    }
}

/// What a 2xx answer is checked for; everything else in it is skipped over (but must be
/// valid JSON), so the answer is checked without being turned into a tree.
#[derive(serde::Deserialize)]
struct Checked {
    choices: Option<Vec<serde::de::IgnoredAny>>,
    data: Option<Vec<serde::de::IgnoredAny>>,
    usage: Option<CheckedUsage>,
}

#[derive(serde::Deserialize)]
struct CheckedUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

/// A 2xx answer: it must be a JSON object of the operation's shape. It is passed on as the
/// upstream sent it.
pub fn answer(operation: Operation, bytes: bytes::Bytes) -> Result<Answer, Invalid> {
    let checked: Checked = serde_json::from_slice(&bytes).map_err(|e| Invalid(e.to_string()))?;
    let (expected, found) = match operation {
        Operation::Chat | Operation::Completions => ("choices", checked.choices.is_some()),
        Operation::Embeddings => ("data", checked.data.is_some()),
    };
    if !found {
        return Err(Invalid(format!("no `{expected}` array")));
    }
    let usage = checked.usage.and_then(|usage| {
        Some(Usage {
            prompt_tokens: usage.prompt_tokens?,
            completion_tokens: usage.completion_tokens.unwrap_or(0),
        })
    });
    Ok(Answer {
        body: AnswerBody::Raw(bytes),
        usage,
    })
}

/// A moderation request (`POST {base}/moderations`, issue #24's external moderation) asking
/// about `input`, each text a result; the endpoint's model names the moderation model.
pub fn moderation(endpoint: &app::types::InferenceEndpoint, credential: Option<&str>, input: &[&str]) -> Outbound {
    let mut headers = Vec::new();
    if let Some(credential) = credential {
        headers.push(("authorization", format!("Bearer {credential}")));
    }
    let body = serde_json::json!({ "model": endpoint.model, "input": input });
    Outbound {
        url: join(&endpoint.base_url, "moderations"),
        headers,
        body: body.to_string().into_bytes(),
    }
}

#[derive(serde::Deserialize)]
struct Moderated {
    results: Vec<ModerationResult>,
}

#[derive(serde::Deserialize)]
struct ModerationResult {
    flagged: bool,
    #[serde(default)]
    categories: std::collections::BTreeMap<String, Value>,
}

/// A moderation answer: `None` when nothing is flagged, else the categories flagged (sorted,
/// possibly empty when the upstream names none).
pub fn moderation_verdict(bytes: &[u8]) -> Result<Option<Vec<String>>, Invalid> {
    // A fixed message: serde's would quote the answer, which may echo the request's text.
    let moderated: Moderated =
        serde_json::from_slice(bytes).map_err(|_| Invalid("the answer is not a moderation result".into()))?;
    if !moderated.results.iter().any(|result| result.flagged) {
        return Ok(None);
    }
    let mut categories: Vec<String> = (moderated.results.iter())
        .filter(|result| result.flagged)
        .flat_map(|result| result.categories.iter())
        .filter(|(_, flagged)| flagged.as_bool() == Some(true))
        .map(|(name, _)| name.clone())
        .collect();
    categories.sort();
    categories.dedup();
    Ok(Some(categories))
}

/// Reads OpenAI's `data:` events: chunks, the usage chunk, `[DONE]`, and in-band errors.
#[derive(Default)]
pub struct StreamDecoder;

impl StreamDecoder {
    pub fn event(&mut self, data: &str) -> Result<Vec<StreamItem>, StreamFault> {
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(vec![StreamItem::Done]);
        }
        if data.is_empty() {
            return Ok(vec![]);
        }
        let mut chunk: Value = serde_json::from_str(data)
            .map_err(|e| StreamFault::Unreadable(format!("the upstream sent an unreadable event: {e}")))?;
        if let Some(error) = chunk.get("error") {
            let status = error
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (400..600).contains(c))
                .unwrap_or(500);
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the upstream reported an error")
                .to_string();
            return Err(StreamFault::Reported { status, message });
        }
        let mut items = Vec::new();
        let usage = chunk
            .as_object_mut()
            .and_then(|object| object.remove("usage"))
            .and_then(|usage| Usage::from_openai(&usage));
        let has_choices = chunk
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(|choices| !choices.is_empty());
        if has_choices {
            items.push(StreamItem::Chunk(chunk));
        }
        if let Some(usage) = usage {
            items.push(StreamItem::Usage(usage));
        }
        Ok(items)
    }
}

/// OpenAI's error body `{"error": {"message", "type", "param", "code"}}`.
pub fn error(body: &Value) -> UpstreamError {
    let error = body.get("error").unwrap_or(body);
    let text = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_string);
    let code = text("code").or_else(|| error.get("code").and_then(Value::as_u64).map(|c| c.to_string()));
    let kind = text("type").unwrap_or_else(|| "upstream_error".into());
    let quota_exhausted = [code.as_deref(), Some(kind.as_str())]
        .into_iter()
        .flatten()
        .any(|c| c == "insufficient_quota" || c == "enforced_spend_limit_reached");
    UpstreamError {
        message: text("message").unwrap_or_default(),
        kind,
        code,
        param: text("param"),
        quota_exhausted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stream_usage_is_split_from_its_chunk() {
        let mut decoder = StreamDecoder;
        let items = decoder
            .event(r#"{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#)
            .unwrap();
        assert_eq!(
            items,
            vec![StreamItem::Usage(Usage {
                prompt_tokens: 3,
                completion_tokens: 4
            })]
        );
        let items = decoder
            .event(r#"{"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}"#)
            .unwrap();
        assert_eq!(
            items,
            vec![StreamItem::Chunk(
                json!({"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]})
            )]
        );
        assert_eq!(decoder.event("[DONE]").unwrap(), vec![StreamItem::Done]);
        let fault = decoder.event(r#"{"error":{"message":"boom","code":503}}"#).unwrap_err();
        assert!(matches!(fault, StreamFault::Reported { status: 503, .. }), "{fault:?}");
        assert!(matches!(decoder.event("{not json"), Err(StreamFault::Unreadable(_))));
    }

    #[test]
    fn quota_errors_are_recognised() {
        let error = error(&json!({"error":{"message":"no","type":"insufficient_quota","code":"insufficient_quota"}}));
        assert!(error.quota_exhausted);
        assert_eq!(error.message, "no");
    }

    #[test]
    fn a_moderation_verdict_names_the_flagged_categories() {
        let clean = br#"{"id":"m","model":"omni","results":[{"flagged":false,"categories":{"violence":false}}]}"#;
        assert_eq!(moderation_verdict(clean).unwrap(), None);
        let flagged = br#"{"results":[{"flagged":false,"categories":{"hate":true}},
            {"flagged":true,"categories":{"violence":true,"harassment":false,"self-harm":true}}]}"#;
        assert_eq!(
            moderation_verdict(flagged).unwrap(),
            Some(vec!["self-harm".to_string(), "violence".to_string()])
        );
        assert!(moderation_verdict(br#"{"data":[]}"#).is_err());
    }
}
