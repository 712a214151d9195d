//! Guardrails over a streamed answer: each choice's text is held back by the last
//! [`HOLD`] bytes (and never inside a run of non-space characters, so no word, address, key or
//! placeholder is split) until more arrives, so a match split over chunks is seen whole.
//!
//! Invariant: the client receives exactly the text it would have received as one JSON answer
//! (redacted and restored the same way), only later; a choice's finish flushes what it holds.

use super::{Blocked, Found, Guards, Side, Vault};
use serde_json::Value;
use std::{collections::BTreeMap, sync::Arc};

/// How much of a choice's text is held back: longer than any built-in detector's match
/// written with spaces (an IBAN in groups is 42). A custom pattern whose match spans spaces
/// and is longer may be missed across chunks.
pub const HOLD: usize = 128;

/// A stream's guardrails: the text each choice holds back, the request's placeholders, and
/// what was found.
pub struct StreamGuard {
    guards: Arc<Guards>,
    vault: Vault,
    /// By choice index.
    held: BTreeMap<u64, String>,
    /// The last chunk's `id`, `created` and `model`, for a chunk that flushes at the end.
    last: Value,
    /// The answer's text before placeholders were put back (what the log stores), when the
    /// request has placeholders to put back.
    unrestored: Option<String>,
    pub found: Found,
}

/// Where the text held may be cut: `HOLD` bytes from its end, moved back to a character
/// boundary and to the start of the non-space run it falls in — but no further back than
/// [`LONGEST_RUN`] (a long run without spaces — base64, a URL, CJK text — is not held whole).
fn release_point(text: &str) -> usize {
    let mut cut = text.len().saturating_sub(HOLD);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    match text[cut..].chars().next() {
        Some(c) if !c.is_whitespace() => {
            let mut floor = cut.saturating_sub(LONGEST_RUN);
            while !text.is_char_boundary(floor) {
                floor += 1;
            }
            floor + super::detect::after_last_space(&text[floor..cut])
        }
        _ => cut,
    }
}

/// The longest run without spaces held back whole, bytes.
const LONGEST_RUN: usize = 2048;

impl StreamGuard {
    pub fn new(guards: Arc<Guards>, vault: Vault, found: Found) -> Self {
        StreamGuard {
            unrestored: vault.restores().then(String::new),
            guards,
            vault,
            held: BTreeMap::new(),
            last: Value::Null,
            found,
        }
    }

    /// `text` (all of a choice's held text, or the part before `limit`) as the client gets it.
    fn pass(&mut self, text: &str, limit: usize) -> Result<(String, usize), Blocked> {
        let (scanned, cut) = match self.guards.reads(Side::Response) {
            true => (self.guards).scan_until(Side::Response, text, limit, &mut self.vault, &mut self.found)?,
            false => (None, limit),
        };
        let out = scanned.unwrap_or_else(|| text[..cut].to_string());
        if let Some(unrestored) = &mut self.unrestored {
            unrestored.push_str(&out);
        }
        Ok((self.vault.restore(&out).unwrap_or(out), cut))
    }

