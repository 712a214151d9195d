//! Amazon Bedrock's Converse API as an upstream (issue #25): OpenAI-shaped requests sent to
//! `model/{id}/converse` (system, turns, images, tools and tool results, inference settings),
//! its answers, its binary event stream (`converse-stream`, decoded by `proxy::aws_events`
//! into named events, read here) and its errors back in OpenAI's terms. Requests are signed
//! with SigV4 by `proxy::sigv4` after they are built: adapters have no clocks.
//!
//! Embeddings go to `InvokeModel` in each model family's own body (`embeddings`).
//! Does not: serve legacy completions.

pub mod embeddings;

use super::{
    content_text,
    step::{Delta, Head, Step},
    Answer, AnswerBody, Call, ContentPart, Image, Invalid, Operation, Outbound, StreamFault, StreamItem, UpstreamError,
    Usage,
};
use app::types::InferenceEndpoint;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Bedrock's Converse API.
pub struct Bedrock;

impl super::Adapter for Bedrock {
    fn supports(&self, operation: Operation) -> bool {
        matches!(operation, Operation::Chat | Operation::Embeddings)
    }

    fn refuses(
        &self,
        endpoint: &InferenceEndpoint,
        operation: Operation,
        body: &Map<String, Value>,
    ) -> Option<(&'static str, &'static str)> {
        match operation {
            Operation::Embeddings => embeddings::refusal(&endpoint.model, body),
            Operation::Chat | Operation::Completions | Operation::Responses => None,
        }
    }

    fn request(&self, call: &Call<'_>) -> Outbound {
        let model = super::path_segment(&call.endpoint.model);
        let (method, body) = match (call.operation, call.stream) {
            (Operation::Embeddings, _) => ("invoke", embeddings::request(&call.endpoint.model, call.body)),
            (Operation::Chat | Operation::Completions | Operation::Responses, true) => {
                ("converse-stream", Value::Object(converse_request(call.body)))
            }
            (Operation::Chat | Operation::Completions | Operation::Responses, false) => {
                ("converse", Value::Object(converse_request(call.body)))
            }
        };
        Outbound {
            url: super::join(&call.endpoint.base_url, &format!("model/{model}/{method}")),
            // The signature is added by the caller (`proxy::sigv4`), with the clock.
            headers: Vec::new(),
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }

    fn answer(&self, operation: Operation, bytes: bytes::Bytes, stamp: &super::Stamp) -> Result<Answer, Invalid> {
        match operation {
            Operation::Embeddings => embeddings::answer(&bytes),
            Operation::Chat | Operation::Completions | Operation::Responses => answer(&bytes, stamp),
        }
    }

    fn stream_decoder(&self, _operation: Operation, stamp: &super::Stamp) -> super::StreamDecoder {
        super::StreamDecoder::Bedrock(StreamDecoder::new(stamp.clone()))
    }

    fn error(&self, body: &Value) -> UpstreamError {
        error(body)
    }
}

/// OpenAI content as Converse content blocks (empty text left out). Converse takes image bytes
/// only: a web address is dropped.
fn blocks(content: &Value) -> Vec<Value> {
    (super::content_parts(content).into_iter())
        .filter_map(|part| match part {
            ContentPart::Text("") | ContentPart::Image(Image::Url(_)) => None,
            ContentPart::Text(text) => Some(json!({ "text": text })),
            ContentPart::Image(Image::Inline { media_type, data }) => {
                let format = media_type.strip_prefix("image/").unwrap_or("png");
                Some(json!({ "image": { "format": format, "source": { "bytes": data } } }))
            }
        })
        .collect()
}

/// An OpenAI chat request as a Converse request (the model is in the path).
pub fn converse_request(body: &Map<String, Value>) -> Map<String, Value> {
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for message in body.get("messages").and_then(Value::as_array).into_iter().flatten() {
        let content = message.get("content").unwrap_or(&Value::Null);
        match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => system.push(json!({ "text": content_text(content) })),
            Some("assistant") => {
                let mut turn = blocks(content);
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
                    turn.push(json!({ "toolUse": {
                        "toolUseId": super::sent_call_id(call.get("id")),
                        "name": call.pointer("/function/name").cloned().unwrap_or_default(),
                        "input": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
                    } }));
                }
                super::push_turn(&mut messages, "assistant", "content", turn);
            }
            Some("tool") => {
                let result = json!({ "toolResult": {
                    "toolUseId": super::sent_call_id(message.get("tool_call_id")),
                    "content": [{ "text": content_text(content) }],
                } });
                super::push_turn(&mut messages, "user", "content", vec![result]);
            }
            _ => super::push_turn(&mut messages, "user", "content", blocks(content)),
        }
    }
    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let mut config = Map::new();
    if let Some(max) = (body.get("max_completion_tokens").or_else(|| body.get("max_tokens"))).filter(|v| v.is_u64()) {
        config.insert("maxTokens".into(), max.clone());
    }
    for (from, to) in [("temperature", "temperature"), ("top_p", "topP")] {
        if let Some(value) = body.get(from).filter(|value| value.is_number()) {
            config.insert(to.into(), value.clone());
        }
    }
    if let Some(stops) = super::stop_sequences(body) {
        config.insert("stopSequences".into(), stops);
    }
    if !config.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(config));
    }
    let tools: Vec<Value> = (body.get("tools").and_then(Value::as_array).into_iter().flatten())
        .filter_map(|tool| {
            let function = tool.get("function")?;
            let mut spec = json!({
                "name": function.get("name").cloned().unwrap_or_default(),
                "inputSchema": { "json": function.get("parameters").cloned().unwrap_or_else(|| json!({ "type": "object" })) },
            });
            if let Some(description) = function.get("description") {
                spec["description"] = description.clone();
            }
            Some(json!({ "toolSpec": spec }))
        })
        .collect();
    // Converse has no "none": without tools offered, none can be called — unless the
    // conversation already holds tool blocks, which Converse refuses without its tools.
    let none = body.get("tool_choice") == Some(&json!("none"));
    let history = (out["messages"].as_array().into_iter().flatten())
        .flat_map(|turn| turn["content"].as_array().into_iter().flatten())
        .any(|block| block.get("toolUse").is_some() || block.get("toolResult").is_some());
    if !tools.is_empty() && (!none || history) {
        let mut config = json!({ "tools": tools });
        let choice = match body.get("tool_choice") {
            Some(Value::String(choice)) if choice == "required" => Some(json!({ "any": {} })),
            Some(Value::String(_)) => Some(json!({ "auto": {} })),
            Some(Value::Object(choice)) => {
                (choice.get("function").and_then(|f| f.get("name"))).map(|name| json!({ "tool": { "name": name } }))
            }
            _ => None,
        };
        if let Some(choice) = choice {
            config["toolChoice"] = choice;
        }
        out.insert("toolConfig".into(), config);
    }
    out
}

