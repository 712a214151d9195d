//! Anthropic's Messages API, both ways: OpenAI-shaped requests sent to Anthropic endpoints
//! (system prompt, tools and tool calls, images, stop reasons, streaming events, usage), and
//! Anthropic-shaped requests from clients (`POST /v1/messages`) answered from any endpoint.
//!
//! Does not: carry OpenAI-only fields to Anthropic (it refuses unknown fields), or Anthropic-only
//! content (thinking, citations, cache control) through a non-Anthropic endpoint.

use super::{
    content_text, join, Answer, AnswerBody, Call, Invalid, Outbound, StreamFault, StreamItem, UpstreamError, Usage,
};
use serde_json::{json, Map, Value};

/// The API version sent upstream.
pub const VERSION: &str = "2023-06-01";
/// `max_tokens` is required by Anthropic; used when the client gave none.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

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

/// OpenAI content (a string or parts) as Anthropic content blocks.
fn to_blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(text) => vec![json!({ "type": "text", "text": text })],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text") => Some(json!({ "type": "text", "text": part.get("text").cloned().unwrap_or_default() })),
                Some("image_url") => {
                    let url = part.pointer("/image_url/url").and_then(Value::as_str)?;
                    Some(image_block(url))
                }
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

/// An image URL (a `data:` URL or a web address) as an Anthropic image block.
fn image_block(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((media_type, data)) = rest.split_once(";base64,") {
            return json!({ "type": "image", "source": { "type": "base64", "media_type": media_type, "data": data } });
        }
    }
    json!({ "type": "image", "source": { "type": "url", "url": url } })
}

