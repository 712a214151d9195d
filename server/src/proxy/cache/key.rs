//! A request's cache key: a SHA-256 of what shapes its answer — the gateway, the operation, the
//! model asked for (after its prompt), the composite's variant, the prompt's version, and the
//! body normalised: keys in order at every depth, a default written out the same as left out,
//! and `user`, `stream` and `stream_options` left out (they change who asks and how the answer
//! travels, not what it is).

use crate::proxy::{
    prompt::PromptUse,
    providers::{content_text, Operation},
    wire::Inbound,
};
use app::types::GatewayId;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A cache key.
pub type Key = [u8; 32];

/// The key of a request.
pub fn key(gateway: GatewayId, inbound: &Inbound, variant: Option<&str>, prompt: Option<&PromptUse>) -> Key {
    keyed(b"mgw-cache-1", gateway, inbound, variant, prompt, None)
}

/// A chat request's context for the semantic cache: its key made without its last user
/// message's text (`None`: it has none, or holds more than text), under the embedding model
/// that compares those texts —
/// two requests with the same context differ in that text at most. With the text, as the
/// embedding model is to read it.
pub fn context(
    gateway: GatewayId,
    inbound: &Inbound,
    variant: Option<&str>,
    prompt: Option<&PromptUse>,
    embedding_model: &str,
) -> Option<(Key, String)> {
    let messages = inbound.body.get("messages")?.as_array()?;
    let last = messages.iter().rposition(|message| message["role"] == "user")?;
    let content = &messages[last]["content"];
    // Text only: an image, audio or file beside it is not compared (exact repeats only).
    let text_only = match content {
        Value::String(_) => true,
        Value::Array(parts) => parts.iter().all(|part| part["type"] == "text"),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Object(_) => false,
    };
    if !text_only {
        return None;
    }
    let text = content_text(content);
    if text.trim().is_empty() {
        return None;
    }
    let tag = format!("mgw-semantic-1 {embedding_model}");
    Some((
        keyed(tag.as_bytes(), gateway, inbound, variant, prompt, Some(content)),
        text,
    ))
}

/// The key: what [`key`] hashes, under `tag`, with the value at `blank` (a place in the body)
/// hashed as `null` — the body is read, never copied.
fn keyed(
    tag: &[u8],
    gateway: GatewayId,
    inbound: &Inbound,
    variant: Option<&str>,
    prompt: Option<&PromptUse>,
    blank: Option<&Value>,
) -> Key {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    part(tag);
    part(&gateway.0.to_le_bytes());
    part(inbound.operation.as_str().as_bytes());
    part(inbound.model.as_deref().unwrap_or_default().as_bytes());
    part(variant.unwrap_or_default().as_bytes());
    part(prompt.map_or("", |prompt| prompt.name.as_str()).as_bytes());
    part(&prompt.map_or(0, |prompt| prompt.version).to_le_bytes());
    // The body last, unframed: nothing follows it.
    canonical_body(&inbound.body, inbound.operation, &mut hash, blank);
    hash.finalize().into()
}

/// Top-level fields that do not change the answer.
const IGNORED: [&str; 3] = ["user", "stream", "stream_options"];

/// Top-level fields whose default written out is the same request as left out.
fn is_default(operation: Operation, name: &str, value: &Value) -> bool {
    let number = |expected: f64| value.as_f64() == Some(expected);
    match operation {
        Operation::Chat | Operation::Completions => match name {
            "n" | "temperature" | "top_p" => number(1.0),
            "presence_penalty" | "frequency_penalty" => number(0.0),
            "logprobs" | "echo" => value == &Value::Bool(false),
            _ => value.is_null(),
        },
        Operation::Embeddings => match name {
            "encoding_format" => value.as_str() == Some("float"),
            _ => value.is_null(),
        },
        // Not cached: a caching gateway answers Responses requests through the chat path.
        Operation::Responses => value.is_null(),
    }
}

/// Hashes the body as JSON with its keys in order at every depth, without what [`IGNORED`]
/// and [`is_default`] leave out at the top — the bytes a sorted copy would serialize to,
/// without making the copy.
fn canonical_body(body: &Map<String, Value>, operation: Operation, hash: &mut Sha256, blank: Option<&Value>) {
    let kept =
        (body.iter()).filter(|(name, value)| !IGNORED.contains(&name.as_str()) && !is_default(operation, name, value));
    object(kept, hash, blank);
}

fn canonical(value: &Value, hash: &mut Sha256, blank: Option<&Value>) {
    if blank.is_some_and(|blank| std::ptr::eq(blank, value)) {
        return json(&Value::Null, hash);
    }
    match value {
        Value::Object(map) => object(map.iter(), hash, blank),
        Value::Array(items) => {
            hash.update(b"[");
            for (place, item) in items.iter().enumerate() {
                if place > 0 {
                    hash.update(b",");
                }
                canonical(item, hash, blank);
            }
            hash.update(b"]");
        }
        scalar => json(scalar, hash),
    }
}

