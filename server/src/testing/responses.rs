//! The mock's OpenAI Responses API (`/v1/responses`, Azure's `/openai/v1/responses`): a
//! response object, or its typed events, as OpenAI sends them (issue #25).

use super::Usage;
use serde_json::{json, Value};

const ID: &str = "resp_mock";
const ITEM: &str = "msg_mock";

/// The text of the last user message in a Responses `input` (a string, or items).
pub fn last_user_text(request: &Value) -> Option<String> {
    match request.get("input")? {
        Value::String(text) => Some(text.clone()),
        Value::Array(items) => {
            let item = items.iter().rev().find(|item| item["role"] == "user")?;
            Some(match &item["content"] {
                Value::String(text) => text.clone(),
                Value::Array(parts) => (parts.iter())
                    .filter_map(|part| part["text"].as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            })
        }
        _ => None,
    }
}

fn usage_of(usage: Usage) -> Value {
    json!({ "input_tokens": usage.prompt, "input_tokens_details": { "cached_tokens": 0 },
            "output_tokens": usage.completion, "output_tokens_details": { "reasoning_tokens": 0 },
            "total_tokens": usage.prompt + usage.completion })
}

fn message(text: &str, status: &str) -> Value {
    let content = match status {
        "in_progress" => json!([]),
        _ => json!([{ "type": "output_text", "text": text, "annotations": [] }]),
    };
    json!({ "type": "message", "id": ITEM, "status": status, "role": "assistant", "content": content })
}

/// A response object; `usage` and the output once it is complete. `previous_response_id` and
/// `tools` are echoed, as OpenAI does.
pub fn response(request: &Value, model: &str, output: Option<(&str, Usage)>) -> Value {
    let (status, items, usage) = match output {
        Some((text, usage)) => ("completed", json!([message(text, "completed")]), usage_of(usage)),
        None => ("in_progress", json!([]), Value::Null),
    };
    json!({
        "id": ID, "object": "response", "created_at": 1_700_000_000, "status": status, "error": null,
        "incomplete_details": null, "instructions": request.get("instructions").cloned().unwrap_or_default(),
        "max_output_tokens": null, "model": model, "output": items, "parallel_tool_calls": true,
        "previous_response_id": request.get("previous_response_id").cloned().unwrap_or_default(),
        "store": true, "temperature": 1.0, "text": { "format": { "type": "text" } }, "tool_choice": "auto",
        "tools": request.get("tools").cloned().unwrap_or_else(|| json!([])), "top_p": 1.0,
        "truncation": "disabled", "usage": usage, "metadata": {},
    })
}

/// The stream's events, numbered: the response opened, its message item and text part, the
/// words as deltas, everything closed, then `response.completed` with the usage.
pub fn events(request: &Value, model: &str, words: &[String], usage: Usage) -> Vec<String> {
    let text: String = words.concat();
    let mut bodies = vec![
        json!({ "type": "response.created", "response": response(request, model, None) }),
        json!({ "type": "response.in_progress", "response": response(request, model, None) }),
        json!({ "type": "response.output_item.added", "output_index": 0, "item": message("", "in_progress") }),
        json!({ "type": "response.content_part.added", "item_id": ITEM, "output_index": 0, "content_index": 0,
                "part": { "type": "output_text", "text": "", "annotations": [] } }),
    ];
    bodies.extend(words.iter().map(|word| {
        json!({ "type": "response.output_text.delta", "item_id": ITEM, "output_index": 0, "content_index": 0,
                "delta": word, "logprobs": [] })
    }));
    bodies.extend([
        json!({ "type": "response.output_text.done", "item_id": ITEM, "output_index": 0, "content_index": 0,
                "text": text, "logprobs": [] }),
        json!({ "type": "response.content_part.done", "item_id": ITEM, "output_index": 0, "content_index": 0,
                "part": { "type": "output_text", "text": text, "annotations": [] } }),
        json!({ "type": "response.output_item.done", "output_index": 0, "item": message(&text, "completed") }),
        json!({ "type": "response.completed", "response": response(request, model, Some((&text, usage))) }),
    ]);
    (bodies.into_iter().enumerate())
        .map(|(sequence, mut body)| {
            body["sequence_number"] = json!(sequence);
            let kind = body["type"].as_str().unwrap_or_default().to_string();
            format!("event: {kind}\ndata: {body}\n\n")
        })
        .collect()
}

/// The `error` event a failing stream ends with.
pub fn error_event() -> String {
    let body =
        r#"{"type":"error","code":"server_error","message":"mock upstream error","param":null,"sequence_number":99}"#;
    format!("event: error\ndata: {body}\n\n")
}