/// Appends blocks as a message of `role`, merging with the previous message of the same role
/// (Anthropic wants user and assistant turns to alternate).
fn push_turn(messages: &mut Vec<Value>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = messages.last_mut() {
        if last["role"] == role {
            if let Some(content) = last["content"].as_array_mut() {
                content.extend(blocks);
                return;
            }
        }
    }
    messages.push(json!({ "role": role, "content": blocks }));
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
                        "id": call.get("id").cloned().unwrap_or_default(),
                        "name": call.pointer("/function/name").cloned().unwrap_or_default(),
                        "input": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
                    }));
                }
                push_turn(&mut messages, "assistant", blocks);
            }
            Some("tool") => {
                let block = json!({
                    "type": "tool_result",
                    "tool_use_id": message.get("tool_call_id").cloned().unwrap_or_default(),
                    "content": content_text(content),
                });
                push_turn(&mut messages, "user", vec![block]);
            }
            _ => push_turn(&mut messages, "user", to_blocks(content)),
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
    match body.get("stop") {
        Some(Value::String(stop)) => {
            out.insert("stop_sequences".into(), json!([stop]));
        }
        Some(Value::Array(stops)) => {
            out.insert("stop_sequences".into(), Value::Array(stops.clone()));
        }
        _ => {}
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
fn finish_reason(stop_reason: Option<&str>) -> Value {
    match stop_reason {
        Some("end_turn" | "stop_sequence" | "pause_turn") => json!("stop"),
        Some("max_tokens") => json!("length"),
        Some("tool_use") => json!("tool_calls"),
        Some("refusal") => json!("content_filter"),
        Some(_) => json!("stop"),
        None => Value::Null,
    }
}

/// Anthropic's `usage`: input tokens include those read from or written to the cache.
fn usage_of(usage: &Value) -> Option<Usage> {
    let input = ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"]
        .iter()
        .filter_map(|name| usage.get(*name).and_then(Value::as_u64))
        .sum();
    Some(Usage {
        prompt_tokens: input,
        completion_tokens: usage.get("output_tokens")?.as_u64()?,
    })
}

/// An Anthropic message as an OpenAI chat completion.
pub fn answer(bytes: &[u8], created: i64) -> Result<Answer, Invalid> {
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
        "id": body.get("id").cloned().unwrap_or_else(|| json!("msg")),
        "object": "chat.completion",
        "created": created,
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

/// Anthropic stream events → OpenAI chunks.
pub struct StreamDecoder {
    created: i64,
    id: String,
    model: String,
    usage: Usage,
    /// Anthropic content-block index → OpenAI tool-call index.
    tools: Vec<(u64, u64)>,
}

impl StreamDecoder {
    pub fn new(created: i64) -> Self {
        StreamDecoder {
            created,
            id: "msg".into(),
            model: String::new(),
            usage: Usage::default(),
            tools: Vec::new(),
        }
    }

    fn chunk(&self, delta: Value, finish: Value) -> StreamItem {
        StreamItem::Chunk(json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        }))
    }

    pub fn event(&mut self, name: &str, data: &str) -> Result<Vec<StreamItem>, StreamFault> {
        let event: Value = serde_json::from_str(data)
            .map_err(|e| StreamFault::Unreadable(format!("the upstream sent an unreadable event: {e}")))?;
        let kind = event.get("type").and_then(Value::as_str).unwrap_or(name);
        Ok(match kind {
            "message_start" => {
                let message = &event["message"];
                if let Some(id) = message["id"].as_str() {
                    self.id = id.to_string();
                }
                if let Some(model) = message["model"].as_str() {
                    self.model = model.to_string();
                }
                if let Some(usage) = message.get("usage").and_then(usage_of) {
                    self.usage = usage;
                }
                vec![self.chunk(json!({ "role": "assistant", "content": "" }), Value::Null)]
            }
            "content_block_start" => {
                let block = &event["content_block"];
                match block["type"].as_str() {
                    Some("tool_use") => {
                        let index = self.tools.len() as u64;
                        self.tools.push((event["index"].as_u64().unwrap_or(0), index));
                        vec![self.chunk(
                            json!({ "tool_calls": [{ "index": index, "id": block["id"], "type": "function",
                                                     "function": { "name": block["name"], "arguments": "" } }] }),
                            Value::Null,
                        )]
                    }
                    Some("text") if block["text"].as_str().is_some_and(|t| !t.is_empty()) => {
                        vec![self.chunk(json!({ "content": block["text"] }), Value::Null)]
                    }
                    _ => vec![],
                }
            }
            "content_block_delta" => {
                let delta = &event["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => vec![self.chunk(json!({ "content": delta["text"] }), Value::Null)],
                    Some("input_json_delta") => {
                        let block = event["index"].as_u64().unwrap_or(0);
                        let index = self.tools.iter().find(|(b, _)| *b == block).map_or(0, |(_, i)| *i);
                        vec![self.chunk(
                            json!({ "tool_calls": [{ "index": index, "function": { "arguments": delta["partial_json"] } }] }),
                            Value::Null,
                        )]
                    }
                    _ => vec![],
                }
            }
            "message_delta" => {
                if let Some(usage) = event.get("usage") {
                    if let Some(output) = usage.get("output_tokens").and_then(Value::as_u64) {
                        self.usage.completion_tokens = output;
                    }
                    if let Some(input) = usage.get("input_tokens").and_then(Value::as_u64) {
                        self.usage.prompt_tokens = self.usage.prompt_tokens.max(input);
                    }
                }
                let stop = event.pointer("/delta/stop_reason").and_then(Value::as_str);
                vec![self.chunk(json!({}), finish_reason(stop.or(Some("end_turn"))))]
            }
            "message_stop" => vec![StreamItem::Usage(self.usage), StreamItem::Done],
            "error" => {
                let error = error(&event);
                return Err(StreamFault::Reported {
                    status: status_of(&error.kind),
                    message: error.message,
                });
            }
            // `ping`, `content_block_stop` and events added later carry nothing for the client.
            _ => vec![],
        })
    }
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

// ---------------------------------------------------------------------------------------------
// Anthropic-shaped client (`POST /v1/messages`) → the canonical OpenAI shape, and back

/// A client's request the gateway cannot read, naming the field.
#[derive(Debug, PartialEq)]
pub struct BadField {
    pub param: &'static str,
    pub message: String,
}

fn bad(param: &'static str, message: &str) -> BadField {
    BadField {
        param,
        message: message.to_string(),
    }
}

/// One Anthropic turn's content in OpenAI's terms.
#[derive(Default)]
struct Turn {
    /// Content parts (text, images).
    parts: Vec<Value>,
    /// An assistant's tool calls.
    tool_calls: Vec<Value>,
    /// Tool results, which OpenAI sends as separate `tool` messages.
    tool_results: Vec<Value>,
}

/// Anthropic content (a string or blocks) as OpenAI content parts, tool calls and results.
fn from_blocks(content: &Value) -> Result<Turn, BadField> {
    let Turn {
        mut parts,
        mut tool_calls,
        mut tool_results,
    } = Turn::default();
    match content {
        Value::String(text) => parts.push(json!({ "type": "text", "text": text })),
        Value::Array(blocks) => {
            for block in blocks {
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => parts.push(json!({ "type": "text", "text": block["text"] })),
                    Some("image") => {
                        let source = &block["source"];
                        let url = match source["type"].as_str() {
                            Some("base64") => format!(
                                "data:{};base64,{}",
                                source["media_type"].as_str().unwrap_or("image/png"),
                                source["data"].as_str().unwrap_or_default()
                            ),
                            _ => source["url"].as_str().unwrap_or_default().to_string(),
                        };
                        parts.push(json!({ "type": "image_url", "image_url": { "url": url } }));
                    }
                    Some("tool_use") => tool_calls.push(json!({
                        "id": block["id"], "type": "function",
                        "function": { "name": block["name"], "arguments": block["input"].to_string() },
                    })),
                    Some("tool_result") => {
                        let text = match &block["content"] {
                            Value::String(text) => text.clone(),
                            other => content_text(other),
                        };
                        tool_results
                            .push(json!({ "role": "tool", "tool_call_id": block["tool_use_id"], "content": text }));
                    }
                    // Thinking and other Anthropic-only blocks have no OpenAI equivalent.
                    _ => {}
                }
            }
        }
        _ => return Err(bad("messages", "content must be a string or an array of blocks")),
    }
    Ok(Turn {
        parts,
        tool_calls,
        tool_results,
    })
}