/// An object's members in the order of their names.
fn object<'a>(members: impl Iterator<Item = (&'a String, &'a Value)>, hash: &mut Sha256, blank: Option<&Value>) {
    let mut members: Vec<_> = members.collect();
    members.sort_unstable_by(|a, b| a.0.cmp(b.0));
    hash.update(b"{");
    for (place, (name, value)) in members.into_iter().enumerate() {
        if place > 0 {
            hash.update(b",");
        }
        json(name, hash);
        hash.update(b":");
        canonical(value, hash, blank);
    }
    hash.update(b"}");
}

/// A string or scalar as JSON (escaped as serde_json writes it).
fn json(value: &(impl serde::Serialize + ?Sized), hash: &mut Sha256) {
    struct Hashing<'h>(&'h mut Sha256);
    impl std::io::Write for Hashing<'_> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // Writing to a hash cannot fail, and these values always serialize.
    let _ = serde_json::to_writer(Hashing(hash), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inbound(body: Value) -> Inbound {
        let body = body.as_object().unwrap().clone();
        Inbound {
            operation: Operation::Chat,
            model: body.get("model").and_then(Value::as_str).map(str::to_string),
            stream: body.get("stream") == Some(&json!(true)),
            wants_usage: false,
            body,
        }
    }

    fn key_of(body: Value) -> Key {
        key(GatewayId(1), &inbound(body), None, None)
    }

    #[test]
    fn key_order_defaults_user_and_stream_do_not_change_the_key() {
        let plain = key_of(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}));
        let same = [
            json!({"max_tokens": 5, "messages": [{"content": "hi", "role": "user"}], "model": "m"}),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "n": 1,
                   "temperature": 1, "user": "ada", "stream": true, "stream_options": {"include_usage": true}}),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "top_p": 1.0,
                   "presence_penalty": 0, "seed": null}),
        ];
        for body in same {
            assert_eq!(key_of(body.clone()), plain, "{body}");
        }
    }

    #[test]
    fn what_changes_the_answer_changes_the_key() {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let plain = key_of(body.clone());
        for other in [
            json!({"model": "m2", "messages": [{"role": "user", "content": "hi"}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi!"}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 2}),
        ] {
            assert_ne!(key_of(other.clone()), plain, "{other}");
        }
        assert_ne!(key(GatewayId(2), &inbound(body.clone()), None, None), plain);
        assert_ne!(key(GatewayId(1), &inbound(body.clone()), Some("b"), None), plain);
        let prompt = |version| PromptUse {
            name: "p".into(),
            version,
            parameters: Map::new(),
        };
        let v1 = key(GatewayId(1), &inbound(body.clone()), None, Some(&prompt(1)));
        assert_ne!(v1, plain);
        assert_ne!(key(GatewayId(1), &inbound(body), None, Some(&prompt(2))), v1);
    }

    #[test]
    fn a_context_leaves_out_the_last_user_message_text_only() {
        let asked = |last: &str, system: &str| {
            inbound(json!({"model": "m", "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": [{"type": "text", "text": last}]},
            ]}))
        };
        let context = |inbound: &Inbound, model: &str| context(GatewayId(1), inbound, None, None, model).unwrap();
        let (france, text) = context(&asked("What is the capital of France?", "terse"), "e");
        assert_eq!(text, "What is the capital of France?");
        // Hashed as a copy with that content null would be, without the copy.
        let mut nulled = asked("anything", "terse");
        nulled.body["messages"][3]["content"] = Value::Null;
        assert_eq!(
            keyed(b"mgw-semantic-1 e", GatewayId(1), &nulled, None, None, None),
            france
        );
        assert_eq!(context(&asked("capital of France, please", "terse"), "e").0, france);
        assert_ne!(
            context(&asked("What is the capital of France?", "verbose"), "e").0,
            france
        );
        assert_ne!(
            context(&asked("What is the capital of France?", "terse"), "e2").0,
            france
        );
        let key = key(
            GatewayId(1),
            &asked("What is the capital of France?", "terse"),
            None,
            None,
        );
        assert_ne!(france, key, "a context is not a key");
        let silent = inbound(json!({"model": "m", "messages": [{"role": "user", "content": "  "}]}));
        assert!(
            super::context(GatewayId(1), &silent, None, None, "e").is_none(),
            "no text, no context"
        );
        let image = inbound(json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        ]}]}));
        assert!(
            super::context(GatewayId(1), &image, None, None, "e").is_none(),
            "not text only"
        );
    }

    #[test]
    fn text_that_looks_like_json_does_not_collide_with_json() {
        let a = key_of(json!({"model": "m", "messages": [], "metadata": {"a": "b\",\"c\":\"d"}}));
        let b = key_of(json!({"model": "m", "messages": [], "metadata": {"a": "b", "c": "d"}}));
        assert_ne!(a, b);
        let nested = |x: Value| key_of(json!({"model": "m", "messages": [{"role": "user", "content": x}]}));
        assert_eq!(
            nested(json!([{"type": "text", "text": "hi"}])),
            nested(json!([{"text": "hi", "type": "text"}]))
        );
        assert_ne!(
            nested(json!(["a", "b"])),
            nested(json!(["b", "a"])),
            "lists keep their order"
        );
    }
}
