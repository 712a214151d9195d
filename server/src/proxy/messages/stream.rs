//! OpenAI chunks → Anthropic's stream events, for Anthropic-shaped clients: from a chunk's
//! tree (guardrails or the cache read it), or without one (issue #26) from an OpenAI-shaped
//! upstream's own chunk (read once, borrowed and typed) or a translated stream's step. Each
//! is read into one [`Piece`], and the events are written from typed fields.

use super::{stop_reason, Usage};
use crate::proxy::stream::piece::{FromPieces, Piece};
use serde::Serialize;

/// OpenAI chunks → Anthropic's stream events.
#[derive(Default)]
pub struct StreamEncoder {
    started: bool,
    /// The open content block: its index, and whether it is text (else a tool call).
    open: Option<(u64, bool)>,
    next_block: u64,
    stop: Option<String>,
}

/// Anthropic's stream events, as serde writes them (`type` first).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart { message: StartMessage<'a> },
    ContentBlockStart { index: u64, content_block: BlockStart<'a> },
    ContentBlockDelta { index: u64, delta: BlockDelta<'a> },
    ContentBlockStop { index: u64 },
    MessageDelta { delta: StopDelta, usage: Tokens },
    MessageStop,
    Error { error: ErrorBody<'a> },
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop => "message_stop",
            Event::Error { .. } => "error",
        }
    }

    /// The event as SSE, added to `out`.
    fn write(&self, out: &mut String) {
        out.push_str("event: ");
        out.push_str(self.name());
        out.push_str("\ndata: ");
        // Borrowed strings and numbers written into memory cannot fail.
        out.push_str(&serde_json::to_string(self).unwrap_or_default());
        out.push_str("\n\n");
    }
}

#[derive(Serialize)]
struct StartMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: Option<&'a str>,
    content: [(); 0],
    stop_reason: Option<()>,
    stop_sequence: Option<()>,
    usage: Tokens,
}

#[derive(Serialize)]
struct Tokens {
    input_tokens: u64,
    output_tokens: u64,
}

/// `{}`: a tool call's input, streamed after.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockStart<'a> {
    Text {
        text: &'static str,
    },
    ToolUse {
        id: &'a str,
        name: Option<&'a str>,
        input: Empty,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta<'a> {
    TextDelta { text: &'a str },
    InputJsonDelta { partial_json: &'a str },
}

#[derive(Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<()>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

impl StreamEncoder {
    fn start(&mut self, id: Option<&str>, model: Option<&str>, out: &mut String) {
        if !self.started {
            self.started = true;
            let message = StartMessage {
                id: id.unwrap_or("msg"),
                kind: "message",
                role: "assistant",
                model,
                content: [],
                stop_reason: None,
                stop_sequence: None,
                usage: Tokens {
                    input_tokens: 0,
                    output_tokens: 0,
                },
            };
            Event::MessageStart { message }.write(out);
        }
    }

    fn close_block(&mut self, out: &mut String) {
        if let Some((index, _)) = self.open.take() {
            Event::ContentBlockStop { index }.write(out);
        }
    }

    fn open_block(&mut self, block: BlockStart<'_>, text: bool, out: &mut String) -> u64 {
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, text));
        Event::ContentBlockStart {
            index,
            content_block: block,
        }
        .write(out);
        index
    }

    /// The closing events, with the usage.
    pub fn finish(&mut self, usage: Usage) -> String {
        let mut out = String::new();
        self.start(None, None, &mut out);
        self.close_block(&mut out);
        Event::MessageDelta {
            delta: StopDelta {
                stop_reason: stop_reason(self.stop.as_deref()),
                stop_sequence: None,
            },
            usage: Tokens {
                input_tokens: usage.prompt_tokens,
                output_tokens: usage.completion_tokens,
            },
        }
        .write(&mut out);
        Event::MessageStop.write(&mut out);
        out
    }

    /// An error event (the stream then ends without `message_stop`).
    pub fn error(&mut self, kind: &str, message: &str) -> String {
        let mut out = String::new();
        Event::Error {
            error: ErrorBody { kind, message },
        }
        .write(&mut out);
        out
    }
}

