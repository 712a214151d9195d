//! OpenAI chunks → the Responses API's stream events (`response.created`, the output items'
//! `added`/`delta`/`done` events, `response.completed`), for Responses-shaped clients. Each
//! chunk is read into one [`Piece`], however it came (a tree, an upstream's own chunk, a step).
//!
//! Invariant: every event carries the next `sequence_number`; an item is closed (`…done`)
//! before the next one opens, and all are closed before `response.completed`.

use super::{call_item, message_item, response, response_id, Usage};
use crate::proxy::stream::piece::{FromPieces, Piece};
use serde::Serialize;
use serde_json::{json, Value};

/// The output item being written.
enum Open {
    Message {
        id: String,
        text: String,
    },
    Call {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// OpenAI chunks → Responses events.
#[derive(Default)]
pub struct StreamEncoder {
    /// The response's id, model and creation time, once the first chunk told them.
    head: Option<(String, Value, Value)>,
    sequence: u64,
    open: Option<Open>,
    /// The items closed so far, as `response.completed` lists them.
    done: Vec<Value>,
    finish: Option<String>,
}

/// A text or arguments delta: the events most of a stream is, written from typed fields.
#[derive(Serialize)]
struct DeltaEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_index: Option<u64>,
    delta: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    logprobs: Option<[(); 0]>,
}

impl StreamEncoder {
    /// Writes `event` (an object with its `type`), numbered.
    fn event(&mut self, mut event: Value, out: &mut String) {
        event["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        let kind = event["type"].as_str().unwrap_or("error").to_string();
        write(&kind, &event.to_string(), out);
    }

    fn id(&self) -> &str {
        self.head.as_ref().map_or("resp_gateway", |(id, _, _)| id.as_str())
    }

    fn start(&mut self, piece: Option<&Piece<'_>>, out: &mut String) {
        if self.head.is_some() {
            return;
        }
        let id = response_id(piece.and_then(|p| p.id.as_deref()).unwrap_or("gateway"));
        let model = json!(piece.and_then(|p| p.model.as_deref()));
        let created = json!(crate::store::now_ms() / 1000);
        let started = response(&id, &model, &created, None, Vec::new(), None);
        self.head = Some((id, model, created));
        self.event(json!({ "type": "response.created", "response": started }), out);
        let started = self.in_progress();
        self.event(json!({ "type": "response.in_progress", "response": started }), out);
    }

    fn in_progress(&self) -> Value {
        let (id, model, created) = self.head.clone().unwrap_or_default();
        response(&id, &model, &created, None, Vec::new(), None)
    }

    /// Closes the open item: its `done` events.
    fn close(&mut self, out: &mut String) {
        let index = self.done.len();
        let item = match self.open.take() {
            None => return,
            Some(Open::Message { id, text }) => {
                self.event(
                    json!({ "type": "response.output_text.done", "item_id": id, "output_index": index,
                                   "content_index": 0, "text": text, "logprobs": [] }),
                    out,
                );
                self.event(json!({ "type": "response.content_part.done", "item_id": id, "output_index": index,
                                   "content_index": 0,
                                   "part": { "type": "output_text", "text": text, "annotations": [], "logprobs": [] } }), out);
                message_item(&id, &text, "completed")
            }
            Some(Open::Call {
                id,
                call_id,
                name,
                arguments,
            }) => {
                self.event(
                    json!({ "type": "response.function_call_arguments.done", "item_id": id,
                                   "output_index": index, "name": name, "arguments": arguments }),
                    out,
                );
                call_item(&id, &call_id, &name, &arguments, "completed")
            }
        };
        self.event(
            json!({ "type": "response.output_item.done", "output_index": index, "item": item }),
            out,
        );
        self.done.push(item);
    }

    /// Opens an item: its `added` events.
    fn open(&mut self, open: Open, out: &mut String) {
        self.close(out);
        let index = self.done.len();
        match &open {
            Open::Message { id, .. } => {
                let item =
                    json!({ "type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": [] });
                self.event(
                    json!({ "type": "response.output_item.added", "output_index": index, "item": item }),
                    out,
                );
                self.event(
                    json!({ "type": "response.content_part.added", "item_id": id, "output_index": index,
                                   "content_index": 0,
                                   "part": { "type": "output_text", "text": "", "annotations": [], "logprobs": [] } }),
                    out,
                );
            }
            Open::Call { id, call_id, name, .. } => {
                let item = call_item(id, call_id, name, "", "in_progress");
                self.event(
                    json!({ "type": "response.output_item.added", "output_index": index, "item": item }),
                    out,
                );
            }
        }
        self.open = Some(open);
    }

    fn delta(&mut self, kind: &'static str, text: &str, out: &mut String) {
        let index = self.done.len();
        let (item_id, content_index, logprobs) = match &self.open {
            Some(Open::Message { id, .. }) => (id.as_str(), Some(0), Some([])),
            Some(Open::Call { id, .. }) => (id.as_str(), None, None),
            None => return,
        };
        let event = DeltaEvent {
            kind,
            sequence_number: self.sequence,
            item_id,
            output_index: index,
            content_index,
            delta: text,
            logprobs,
        };
        // Borrowed strings and numbers written into memory cannot fail.
        let data = serde_json::to_string(&event).unwrap_or_default();
        self.sequence += 1;
        write(kind, &data, out);
    }

    /// The closing events: every item done, then the whole response with its usage.
    pub fn finish(&mut self, usage: Usage) -> String {
        let mut out = String::new();
        self.start(None, &mut out);
        self.close(&mut out);
        let (id, model, created) = self.head.clone().unwrap_or_default();
        let whole = response(
            &id,
            &model,
            &created,
            Some(self.finish.as_deref()),
            std::mem::take(&mut self.done),
            Some(usage),
        );
        let kind = match whole["status"].as_str() {
            Some("incomplete") => "response.incomplete",
            _ => "response.completed",
        };
        self.event(json!({ "type": kind, "response": whole }), &mut out);
        out
    }

    /// An error event (the stream then ends without `response.completed`).
    pub fn error(&mut self, code: &str, message: &str) -> String {
        let event = error_event(self.sequence, code, message);
        self.sequence += 1;
        event
    }
}

/// The `error` event numbered `sequence` (after it the stream ends without
/// `response.completed`).
pub fn error_event(sequence: u64, code: &str, message: &str) -> String {
    let event =
        json!({ "type": "error", "code": code, "message": message, "param": null, "sequence_number": sequence });
    let mut out = String::new();
    write("error", &event.to_string(), &mut out);
    out
}

/// One SSE event, its name the event's type.
fn write(kind: &str, data: &str, out: &mut String) {
    out.push_str("event: ");
    out.push_str(kind);
    out.push_str("\ndata: ");
    out.push_str(data);
    out.push_str("\n\n");
}

impl FromPieces for StreamEncoder {
    fn piece(&mut self, piece: &Piece<'_>) -> String {
        let mut out = String::new();
        self.start(Some(piece), &mut out);
        if let Some(text) = piece.text.as_deref().filter(|text| !text.is_empty()) {
            if let Some(Open::Message { text: so_far, .. }) = &mut self.open {
                so_far.push_str(text);
            } else {
                let id = format!("msg_{}", self.id());
                self.open(
                    Open::Message {
                        id,
                        text: text.to_string(),
                    },
                    &mut out,
                );
            }
            self.delta("response.output_text.delta", text, &mut out);
        }
        for call in &piece.tools {
            // A call opens with its id (some providers repeat it on every part).
            let repeated =
                |call_id: &str| matches!(&self.open, Some(Open::Call { call_id: open, .. }) if open == call_id);
            if let Some(call_id) = call.id.as_deref().filter(|id| !repeated(id)) {
                let id = format!("fc_{}_{}", self.done.len(), self.id());
                let open = Open::Call {
                    id,
                    call_id: call_id.to_string(),
                    name: call.name().unwrap_or_default().to_string(),
                    arguments: String::new(),
                };
                self.open(open, &mut out);
            }
            let arguments = call.arguments();
            if let (Some(Open::Call { arguments: so_far, .. }), false) = (&mut self.open, arguments.is_empty()) {
                so_far.push_str(arguments);
                self.delta("response.function_call_arguments.delta", arguments, &mut out);
            }
        }
        if let Some(finish) = piece.finish.as_deref() {
            self.finish = Some(finish.to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(out: &str) -> Vec<Value> {
        out.split("\n\n")
            .filter(|event| !event.is_empty())
            .map(|event| {
                let (name, data) = event.split_once('\n').unwrap();
                let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(name.strip_prefix("event: ").unwrap(), data["type"], "{event}");
                data
            })
            .collect()
    }

    #[test]
    fn text_and_a_call_become_numbered_items_and_a_completed_response() {
        let mut encoder = StreamEncoder::default();
        let mut out = encoder.chunk(&json!({ "id": "chatcmpl-7", "model": "m",
            "choices": [{ "delta": { "role": "assistant", "content": "" } }] }));
        out += &encoder.chunk(&json!({ "choices": [{ "delta": { "content": "Hel" } }] }));
        out += &encoder.chunk(&json!({ "choices": [{ "delta": { "content": "lo" } }] }));
        out += &encoder.chunk(&json!({ "choices": [{ "delta": { "tool_calls": [
            { "index": 0, "id": "call_1", "type": "function", "function": { "name": "look", "arguments": "" } }] } }] }));
        out += &encoder.chunk(&json!({ "choices": [{ "delta": { "tool_calls": [
            { "index": 0, "function": { "arguments": "{\"q\":1}" } }] } }] }));
        out += &encoder.chunk(&json!({ "choices": [{ "delta": {}, "finish_reason": "tool_calls" }] }));
        out += &encoder.finish(Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
        });
        let events = events(&out);
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let numbers: Vec<u64> = events.iter().map(|e| e["sequence_number"].as_u64().unwrap()).collect();
        assert_eq!(numbers, (0..14).collect::<Vec<_>>());
        assert_eq!(events[0]["response"]["id"], "resp_7");
        assert_eq!(events[0]["response"]["status"], "in_progress");
        assert_eq!(events[4]["delta"], "Hel");
        assert_eq!(events[6]["text"], "Hello");
        assert_eq!(events[9]["item"]["call_id"], "call_1");
        assert_eq!(events[9]["output_index"], 1);
        let done = &events[13]["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
        assert_eq!(done["output"][1]["arguments"], "{\"q\":1}");
        assert_eq!(done["usage"]["total_tokens"], 7);
    }

    #[test]
    fn a_cut_answer_is_incomplete_and_an_error_is_an_error_event() {
        let mut encoder = StreamEncoder::default();
        let mut out = encoder
            .chunk(&json!({ "id": "c", "choices": [{ "delta": { "content": "Hi" }, "finish_reason": "length" }] }));
        out += &encoder.finish(Usage::default());
        let events = events(&out);
        let last = events.last().unwrap();
        assert_eq!(last["type"], "response.incomplete");
        assert_eq!(last["response"]["incomplete_details"]["reason"], "max_output_tokens");
        let error = StreamEncoder::default().error("stream_cut", "The upstream ended the stream early.");
        let error = &super::tests::events(&error)[0];
        assert_eq!(
            (error["code"].as_str(), error["sequence_number"].as_u64()),
            (Some("stream_cut"), Some(0))
        );
    }
}
