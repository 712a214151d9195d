//! Anthropic's Messages API as an upstream: OpenAI-shaped requests sent to Anthropic endpoints
//! (system prompt, tools and tool calls, images, stop reasons, streaming events, usage). The
//! other way — Anthropic-shaped clients — is a client dialect: `proxy::messages`.
//!
//! Does not: carry OpenAI-only fields to Anthropic.

use super::{
    content_parts, content_text, join, push_turn, Answer, AnswerBody, Call, ContentPart, Image, Invalid, Operation,
    Outbound, UpstreamError, Usage,
};
use serde_json::{json, Map, Value};

mod stream;

pub use stream::StreamDecoder;

/// The API version sent upstream.
pub const VERSION: &str = "2023-06-01";
/// `max_tokens` is required by Anthropic; used when the client gave none.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Anthropic's Messages API: chat only, with its own answers, stream events and errors.
pub struct Anthropic;

impl super::Adapter for Anthropic {
    fn supports(&self, operation: Operation) -> bool {
        operation == Operation::Chat
    }

    fn request(&self, call: &Call<'_>) -> Outbound {
        request(call)
    }

    fn answer(&self, _operation: Operation, bytes: bytes::Bytes, stamp: &super::Stamp) -> Result<Answer, Invalid> {
        answer(&bytes, stamp)
    }

    fn stream_decoder(&self, _operation: Operation, stamp: &super::Stamp) -> super::StreamDecoder {
        super::StreamDecoder::Anthropic(StreamDecoder::new(stamp.clone()))
    }

