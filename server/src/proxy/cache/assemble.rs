//! A streamed answer put back together (issue #24): the canonical (OpenAI-shaped) chunks of a
//! stream a caching gateway's request missed with, gathered into the whole answer a JSON
//! request would have had — each choice's role, content (and every other text its deltas
//! carry: `reasoning_content`, `refusal`), tool calls merged by their index, finish reason —
//! so the next request like it, streamed or not, is a hit.
//!
//! Invariant: it holds at most the gateway's entry size of text; past it, the answer is not
//! kept (and no more is gathered). Nor is an answer with parts it does not put back together
//! (log probabilities, a legacy `function_call`, audio): a hit would lack them.
//! Invariant: only a stream that ended properly is kept (the caller's `Done`), so a cut,
//! failed or blocked stream never is.

use super::super::providers::{Operation, Usage};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One choice as its deltas built it.
#[derive(Default)]
struct Choice {
    role: Option<Value>,
    /// Each text field of the deltas (`content`, `reasoning_content`, `refusal`; `text` for
    /// legacy completions), joined.
    texts: BTreeMap<String, String>,
    /// Tool calls by their index: id, type, function name and arguments (joined).
    tool_calls: BTreeMap<u64, Map<String, Value>>,
    finish_reason: Value,
}

/// A stream's answer being gathered.
pub struct Assembly {
    operation: Operation,
    id: Value,
    created: Value,
    model: Value,
    choices: BTreeMap<u64, Choice>,
    /// Bytes of text gathered, and the most it may hold.
    bytes: usize,
    limit: usize,
    /// Past the limit, or holding a part it does not gather: not to be kept.
    unkeepable: bool,
}

impl Assembly {
    pub fn new(operation: Operation, limit: usize) -> Assembly {
        Assembly {
            operation,
            id: Value::Null,
            created: Value::Null,
            model: Value::Null,
            choices: BTreeMap::new(),
            bytes: 0,
            limit,
            unkeepable: false,
        }
    }

    fn add_text(&mut self, index: u64, field: &str, piece: &str) {
        self.bytes += piece.len();
        let choice = self.choices.entry(index).or_default();
        choice.texts.entry(field.to_string()).or_default().push_str(piece);
    }

