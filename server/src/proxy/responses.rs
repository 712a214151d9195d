//! OpenAI's Responses API on the client's side (`POST /v1/responses`, issue #25): its requests
//! read into the canonical chat shape, and answers and streams written back as Responses
//! objects and typed events — from any endpoint, as `messages` does for Anthropic's shape.
//!
//! Invariant: the gateway keeps no conversation state, so what needs it (`previous_response_id`,
//! `conversation`, background responses, stored items) is refused with a 400 naming the field,
//! never silently dropped.
//! Does not: run OpenAI's hosted tools (web search, file search, code interpreter): only
//! function tools are served.

use super::{
    messages::BadField,
    providers::{content_text, Usage},
};
use serde_json::{json, Map, Value};

mod stream;

pub use stream::StreamEncoder;

fn bad(param: &'static str, message: impl Into<String>) -> BadField {
    BadField {
        param,
        message: message.into(),
    }
}

/// What a stateful field is refused with.
const STATELESS: &str = "needs the conversation kept on the server, and this gateway keeps none: \
                         send the earlier turns in `input` instead";

/// Responses content (a string, or input/output parts) as OpenAI chat content parts.
fn parts(content: &Value) -> Result<Vec<Value>, BadField> {
    match content {
        Value::String(text) => Ok(vec![json!({ "type": "text", "text": text })]),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("input_text" | "output_text" | "text") => Some(Ok(
                    json!({ "type": "text", "text": part.get("text").cloned().unwrap_or_default() }),
                )),
                Some("input_image") => Some(match part.get("image_url").and_then(Value::as_str) {
                    Some(url) => Ok(json!({ "type": "image_url", "image_url": { "url": url } })),
                    None => Err(bad(
                        "input",
                        "an input_image needs its image_url (uploaded files are not served)",
                    )),
                }),
                Some("refusal") => None,
                Some(other) => Some(Err(bad(
                    "input",
                    format!("input content of type {other} is not served"),
                ))),
                None => Some(Err(bad("input", "every content part needs a type"))),
            })
            .collect(),
        _ => Err(bad(
            "input",
            "a message's content must be a string or an array of parts",
        )),
    }
}

/// The input items as chat messages.
fn messages(input: &Value, messages: &mut Vec<Value>) -> Result<(), BadField> {
    let items = match input {
        Value::String(text) => {
            messages.push(json!({ "role": "user", "content": text }));
            return Ok(());
        }
        Value::Array(items) => items,
        _ => return Err(bad("input", "input must be a string or an array of items")),
    };
    for item in items {
        let kind = item.get("type").and_then(Value::as_str);
        match (kind, item.get("role").and_then(Value::as_str)) {
            (None | Some("message"), Some(role @ ("user" | "system" | "developer"))) => {
                let content = parts(item.get("content").unwrap_or(&Value::Null))?;
                messages.push(json!({ "role": role, "content": content }));
            }
            (None | Some("message"), Some("assistant")) => {
                let text = content_text(&Value::Array(parts(item.get("content").unwrap_or(&Value::Null))?));
                messages.push(json!({ "role": "assistant", "content": text }));
            }
            (None | Some("message"), _) => {
                return Err(bad(
                    "input",
                    "a message's role must be user, assistant, system or developer",
                ))
            }
            (Some("function_call"), _) => {
                let call = json!({
                    "id": item.get("call_id").cloned().unwrap_or_default(), "type": "function",
                    "function": { "name": item.get("name").cloned().unwrap_or_default(),
                                  "arguments": item.get("arguments").cloned().unwrap_or_else(|| json!("{}")) },
                });
                // Calls in a row are one assistant turn.
                match messages.last_mut() {
                    Some(last) if last["role"] == "assistant" && last.get("tool_calls").is_some() => {
                        if let Some(calls) = last["tool_calls"].as_array_mut() {
                            calls.push(call);
                        }
                    }
                    _ => messages.push(json!({ "role": "assistant", "content": null, "tool_calls": [call] })),
                }
            }
            (Some("function_call_output"), _) => {
                let output = match item.get("output") {
                    Some(Value::String(text)) => text.clone(),
                    Some(other) => content_text(other),
                    None => String::new(),
                };
                messages.push(
                    json!({ "role": "tool", "tool_call_id": item.get("call_id").cloned().unwrap_or_default(),
                                      "content": output }),
                );
            }
            // A reasoning model's summary of its own thinking: nothing a chat API takes back.
            (Some("reasoning"), _) => {}
            (Some("item_reference"), _) => return Err(bad("input", format!("an item_reference {STATELESS}"))),
            (Some(other), _) => return Err(bad("input", format!("input items of type {other} are not served"))),
        }
    }
    Ok(())
}

