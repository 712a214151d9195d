//! Anthropic's stream events → the steps of an OpenAI-shaped stream (issue #26): each event
//! read once into borrowed, typed fields (what is not named here is skipped), no JSON tree.
//!
//! Invariant: usage is the `message_start`'s input (with cache reads and writes) and the last
//! `message_delta`'s output, handed on at `message_stop`.

use super::{
    super::{
        step::{Delta, Head, Step},
        StreamFault, StreamItem, Usage,
    },
    TokenUsage,
};
use serde::Deserialize;
use std::{borrow::Cow, sync::Arc};

/// What a stream event can carry, every kind's fields side by side.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    index: Option<u64>,
    /// `message_start`'s message.
    #[serde(borrow, default)]
    message: Option<Message<'a>>,
    /// `content_block_start`'s block.
    #[serde(borrow, default)]
    content_block: Option<Block<'a>>,
    /// `content_block_delta`'s (text or a tool's input) and `message_delta`'s (stop reason).
    #[serde(borrow, default)]
    delta: Option<EventDelta<'a>>,
    /// `message_delta`'s usage.
    #[serde(default)]
    usage: Option<TokenUsage>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<TokenUsage>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct EventDelta<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    partial_json: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
}

/// Anthropic stream events → OpenAI-shaped steps.
pub struct StreamDecoder {
    head: Arc<Head>,
    usage: Usage,
    /// Anthropic content-block index → OpenAI tool-call index.
    tools: Vec<(u64, u64)>,
}

impl StreamDecoder {
    /// A decoder whose chunks carry `stamp` until `message_start` names the id and model.
    pub fn new(stamp: Head) -> Self {
        StreamDecoder {
            head: Arc::new(stamp),
            usage: Usage::default(),
            tools: Vec::new(),
        }
    }

    fn step(&self, delta: Delta, finish_reason: Option<&'static str>) -> StreamItem {
        StreamItem::Step(Step {
            head: self.head.clone(),
            delta,
            finish_reason,
        })
    }

    /// What one event (its SSE `event:` name, and its `data:`) means.
    pub fn event(&mut self, name: &str, data: &str) -> Result<Vec<StreamItem>, StreamFault> {
        let event: Event = serde_json::from_str(data)
            .map_err(|e| StreamFault::Unreadable(format!("the upstream sent an unreadable event: {e}")))?;
        let kind = event.kind.as_deref().unwrap_or(name);
        Ok(match kind {
            "message_start" => {
                let message = event.message;
                let head = Arc::make_mut(&mut self.head);
                if let Some(id) = message.as_ref().and_then(|m| m.id.as_deref()) {
                    head.id = id.to_string();
                }
                if let Some(model) = message.as_ref().and_then(|m| m.model.as_deref()) {
                    head.model = model.to_string();
                }
                if let Some(usage) = message.as_ref().and_then(|m| m.usage.as_ref()?.usage()) {
                    self.usage = usage;
                }
                vec![self.step(Delta::Role, None)]
            }
            "content_block_start" => {
                let Some(block) = event.content_block else {
                    return Ok(vec![]);
                };
                match block.kind.as_deref() {
                    Some("tool_use") => {
                        let index = self.tools.len() as u64;
                        self.tools.push((event.index.unwrap_or(0), index));
                        vec![self.step(
                            Delta::ToolStart {
                                index,
                                id: block.id.map(Cow::into_owned),
                                name: block.name.map(Cow::into_owned),
                            },
                            None,
                        )]
                    }
                    Some("text") => match block.text {
                        Some(text) if !text.is_empty() => {
                            vec![self.step(Delta::Content(text.into_owned()), None)]
                        }
                        _ => vec![],
                    },
                    _ => vec![],
                }
            }
            "content_block_delta" => {
                let Some(delta) = event.delta else {
                    return Ok(vec![]);
                };
                match delta.kind.as_deref() {
                    Some("text_delta") => {
                        let text = delta.text.map(Cow::into_owned).unwrap_or_default();
                        vec![self.step(Delta::Content(text), None)]
                    }
                    Some("input_json_delta") => {
                        let block = event.index.unwrap_or(0);
                        let index = self.tools.iter().find(|(b, _)| *b == block).map_or(0, |(_, i)| *i);
                        let arguments = delta.partial_json.map(Cow::into_owned).unwrap_or_default();
                        vec![self.step(Delta::ToolArguments { index, arguments }, None)]
                    }
                    _ => vec![],
                }
            }
            "message_delta" => {
                if let Some(usage) = &event.usage {
                    if let Some(output) = usage.output_tokens {
                        self.usage.completion_tokens = output;
                    }
                    if let Some(input) = usage.input_tokens {
                        self.usage.prompt_tokens = self.usage.prompt_tokens.max(input);
                    }
                }
                let stop = event.delta.as_ref().and_then(|d| d.stop_reason.as_deref());
                vec![self.step(Delta::Empty, super::finish_reason(stop.or(Some("end_turn"))))]
            }
            "message_stop" => vec![StreamItem::Usage(self.usage), StreamItem::Done],
            "error" => {
                // Rare, and read whole: its body is Anthropic's error shape.
                let body: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
                let error = super::error(&body);
                return Err(StreamFault::Reported {
                    status: super::status_of(&error.kind),
                    message: error.message,
                });
            }
            // `ping`, `content_block_stop` and events added later carry nothing for the client.
            _ => vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn stream_events_become_steps_with_usage() {
        let mut decoder = StreamDecoder::new(crate::proxy::providers::Stamp::stamped("chatcmpl-test", 1));
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
        let chunks: Vec<Value> = items
            .iter()
            .filter_map(|i| match i {
                StreamItem::Step(step) => Some(step.tree()),
                _ => None,
            })
            .collect();
        assert_eq!(
            chunks[0],
            json!({ "id": "m", "object": "chat.completion.chunk", "created": 1, "model": "c",
                    "choices": [{ "index": 0, "delta": { "role": "assistant", "content": "" }, "finish_reason": null }] })
        );
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
    fn cache_reads_and_writes_count_as_input_and_escaped_text_is_read_whole() {
        let mut decoder = StreamDecoder::new(crate::proxy::providers::Stamp::stamped("chatcmpl-test", 1));
        let start = r#"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":4,"cache_read_input_tokens":10,"cache_creation_input_tokens":2,"output_tokens":1}}}"#;
        decoder.event("message_start", start).unwrap();
        let items = decoder
            .event(
                "content_block_delta",
                r#"{"index":0,"delta":{"text":"say \"hi\"\n","type":"text_delta"},"type":"content_block_delta"}"#,
            )
            .unwrap();
        let [StreamItem::Step(step)] = &items[..] else {
            panic!("{items:?}");
        };
        assert_eq!(step.text(), Some("say \"hi\"\n"));
        let items = decoder.event("message_stop", r#"{"type":"message_stop"}"#).unwrap();
        assert_eq!(
            items[0],
            StreamItem::Usage(Usage {
                prompt_tokens: 16,
                completion_tokens: 1
            })
        );
        assert!(matches!(
            decoder.event("content_block_delta", "{not json"),
            Err(StreamFault::Unreadable(_))
        ));
    }
}