/// Bedrock's stop reason in OpenAI's terms.
fn finish_reason(stop: Option<&str>) -> &'static str {
    match stop {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("guardrail_intervened" | "content_filtered") => "content_filter",
        _ => "stop",
    }
}

/// Converse's `usage`.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenUsage {
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_write_input_tokens: u64,
}

impl TokenUsage {
    fn usage(self) -> Usage {
        Usage {
            prompt_tokens: (self.input_tokens)
                .saturating_add(self.cache_read_input_tokens)
                .saturating_add(self.cache_write_input_tokens),
            completion_tokens: self.output_tokens,
        }
    }
}

/// A Converse answer as an OpenAI chat completion.
pub fn answer(bytes: &[u8], stamp: &super::Stamp) -> Result<Answer, Invalid> {
    let body: Value = serde_json::from_slice(bytes).map_err(|e| Invalid(e.to_string()))?;
    let blocks = (body.pointer("/output/message/content").and_then(Value::as_array))
        .ok_or_else(|| Invalid("no `output.message.content` array".into()))?;
    let text: String = blocks
        .iter()
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let tool_calls: Vec<Value> = (blocks.iter().filter_map(|b| b.get("toolUse")))
        .map(|call| {
            json!({ "id": call["toolUseId"], "type": "function",
                    "function": { "name": call["name"], "arguments": call["input"].to_string() } })
        })
        .collect();
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    let mut message = json!({ "role": "assistant", "content": content });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    let usage = (body.get("usage"))
        .and_then(|usage| TokenUsage::deserialize(usage).ok())
        .map(TokenUsage::usage);
    let mut out = json!({
        // Converse's answer has no id: the gateway's.
        "id": stamp.id, "object": "chat.completion", "created": stamp.created, "model": "",
        "choices": [{ "index": 0, "message": message,
                      "finish_reason": finish_reason(body.get("stopReason").and_then(Value::as_str)) }],
    });
    if let Some(usage) = usage {
        out["usage"] = usage.to_openai();
    }
    Ok(Answer {
        body: AnswerBody::Translated(out),
        usage,
    })
}