    /// Gathers one chunk, as the provider sent it (before any guardrail).
    pub fn chunk(&mut self, chunk: &Value) {
        if self.unkeepable {
            return;
        }
        for (field, value) in [
            ("id", &mut self.id),
            ("created", &mut self.created),
            ("model", &mut self.model),
        ] {
            if value.is_null() {
                *value = chunk.get(field).cloned().unwrap_or_default();
            }
        }
        for (place, choice) in chunk["choices"].as_array().into_iter().flatten().enumerate() {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(place as u64);
            if choice.get("logprobs").is_some_and(|logprobs| !logprobs.is_null()) {
                self.unkeepable = true;
            }
            if let Some(text) = choice.get("text").and_then(Value::as_str) {
                self.add_text(index, "text", text);
            }
            if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
                for (field, value) in delta {
                    match (field.as_str(), value) {
                        ("role", role) if !role.is_null() => {
                            self.choices
                                .entry(index)
                                .or_default()
                                .role
                                .get_or_insert_with(|| role.clone());
                        }
                        ("tool_calls", Value::Array(calls)) => self.tool_calls(index, calls),
                        (field, Value::String(piece)) => self.add_text(index, field, piece),
                        (_, Value::Null) => {}
                        // A part not gathered (`function_call`, `audio`, …).
                        _ => self.unkeepable = true,
                    }
                }
            }
            if let Some(reason) = choice.get("finish_reason").filter(|reason| !reason.is_null()) {
                self.choices.entry(index).or_default().finish_reason = reason.clone();
            }
        }
        if self.bytes > self.limit || self.unkeepable {
            self.unkeepable = true;
            self.choices.clear();
        }
    }

    /// Merges a delta's tool calls: the first piece of each names it, the rest add to its
    /// arguments.
    fn tool_calls(&mut self, index: u64, calls: &[Value]) {
        for (place, call) in calls.iter().enumerate() {
            let at = call.get("index").and_then(Value::as_u64).unwrap_or(place as u64);
            let merged = (self.choices.entry(index).or_default().tool_calls)
                .entry(at)
                .or_default();
            for field in ["id", "type"] {
                if let Some(value) = call.get(field).filter(|value| !value.is_null()) {
                    merged.entry(field).or_insert_with(|| value.clone());
                }
            }
            let Some(function) = call.get("function") else { continue };
            let kept = merged
                .entry("function")
                .or_insert_with(|| json!({ "name": null, "arguments": "" }));
            if let Some(name) = function.get("name").filter(|name| !name.is_null()) {
                kept["name"] = name.clone();
            }
            if let Some(piece) = function.get("arguments").and_then(Value::as_str) {
                self.bytes += piece.len();
                if let Some(Value::String(arguments)) = kept.get_mut("arguments") {
                    arguments.push_str(piece);
                }
            }
        }
    }

    /// The whole answer, as a JSON request would have had it, with `usage`; `None` when it grew
    /// past the entry size or holds a part not gathered.
    pub fn answer(self, usage: Usage) -> Option<Value> {
        if self.unkeepable {
            return None;
        }
        let choices: Vec<Value> = (self.choices.into_iter())
            .map(|(index, mut choice)| match self.operation {
                Operation::Completions => json!({
                    "index": index,
                    "text": choice.texts.remove("text").unwrap_or_default(),
                    "finish_reason": choice.finish_reason,
                }),
                Operation::Chat | Operation::Embeddings | Operation::Responses => {
                    let mut message = Map::new();
                    message.insert("role".into(), choice.role.unwrap_or_else(|| json!("assistant")));
                    let content = choice.texts.remove("content").map_or(Value::Null, Value::String);
                    message.insert("content".into(), content);
                    for (field, text) in choice.texts {
                        message.insert(field, Value::String(text));
                    }
                    if !choice.tool_calls.is_empty() {
                        let calls = choice.tool_calls.into_values().map(Value::Object).collect();
                        message.insert("tool_calls".into(), Value::Array(calls));
                    }
                    json!({ "index": index, "message": message, "finish_reason": choice.finish_reason })
                }
            })
            .collect();
        let object = match self.operation {
            Operation::Completions => "text_completion",
            Operation::Chat | Operation::Embeddings | Operation::Responses => "chat.completion",
        };
        Some(json!({
            "id": self.id, "object": object, "created": self.created, "model": self.model,
            "choices": choices, "usage": usage.to_openai(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage() -> Usage {
        Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
        }
    }

    #[test]
    fn a_streamed_chat_answer_is_put_back_together_with_its_tool_calls() {
        let mut assembly = Assembly::new(Operation::Chat, 1 << 20);
        let chunks = [
            json!({"id":"c1","object":"chat.completion.chunk","created":7,"model":"m",
                   "choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"content":"Hel"}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"content":"lo","reasoning_content":"why"}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[
                {"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"a\""}}]}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[
                {"index":0,"function":{"arguments":":1}"}}]}}]}),
            json!({"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
        ];
        chunks.iter().for_each(|chunk| assembly.chunk(chunk));
        assert_eq!(
            assembly.answer(usage()).unwrap(),
            json!({"id":"c1","object":"chat.completion","created":7,"model":"m",
                   "choices":[{"index":0,"message":{"role":"assistant","content":"Hello","reasoning_content":"why",
                       "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"a\":1}"}}]},
                       "finish_reason":"tool_calls"}],
                   "usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})
        );
    }

    #[test]
    fn legacy_completions_and_several_choices_keep_their_places() {
        let mut assembly = Assembly::new(Operation::Completions, 1 << 20);
        assembly.chunk(
            &json!({"id":"x","created":1,"model":"m","choices":[{"index":1,"text":"b"},{"index":0,"text":"a"}]}),
        );
        assembly.chunk(
            &json!({"id":"x","choices":[{"index":0,"text":"!","finish_reason":"stop"},
                                                   {"index":1,"text":"?","finish_reason":"length"}]}),
        );
        let answer = assembly.answer(usage()).unwrap();
        assert_eq!(answer["object"], "text_completion");
        assert_eq!(
            answer["choices"],
            json!([{"index":0,"text":"a!","finish_reason":"stop"},{"index":1,"text":"b?","finish_reason":"length"}])
        );
    }

    #[test]
    fn an_answer_past_the_entry_size_or_with_parts_not_gathered_is_not_kept() {
        let mut assembly = Assembly::new(Operation::Chat, 8);
        assembly.chunk(&json!({"choices":[{"index":0,"delta":{"content":"12345"}}]}));
        assembly.chunk(&json!({"choices":[{"index":0,"delta":{"content":"67890"}}]}));
        assert_eq!(assembly.answer(usage()), None);
        for chunk in [
            json!({"choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[]}}]}),
            json!({"choices":[{"index":0,"delta":{"function_call":{"name":"f","arguments":""}}}]}),
        ] {
            let mut assembly = Assembly::new(Operation::Chat, 1 << 20);
            assembly.chunk(&json!({"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}));
            assembly.chunk(&chunk);
            assert_eq!(assembly.answer(usage()), None, "{chunk}");
        }
    }
}