/// A Responses request as an OpenAI chat request.
pub fn from_responses_request(body: &Map<String, Value>) -> Result<Map<String, Value>, BadField> {
    for field in ["previous_response_id", "conversation"] {
        if body.get(field).is_some_and(|value| !value.is_null()) {
            return Err(bad(field, format!("{field} {STATELESS}")));
        }
    }
    if body.get("background") == Some(&Value::Bool(true)) {
        return Err(bad(
            "background",
            "background responses need the answer kept on the server, and this gateway keeps none",
        ));
    }
    let mut chat = Vec::new();
    match body.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => chat.push(json!({ "role": "system", "content": text })),
        Some(_) => return Err(bad("instructions", "instructions must be a string")),
    }
    messages(body.get("input").unwrap_or(&Value::Null), &mut chat)?;
    let mut out = Map::new();
    for (name, value) in body {
        match name.as_str() {
            "model" | "temperature" | "top_p" | "parallel_tool_calls" | "user" | "stream" => {
                out.insert(name.clone(), value.clone());
            }
            "max_output_tokens" => {
                // What reasoning models take (and every adapter reads).
                out.insert("max_completion_tokens".into(), value.clone());
            }
            "reasoning" => {
                if let Some(effort) = value.get("effort").filter(|effort| !effort.is_null()) {
                    out.insert("reasoning_effort".into(), effort.clone());
                }
            }
            "text" => {
                let format = value.get("format");
                let response_format = match format.and_then(|f| f.get("type")).and_then(Value::as_str) {
                    None | Some("text") => None,
                    Some("json_object") => Some(json!({ "type": "json_object" })),
                    Some("json_schema") => {
                        let format = format.unwrap_or(&Value::Null);
                        let mut schema = json!({ "name": format.get("name").cloned().unwrap_or_else(|| json!("response")),
                                                 "schema": format.get("schema").cloned().unwrap_or_default() });
                        if let Some(strict) = format.get("strict") {
                            schema["strict"] = strict.clone();
                        }
                        Some(json!({ "type": "json_schema", "json_schema": schema }))
                    }
                    Some(other) => return Err(bad("text", format!("text.format of type {other} is not served"))),
                };
                if let Some(response_format) = response_format {
                    out.insert("response_format".into(), response_format);
                }
            }
            "tools" => {
                let tools = (value.as_array())
                    .ok_or_else(|| bad("tools", "tools must be an array"))?
                    .iter()
                    .map(|tool| match tool.get("type").and_then(Value::as_str) {
                        Some("function") => {
                            let mut function = json!({ "name": tool.get("name").cloned().unwrap_or_default() });
                            for field in ["description", "parameters", "strict"] {
                                if let Some(value) = tool.get(field).filter(|value| !value.is_null()) {
                                    function[field] = value.clone();
                                }
                            }
                            Ok(json!({ "type": "function", "function": function }))
                        }
                        other => Err(bad(
                            "tools",
                            format!(
                                "only function tools are served ({} runs on OpenAI's own servers)",
                                other.unwrap_or("a tool without a type")
                            ),
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                out.insert("tools".into(), Value::Array(tools));
            }
            "tool_choice" => {
                let choice = match value {
                    Value::String(_) => value.clone(),
                    Value::Object(choice) if choice.get("type") == Some(&json!("function")) => {
                        json!({ "type": "function", "function": { "name": choice.get("name").cloned().unwrap_or_default() } })
                    }
                    _ => {
                        return Err(bad(
                            "tool_choice",
                            "tool_choice must be auto, none, required or a function",
                        ))
                    }
                };
                out.insert("tool_choice".into(), choice);
            }
            // `input` and `instructions` are translated above; `store`, `metadata`, `include`,
            // `truncation` and the like change nothing a chat API does.
            _ => {}
        }
    }
    out.insert("messages".into(), Value::Array(chat));
    Ok(out)
}

/// The status a chat finish reason gives a response, and why it is incomplete.
fn status(finish: Option<&str>) -> (&'static str, Value) {
    match finish {
        Some("length") => ("incomplete", json!({ "reason": "max_output_tokens" })),
        Some("content_filter") => ("incomplete", json!({ "reason": "content_filter" })),
        _ => ("completed", Value::Null),
    }
}

/// Responses' `usage`.
fn usage_of(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens, "input_tokens_details": { "cached_tokens": 0 },
        "output_tokens": usage.completion_tokens, "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": usage.total(),
    })
}

/// A response object: what `response.created` (no output, no usage yet) and the answer carry.
fn response(
    id: &str,
    model: &Value,
    created: &Value,
    finish: Option<Option<&str>>,
    output: Vec<Value>,
    usage: Option<Usage>,
) -> Value {
    let (status, incomplete) = match finish {
        Some(finish) => status(finish),
        None => ("in_progress", Value::Null),
    };
    json!({
        "id": id, "object": "response", "created_at": created, "status": status, "error": null,
        "incomplete_details": incomplete, "instructions": null, "max_output_tokens": null,
        "model": model, "output": output, "parallel_tool_calls": true, "previous_response_id": null,
        "reasoning": { "effort": null, "summary": null }, "store": false,
        "text": { "format": { "type": "text" } }, "tool_choice": "auto", "tools": [],
        "truncation": "disabled", "usage": usage.map(usage_of), "metadata": {},
    })
}

/// The response id for a chat answer's id.
fn response_id(id: &str) -> String {
    format!("resp_{}", id.trim_start_matches("chatcmpl-"))
}

/// A message output item holding `text`.
fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({ "type": "message", "id": id, "status": status, "role": "assistant",
            "content": [{ "type": "output_text", "text": text, "annotations": [], "logprobs": [] }] })
}

/// A function call output item.
fn call_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({ "type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments,
            "status": status })
}

/// An OpenAI chat completion as a response object.
pub fn to_response(answer: &Value, usage: Usage) -> Value {
    let choice = &answer["choices"][0];
    let message = &choice["message"];
    let id = response_id(answer.get("id").and_then(Value::as_str).unwrap_or("gateway"));
    let mut output = Vec::new();
    let text = content_text(&message["content"]);
    if !text.is_empty() {
        output.push(message_item(&format!("msg_{id}"), &text, "completed"));
    }
    for (index, call) in message["tool_calls"].as_array().into_iter().flatten().enumerate() {
        let text = |pointer: &str| call.pointer(pointer).and_then(Value::as_str).unwrap_or_default();
        output.push(call_item(
            &format!("fc_{index}_{id}"),
            text("/id"),
            text("/function/name"),
            text("/function/arguments"),
            "completed",
        ));
    }
    let finish = choice["finish_reason"].as_str();
    response(
        &id,
        &answer["model"],
        &answer["created"],
        Some(finish),
        output,
        Some(usage),
    )
}

#[cfg(test)]
mod tests;