    /// Rewrites one canonical chunk's text: what each choice may release now (all of it when
    /// the choice finishes). `Err` when a guardrail blocks the answer.
    pub fn chunk(&mut self, chunk: &mut Value) -> Result<(), Blocked> {
        self.last = serde_json::json!({
            "id": chunk.get("id"), "object": chunk.get("object"),
            "created": chunk.get("created"), "model": chunk.get("model"),
        });
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        for choice in choices {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let finished = choice.get("finish_reason").is_some_and(|reason| !reason.is_null());
            let field = match choice.pointer("/delta/content") {
                Some(Value::String(_)) => Some("/delta/content"),
                _ if choice.get("text").is_some_and(Value::is_string) => Some("/text"),
                _ => None,
            };
            let held = self.held.entry(index).or_default();
            if let Some(piece) = field.and_then(|field| choice.pointer(field)).and_then(Value::as_str) {
                held.push_str(piece);
            }
            if held.is_empty() {
                continue;
            }
            let text = std::mem::take(held);
            let limit = if finished { text.len() } else { release_point(&text) };
            let (out, cut) = self.pass(&text, limit)?;
            self.held.insert(index, text[cut..].to_string());
            let field = field.unwrap_or("/delta/content");
            match choice.pointer_mut(field) {
                Some(slot) => *slot = Value::String(out),
                None => {
                    if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) {
                        delta.insert("content".into(), Value::String(out));
                    }
                }
            }
        }
        Ok(())
    }

    /// The answer's text as the log stores it (the `logs_only` guardrails' redactions).
    pub fn logged(&mut self, text: String) -> String {
        // The originals put back are the user's, not the log's.
        let text = self.unrestored.take().unwrap_or(text);
        match self
            .guards
            .scan(Side::LoggedResponse, &text, &mut Vault::default(), &mut self.found)
        {
            Ok(Some(redacted)) => redacted,
            Ok(None) | Err(_) => text,
        }
    }

    /// A last chunk with what choices still hold when the stream ends without finishing them
    /// (`None` when nothing is held).
    pub fn flush(&mut self) -> Result<Option<Value>, Blocked> {
        let held: Vec<(u64, String)> = std::mem::take(&mut self.held)
            .into_iter()
            .filter(|(_, t)| !t.is_empty())
            .collect();
        if held.is_empty() {
            return Ok(None);
        }
        let mut choices = Vec::with_capacity(held.len());
        for (index, text) in held {
            let (out, _) = self.pass(&text, text.len())?;
            choices.push(serde_json::json!({ "index": index, "delta": { "content": out }, "finish_reason": null }));
        }
        let mut chunk = self.last.clone();
        chunk["choices"] = Value::Array(choices);
        Ok(Some(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::tests::rail;
    use app::types::{GuardAction, GuardDirection};
    use serde_json::json;

    fn chunk(text: &str, finish: Option<&str>) -> Value {
        json!({ "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{ "index": 0, "delta": { "content": text }, "finish_reason": finish }] })
    }

    fn content(chunk: &Value) -> &str {
        chunk
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
            .unwrap()
    }

    /// Streams `pieces` through a guard; what the client reads.
    fn streamed(guard: &mut StreamGuard, pieces: &[&str]) -> Result<String, Blocked> {
        let mut out = String::new();
        for (at, piece) in pieces.iter().enumerate() {
            let mut c = chunk(piece, (at + 1 == pieces.len()).then_some("stop"));
            guard.chunk(&mut c)?;
            out.push_str(content(&c));
        }
        Ok(out)
    }

    #[test]
    fn a_match_split_over_chunks_is_caught() {
        let guards = Arc::new(Guards::new(&[rail("email", GuardAction::Redact, GuardDirection::Response)]).unwrap());
        let mut guard = StreamGuard::new(guards, Vault::default(), Found::default());
        let out = streamed(&mut guard, &["Write to ad", "a@exam", "ple.com or ", "not."]).unwrap();
        assert_eq!(out, "Write to [EMAIL_1] or not.");
        assert_eq!(guard.found.log_text().unwrap(), "response:email:redact");
    }

    #[test]
    fn a_block_mid_stream_is_an_error_and_long_text_flows_before_the_end() {
        let guards = Arc::new(Guards::new(&[rail("card", GuardAction::Block, GuardDirection::Response)]).unwrap());
        let mut guard = StreamGuard::new(guards, Vault::default(), Found::default());
        let long = "word ".repeat(60);
        let mut first = chunk(&long, None);
        guard.chunk(&mut first).unwrap();
        assert!(
            content(&first).len() >= long.len() - HOLD - "word".len(),
            "all but the held tail is released at once"
        );
        let blocked = streamed(&mut guard, &["card 4111 1111 ", "1111 1111 thanks"]);
        assert_eq!(
            blocked,
            Err(Blocked {
                detector: "card",
                side: Side::Response
            })
        );
    }

    #[test]
    fn held_text_is_cut_between_words_even_after_wide_spaces_and_long_runs_flow() {
        let french = format!("{}Bonjour\u{202f}! {}", "mot ".repeat(40), "é".repeat(80));
        let cut = release_point(&french);
        assert!(french.is_char_boundary(cut) && cut > 0, "{cut}");
        let blob = "A".repeat(10_000);
        assert!(
            release_point(&blob) >= 10_000 - HOLD - LONGEST_RUN,
            "a long run is not held whole"
        );
    }

    #[test]
    fn split_placeholders_are_restored_and_an_unfinished_choice_is_flushed() {
        let guards = Arc::new(Guards::new(&[rail("email", GuardAction::Restore, GuardDirection::Request)]).unwrap());
        let (mut vault, mut found) = (Vault::default(), Found::default());
        let sent = guards
            .scan(Side::Request, "I am ada@example.com", &mut vault, &mut found)
            .unwrap();
        assert_eq!(sent.as_deref(), Some("I am [EMAIL_1]"));
        let mut guard = StreamGuard::new(guards, vault, found);
        let mut out = String::new();
        for piece in ["Hello [EMA", "IL_1], ", "bye"] {
            let mut c = chunk(piece, None);
            guard.chunk(&mut c).unwrap();
            out.push_str(content(&c));
        }
        out.push_str(content(&guard.flush().unwrap().unwrap()));
        assert_eq!(out, "Hello ada@example.com, bye");
        assert!(guard.flush().unwrap().is_none());
    }
}
