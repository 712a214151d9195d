//! Step 3's end (issue #24): the gateway's guardrails over the request's text — every
//! message's content, `prompt`, `input` — after the prompt, the policy and the checks, so they
//! read what would be sent. A block refuses the request (400 `content_policy_violation`, no
//! upstream call); a redaction rewrites the body (placeholders kept in the request's vault);
//! a flag marks the record. Step 8 puts the answer through the response guardrails and puts
//! placeholders back (`answer`, and `crate::guard::stream::StreamGuard` for streams).
//!
//! Invariant: the body left here is what goes upstream, and what the cache key is made of.
//! Invariant: the text a guardrail matched is never in a refusal, a log line or a metric.

use super::{error::ProxyError, wire::Inbound, Proxy};
use crate::guard::{stream::StreamGuard, Found, Guards, Side, Vault};
use app::types::Gateway;
use axum::body::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::{borrow::Cow, sync::Arc};

/// A request's guardrails: the gateway's rules, the placeholders its text was given, and what
/// they found (for its record).
pub(super) struct Guarding {
    pub guards: Arc<Guards>,
    pub vault: Vault,
    pub found: Found,
    /// The answer as the response guardrails left it, before placeholders were put back (for
    /// the log), when putting them back changed it.
    unrestored: Option<Bytes>,
}

