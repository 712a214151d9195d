//! A translated stream's chunk, typed (issue #26): what a translating decoder reads from its
//! dialect's event, and what the client's encoder writes, without a JSON tree per chunk.
//!
//! Invariant: [`Step::frame`] writes the same OpenAI chunk [`Step::tree`] holds; the tree is
//! built only for what must read or change a chunk as JSON (guardrails, the response cache).

use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// One step of a translated stream: a single choice (index 0) and what it adds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    /// The stream's id, model and creation time, the same in every step.
    pub head: Arc<Head>,
    pub delta: Delta,
    /// Why the choice ended (OpenAI's terms), on the last step.
    pub finish_reason: Option<&'static str>,
}

/// What every chunk of a stream repeats.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Head {
    pub id: String,
    pub model: String,
    pub created: i64,
}

impl Head {
    /// The gateway's stamp (`providers::Stamp`): its id and time, no model yet.
    pub fn stamped(id: &str, created: i64) -> Head {
        Head {
            id: id.to_string(),
            model: String::new(),
            created,
        }
    }
}

/// What one step adds to its choice.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Delta {
    /// The answer begins: the assistant's role, no text yet.
    Role,
    /// Text.
    Content(String),
    /// A tool call begins (its arguments follow).
    ToolStart {
        index: u64,
        id: Option<String>,
        name: Option<String>,
    },
    /// More of a tool call's arguments.
    ToolArguments { index: u64, arguments: String },
    /// Nothing (a step that only finishes its choice).
    #[default]
    Empty,
}

/// OpenAI's chunk, borrowed from a step, as serde writes it.
#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: [Choice<'a>; 1],
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u64,
    delta: ChunkDelta<'a>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct ChunkDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCall<'a> {
    index: u64,
    /// A call's first step names it: `id` (possibly null), `type`; later ones carry only
    /// `function.arguments`.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<Option<&'a str>>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Function<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Option<&'a str>>,
    arguments: &'a str,
}

impl Step {
    /// The step's text, if it adds text.
    pub fn text(&self) -> Option<&str> {
        match &self.delta {
            Delta::Content(text) => Some(text),
            Delta::Role | Delta::ToolStart { .. } | Delta::ToolArguments { .. } | Delta::Empty => None,
        }
    }

    fn chunk(&self) -> Chunk<'_> {
        let (role, content, tool_calls) = match &self.delta {
            Delta::Role => (Some("assistant"), Some(""), None),
            Delta::Content(text) => (None, Some(text.as_str()), None),
            Delta::ToolStart { index, id, name } => (
                None,
                None,
                Some([ToolCall {
                    index: *index,
                    id: Some(id.as_deref()),
                    kind: Some("function"),
                    function: Function {
                        name: Some(name.as_deref()),
                        arguments: "",
                    },
                }]),
            ),
            Delta::ToolArguments { index, arguments } => (
                None,
                None,
                Some([ToolCall {
                    index: *index,
                    id: None,
                    kind: None,
                    function: Function { name: None, arguments },
                }]),
            ),
            Delta::Empty => (None, None, None),
        };
        Chunk {
            id: &self.head.id,
            object: "chat.completion.chunk",
            created: self.head.created,
            model: &self.head.model,
            choices: [Choice {
                index: 0,
                delta: ChunkDelta {
                    role,
                    content,
                    tool_calls,
                },
                finish_reason: self.finish_reason,
            }],
        }
    }

    /// The SSE event for an OpenAI-shaped client.
    pub fn frame(&self) -> String {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(b"data: ");
        // Writing borrowed strings and numbers into memory cannot fail.
        let _ = serde_json::to_writer(&mut out, &self.chunk());
        out.extend_from_slice(b"\n\n");
        String::from_utf8(out).unwrap_or_default()
    }

    /// The chunk as a tree, for what must read or change it as JSON.
    pub fn tree(&self) -> Value {
        serde_json::to_value(self.chunk()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(delta: Delta, finish_reason: Option<&'static str>) -> Step {
        Step {
            head: Arc::new(Head {
                id: "m".into(),
                model: "c".into(),
                created: 7,
            }),
            delta,
            finish_reason,
        }
    }

    #[test]
    fn each_kind_of_step_is_the_openai_chunk_a_client_expects() {
        let cases = [
            (
                step(Delta::Role, None),
                json!({ "role": "assistant", "content": "" }),
                Value::Null,
            ),
            (
                step(Delta::Content("Hi \"you\"".into()), None),
                json!({ "content": "Hi \"you\"" }),
                Value::Null,
            ),
            (
                step(
                    Delta::ToolStart {
                        index: 1,
                        id: Some("t".into()),
                        name: Some("f".into()),
                    },
                    None,
                ),
                json!({ "tool_calls": [{ "index": 1, "id": "t", "type": "function", "function": { "name": "f", "arguments": "" } }] }),
                Value::Null,
            ),
            (
                step(
                    Delta::ToolArguments {
                        index: 1,
                        arguments: "{\"a\":".into(),
                    },
                    None,
                ),
                json!({ "tool_calls": [{ "index": 1, "function": { "arguments": "{\"a\":" } }] }),
                Value::Null,
            ),
            (step(Delta::Empty, Some("tool_calls")), json!({}), json!("tool_calls")),
        ];
        for (step, delta, finish) in cases {
            let expected = json!({
                "id": "m", "object": "chat.completion.chunk", "created": 7, "model": "c",
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
            });
            assert_eq!(step.tree(), expected);
            assert_eq!(
                step.frame(),
                format!("data: {expected}\n\n"),
                "same bytes as the tree's"
            );
        }
    }
}
