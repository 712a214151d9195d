//! OpenAI's own Responses API as an upstream (issue #25): a Responses client's request is sent
//! to an OpenAI or Azure endpoint as it came (only the model replaced), and the answer and its
//! events go back as they came. What the gateway reads of them: the usage, the text (for the
//! log and the estimate when no usage comes), faults, and where the stream ends.
//!
//! Invariant: nothing here changes what the client gets: events are scanned, never rewritten.
//! Invariant: the stream ends properly only at `response.completed` or `response.incomplete`;
//! `response.failed` and `error` are faults, and an upstream that stops before either is cut.

use super::super::{Answer, AnswerBody, Invalid, StreamFault, StreamItem, Usage};
use serde::de::IgnoredAny;
use serde_json::Value;
use std::borrow::Cow;

/// Responses' `usage` (`input_tokens`, `output_tokens`).
#[derive(serde::Deserialize)]
struct ResponsesUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

impl ResponsesUsage {
    fn read(self) -> Option<Usage> {
        Some(Usage {
            prompt_tokens: self.input_tokens?,
            completion_tokens: self.output_tokens.unwrap_or(0),
        })
    }
}

/// What a response object is checked for; the rest is skipped over (but must be valid JSON).
#[derive(serde::Deserialize)]
struct CheckedResponse {
    output: Option<Vec<IgnoredAny>>,
    usage: Option<ResponsesUsage>,
    error: Option<Value>,
}

/// A 2xx answer: a response object, passed on as the upstream sent it.
pub fn answer(bytes: bytes::Bytes) -> Result<Answer, Invalid> {
    let checked: CheckedResponse = serde_json::from_slice(&bytes).map_err(|e| Invalid(e.to_string()))?;
    if checked.output.is_none() {
        return Err(Invalid("no `output` array".into()));
    }
    Ok(Answer {
        body: AnswerBody::Native(bytes),
        usage: checked.usage.and_then(ResponsesUsage::read),
    })
}

/// One event as the upstream sent it, with what the gateway reads of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The SSE frame, `event:` and `data:` lines as they came.
    frame: String,
    /// The answer text it adds (`response.output_text.delta`); empty for other events.
    pub text: String,
    /// Its `sequence_number`.
    pub sequence: Option<u64>,
    /// Whether it is past the response's opening (`response.created`, `…queued`,
    /// `…in_progress`): the first such event commits the request to its endpoint.
    pub commits: bool,
}

impl Event {
    /// The frame for the client: the upstream's bytes.
    pub fn into_frame(self) -> String {
        self.frame
    }
}

/// What a scan of one event keeps; everything else is skipped over (but must be valid JSON).
#[derive(serde::Deserialize)]
struct Scanned<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    sequence_number: Option<u64>,
    /// A delta's text (a string in every `…delta` event OpenAI sends).
    #[serde(default)]
    delta: Option<Value>,
    /// The response a lifecycle event carries.
    #[serde(default)]
    response: Option<CheckedResponse>,
    /// An `error` event's fields.
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    message: Option<String>,
}

