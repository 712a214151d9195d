//! A request's cache key: a SHA-256 of what shapes its answer — the gateway, the operation, the
//! model asked for (after its prompt), the composite's variant, the prompt's version, and the
//! body normalised: keys in order at every depth, a default written out the same as left out,
//! and `user`, `stream` and `stream_options` left out (they change who asks and how the answer
//! travels, not what it is).

use crate::proxy::{prompt::PromptUse, providers::Operation, wire::Inbound};
use app::types::GatewayId;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A cache key.
pub type Key = [u8; 32];

/// The key of a request.
pub fn key(gateway: GatewayId, inbound: &Inbound, variant: Option<&str>, prompt: Option<&PromptUse>) -> Key {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    part(b"mgw-cache-1");
    part(&gateway.0.to_le_bytes());
    part(inbound.operation.as_str().as_bytes());
    part(inbound.model.as_deref().unwrap_or_default().as_bytes());
    part(variant.unwrap_or_default().as_bytes());
    part(prompt.map_or("", |prompt| prompt.name.as_str()).as_bytes());
    part(&prompt.map_or(0, |prompt| prompt.version).to_le_bytes());
    let body = Value::Object(normalised(&inbound.body, inbound.operation));
    part(&serde_json::to_vec(&body).unwrap_or_default());
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
    }
}

/// The body with its keys in order at every depth, and without what [`IGNORED`] and
/// [`is_default`] leave out at the top.
fn normalised(body: &Map<String, Value>, operation: Operation) -> Map<String, Value> {
    let mut names: Vec<&String> = (body.iter())
        .filter(|(name, value)| !IGNORED.contains(&name.as_str()) && !is_default(operation, name, value))
        .map(|(name, _)| name)
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| (name.clone(), sorted(&body[name])))
        .collect()
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut names: Vec<&String> = map.keys().collect();
            names.sort();
            Value::Object(
                names
                    .into_iter()
                    .map(|name| (name.clone(), sorted(&map[name])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
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
}
