//! The client's side of a stream: the canonical stream (OpenAI chunks as trees, an upstream's
//! own chunks, a translated stream's steps) written as OpenAI chunks or Anthropic events, and
//! a whole answer told as a stream.

use crate::proxy::{
    messages,
    providers::{
        openai::{responses::Event, Passed},
        step::Step,
        Usage,
    },
    responses,
    stream::piece::FromPieces,
};
use serde_json::{json, Value};

/// The API shape the client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientShape {
    OpenAi,
    Anthropic,
    /// OpenAI's Responses API.
    Responses,
}

impl ClientShape {
    /// A whole OpenAI answer in this shape; `None` for OpenAI's own (sent as it is).
    pub fn answer(self, answer: &Value, usage: Usage) -> Option<Value> {
        match self {
            ClientShape::OpenAi => None,
            ClientShape::Anthropic => Some(messages::to_message(answer, usage)),
            ClientShape::Responses => Some(responses::to_response(answer, usage)),
        }
    }
}

/// A chunk's id, object, created and model: what the usage chunk at the end repeats.
fn head_of(chunk: &Value) -> Value {
    json!({
        "id": chunk.get("id"), "object": chunk.get("object"),
        "created": chunk.get("created"), "model": chunk.get("model"),
    })
}

/// Encodes the canonical stream for the client.
pub(super) enum Encoder {
    /// `first` keeps the first chunk's id, object, created and model, for the usage chunk.
    OpenAi {
        wants_usage: bool,
        first: Value,
    },
    Anthropic(messages::StreamEncoder),
    Responses(Box<responses::StreamEncoder>),
    /// OpenAI's own Responses events for a Responses client (`Operation::Responses`), passed
    /// as they came; `sequence` is the last one's number, which an error event follows.
    Native {
        sequence: Option<u64>,
    },
}

/// What a native Responses stream is never sent (its decoder gives events, usage and the
/// end): written as nothing, and a debug build stops at it.
fn never(what: &str) -> String {
    debug_assert!(false, "a native Responses stream was sent {what}");
    String::new()
}

impl Encoder {
    /// The encoder for a client of `shape`; `native` when the upstream is OpenAI's own
    /// Responses API and the client speaks it too (only then).
    pub(super) fn new(shape: ClientShape, wants_usage: bool, native: bool) -> Encoder {
        if native {
            return Encoder::Native { sequence: None };
        }
        match shape {
            ClientShape::OpenAi => Encoder::OpenAi {
                wants_usage,
                first: Value::Null,
            },
            ClientShape::Anthropic => Encoder::Anthropic(messages::StreamEncoder::default()),
            ClientShape::Responses => Encoder::Responses(Box::default()),
        }
    }

    pub(super) fn chunk(&mut self, chunk: &Value) -> String {
        match self {
            Encoder::OpenAi { wants_usage, first } => {
                if *wants_usage && first.is_null() {
                    *first = head_of(chunk);
                }
                format!("data: {chunk}\n\n")
            }
            Encoder::Anthropic(encoder) => encoder.chunk(chunk),
            Encoder::Responses(encoder) => encoder.chunk(chunk),
            Encoder::Native { .. } => never("a chunk"),
        }
    }

    /// An event of OpenAI's own Responses stream: as it came.
    pub(super) fn event(&mut self, event: Event) -> String {
        match self {
            Encoder::Native { sequence } => {
                *sequence = event.sequence.or(*sequence);
                event.into_frame()
            }
            Encoder::OpenAi { .. } | Encoder::Anthropic(_) | Encoder::Responses(_) => {
                never("to a translating encoder: a Responses event")
            }
        }
    }

    /// An upstream's own chunk: as it came for an OpenAI-shaped client, translated for another.
    pub(super) fn passed(&mut self, passed: &Passed) -> String {
        match self {
            Encoder::OpenAi { wants_usage, first } => {
                if *wants_usage && first.is_null() {
                    *first = head_of(&passed.tree());
                }
                passed.frame(*wants_usage)
            }
            Encoder::Anthropic(encoder) => encoder.passed(passed),
            Encoder::Responses(encoder) => encoder.passed(passed),
            Encoder::Native { .. } => never("a chunk"),
        }
    }