/// The SSE frame of an event: its name and its data, a `data:` line per line.
fn frame(name: &str, data: &str) -> String {
    let mut out = String::with_capacity(name.len() + data.len() + 16);
    if !name.is_empty() {
        out.push_str("event: ");
        out.push_str(name);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// The status an `error` event's code stands for: a rate limit is a 429; what the request
/// got wrong (an invalid field, an image that cannot be read, something not found) a 400,
/// which is not the endpoint's fault and is not tried elsewhere; the rest the upstream's
/// failure.
fn status_of(code: Option<&Value>) -> u16 {
    match code.and_then(Value::as_str) {
        Some(code) if code.contains("rate_limit") => 429,
        Some("invalid_api_key") => 401,
        Some(code) if code.starts_with("invalid_") || code.contains("image") || code.ends_with("_not_found") => 400,
        _ => 500,
    }
}

/// Reads a Responses stream's events.
#[derive(Default)]
pub struct StreamDecoder;

impl StreamDecoder {
    pub fn event(&mut self, name: &str, data: String) -> Result<Vec<StreamItem>, StreamFault> {
        if data.trim().is_empty() {
            return Ok(vec![]);
        }
        let scanned: Scanned = serde_json::from_str(&data)
            .map_err(|e| StreamFault::Unreadable(format!("the upstream sent an unreadable event: {e}")))?;
        match scanned.kind.as_ref() {
            "error" => {
                return Err(StreamFault::Reported {
                    status: status_of(scanned.code.as_ref()),
                    message: (scanned.message).unwrap_or_else(|| "the upstream reported an error".into()),
                })
            }
            "response.failed" => {
                let error = scanned.response.as_ref().and_then(|response| response.error.as_ref());
                let message = (error.and_then(|error| error.get("message")).and_then(Value::as_str))
                    .unwrap_or("the upstream's response failed");
                return Err(StreamFault::Reported {
                    status: status_of(error.and_then(|error| error.get("code"))),
                    message: message.to_string(),
                });
            }
            _ => {}
        }
        let ends = matches!(scanned.kind.as_ref(), "response.completed" | "response.incomplete");
        let commits = !matches!(
            scanned.kind.as_ref(),
            "response.created" | "response.queued" | "response.in_progress"
        );
        let text = match (scanned.kind.as_ref(), &scanned.delta) {
            ("response.output_text.delta", Some(Value::String(delta))) => delta.clone(),
            _ => String::new(),
        };
        let usage = (scanned.response)
            .and_then(|response| response.usage)
            .and_then(ResponsesUsage::read);
        let mut items = vec![StreamItem::Event(Event {
            frame: frame(name, &data),
            text,
            sequence: scanned.sequence_number,
            commits,
        })];
        if ends {
            items.extend(usage.map(StreamItem::Usage));
            items.push(StreamItem::Done);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(decoder: &mut StreamDecoder, name: &str, data: &str) -> Result<Vec<StreamItem>, StreamFault> {
        decoder.event(name, data.to_string())
    }

    #[test]
    fn events_pass_as_they_came_and_the_stream_ends_at_completed_with_its_usage() {
        let mut decoder = StreamDecoder;
        let created =
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"r","output":[],"usage":null}}"#;
        let items = read(&mut decoder, "response.created", created).unwrap();
        let [StreamItem::Event(event)] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert!(!event.commits, "the opening commits nothing");
        assert_eq!(
            event.clone().into_frame(),
            format!("event: response.created\ndata: {created}\n\n")
        );

        let delta = r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"m","output_index":0,"content_index":0,"delta":"Hel"}"#;
        let items = read(&mut decoder, "response.output_text.delta", delta).unwrap();
        let [StreamItem::Event(event)] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert!(event.commits);
        assert_eq!((event.text.as_str(), event.sequence), ("Hel", Some(4)));

        let arguments = r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"delta":"{\"a\""}"#;
        let items = read(&mut decoder, "response.function_call_arguments.delta", arguments).unwrap();
        let [StreamItem::Event(event)] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(event.text, "", "arguments are not the answer's text");

        let completed = r#"{"type":"response.completed","sequence_number":9,"response":{"id":"r","output":[{"type":"message"}],"usage":{"input_tokens":12,"output_tokens":7,"total_tokens":19}}}"#;
        let items = read(&mut decoder, "response.completed", completed).unwrap();
        assert!(matches!(items[0], StreamItem::Event(_)), "{items:?}");
        assert_eq!(
            items[1..],
            [
                StreamItem::Usage(Usage {
                    prompt_tokens: 12,
                    completion_tokens: 7
                }),
                StreamItem::Done
            ]
        );
        let incomplete =
            r#"{"type":"response.incomplete","response":{"output":[],"usage":{"input_tokens":1,"output_tokens":2}}}"#;
        let items = read(&mut decoder, "response.incomplete", incomplete).unwrap();
        assert_eq!(items.last(), Some(&StreamItem::Done));
    }

    #[test]
    fn failures_in_the_stream_are_faults_with_their_status() {
        let mut decoder = StreamDecoder;
        let error = r#"{"type":"error","code":"rate_limit_exceeded","message":"Slow down.","param":null}"#;
        assert_eq!(
            read(&mut decoder, "error", error),
            Err(StreamFault::Reported {
                status: 429,
                message: "Slow down.".into()
            })
        );
        let unreadable = r#"{"type":"error","code":"invalid_image_url","message":"Cannot fetch the image."}"#;
        assert!(
            matches!(
                read(&mut decoder, "error", unreadable),
                Err(StreamFault::Reported { status: 400, .. })
            ),
            "the request's fault, not the endpoint's"
        );
        let failed = r#"{"type":"response.failed","response":{"output":[],"error":{"code":"server_error","message":"The model failed."}}}"#;
        assert_eq!(
            read(&mut decoder, "response.failed", failed),
            Err(StreamFault::Reported {
                status: 500,
                message: "The model failed.".into()
            })
        );
        assert!(matches!(
            read(&mut decoder, "", "{not json"),
            Err(StreamFault::Unreadable(_))
        ));
        assert!(matches!(
            read(&mut decoder, "", r#"{"no":"type"}"#),
            Err(StreamFault::Unreadable(_))
        ));
    }

    #[test]
    fn an_event_of_several_data_lines_keeps_them() {
        let mut decoder = StreamDecoder;
        let items = read(&mut decoder, "", "{\"type\":\n\"response.in_progress\"}").unwrap();
        let [StreamItem::Event(event)] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(
            event.clone().into_frame(),
            "data: {\"type\":\ndata: \"response.in_progress\"}\n\n"
        );
    }

    #[test]
    fn an_answer_is_a_response_object_passed_as_it_came() {
        let bytes = bytes::Bytes::from_static(
            br#"{"id":"r","object":"response","output":[],"usage":{"input_tokens":3,"output_tokens":4}}"#,
        );
        let answer = answer(bytes.clone()).unwrap();
        assert_eq!(
            answer.usage,
            Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 4
            })
        );
        assert!(matches!(answer.body, AnswerBody::Native(ref sent) if *sent == bytes));
        assert!(super::answer(bytes::Bytes::from_static(br#"{"choices":[]}"#)).is_err());
    }
}