    fn error(&self, body: &Value) -> UpstreamError {
        error(body)
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAI-shaped request → Anthropic endpoint

pub fn request(call: &Call<'_>) -> Outbound {
    let mut headers = vec![("anthropic-version", VERSION.to_string())];
    if let Some(credential) = call.credential {
        headers.push(("x-api-key", credential.to_string()));
    }
    let mut body = to_messages_request(call.body);
    body.insert("model".into(), Value::String(call.endpoint.model.clone()));
    if call.stream {
        body.insert("stream".into(), Value::Bool(true));
    }
    Outbound {
        url: join(&call.endpoint.base_url, "v1/messages"),
        headers,
        body: serde_json::to_vec(&Value::Object(body)).unwrap_or_default(),
    }
}

/// OpenAI content (a string or parts) as Anthropic content blocks: an image inline or by URL.
fn to_blocks(content: &Value) -> Vec<Value> {
    (content_parts(content).into_iter())
        .map(|part| match part {
            ContentPart::Text(text) => json!({ "type": "text", "text": text }),
            ContentPart::Image(Image::Inline { media_type, data }) => {
                json!({ "type": "image", "source": { "type": "base64", "media_type": media_type, "data": data } })
            }
            ContentPart::Image(Image::Url(url)) => json!({ "type": "image", "source": { "type": "url", "url": url } }),
        })
        .collect()
}

/// An OpenAI chat request as an Anthropic Messages request (without model and stream).
pub fn to_messages_request(body: &Map<String, Value>) -> Map<String, Value> {
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for message in body.get("messages").and_then(Value::as_array).into_iter().flatten() {
        let content = message.get("content").unwrap_or(&Value::Null);
        match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => system.push(content_text(content)),
            Some("assistant") => {
                let mut blocks: Vec<Value> = to_blocks(content)
                    .into_iter()
                    .filter(|b| b["type"] != "text" || b["text"].as_str().is_some_and(|t| !t.is_empty()))
                    .collect();
                for call in message
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let arguments = call
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("{}");
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": super::sent_call_id(call.get("id")),
                        "name": call.pointer("/function/name").cloned().unwrap_or_default(),
                        "input": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
                    }));
                }
                push_turn(&mut messages, "assistant", "content", blocks);
            }
            Some("tool") => {
                let block = json!({
                    "type": "tool_result",
                    "tool_use_id": super::sent_call_id(message.get("tool_call_id")),
                    "content": content_text(content),
                });
                push_turn(&mut messages, "user", "content", vec![block]);
            }
            _ => push_turn(&mut messages, "user", "content", to_blocks(content)),
        }
    }
    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), Value::String(system.join("\n\n")));
    }
    let max_tokens = body
        .get("max_tokens")
        .or_else(|| body.get("max_completion_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    out.insert("max_tokens".into(), json!(max_tokens));
    if let Some(temperature) = body.get("temperature").and_then(Value::as_f64) {
        // OpenAI allows 0–2, Anthropic 0–1.
        out.insert("temperature".into(), json!(temperature.min(1.0)));
    }
    if let Some(top_p) = body.get("top_p") {
        out.insert("top_p".into(), top_p.clone());
    }
    if let Some(stops) = super::stop_sequences(body) {
        out.insert("stop_sequences".into(), stops);
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .filter_map(|tool| {
                let function = tool.get("function")?;
                Some(json!({
                    "name": function.get("name").cloned().unwrap_or_default(),
                    "description": function.get("description").cloned().unwrap_or_else(|| json!("")),
                    "input_schema": function.get("parameters").cloned().unwrap_or_else(|| json!({ "type": "object" })),
                }))
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    let mut choice = match body.get("tool_choice") {
        Some(Value::String(choice)) if choice == "none" => Some(json!({ "type": "none" })),
        Some(Value::String(choice)) if choice == "required" => Some(json!({ "type": "any" })),
        Some(Value::String(_)) => Some(json!({ "type": "auto" })),
        Some(Value::Object(choice)) => choice
            .get("function")
            .and_then(|f| f.get("name"))
            .map(|name| json!({ "type": "tool", "name": name })),
        _ => None,
    };
    if body.get("parallel_tool_calls") == Some(&Value::Bool(false)) && out.contains_key("tools") {
        let choice = choice.get_or_insert_with(|| json!({ "type": "auto" }));
        choice["disable_parallel_tool_use"] = Value::Bool(true);
    }
    if let Some(choice) = choice {
        out.insert("tool_choice".into(), choice);
    }
    if let Some(user) = body.get("user") {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    out
}

/// Anthropic's stop reason in OpenAI's terms.
fn finish_reason(stop_reason: Option<&str>) -> Option<&'static str> {
    match stop_reason {
        Some("end_turn" | "stop_sequence" | "pause_turn") => Some("stop"),
        Some("max_tokens") => Some("length"),
        Some("tool_use") => Some("tool_calls"),
        Some("refusal") => Some("content_filter"),
        Some(_) => Some("stop"),
        None => None,
    }
}

/// Anthropic's `usage` (an answer's, a stream's `message_start` and `message_delta`).
#[derive(serde::Deserialize)]
struct TokenUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
}

impl TokenUsage {
    /// The usage, when the output is given: input tokens include those read from or written to
    /// the cache.
    fn usage(&self) -> Option<Usage> {
        let input = [
            self.input_tokens,
            self.cache_read_input_tokens,
            self.cache_creation_input_tokens,
        ];
        Some(Usage {
            prompt_tokens: input.iter().flatten().sum(),
            completion_tokens: self.output_tokens?,
        })
    }
}

fn usage_of(usage: &Value) -> Option<Usage> {
    serde::Deserialize::deserialize(usage)
        .ok()
        .and_then(|usage: TokenUsage| usage.usage())
}

/// An Anthropic message as an OpenAI chat completion.
pub fn answer(bytes: &[u8], stamp: &super::Stamp) -> Result<Answer, Invalid> {
    let body: Value = serde_json::from_slice(bytes).map_err(|e| Invalid(e.to_string()))?;
    let blocks = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| Invalid("no `content` array".into()))?;
    let text: String = blocks
        .iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str())
        .collect();
    let tool_calls: Vec<Value> = blocks
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .map(|b| {
            json!({
                "id": b["id"], "type": "function",
                "function": { "name": b["name"], "arguments": b["input"].to_string() },
            })
        })
        .collect();
    let mut message = json!({ "role": "assistant", "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(text) } });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    let usage = body.get("usage").and_then(usage_of);
    let mut out = json!({
        "id": body.get("id").cloned().unwrap_or_else(|| json!(stamp.id)),
        "object": "chat.completion",
        "created": stamp.created,
        "model": body.get("model").cloned().unwrap_or_default(),
        "choices": [{ "index": 0, "message": message,
                      "finish_reason": finish_reason(body.get("stop_reason").and_then(Value::as_str)) }],
    });
    if let Some(usage) = usage {
        out["usage"] = usage.to_openai();
    }
    Ok(Answer {
        body: AnswerBody::Translated(out),
        usage,
    })
}

/// The HTTP status an Anthropic error type stands for.
fn status_of(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    }
}

/// Anthropic's error body `{"type": "error", "error": {"type", "message"}}`.
pub fn error(body: &Value) -> UpstreamError {
    let error = body.get("error").unwrap_or(body);
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("upstream_error")
        .to_string();
    UpstreamError {
        message: error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        code: None,
        param: None,
        quota_exhausted: false,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn openai_requests_become_messages_requests() {
        let body = object(json!({
            "model": "x", "max_tokens": 50, "temperature": 1.5, "stop": "END", "user": "u1",
            "messages": [
                { "role": "system", "content": "Be brief." },
                { "role": "user", "content": [
                    { "type": "text", "text": "What is this?" },
                    { "type": "image_url", "image_url": { "url": "data:image/png;base64,AAAA" } } ] },
                { "role": "assistant", "content": null, "tool_calls": [
                    { "id": "call_1", "type": "function", "function": { "name": "look", "arguments": "{\"q\":1}" } } ] },
                { "role": "tool", "tool_call_id": "call_1", "content": "a cat" },
            ],
            "tools": [{ "type": "function", "function": { "name": "look", "parameters": { "type": "object" } } }],
            "tool_choice": "required",
        }));
        let out = Value::Object(to_messages_request(&body));
        assert_eq!(out["system"], "Be brief.");
        assert_eq!(out["max_tokens"], 50);
        assert_eq!(out["temperature"], 1.0);
        assert_eq!(out["stop_sequences"], json!(["END"]));
        assert_eq!(out["metadata"]["user_id"], "u1");
        assert_eq!(out["tool_choice"], json!({ "type": "any" }));
        assert_eq!(out["tools"][0]["input_schema"], json!({ "type": "object" }));
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[0]["content"][1]["source"],
            json!({ "type": "base64", "media_type": "image/png", "data": "AAAA" })
        );
        assert_eq!(
            messages[1]["content"][0],
            json!({ "type": "tool_use", "id": "call_1", "name": "look", "input": { "q": 1 } })
        );
        assert_eq!(messages[2]["role"], "user");
        assert_eq!(messages[2]["content"][0]["type"], "tool_result");
        assert!(out.get("model").is_none(), "the endpoint sets the model");
    }

    #[test]
    fn messages_answers_become_chat_completions() {
        let body = json!({
            "id": "msg_1", "type": "message", "model": "claude", "stop_reason": "tool_use",
            "content": [{ "type": "text", "text": "Let me look." },
                        { "type": "tool_use", "id": "tu_1", "name": "look", "input": { "q": 1 } }],
            "usage": { "input_tokens": 7, "output_tokens": 9, "cache_read_input_tokens": 3 },
        });
        let answer = answer(
            body.to_string().as_bytes(),
            &crate::proxy::providers::Stamp::stamped("chatcmpl-test", 5),
        )
        .unwrap();
        let body = answer.body.json();
        let choice = &body["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], "Let me look.");
        assert_eq!(choice["message"]["tool_calls"][0]["function"]["arguments"], "{\"q\":1}");
        assert_eq!(
            answer.usage,
            Some(Usage {
                prompt_tokens: 10,
                completion_tokens: 9
            })
        );
        assert!(super::answer(
            b"{\"type\":\"message\"}",
            &crate::proxy::providers::Stamp::stamped("chatcmpl-test", 0)
        )
        .is_err());
    }
}