impl FromPieces for StreamEncoder {
    fn piece(&mut self, piece: &Piece<'_>) -> String {
        let mut out = String::new();
        self.start(piece.id.as_deref(), piece.model.as_deref(), &mut out);
        if let Some(text) = piece.text.as_deref().filter(|t| !t.is_empty()) {
            let index = match self.open {
                Some((index, true)) => index,
                _ => self.open_block(BlockStart::Text { text: "" }, true, &mut out),
            };
            Event::ContentBlockDelta {
                index,
                delta: BlockDelta::TextDelta { text },
            }
            .write(&mut out);
        }
        for call in &piece.tools {
            if let Some(id) = call.id.as_deref() {
                let block = BlockStart::ToolUse {
                    id,
                    name: call.name(),
                    input: Empty {},
                };
                self.open_block(block, false, &mut out);
            }
            let arguments = call.arguments();
            if let (Some((index, false)), false) = (self.open, arguments.is_empty()) {
                Event::ContentBlockDelta {
                    index,
                    delta: BlockDelta::InputJsonDelta {
                        partial_json: arguments,
                    },
                }
                .write(&mut out);
            }
        }
        if let Some(finish) = piece.finish.as_deref() {
            self.stop = Some(finish.to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::providers::step::{Delta, Head, Step};
    use serde_json::{json, Value};
    use std::sync::Arc;

    /// Each event's name and data, the data as a tree.
    fn events(out: &str) -> Vec<(String, Value)> {
        out.split("\n\n")
            .filter(|event| !event.is_empty())
            .map(|event| {
                let (name, data) = event.split_once('\n').unwrap();
                let data = data.strip_prefix("data: ").unwrap();
                (
                    name.strip_prefix("event: ").unwrap().to_string(),
                    serde_json::from_str(data).unwrap(),
                )
            })
            .collect()
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
        assert_eq!(
            events(&out),
            [
                (
                    "message_start".to_string(),
                    json!({ "type": "message_start", "message": {
                    "id": "c", "type": "message", "role": "assistant", "model": "m", "content": [],
                    "stop_reason": null, "stop_sequence": null, "usage": { "input_tokens": 0, "output_tokens": 0 } } })
                ),
                (
                    "content_block_start".to_string(),
                    json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } })
                ),
                (
                    "content_block_delta".to_string(),
                    json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": "Hi" } })
                ),
                (
                    "content_block_stop".to_string(),
                    json!({ "type": "content_block_stop", "index": 0 })
                ),
                (
                    "message_delta".to_string(),
                    json!({ "type": "message_delta", "delta": { "stop_reason": "max_tokens", "stop_sequence": null }, "usage": { "input_tokens": 2, "output_tokens": 3 } })
                ),
                ("message_stop".to_string(), json!({ "type": "message_stop" })),
            ]
        );
    }

    #[test]
    fn a_translated_streams_steps_become_the_same_events_as_their_trees() {
        let head = Arc::new(Head {
            id: "m".into(),
            model: "c".into(),
            created: 1,
        });
        let steps = [
            (Delta::Role, None),
            (Delta::Content("Hi".into()), None),
            (
                Delta::ToolStart {
                    index: 0,
                    id: Some("t".into()),
                    name: Some("f".into()),
                },
                None,
            ),
            (
                Delta::ToolArguments {
                    index: 0,
                    arguments: "{}".into(),
                },
                None,
            ),
            (Delta::Empty, Some("tool_calls")),
        ]
        .map(|(delta, finish_reason)| Step {
            head: head.clone(),
            delta,
            finish_reason,
        });
        let (mut typed, mut trees) = (StreamEncoder::default(), StreamEncoder::default());
        let (mut from_steps, mut from_trees) = (String::new(), String::new());
        for step in &steps {
            from_steps += &typed.step(step);
            from_trees += &trees.chunk(&step.tree());
        }
        let usage = Usage {
            prompt_tokens: 1,
            completion_tokens: 2,
        };
        from_steps += &typed.finish(usage);
        from_trees += &trees.finish(usage);
        assert_eq!(from_steps, from_trees);
        let names: Vec<String> = events(&from_steps).into_iter().map(|(name, _)| name).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert!(from_steps.contains(r#""stop_reason":"tool_use""#), "{from_steps}");
        assert_eq!(
            events(&typed.error("api_error", "boom \"x\""))[0].1,
            json!({ "type": "error", "error": { "type": "api_error", "message": "boom \"x\"" } })
        );
    }

    #[test]
    fn an_upstreams_own_chunks_become_the_same_events_as_their_trees() {
        let chunks = [
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"say \"hi\"\n"},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"f","arguments":""}},{"index":1,"id":"t2","type":"function","function":{"name":"g","arguments":"{}"}}]}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"a\":1}"}}]}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        ];
        let mut decoder = crate::proxy::providers::openai::StreamDecoder;
        let (mut typed, mut trees) = (StreamEncoder::default(), StreamEncoder::default());
        let (mut from_chunks, mut from_trees) = (String::new(), String::new());
        for chunk in chunks {
            let items = decoder.event(chunk.to_string()).unwrap();
            let [crate::proxy::providers::StreamItem::Passed(passed)] = &items[..] else {
                panic!("{items:?}");
            };
            from_chunks += &typed.passed(passed);
            from_trees += &trees.chunk(&passed.tree());
        }
        assert_eq!(from_chunks, from_trees);
        assert!(from_chunks.contains(r#""text":"say \"hi\"\n""#), "{from_chunks}");
        assert!(from_chunks.contains(r#""partial_json":"{\"a\":1}""#), "{from_chunks}");
        assert_eq!(from_chunks.matches("\"type\":\"tool_use\"").count(), 2, "{from_chunks}");
    }
}
