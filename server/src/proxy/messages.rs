//! The Anthropic Messages dialect on the client's side (`POST /v1/messages`): its requests
//! read into the canonical OpenAI shape, and answers and streams written back in it — from any
//! endpoint. It sits beside the OpenAI dialect ([`super::wire`]); talking to Anthropic as an
//! upstream is the provider adapter's (`providers::anthropic`).
//!
//! Does not: carry Anthropic-only content (thinking, citations, cache control) through a
//! non-Anthropic endpoint (it refuses unknown fields).

use super::providers::{content_text, Usage};
use serde_json::{json, Map, Value};

mod stream;

pub use stream::StreamEncoder;

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
///
/// `max_tokens` is required, as Anthropic's API requires it: a client written for that API
/// sends it, and one that does not would be refused by an Anthropic endpoint anyway — better
/// refused the same way whichever endpoint would serve it.
pub fn from_messages_request(body: &Map<String, Value>) -> Result<Map<String, Value>, BadField> {
    if body.get("max_tokens").is_none_or(Value::is_null) {
        return Err(bad("max_tokens", "max_tokens: Field required"));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::providers::anthropic::to_messages_request;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
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
        let refused = from_messages_request(&object(json!({ "max_tokens": 5, "messages": "hi" }))).unwrap_err();
        assert_eq!(refused.param, "messages");
        let refused = from_messages_request(&object(json!({ "messages": [] }))).unwrap_err();
        assert_eq!(refused.param, "max_tokens", "Anthropic's API requires it");
    }
}
