//! Gemini's stream (`streamGenerateContent?alt=sse`) → the steps of an OpenAI-shaped stream:
//! each event is a whole answer's worth of fields (the new parts, the usage so far), read once
//! into borrowed, typed fields, no JSON tree.
//!
//! Invariant: the stream has no closing event of its own; the first candidate's
//! `finishReason` (or a blocked prompt) ends it, with the usage of that event — a stream that
//! stops before is cut.

use super::{
    super::{
        step::{Delta, Head, Step},
        StreamFault, StreamItem, Usage,
    },
    call_id, finish_reason, UsageMetadata,
};
use serde::Deserialize;
use std::{borrow::Cow, sync::Arc};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(borrow, default)]
    candidates: Option<Vec<Candidate<'a>>>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(borrow, default)]
    model_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    response_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    prompt_feedback: Option<PromptFeedback<'a>>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(borrow, default)]
    parts: Vec<Part<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    /// A thinking summary: not part of the answer.
    #[serde(default)]
    thought: bool,
    #[serde(borrow, default)]
    function_call: Option<FunctionCall<'a>>,
    #[serde(borrow, default)]
    thought_signature: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct FunctionCall<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    args: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback<'a> {
    #[serde(borrow, default)]
    block_reason: Option<Cow<'a, str>>,
}

/// Gemini stream events → OpenAI-shaped steps.
pub struct StreamDecoder {
    head: Arc<Head>,
    /// The answer has begun (its role step is sent).
    begun: bool,
    /// Function calls so far (their OpenAI indexes).
    calls: u64,
    usage: Option<Usage>,
}

impl StreamDecoder {
    /// A decoder whose chunks carry `stamp` until Gemini names its own id and model.
    pub fn new(stamp: Head) -> Self {
        StreamDecoder {
            head: Arc::new(stamp),
            begun: false,
            calls: 0,
            usage: None,
        }
    }

    fn step(&self, delta: Delta, finish_reason: Option<&'static str>) -> StreamItem {
        StreamItem::Step(Step {
            head: self.head.clone(),
            delta,
            finish_reason,
        })
    }