/// An Anthropic Messages request as an OpenAI chat request.
pub fn from_messages_request(body: &Map<String, Value>) -> Result<Map<String, Value>, BadField> {
    let mut messages = Vec::new();
    match body.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => messages.push(json!({ "role": "system", "content": text })),
        Some(blocks @ Value::Array(_)) => messages.push(json!({ "role": "system", "content": content_text(blocks) })),
        Some(_) => return Err(bad("system", "system must be a string or an array of text blocks")),
    }
    let turns = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("messages", "messages must be an array"))?;
    for turn in turns {
        let role = turn
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("messages", "every message needs a role"))?;
        let Turn {
            parts,
            tool_calls,
            tool_results,
        } = from_blocks(turn.get("content").unwrap_or(&Value::Null))?;
        messages.extend(tool_results);
        match role {
            "user" if !parts.is_empty() => messages.push(json!({ "role": "user", "content": parts })),
            "assistant" => {
                let text: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
                let mut message = json!({ "role": "assistant", "content": text });
                if !tool_calls.is_empty() {
                    message["tool_calls"] = Value::Array(tool_calls);
                }
                messages.push(message);
            }
            "user" => {}
            _ => return Err(bad("messages", "a message's role must be user or assistant")),
        }
    }
    let mut out = Map::new();
    for (name, value) in body {
        match name.as_str() {
            "model" | "max_tokens" | "temperature" | "top_p" | "stream" => {
                out.insert(name.clone(), value.clone());
            }
            "stop_sequences" => {
                out.insert("stop".into(), value.clone());
            }
            "metadata" => {
                if let Some(user) = value.get("user_id") {
                    out.insert("user".into(), user.clone());
                }
            }
            "tools" => {
                let tools: Vec<Value> = value
                    .as_array()
                    .ok_or_else(|| bad("tools", "tools must be an array"))?
                    .iter()
                    .map(|tool| {
                        json!({ "type": "function", "function": {
                            "name": tool["name"], "description": tool.get("description").cloned().unwrap_or_else(|| json!("")),
                            "parameters": tool.get("input_schema").cloned().unwrap_or_else(|| json!({ "type": "object" })),
                        } })
                    })
                    .collect();
                out.insert("tools".into(), Value::Array(tools));
            }
            "tool_choice" => {
                let choice = match value["type"].as_str() {
                    Some("any") => json!("required"),
                    Some("none") => json!("none"),
                    Some("tool") => json!({ "type": "function", "function": { "name": value["name"] } }),
                    _ => json!("auto"),
                };
                out.insert("tool_choice".into(), choice);
                if value["disable_parallel_tool_use"] == Value::Bool(true) {
                    out.insert("parallel_tool_calls".into(), Value::Bool(false));
                }
            }
            // `system` and `messages` are translated above; top_k, thinking and the like have no
            // OpenAI equivalent.
            _ => {}
        }
    }
    out.insert("messages".into(), Value::Array(messages));
    Ok(out)
}