/// The texts of a request that guardrails read.
fn request_texts(body: &mut Map<String, Value>) -> Vec<&mut String> {
    fn strings<'v>(value: &'v mut Value, out: &mut Vec<&'v mut String>) {
        match value {
            Value::String(text) => out.push(text),
            Value::Array(items) => items.iter_mut().for_each(|item| strings(item, out)),
            // A content part: `{"type": "text", "text": …}`.
            Value::Object(part) => {
                if let Some(Value::String(text)) = part.get_mut("text") {
                    out.push(text);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut out = Vec::new();
    for (name, value) in body.iter_mut() {
        match name.as_str() {
            "messages" => {
                let messages = value.as_array_mut().into_iter().flatten();
                for (field, value) in messages.filter_map(Value::as_object_mut).flatten() {
                    match field.as_str() {
                        "content" => strings(value, &mut out),
                        // The arguments of the tool calls an assistant made, in the history.
                        "tool_calls" => out.extend(arguments(value)),
                        _ => {}
                    }
                }
            }
            "prompt" | "input" => strings(value, &mut out),
            _ => {}
        }
    }
    out
}

/// The arguments of each tool call in `calls` (`[{"function": {"arguments": "…"}}]`).
fn arguments(calls: &mut Value) -> impl Iterator<Item = &mut String> {
    (calls.as_array_mut().into_iter().flatten()).filter_map(|call| match call.pointer_mut("/function/arguments") {
        Some(Value::String(arguments)) => Some(arguments),
        _ => None,
    })
}

/// The texts of a request that guardrails read, as they are (for a moderation endpoint).
pub(super) fn request_strings(body: &Map<String, Value>) -> Vec<&str> {
    fn strings<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
        match value {
            Value::String(text) => out.push(text),
            Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
            Value::Object(part) => out.extend(part.get("text").and_then(Value::as_str)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut out = Vec::new();
    for (name, value) in body {
        match name.as_str() {
            "messages" => {
                for message in value.as_array().into_iter().flatten() {
                    if let Some(content) = message.get("content") {
                        strings(content, &mut out);
                    }
                    let calls = message
                        .get("tool_calls")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten();
                    out.extend(calls.filter_map(|call| call.pointer("/function/arguments").and_then(Value::as_str)));
                }
            }
            "prompt" | "input" => strings(value, &mut out),
            _ => {}
        }
    }
    out.retain(|text| !text.is_empty());
    out
}

/// The texts of an answer (OpenAI's shape) that guardrails read: each choice's message — its
/// content, reasoning, refusal and tool calls' arguments — or text; each with whether it is
/// JSON (a tool call's arguments).
fn answer_texts(answer: &mut Value) -> Vec<(&mut String, bool)> {
    let mut out = Vec::new();
    let choices = answer.get_mut("choices").and_then(Value::as_array_mut);
    for choice in choices.into_iter().flatten().filter_map(Value::as_object_mut) {
        for (field, value) in choice.iter_mut() {
            match (field.as_str(), value) {
                ("text", Value::String(text)) => out.push((text, false)),
                ("message", Value::Object(message)) => {
                    for (field, value) in message.iter_mut() {
                        match (field.as_str(), value) {
                            ("content" | "reasoning_content" | "refusal", Value::String(text)) => {
                                out.push((text, false))
                            }
                            ("tool_calls", calls) => out.extend(arguments(calls).map(|text| (text, true))),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// An answer's texts, read without building the whole answer (borrowed where unescaped): to
/// find out cheaply whether guardrails have anything to do with it.
#[derive(Deserialize)]
struct AnswerTexts<'a> {
    #[serde(borrow, default)]
    choices: Vec<ChoiceText<'a>>,
}

#[derive(Deserialize)]
struct ChoiceText<'a> {
    #[serde(borrow, default)]
    message: Option<MessageText<'a>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct MessageText<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    refusal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_calls: Vec<ToolCallText<'a>>,
}

#[derive(Deserialize)]
struct ToolCallText<'a> {
    #[serde(borrow, default)]
    function: Option<FunctionText<'a>>,
}

#[derive(Deserialize)]
struct FunctionText<'a> {
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
}

/// Applies `gateway`'s request guardrails to `inbound`'s texts: `Err` when one blocks it (counted
/// in the metrics here: a refused request has no record); else the request's guarding (`None`
/// for a gateway without guardrails) and whether the body changed.
pub(super) fn request(
    proxy: &Proxy,
    guards: Option<&Arc<Guards>>,
    gateway: &Gateway,
    inbound: &mut Inbound,
) -> Result<(Option<Guarding>, bool), ProxyError> {
    let Some(guards) = guards else {
        return Ok((None, false));
    };
    let mut guarding = Guarding {
        guards: guards.clone(),
        vault: Vault::default(),
        found: Found::default(),
        unrestored: None,
    };
    let mut changed = false;
    if guards.reads(Side::Response) {
        // Log probabilities repeat the answer token by token, outside the text guardrails
        // read: a gateway that reads answers does not ask for them.
        for field in ["logprobs", "top_logprobs"] {
            changed |= inbound.body.remove(field).is_some();
        }
    }
    if guards.reads(Side::Request) {
        for text in request_texts(&mut inbound.body) {
            match guards.scan(Side::Request, text, &mut guarding.vault, &mut guarding.found) {
                Ok(Some(redacted)) => {
                    *text = redacted;
                    changed = true;
                }
                Ok(None) => {}
                Err(blocked) => {
                    (proxy.metrics).guardrail_hit(&gateway.name, "request", blocked.detector, "block");
                    tracing::info!(
                        gateway = gateway.name,
                        detector = blocked.detector,
                        "request blocked by a guardrail"
                    );
                    return Err(ProxyError::ContentPolicy(blocked));
                }
            }
        }
    }
    Ok((Some(guarding), changed))
}

impl Guarding {
    /// The request body as the log stores it: with the `logs_only` guardrails' redactions
    /// (`None` when they change nothing).
    pub fn logged_request(&mut self, body: &Map<String, Value>) -> Option<String> {
        if !self.guards.reads(Side::LoggedRequest) {
            return None;
        }
        let mut copy = body.clone();
        let mut changed = false;
        for text in request_texts(&mut copy) {
            // A logs-only guardrail only redacts, so it never blocks.
            if let Ok(Some(redacted)) =
                self.guards
                    .scan(Side::LoggedRequest, text, &mut Vault::default(), &mut self.found)
            {
                *text = redacted;
                changed = true;
            }
        }
        changed.then(|| Value::Object(copy).to_string())
    }

    /// An answer's text as the log stores it: the answer before placeholders were put back
    /// (the originals are the user's, not the log's), with the log's own redactions.
    pub fn logged_answer(&mut self, text: String) -> String {
        let text = self
            .unrestored
            .take()
            .map_or(text, |unrestored| String::from_utf8_lossy(&unrestored).into_owned());
        if !self.guards.reads(Side::LoggedResponse) {
            return text;
        }
        match self
            .guards
            .scan(Side::LoggedResponse, &text, &mut Vault::default(), &mut self.found)
        {
            Ok(Some(redacted)) => redacted,
            Ok(None) | Err(_) => text,
        }
    }

    /// Whether answers are read at all (response guardrails, or placeholders to put back).
    pub fn reads_answers(&self) -> bool {
        self.guards.reads(Side::Response) || self.guards.reads(Side::LoggedResponse) || self.vault.restores()
    }

    /// A whole JSON answer (OpenAI's shape) through the response guardrails, with the
    /// request's placeholders put back: `None` when unchanged.
    pub fn answer(&mut self, body: &[u8]) -> Result<Option<Bytes>, ProxyError> {
        if !(self.guards.reads(Side::Response) || self.vault.restores()) {
            return Ok(None);
        }
        // Most answers hold nothing to redact, block, flag or put back: seen without
        // building the answer, they are passed on as they came.
        if let Ok(texts) = serde_json::from_slice::<AnswerTexts<'_>>(body) {
            let mut texts = (texts.choices.iter()).flat_map(|choice| {
                let message = choice.message.as_ref();
                let calls = message.into_iter().flat_map(|m| m.tool_calls.iter());
                [
                    message.and_then(|m| m.content.as_deref()),
                    message.and_then(|m| m.reasoning_content.as_deref()),
                    message.and_then(|m| m.refusal.as_deref()),
                    choice.text.as_deref(),
                ]
                .into_iter()
                .chain(calls.map(|call| call.function.as_ref().and_then(|f| f.arguments.as_deref())))
                .flatten()
            });
            let untouched = texts.all(|text| {
                !self.guards.finds(Side::Response, text)
                    && (!self.vault.restores() || self.vault.restore(text).is_none())
            });
            if untouched {
                return Ok(None);
            }
        }
        let Ok(mut answer) = serde_json::from_slice::<Value>(body) else {
            return Ok(None);
        };
        let changed = self.answer_value(&mut answer)?;
        Ok(changed.then(|| Bytes::from(answer.to_string())))
    }

    /// A whole answer (OpenAI's shape) through the response guardrails, with the request's
    /// placeholders put back, changed in place: whether it changed. When putting them back
    /// changed it, the answer as it was before is kept for the log ([`Guarding::logged_answer`]).
    pub fn answer_value(&mut self, answer: &mut Value) -> Result<bool, ProxyError> {
        if !(self.guards.reads(Side::Response) || self.vault.restores()) {
            return Ok(false);
        }
        let (mut changed, mut restored_any) = (false, false);
        // The answer before placeholders go back, for the log: copied only when some will
        // (which the request's guardrails settled).
        let mut unrestored = self.vault.restores().then(|| answer.clone());
        let mut logged_texts = unrestored.as_mut().map(|copy| answer_texts(copy).into_iter());
        for (text, json) in answer_texts(answer) {
            let logged = logged_texts.as_mut().and_then(Iterator::next);
            let scanned = match self.guards.reads(Side::Response) {
                true => (self.guards.scan(Side::Response, text, &mut self.vault, &mut self.found))
                    .map_err(ProxyError::ContentPolicy)?,
                false => None,
            };
            if let (Some(scanned), Some((logged, _))) = (&scanned, logged) {
                logged.clone_from(scanned);
            }
            let current = scanned.as_deref().unwrap_or(text.as_str());
            let restored = self.vault.restore_in(current, json);
            restored_any |= restored.is_some();
            if let Some(new) = restored.or(scanned) {
                *text = new;
                changed = true;
            }
        }
        drop(logged_texts);
        if restored_any {
            self.unrestored = unrestored.map(|copy| Bytes::from(copy.to_string()));
        }
        Ok(changed)
    }

    /// The answer as it was before placeholders were put back, when putting them back changed
    /// it (a `multi` composite logs each member's so).
    pub fn take_unrestored(&mut self) -> Option<Value> {
        (self.unrestored.take()).and_then(|bytes| serde_json::from_slice(&bytes).ok())
    }

    /// The guard a streamed answer goes through (`None` when answers are not read).
    pub fn stream(self) -> Option<StreamGuard> {
        self.reads_answers()
            .then(|| StreamGuard::new(self.guards, self.vault, self.found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::{Detector, GatewayId, GuardAction, GuardDirection, Guardrail, GuardrailId};
    use serde_json::json;

    fn guarding(rails: &[(Detector, GuardAction, GuardDirection)]) -> Guarding {
        let rails: Vec<Guardrail> = (rails.iter())
            .map(|(detector, action, direction)| Guardrail {
                id: GuardrailId(1),
                gateway_id: GatewayId(1),
                detector: detector.clone(),
                action: *action,
                direction: *direction,
                logs_only: false,
                fail_closed: false,
                created_at: 0,
            })
            .collect();
        Guarding {
            guards: Arc::new(Guards::new(&rails).unwrap()),
            vault: Vault::default(),
            found: Found::default(),
            unrestored: None,
        }
    }

    #[test]
    fn tool_call_arguments_reasoning_and_refusals_are_read_both_ways() {
        let mut guarding = guarding(&[
            (Detector::Email, GuardAction::Restore, GuardDirection::Request),
            (Detector::Ssn, GuardAction::Redact, GuardDirection::Response),
        ]);
        // The history's tool calls go to the provider too.
        let mut body = json!({ "messages": [
            { "role": "assistant", "content": null, "tool_calls": [{ "id": "c", "type": "function",
              "function": { "name": "mail", "arguments": "{\"to\":\"ada@example.com\"}" } }] },
            { "role": "tool", "tool_call_id": "c", "content": "sent to ada@example.com" },
        ] });
        let body = body.as_object_mut().unwrap();
        for text in request_texts(body) {
            let scanned = guarding
                .guards
                .scan(Side::Request, text, &mut guarding.vault, &mut guarding.found);
            *text = scanned.unwrap().unwrap();
        }
        let sent = Value::Object(body.clone()).to_string();
        assert!(
            sent.contains(r#"{\"to\":\"[EMAIL_1]\"}"#) && !sent.contains("example.com"),
            "{sent}"
        );
        assert_eq!(request_strings(body).len(), 2);

        // The answer's tool calls get the address back; its reasoning and refusal are read.
        let answer = json!({ "choices": [{ "index": 0, "message": { "role": "assistant",
            "reasoning_content": "SSN 123-45-6789 is theirs", "refusal": "not for [EMAIL_1]",
            "tool_calls": [{ "function": { "name": "mail", "arguments": "{\"to\":\"[EMAIL_1]\"}" } }] } }] });
        let guarded = guarding.answer(answer.to_string().as_bytes()).unwrap().unwrap();
        let guarded: Value = serde_json::from_slice(&guarded).unwrap();
        let message = &guarded["choices"][0]["message"];
        assert_eq!(
            message["tool_calls"][0]["function"]["arguments"],
            r#"{"to":"ada@example.com"}"#
        );
        assert_eq!(message["refusal"], "not for ada@example.com");
        assert_eq!(message["reasoning_content"], "SSN [SSN_1] is theirs");
    }

    #[test]
    fn an_original_put_back_in_tool_call_arguments_keeps_them_json() {
        let mut guarding = guarding(&[(
            Detector::Regex(r#"O"Neil"#.into()),
            GuardAction::Restore,
            GuardDirection::Request,
        )]);
        let sent = guarding.guards.scan(
            Side::Request,
            r#"call O"Neil"#,
            &mut guarding.vault,
            &mut guarding.found,
        );
        assert_eq!(sent.unwrap().as_deref(), Some("call [PATTERN_1]"));
        let answer = json!({ "choices": [{ "message": { "content": "for [PATTERN_1]",
            "tool_calls": [{ "function": { "name": "call", "arguments": "{\"who\":\"[PATTERN_1]\"}" } }] } }] });
        let guarded = guarding.answer(answer.to_string().as_bytes()).unwrap().unwrap();
        let guarded: Value = serde_json::from_slice(&guarded).unwrap();
        let message = &guarded["choices"][0]["message"];
        assert_eq!(message["content"], r#"for O"Neil"#);
        let arguments: Value =
            serde_json::from_str(message["tool_calls"][0]["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments["who"], r#"O"Neil"#);
    }
}
