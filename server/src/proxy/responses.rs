//! OpenAI's Responses API on the client's side (`POST /v1/responses`, issue #25): its requests
//! read into the canonical chat shape, and answers and streams written back as Responses
//! objects and typed events — from any endpoint, as `messages` does for Anthropic's shape. A
//! request whose endpoints all serve the Responses API themselves (OpenAI, Azure OpenAI) goes
//! to them as it came instead (`route::native`); the reading here is then only its estimate.
//!
//! Invariant: what only OpenAI's own Responses API can serve (the conversation it keeps —
//! `previous_response_id`, `conversation`, background responses, stored items and prompts —
//! and its hosted tools and file inputs) is noted as the reading's `native_only`, left out of
//! the chat shape, and refused with a 400 naming the field unless the request goes to that
//! API: never silently dropped.

use super::{
    messages::BadField,
    providers::{content_text, Usage},
};
use serde_json::{json, Map, Value};

mod stream;

pub use stream::{error_event, StreamEncoder};

fn bad(param: &'static str, message: impl Into<String>) -> BadField {
    BadField {
        param,
        message: message.into(),
    }
}

/// A Responses request read into the chat shape, and the first thing in it only OpenAI's own
/// Responses API serves (left out of `chat`).
pub struct Translation {
    pub chat: Map<String, Value>,
    pub native_only: Option<BadField>,
}

/// Notes the first thing only OpenAI's own Responses API serves.
fn note(native_only: &mut Option<BadField>, param: &'static str, message: impl Into<String>) {
    if native_only.is_none() {
        *native_only = Some(bad(param, message));
    }
}

/// What a stateful field is noted with.
const STATEFUL: &str = "needs the conversation OpenAI's own Responses API keeps";

/// Responses content (a string, or input/output parts) as OpenAI chat content parts.
fn parts(content: &Value, native_only: &mut Option<BadField>) -> Result<Vec<Value>, BadField> {
    match content {
        Value::String(text) => Ok(vec![json!({ "type": "text", "text": text })]),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("input_text" | "output_text" | "text") => Some(Ok(
                    json!({ "type": "text", "text": part.get("text").cloned().unwrap_or_default() }),
                )),
                Some("input_image") => match part.get("image_url").and_then(Value::as_str) {
                    Some(url) => Some(Ok(json!({ "type": "image_url", "image_url": { "url": url } }))),
                    None => {
                        let message = "an input_image without its image_url is a file OpenAI keeps";
                        note(native_only, "input", message);
                        None
                    }
                },
                Some("refusal") => None,
                Some(other) => {
                    let message = format!("input content of type {other} is served by OpenAI's own Responses API only");
                    note(native_only, "input", message);
                    None
                }
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
fn messages(input: &Value, messages: &mut Vec<Value>, native_only: &mut Option<BadField>) -> Result<(), BadField> {
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
                let content = parts(item.get("content").unwrap_or(&Value::Null), native_only)?;
                messages.push(json!({ "role": role, "content": content }));
            }
            (None | Some("message"), Some("assistant")) => {
                let content = parts(item.get("content").unwrap_or(&Value::Null), native_only)?;
                let text = content_text(&Value::Array(content));
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
            (Some("item_reference"), _) => note(
                native_only,
                "input",
                "an item_reference needs the items OpenAI's own Responses API keeps",
            ),
            (Some(other), _) => note(
                native_only,
                "input",
                format!("input items of type {other} are served by OpenAI's own Responses API only"),
            ),
        }
    }
    Ok(())
}

/// A Responses request read as an OpenAI chat request (what only OpenAI's own Responses API
/// serves noted and left out).
pub fn from_responses_request(body: &Map<String, Value>) -> Result<Translation, BadField> {
    let mut native_only = None;
    for field in ["previous_response_id", "conversation"] {
        if body.get(field).is_some_and(|value| !value.is_null()) {
            note(&mut native_only, field, format!("{field} {STATEFUL}"));
        }
    }
    if body.get("background") == Some(&Value::Bool(true)) {
        let message = "background responses need the answer kept by OpenAI's own Responses API";
        note(&mut native_only, "background", message);
    }
    if body.get("prompt").is_some_and(Value::is_object) {
        let message = "OpenAI's stored prompts are served by its own Responses API only \
                       (name one of the gateway's prompts as a string)";
        note(&mut native_only, "prompt", message);
    }
    let mut chat = Vec::new();
    match body.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => chat.push(json!({ "role": "system", "content": text })),
        Some(_) => return Err(bad("instructions", "instructions must be a string")),
    }
    messages(body.get("input").unwrap_or(&Value::Null), &mut chat, &mut native_only)?;
    if native_only.is_some() && chat.is_empty() {
        // Only what OpenAI keeps: an empty turn stands for it (the reading is the estimate,
        // never sent).
        chat.push(json!({ "role": "user", "content": "" }));
    }
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
                let mut tools = Vec::new();
                for tool in (value.as_array()).ok_or_else(|| bad("tools", "tools must be an array"))? {
                    match tool.get("type").and_then(Value::as_str) {
                        Some("function") => {
                            let mut function = json!({ "name": tool.get("name").cloned().unwrap_or_default() });
                            for field in ["description", "parameters", "strict"] {
                                if let Some(value) = tool.get(field).filter(|value| !value.is_null()) {
                                    function[field] = value.clone();
                                }
                            }
                            tools.push(json!({ "type": "function", "function": function }));
                        }
                        Some(hosted) => note(
                            &mut native_only,
                            "tools",
                            format!("{hosted} tools run on OpenAI's own servers, through its Responses API"),
                        ),
                        None => return Err(bad("tools", "every tool needs a type")),
                    }
                }
                if !tools.is_empty() {
                    out.insert("tools".into(), Value::Array(tools));
                }
            }
            "tool_choice" => {
                let choice = match value {
                    Value::String(_) => value.clone(),
                    Value::Object(choice) if choice.get("type") == Some(&json!("function")) => {
                        json!({ "type": "function", "function": { "name": choice.get("name").cloned().unwrap_or_default() } })
                    }
                    Value::Object(_) => {
                        let message = "a tool_choice naming a hosted tool or a set of tools is served by \
                                       OpenAI's own Responses API only";
                        note(&mut native_only, "tool_choice", message);
                        continue;
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
    Ok(Translation { chat: out, native_only })
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