/// OpenAI's finish reason in Anthropic's terms.
fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        _ => "end_turn",
    }
}

/// An OpenAI chat completion as an Anthropic message.
pub fn to_message(answer: &Value, usage: Usage) -> Value {
    let choice = &answer["choices"][0];
    let message = &choice["message"];
    let mut content = Vec::new();
    let text = content_text(&message["content"]);
    if !text.is_empty() {
        content.push(json!({ "type": "text", "text": text }));
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let arguments = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("{}");
        content.push(json!({
            "type": "tool_use", "id": call["id"], "name": call.pointer("/function/name").cloned().unwrap_or_default(),
            "input": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
        }));
    }
    json!({
        "id": answer.get("id").cloned().unwrap_or_else(|| json!("msg")),
        "type": "message", "role": "assistant",
        "model": answer.get("model").cloned().unwrap_or_default(),
        "content": content,
        "stop_reason": stop_reason(choice["finish_reason"].as_str()),
        "stop_sequence": null,
        "usage": { "input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens },
    })
}

/// OpenAI chunks → Anthropic's stream events, for Anthropic-shaped clients.
#[derive(Default)]
pub struct StreamEncoder {
    started: bool,
    /// The open content block: its index, and whether it is text (else a tool call).
    open: Option<(u64, bool)>,
    next_block: u64,
    stop: Option<String>,
}

fn sse(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

impl StreamEncoder {
    fn start(&mut self, chunk: &Value, out: &mut String) {
        if !self.started {
            self.started = true;
            out.push_str(&sse(
                "message_start",
                &json!({ "type": "message_start", "message": {
                    "id": chunk.get("id").cloned().unwrap_or_else(|| json!("msg")), "type": "message", "role": "assistant",
                    "model": chunk.get("model").cloned().unwrap_or_default(), "content": [],
                    "stop_reason": null, "stop_sequence": null, "usage": { "input_tokens": 0, "output_tokens": 0 } } }),
            ));
        }
    }

    fn close_block(&mut self, out: &mut String) {
        if let Some((index, _)) = self.open.take() {
            out.push_str(&sse(
                "content_block_stop",
                &json!({ "type": "content_block_stop", "index": index }),
            ));
        }
    }

    fn open_block(&mut self, block: Value, text: bool, out: &mut String) -> u64 {
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, text));
        out.push_str(&sse(
            "content_block_start",
            &json!({ "type": "content_block_start", "index": index, "content_block": block }),
        ));
        index
    }

    /// The events for one OpenAI chunk.
    pub fn chunk(&mut self, chunk: &Value) -> String {
        let mut out = String::new();
        self.start(chunk, &mut out);
        let choice = &chunk["choices"][0];
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            let index = match self.open {
                Some((index, true)) => index,
                _ => self.open_block(json!({ "type": "text", "text": "" }), true, &mut out),
            };
            out.push_str(&sse(
                "content_block_delta",
                &json!({ "type": "content_block_delta", "index": index, "delta": { "type": "text_delta", "text": text } }),
            ));
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            if let Some(id) = call.get("id").filter(|id| id.is_string()) {
                let block = json!({ "type": "tool_use", "id": id, "name": call.pointer("/function/name").cloned().unwrap_or_default(), "input": {} });
                self.open_block(block, false, &mut out);
            }
            let arguments = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .unwrap_or("");
            if let (Some((index, false)), false) = (self.open, arguments.is_empty()) {
                out.push_str(&sse(
                    "content_block_delta",
                    &json!({ "type": "content_block_delta", "index": index,
                             "delta": { "type": "input_json_delta", "partial_json": arguments } }),
                ));
            }
        }
        if let Some(finish) = choice["finish_reason"].as_str() {
            self.stop = Some(finish.to_string());
        }
        out
    }

    /// The closing events, with the usage.
    pub fn finish(&mut self, usage: Usage) -> String {
        let mut out = String::new();
        self.start(&Value::Null, &mut out);
        self.close_block(&mut out);
        out.push_str(&sse(
            "message_delta",
            &json!({ "type": "message_delta",
                     "delta": { "stop_reason": stop_reason(self.stop.as_deref()), "stop_sequence": null },
                     "usage": { "input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens } }),
        ));
        out.push_str(&sse("message_stop", &json!({ "type": "message_stop" })));
        out
    }

    /// An error event (the stream then ends without `message_stop`).
    pub fn error(&mut self, kind: &str, message: &str) -> String {
        sse(
            "error",
            &json!({ "type": "error", "error": { "type": kind, "message": message } }),
        )
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
        let answer = answer(body.to_string().as_bytes(), 5).unwrap();
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
        assert!(super::answer(b"{\"type\":\"message\"}", 0).is_err());
    }

    #[test]
    fn stream_events_become_chunks_with_usage() {
        let mut decoder = StreamDecoder::new(1);
        let mut items = Vec::new();
        for (name, data) in [
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":4,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            ("ping", r#"{"type":"ping"}"#),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
            ),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":6}}"#,
            ),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ] {
            items.extend(decoder.event(name, data).unwrap());
        }
        let chunks: Vec<&Value> = items
            .iter()
            .filter_map(|i| match i {
                StreamItem::Chunk(c) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(
            chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
            "f"
        );
        assert_eq!(
            chunks[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{}"
        );
        assert_eq!(chunks[4]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            &items[items.len() - 2..],
            &[
                StreamItem::Usage(Usage {
                    prompt_tokens: 4,
                    completion_tokens: 6
                }),
                StreamItem::Done
            ]
        );
        let fault = decoder
            .event(
                "error",
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            )
            .unwrap_err();
        assert!(matches!(fault, StreamFault::Reported { status: 529, .. }), "{fault:?}");
    }

    #[test]
    fn anthropic_clients_requests_round_trip_through_the_openai_shape() {
        let body = object(json!({
            "model": "claude", "max_tokens": 20, "system": "Be brief.", "stop_sequences": ["X"],
            "messages": [
                { "role": "user", "content": "Hello" },
                { "role": "assistant", "content": [{ "type": "tool_use", "id": "t1", "name": "f", "input": { "a": 1 } }] },
                { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t1", "content": "42" }] },
            ],
            "tools": [{ "name": "f", "input_schema": { "type": "object" } }],
            "tool_choice": { "type": "tool", "name": "f" },
        }));
        let openai = from_messages_request(&body).unwrap();
        let messages = openai["messages"].as_array().unwrap();
        assert_eq!(messages[0], json!({ "role": "system", "content": "Be brief." }));
        assert_eq!(messages[2]["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
        assert_eq!(
            messages[3],
            json!({ "role": "tool", "tool_call_id": "t1", "content": "42" })
        );
        assert_eq!(openai["stop"], json!(["X"]));
        assert_eq!(openai["tool_choice"]["function"]["name"], "f");
        // And back: what reaches an Anthropic endpoint keeps the conversation.
        let back = Value::Object(to_messages_request(&openai));
        assert_eq!(back["system"], "Be brief.");
        assert_eq!(back["messages"][1]["content"][0]["input"], json!({ "a": 1 }));
        assert_eq!(back["messages"][2]["content"][0]["tool_use_id"], "t1");
        assert_eq!(back["tool_choice"], json!({ "type": "tool", "name": "f" }));
        let refused = from_messages_request(&object(json!({ "messages": "hi" }))).unwrap_err();
        assert_eq!(refused.param, "messages");
    }

    #[test]
    fn chunks_become_anthropic_events() {
        let mut encoder = StreamEncoder::default();
        let mut out = encoder.chunk(
            &json!({ "id": "c", "model": "m", "choices": [{ "delta": { "role": "assistant", "content": "" } }] }),
        );
        out += &encoder.chunk(&json!({ "choices": [{ "delta": { "content": "Hi" } }] }));
        out += &encoder.chunk(&json!({ "choices": [{ "delta": {}, "finish_reason": "length" }] }));
        out += &encoder.finish(Usage {
            prompt_tokens: 2,
            completion_tokens: 3,
        });
        let names: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert!(out.contains(r#""stop_reason":"max_tokens""#), "{out}");
        assert!(out.contains(r#""output_tokens":3"#), "{out}");
    }
}