/// An AWS error body (`{"message": …}`; the type travels in `x-amzn-ErrorType`, or in the
/// event stream's `:exception-type`).
pub fn error(body: &Value) -> UpstreamError {
    let message = (body.get("message").or_else(|| body.get("Message")))
        .and_then(Value::as_str)
        .unwrap_or_default();
    UpstreamError {
        message: message.to_string(),
        kind: "invalid_request_error".into(),
        code: None,
        param: None,
        quota_exhausted: false,
    }
}

/// The HTTP status an event stream's exception stands for.
fn exception_status(kind: &str) -> u16 {
    match kind {
        "throttlingException" => 429,
        "validationException" => 400,
        "serviceUnavailableException" | "modelNotReadyException" => 503,
        "modelStreamErrorException" | "modelTimeoutException" => 424,
        _ => 500,
    }
}

/// Converse stream events → OpenAI-shaped steps.
pub struct StreamDecoder {
    head: Arc<Head>,
    /// Converse content-block index → OpenAI tool-call index.
    tools: Vec<(u64, u64)>,
    stopped: bool,
}

impl StreamDecoder {
    /// A decoder whose chunks carry `stamp` (Converse's stream names no id or model).
    pub fn new(stamp: Head) -> Self {
        StreamDecoder {
            head: Arc::new(stamp),
            tools: Vec::new(),
            stopped: false,
        }
    }

    fn step(&self, delta: Delta, finish_reason: Option<&'static str>) -> StreamItem {
        StreamItem::Step(Step {
            head: self.head.clone(),
            delta,
            finish_reason,
        })
    }

    /// What one event (its `:event-type`, or `exception:<type>` for an exception) means.
    pub fn event(&mut self, name: &str, data: &str) -> Result<Vec<StreamItem>, StreamFault> {
        let body: Value = serde_json::from_str(data)
            .map_err(|e| StreamFault::Unreadable(format!("the upstream sent an unreadable event: {e}")))?;
        if let Some(kind) = name.strip_prefix("exception:") {
            return Err(StreamFault::Reported {
                status: exception_status(kind),
                message: error(&body).message,
            });
        }
        let index = body.get("contentBlockIndex").and_then(Value::as_u64).unwrap_or(0);
        Ok(match name {
            "messageStart" => vec![self.step(Delta::Role, None)],
            "contentBlockStart" => match body.pointer("/start/toolUse") {
                Some(call) => {
                    let tool = self.tools.len() as u64;
                    self.tools.push((index, tool));
                    let text = |field: &str| call.get(field).and_then(Value::as_str).map(str::to_string);
                    vec![self.step(
                        Delta::ToolStart {
                            index: tool,
                            id: text("toolUseId"),
                            name: text("name"),
                        },
                        None,
                    )]
                }
                None => vec![],
            },
            "contentBlockDelta" => {
                let delta = body.get("delta").unwrap_or(&Value::Null);
                if let Some(text) = delta.get("text").and_then(Value::as_str) {
                    vec![self.step(Delta::Content(text.to_string()), None)]
                } else if let Some(input) = delta.pointer("/toolUse/input").and_then(Value::as_str) {
                    let tool = self
                        .tools
                        .iter()
                        .find(|(block, _)| *block == index)
                        .map_or(0, |(_, t)| *t);
                    vec![self.step(
                        Delta::ToolArguments {
                            index: tool,
                            arguments: input.to_string(),
                        },
                        None,
                    )]
                } else {
                    vec![]
                }
            }
            "messageStop" => {
                self.stopped = true;
                let stop = body.get("stopReason").and_then(Value::as_str);
                vec![self.step(Delta::Empty, Some(finish_reason(stop)))]
            }
            // The last event: the usage, after the stop.
            "metadata" if self.stopped => {
                let usage = (body.get("usage"))
                    .and_then(|usage| TokenUsage::deserialize(usage).ok())
                    .map(TokenUsage::usage);
                // Without a figure from upstream the gateway's estimate stands.
                usage
                    .map(StreamItem::Usage)
                    .into_iter()
                    .chain([StreamItem::Done])
                    .collect()
            }
            _ => vec![],
        })
    }
}

#[cfg(test)]
mod tests;