    /// A translating decoder's step, written in the client's shape without a tree.
    pub(super) fn step(&mut self, step: &Step) -> String {
        match self {
            Encoder::OpenAi { wants_usage, first } => {
                if *wants_usage && first.is_null() {
                    *first = json!({
                        "id": step.head.id, "object": "chat.completion.chunk",
                        "created": step.head.created, "model": step.head.model,
                    });
                }
                step.frame()
            }
            Encoder::Anthropic(encoder) => encoder.step(step),
            Encoder::Responses(encoder) => encoder.step(step),
            Encoder::Native { .. } => never("a step"),
        }
    }

    pub(super) fn done(&mut self, usage: Usage) -> String {
        match self {
            Encoder::OpenAi { wants_usage, first } => {
                let field = |name: &str| first.get(name).filter(|v| !v.is_null()).cloned();
                let mut out = String::new();
                if *wants_usage {
                    let chunk = json!({
                        "id": field("id").unwrap_or_else(|| json!("chatcmpl")),
                        "object": field("object").unwrap_or_else(|| json!("chat.completion.chunk")),
                        "created": field("created").unwrap_or_else(|| json!(0)),
                        "model": field("model").unwrap_or_default(),
                        "choices": [],
                        "usage": usage.to_openai(),
                    });
                    out.push_str(&format!("data: {chunk}\n\n"));
                }
                out.push_str("data: [DONE]\n\n");
                out
            }
            Encoder::Anthropic(encoder) => encoder.finish(usage),
            Encoder::Responses(encoder) => encoder.finish(usage),
            // The upstream's own `response.completed` (or `…incomplete`) went before.
            Encoder::Native { .. } => String::new(),
        }
    }

    pub(super) fn error(&mut self, code: &str, message: &str) -> String {
        match self {
            Encoder::OpenAi { .. } => {
                let error =
                    json!({ "error": { "message": message, "type": "server_error", "param": null, "code": code } });
                format!("data: {error}\n\n")
            }
            Encoder::Anthropic(encoder) => encoder.error("api_error", message),
            Encoder::Responses(encoder) => encoder.error(code, message),
            Encoder::Native { sequence } => responses::error_event(sequence.map_or(0, |last| last + 1), code, message),
        }
    }
}

/// A whole answer told as a stream in the client's shape (a `best` composite's, chosen after
/// every candidate answered): each choice's message in one chunk, its finish reason in
/// another, then the usage (when asked, or always for Anthropic) and the end.
pub fn replay(answer: &Value, usage: Usage, shape: ClientShape, wants_usage: bool) -> String {
    let mut encoder = Encoder::new(shape, wants_usage, false);
    // A legacy completion's choices carry `text`, told in chunks of the same object.
    let completion = answer["object"] == "text_completion";
    let object = if completion {
        "text_completion"
    } else {
        "chat.completion.chunk"
    };
    let chunk = |choices: Value| {
        json!({
            "id": answer["id"], "object": object, "created": answer["created"],
            "model": answer["model"], "choices": choices,
        })
    };
    let mut out = String::new();
    for (index, choice) in answer["choices"].as_array().into_iter().flatten().enumerate() {
        let index = choice.get("index").cloned().unwrap_or_else(|| json!(index));
        if completion {
            let text = json!([{ "index": index, "text": choice["text"], "finish_reason": null }]);
            out.push_str(&encoder.chunk(&chunk(text)));
            let finished = json!([{ "index": index, "text": "", "finish_reason": choice["finish_reason"] }]);
            out.push_str(&encoder.chunk(&chunk(finished)));
            continue;
        }
        let mut delta = choice["message"].clone();
        // A stream's tool calls carry their place in the list.
        if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
            for (place, call) in calls.iter_mut().enumerate() {
                if let Some(call) = call.as_object_mut() {
                    call.insert("index".into(), json!(place));
                }
            }
        }
        out.push_str(&encoder.chunk(&chunk(
            json!([{ "index": index, "delta": delta, "finish_reason": null }]),
        )));
        let finished = json!([{ "index": index, "delta": {}, "finish_reason": choice["finish_reason"] }]);
        out.push_str(&encoder.chunk(&chunk(finished)));
    }
    out.push_str(&encoder.done(usage));
    out
}
