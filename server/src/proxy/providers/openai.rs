//! OpenAI and OpenAI-compatible servers (vLLM, LM Studio, Groq, …): the canonical shape, so
//! requests pass through with only the model replaced, and streams are asked to report usage.
//! OpenAI's own Responses API, which Azure serves too, is `responses`.

pub mod responses;

use super::{
    join, Answer, AnswerBody, Call, Invalid, Operation, Outbound, StreamFault, StreamItem, UpstreamError, Usage,
};
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;
use std::borrow::Cow;

/// The body for an OpenAI-shaped upstream, serialised straight from the client's (no copy of
/// it is made): its fields untouched and in order, `model` (the endpoint's, or an Azure
/// deployment's), and — for chat and completion streams — `stream_options.include_usage`, so
/// usage is always counted (a Responses stream always ends with it).
pub fn body(call: &Call<'_>, model: &str) -> Vec<u8> {
    let include_usage = call.stream
        && match call.operation {
            Operation::Chat | Operation::Completions => true,
            Operation::Embeddings | Operation::Responses => false,
        };
    let mut out = Vec::with_capacity(512);
    let written = (|| {
        let mut serializer = serde_json::Serializer::new(&mut out);
        let mut map = serializer.serialize_map(None)?;
        let (mut written_model, mut options) = (false, false);
        for (name, value) in call.body {
            match name.as_str() {
                "model" => {
                    written_model = true;
                    map.serialize_entry(name, model)?;
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
        if !written_model {
            map.serialize_entry("model", model)?;
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

/// OpenAI.
pub struct OpenAi;

impl super::Adapter for OpenAi {
    fn supports(&self, _operation: Operation) -> bool {
        true
    }

    fn request(&self, call: &Call<'_>) -> Outbound {
        request(call)
    }

    fn stream_decoder(&self, operation: Operation, _stamp: &super::Stamp) -> super::StreamDecoder {
        stream_decoder(operation)
    }
}

/// OpenAI-compatible servers (vLLM, LM Studio, Groq, …): OpenAI's chat, completions and
/// embeddings, but not always its Responses API (a Responses client's request reaches them
/// through chat).
pub struct Compatible;

impl super::Adapter for Compatible {
    fn request(&self, call: &Call<'_>) -> Outbound {
        request(call)
    }
}

/// The decoder for a stream from OpenAI or Azure: chunks, or OpenAI's own Responses events.
pub fn stream_decoder(operation: Operation) -> super::StreamDecoder {
    match operation {
        Operation::Chat | Operation::Completions | Operation::Embeddings => super::StreamDecoder::OpenAi(StreamDecoder),
        Operation::Responses => super::StreamDecoder::Responses(responses::StreamDecoder),
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
        body: body(call, &call.endpoint.model),
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
    let checked: Checked = match operation {
        Operation::Responses => return responses::answer(bytes),
        Operation::Chat | Operation::Completions | Operation::Embeddings => {
            serde_json::from_slice(&bytes).map_err(|e| Invalid(e.to_string()))?
        }
    };
    let (expected, found) = match operation {
        Operation::Chat | Operation::Completions | Operation::Responses => ("choices", checked.choices.is_some()),
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

/// Reads OpenAI's `data:` events: chunks, the usage chunk, `[DONE]`, and in-band errors. A
/// chunk is scanned once for what the stream needs (its text, its usage, an error) and kept as
/// the upstream sent it; no tree is built unless it carries usage beside its choices.
#[derive(Default)]
pub struct StreamDecoder;

/// What a scan of one chunk keeps: everything else is skipped over (but must be valid JSON).
#[derive(serde::Deserialize)]
struct Scanned<'a> {
    #[serde(borrow, default)]
    choices: Option<Vec<ScannedChoice<'a>>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(serde::Deserialize)]
struct ScannedChoice<'a> {
    #[serde(borrow, default)]
    delta: Option<ScannedDelta<'a>>,
    /// A legacy completion's text.
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct ScannedDelta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
}

/// An upstream's chunk event as it sent it, with its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Passed {
    /// The event's `data:`: a JSON object with choices and no usage (`"usage": null` at most).
    data: String,
    /// Its choices' text (`delta.content`, or a completion's `text`), joined.
    pub text: String,
}

/// How an upstream asked for usage marks the chunks before the last: OpenAI's own spelling.
const NULL_USAGE: &str = r#","usage":null"#;

impl Passed {
    /// The chunk as a tree, without its `usage`, for what must change it (guardrails, the
    /// cache, another dialect).
    pub fn tree(&self) -> Value {
        let mut chunk: Value = serde_json::from_str(&self.data).unwrap_or_default();
        if let Some(object) = chunk.as_object_mut() {
            object.shift_remove("usage");
        }
        chunk
    }

    /// The chunk's JSON as the upstream sent it.
    pub fn json(&self) -> &str {
        &self.data
    }

    /// The SSE event for an OpenAI-shaped client: the upstream's bytes, less the
    /// `"usage":null` the gateway's `include_usage` added when the client did not ask for it.
    pub fn frame(&self, wants_usage: bool) -> String {
        let data = self.data.as_str();
        let cut = (!wants_usage)
            .then(|| memchr::memmem::find(data.as_bytes(), NULL_USAGE.as_bytes()))
            .flatten();
        let mut out = String::with_capacity(data.len() + 8);
        out.push_str("data: ");
        match cut {
            // The key can only be an object's key there: inside a string its quotes would be
            // escaped.
            Some(at) => {
                out.push_str(&data[..at]);
                out.push_str(&data[at + NULL_USAGE.len()..]);
            }
            None => out.push_str(data),
        }
        out.push_str("\n\n");
        out
    }
}

impl StreamDecoder {
    pub fn event(&mut self, data: String) -> Result<Vec<StreamItem>, StreamFault> {
        let trimmed = data.trim();
        if trimmed == "[DONE]" {
            return Ok(vec![StreamItem::Done]);
        }
        if trimmed.is_empty() {
            return Ok(vec![]);
        }
        let scanned: Scanned = serde_json::from_str(trimmed)
            .map_err(|e| StreamFault::Unreadable(format!("the upstream sent an unreadable event: {e}")))?;
        if let Some(error) = &scanned.error {
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
        let usage = scanned.usage.as_ref().and_then(Usage::from_openai);
        // Rare: usage beside choices (some servers report it on the last chunk; the client gets
        // the chunk without it), or an event of several `data:` lines (it cannot go out as
        // one): the chunk goes on as a tree.
        let as_tree = scanned.usage.is_some() || trimmed.contains('\n');
        let choices = scanned.choices.unwrap_or_default();
        let mut items = Vec::with_capacity(1);
        if !choices.is_empty() {
            let mut text = String::new();
            for choice in &choices {
                let piece = match &choice.delta {
                    Some(delta) => delta.content.as_deref(),
                    None => choice.text.as_deref(),
                };
                text.push_str(piece.unwrap_or_default());
            }
            drop(choices);
            let passed = Passed { data, text };
            items.push(match as_tree {
                true => StreamItem::Chunk(passed.tree()),
                false => StreamItem::Passed(passed),
            });
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
            .event(
                r#"{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#.into(),
            )
            .unwrap();
        assert_eq!(
            items,
            vec![StreamItem::Usage(Usage {
                prompt_tokens: 3,
                completion_tokens: 4
            })]
        );
        let chunk = r#"{"id":"c","choices":[{"index":0,"delta":{"content":"hi \"you\""}}],"usage":null}"#;
        let items = decoder.event(chunk.into()).unwrap();
        let [StreamItem::Passed(passed)] = &items[..] else {
            panic!("{items:?}");
        };
        assert_eq!(passed.text, r#"hi "you""#);
        assert_eq!(
            passed.tree(),
            json!({"id":"c","choices":[{"index":0,"delta":{"content":"hi \"you\""}}]})
        );
        assert_eq!(passed.frame(true), format!("data: {chunk}\n\n"));
        assert_eq!(
            passed.frame(false),
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi \\\"you\\\"\"}}]}\n\n"
        );
        assert_eq!(decoder.event("[DONE]".into()).unwrap(), vec![StreamItem::Done]);
        let fault = decoder
            .event(r#"{"error":{"message":"boom","code":503}}"#.into())
            .unwrap_err();
        assert!(matches!(fault, StreamFault::Reported { status: 503, .. }), "{fault:?}");
        assert!(matches!(
            decoder.event("{not json".into()),
            Err(StreamFault::Unreadable(_))
        ));
    }

    #[test]
    fn a_chunk_with_usage_beside_its_choices_goes_on_without_it() {
        let mut decoder = StreamDecoder;
        let items = (decoder.event(
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#.into(),
        ))
        .unwrap();
        assert_eq!(
            items,
            vec![
                StreamItem::Chunk(json!({"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]})),
                StreamItem::Usage(Usage {
                    prompt_tokens: 1,
                    completion_tokens: 2
                }),
            ]
        );
        // An event of two data lines cannot go out as one line: it goes on as a tree.
        let items = decoder
            .event("{\"id\":\"c\",\n\"choices\":[{\"index\":0,\"text\":\"b\"}]}".into())
            .unwrap();
        assert_eq!(
            items,
            vec![StreamItem::Chunk(json!({"id":"c","choices":[{"index":0,"text":"b"}]}))]
        );
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