    /// What one event's `data:` means.
    pub fn event(&mut self, data: &str) -> Result<Vec<StreamItem>, StreamFault> {
        let event: Event = serde_json::from_str(data)
            .map_err(|e| StreamFault::Unreadable(format!("the upstream sent an unreadable event: {e}")))?;
        if event.error.is_some() {
            // Rare, and read whole: its body is Google's error shape.
            let body: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
            let status = body.pointer("/error/code").and_then(serde_json::Value::as_u64);
            return Err(StreamFault::Reported {
                status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500),
                message: super::error(&body).message,
            });
        }
        if let Some(usage) = event.usage_metadata.as_ref().and_then(UsageMetadata::usage) {
            self.usage = Some(usage);
        }
        let mut items = Vec::new();
        if !self.begun {
            self.begun = true;
            let head = Arc::make_mut(&mut self.head);
            if let Some(id) = event.response_id {
                head.id = id.into_owned();
            }
            if let Some(model) = event.model_version {
                head.model = model.into_owned();
            }
            items.push(self.step(Delta::Role, None));
        }
        let candidate = event.candidates.and_then(|candidates| candidates.into_iter().next());
        let (parts, reason) = match candidate {
            Some(candidate) => (
                candidate.content.map(|c| c.parts).unwrap_or_default(),
                candidate.finish_reason,
            ),
            None => (Vec::new(), None),
        };
        for part in parts {
            if let Some(call) = part.function_call {
                let index = self.calls;
                self.calls += 1;
                let id = call_id(
                    call.id.as_deref(),
                    &self.head.id,
                    index as usize,
                    part.thought_signature.as_deref(),
                );
                items.push(self.step(
                    Delta::ToolStart {
                        index,
                        id: Some(id),
                        name: call.name.map(Cow::into_owned),
                    },
                    None,
                ));
                let arguments = call.args.map_or_else(|| "{}".to_string(), |args| args.to_string());
                items.push(self.step(Delta::ToolArguments { index, arguments }, None));
            } else if let Some(text) = part.text.filter(|text| !part.thought && !text.is_empty()) {
                items.push(self.step(Delta::Content(text.into_owned()), None));
            }
        }
        let blocked = event
            .prompt_feedback
            .and_then(|feedback| feedback.block_reason)
            .is_some();
        let finish = match (blocked, reason) {
            (true, _) => Some("content_filter"),
            (false, Some(reason)) => Some(finish_reason(&reason, self.calls > 0)),
            (false, None) => None,
        };
        if let Some(finish) = finish {
            items.push(self.step(Delta::Empty, Some(finish)));
            // Without a figure from upstream the gateway's estimate stands.
            if let Some(usage) = self.usage {
                items.push(StreamItem::Usage(usage));
            }
            items.push(StreamItem::Done);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn trees(items: &[StreamItem]) -> Vec<Value> {
        items
            .iter()
            .map(|item| match item {
                StreamItem::Step(step) => step.tree(),
                StreamItem::Usage(usage) => json!({ "usage": usage.to_openai() }),
                StreamItem::Done => json!("done"),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn text_events_become_steps_and_the_finish_reason_ends_the_stream() {
        let mut decoder = StreamDecoder::new(crate::proxy::providers::Stamp::stamped("chatcmpl-test", 3));
        let first = decoder
            .event(r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1},"modelVersion":"gemini-2.5-flash","responseId":"r1"}"#)
            .unwrap();
        let first = trees(&first);
        assert_eq!(
            first[0]["choices"][0]["delta"],
            json!({ "role": "assistant", "content": "" })
        );
        assert_eq!(first[0]["id"], "r1");
        assert_eq!(first[0]["model"], "gemini-2.5-flash");
        assert_eq!(first[1]["choices"][0]["delta"]["content"], "Hel");
        assert_eq!(first.len(), 2, "nothing ends before the finish reason");
        let thought = decoder
            .event(r#"{"candidates":[{"content":{"parts":[{"text":"hmm","thought":true}]}}]}"#)
            .unwrap();
        assert!(thought.is_empty(), "a thought summary is not the answer");
        let last = decoder
            .event(r#"{"candidates":[{"content":{"parts":[{"text":"lo \"you\""}]},"finishReason":"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"thoughtsTokenCount":2,"totalTokenCount":12}}"#)
            .unwrap();
        let last = trees(&last);
        assert_eq!(last[0]["choices"][0]["delta"]["content"], "lo \"you\"");
        assert_eq!(last[0]["id"], "r1", "the head is the first event's");
        assert_eq!(last[1]["choices"][0]["finish_reason"], "length");
        assert_eq!(last[2]["usage"]["completion_tokens"], 8, "thinking is output");
        assert_eq!(last[2]["usage"]["prompt_tokens"], 4);
        assert_eq!(last[3], "done");
    }

    #[test]
    fn a_function_call_arrives_whole_with_its_signature_in_the_id() {
        let mut decoder = StreamDecoder::new(crate::proxy::providers::Stamp::stamped("chatcmpl-test", 3));
        let items = decoder
            .event(r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"look","args":{"q":1}},"thoughtSignature":"c2ln"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":3}}"#)
            .unwrap();
        let items = trees(&items);
        let call = &items[1]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(
            call["id"], "call_chatcmpltest_0__thought__c2ln",
            "unique: the gateway's id when Gemini gives none"
        );
        assert_eq!(call["function"]["name"], "look");
        assert_eq!(
            items[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"q\":1}"
        );
        assert_eq!(items[3]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(items[5], "done");
    }

    #[test]
    fn a_blocked_prompt_ends_with_content_filter_and_an_error_event_is_reported() {
        let mut decoder = StreamDecoder::new(crate::proxy::providers::Stamp::stamped("chatcmpl-test", 3));
        let items = decoder
            .event(r#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":9}}"#)
            .unwrap();
        let items = trees(&items);
        assert_eq!(items[1]["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(items[2]["usage"]["prompt_tokens"], 9);
        let fault = StreamDecoder::new(crate::proxy::providers::Stamp::stamped("chatcmpl-test", 3))
            .event(r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#)
            .unwrap_err();
        assert_eq!(
            fault,
            StreamFault::Reported {
                status: 503,
                message: "The model is overloaded.".into()
            }
        );
        assert!(matches!(
            StreamDecoder::new(crate::proxy::providers::Stamp::stamped("chatcmpl-test", 3)).event("{not json"),
            Err(StreamFault::Unreadable(_))
        ));
    }
}
