//! The inference API's requests as clients send them (OpenAI's shape): parsed, checked field by
//! field, and kept as a JSON object so unknown fields pass through untouched.
//!
//! Invariant: a body can never choose the upstream URL or credential — fields that would
//! (`api_base`, `base_url`, `api_key`, …) are dropped wherever they appear outside content.
//! Invariant: a request that fails here costs no upstream call.

use super::{error::ProxyError, providers::Operation};
use serde_json::{Map, Value};

/// Fields some SDKs and peers read as "where to send" or "with what key"; never honoured.
const OVERRIDE_FIELDS: [&str; 8] = [
    "api_base",
    "base_url",
    "api_key",
    "api_version",
    "azure_endpoint",
    "azure_ad_token",
    "organization",
    "custom_llm_provider",
];

/// Fields holding user content or schemas, where any name is legitimate (`text` holds a
/// Responses request's output schema, `metadata` the client's own keys).
const CONTENT_FIELDS: [&str; 9] = [
    "messages",
    "tools",
    "functions",
    "response_format",
    "input",
    "prompt",
    "tool_choice",
    "text",
    "metadata",
];

/// The Azure deployment (and model) that lets the gateway choose (modelgw's convention).
pub const AUTO_DEPLOYMENT: &str = "auto";

/// The most `max_tokens` a request may ask for.
pub const MAX_TOKENS_CAP: u64 = 1_000_000;
/// The most inputs one embeddings request may carry (OpenAI's own limit).
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

/// A checked request.
#[derive(Debug)]
pub struct Inbound {
    pub operation: Operation,
    /// The body, without override fields.
    pub body: Map<String, Value>,
    /// The model asked for (`None`: Azure's `auto` deployment with no model in the body).
    pub model: Option<String>,
    pub stream: bool,
    /// Whether the client asked for the usage chunk (`stream_options.include_usage`).
    pub wants_usage: bool,
}

/// Parses a body: valid UTF-8, valid JSON (no lone surrogates, bounded nesting), an object.
pub fn parse(bytes: &[u8]) -> Result<Map<String, Value>, ProxyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ProxyError::bad(None, "The request body is not valid UTF-8."))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(body)) => Ok(body),
        Ok(_) => Err(ProxyError::bad(None, "The request body must be a JSON object.")),
        Err(error) => Err(ProxyError::bad(
            None,
            format!("The request body is not valid JSON: {error}."),
        )),
    }
}

/// Drops override fields, at the top level and in nested objects outside content.
pub(super) fn drop_overrides(body: &mut Map<String, Value>) {
    for field in OVERRIDE_FIELDS {
        body.remove(field);
    }
    for (name, value) in body.iter_mut() {
        if let (false, Value::Object(nested)) = (CONTENT_FIELDS.contains(&name.as_str()), value) {
            drop_overrides(nested);
        }
    }
}

fn number(body: &Map<String, Value>, name: &'static str, min: f64, max: f64) -> Result<(), ProxyError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(value) => match value.as_f64() {
            Some(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(ProxyError::bad(
                name,
                format!("`{name}` must be a number from {min} to {max}."),
            )),
        },
    }
}

fn integer(body: &Map<String, Value>, name: &'static str, min: u64, max: u64) -> Result<(), ProxyError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(value) => match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(ProxyError::bad(
                name,
                format!("`{name}` must be an integer from {min} to {max}."),
            )),
        },
    }
}

fn boolean(body: &Map<String, Value>, name: &'static str) -> Result<bool, ProxyError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ProxyError::bad(name, format!("`{name}` must be true or false."))),
    }
}

fn messages(body: &Map<String, Value>) -> Result<(), ProxyError> {
    let invalid = |message: &str| ProxyError::bad("messages", message.to_string());
    let messages = match body.get("messages") {
        None => return Err(invalid("`messages` is required.")),
        Some(Value::Array(messages)) if !messages.is_empty() => messages,
        Some(Value::Array(_)) => return Err(invalid("`messages` must not be empty.")),
        Some(_) => return Err(invalid("`messages` must be an array of message objects.")),
    };
    for message in messages {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("Every message needs a `role` string."))?;
        if !matches!(
            role,
            "system" | "developer" | "user" | "assistant" | "tool" | "function"
        ) {
            return Err(invalid(&format!("`{role}` is not a message role.")));
        }
        match message.get("content") {
            None | Some(Value::Null | Value::String(_) | Value::Array(_)) => {}
            Some(_) => return Err(invalid("A message's `content` must be a string or an array of parts.")),
        }
    }
    Ok(())
}

fn prompt(body: &Map<String, Value>) -> Result<(), ProxyError> {
    match body.get("prompt") {
        Some(Value::String(_)) => Ok(()),
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(|i| i.is_string() || i.is_u64()) => Ok(()),
        _ => Err(ProxyError::bad(
            "prompt",
            "`prompt` must be a string or an array of strings or tokens.",
        )),
    }
}

fn embedding_input(body: &Map<String, Value>) -> Result<(), ProxyError> {
    let invalid = |message: &str| ProxyError::bad("input", message.to_string());
    match body.get("input") {
        Some(Value::String(text)) if !text.is_empty() => Ok(()),
        Some(Value::String(_)) => Err(invalid("`input` must not be empty.")),
        Some(Value::Array(items)) => {
            if items.is_empty() {
                return Err(invalid("`input` must not be empty."));
            }
            if items.len() > MAX_EMBEDDING_INPUTS {
                return Err(invalid(&format!(
                    "`input` may hold at most {MAX_EMBEDDING_INPUTS} items."
                )));
            }
            let tokens = |v: &Value| {
                v.as_array()
                    .is_some_and(|t| !t.is_empty() && t.iter().all(Value::is_u64))
            };
            let ok = items.iter().all(|i| i.as_str().is_some_and(|s| !s.is_empty()))
                || items.iter().all(Value::is_u64)
                || items.iter().all(tokens);
            if ok {
                Ok(())
            } else {
                Err(invalid(
                    "`input` items must all be non-empty strings, or all token arrays.",
                ))
            }
        }
        None => Err(invalid("`input` is required.")),
        Some(_) => Err(invalid("`input` must be a string or an array of strings.")),
    }
}

/// Checks a request for `operation`. `path_model` is the model a path names (an Azure
/// deployment); `Some(None)` means Azure's `auto`, where the body may name the model.
pub fn check(
    operation: Operation,
    mut body: Map<String, Value>,
    path_model: Option<Option<&str>>,
) -> Result<Inbound, ProxyError> {
    drop_overrides(&mut body);
    let body_model = match body.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(model)) if !model.trim().is_empty() => Some(model.clone()),
        Some(_) => return Err(ProxyError::bad("model", "`model` must be a non-empty string.")),
    };
    let model = match path_model {
        Some(Some(deployment)) => Some(deployment.to_string()),
        // Azure SDKs send the deployment as the model too.
        Some(None) => body_model.filter(|model| model != AUTO_DEPLOYMENT),
        None => Some(body_model.ok_or_else(|| ProxyError::bad("model", "`model` is required."))?),
    };
    let stream = boolean(&body, "stream")?;
    let wants_usage = match body.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(options)) => boolean(options, "include_usage").map_err(|_| {
            ProxyError::bad(
                "stream_options",
                "`stream_options.include_usage` must be true or false.",
            )
        })?,
        Some(_) => return Err(ProxyError::bad("stream_options", "`stream_options` must be an object.")),
    };
    number(&body, "temperature", 0.0, 2.0)?;
    number(&body, "top_p", 0.0, 1.0)?;
    number(&body, "presence_penalty", -2.0, 2.0)?;
    number(&body, "frequency_penalty", -2.0, 2.0)?;
    integer(&body, "n", 1, 128)?;
    integer(&body, "best_of", 1, 20)?;
    integer(&body, "max_tokens", 1, MAX_TOKENS_CAP)?;
    integer(&body, "max_completion_tokens", 1, MAX_TOKENS_CAP)?;
    match body.get("stop") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(Value::Array(stops)) if stops.iter().all(Value::is_string) => {}
        Some(_) => {
            return Err(ProxyError::bad(
                "stop",
                "`stop` must be a string or an array of strings.",
            ))
        }
    }
    match operation {
        // A Responses request is checked as the chat request it reads as.
        Operation::Chat | Operation::Responses => messages(&body)?,
        Operation::Completions => prompt(&body)?,
        Operation::Embeddings => {
            if stream {
                return Err(ProxyError::bad("stream", "Embeddings cannot be streamed."));
            }
            embedding_input(&body)?
        }
    }
    Ok(Inbound {
        operation,
        body,
        model,
        stream,
        wants_usage,
    })
}

/// A rough token count for text: about four characters a token. Used when a provider reports
/// no usage, and for provider tokens-per-minute windows before the answer is known.
pub fn estimate_tokens(text_chars: usize) -> u64 {
    (text_chars as u64).div_ceil(4)
}

/// How many completions a request asks for: `n`, or legacy completions' `best_of` candidates
/// (the larger); each may take the whole `max_tokens`.
pub fn choices(inbound: &Inbound) -> u64 {
    (["n", "best_of"].iter())
        .filter_map(|name| inbound.body.get(*name).and_then(Value::as_u64))
        .max()
        .unwrap_or(1)
        .max(1)
}

/// The estimated prompt tokens of a request.
pub fn prompt_tokens(inbound: &Inbound) -> u64 {
    fn chars(value: &Value) -> usize {
        match value {
            Value::String(text) => text.chars().count(),
            Value::Array(items) => items.iter().map(chars).sum(),
            Value::Object(object) => object.get("text").or_else(|| object.get("content")).map_or(0, chars),
            _ => 0,
        }
    }
    let body = &inbound.body;
    match inbound.operation {
        Operation::Chat => body
            .get("messages")
            .and_then(Value::as_array)
            .map_or(0, |m| m.iter().map(|m| estimate_tokens(chars(&m["content"])) + 4).sum()),
        Operation::Completions => estimate_tokens(body.get("prompt").map_or(0, chars)),
        Operation::Embeddings => estimate_tokens(body.get("input").map_or(0, chars)),
        // The client's own Responses body: its instructions and input items' text.
        Operation::Responses => {
            estimate_tokens(body.get("instructions").map_or(0, chars) + body.get("input").map_or(0, chars))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checked(operation: Operation, body: Value) -> Result<Inbound, ProxyError> {
        check(operation, body.as_object().unwrap().clone(), None)
    }

    fn param(result: Result<Inbound, ProxyError>) -> Option<String> {
        match result {
            Err(ProxyError::BadRequest { param, .. }) => param,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let chat = |extra: Value| {
            let mut body = json!({ "model": "m", "messages": [{ "role": "user", "content": "hi" }] });
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            checked(Operation::Chat, body)
        };
        assert_eq!(param(chat(json!({ "messages": "hi" }))).as_deref(), Some("messages"));
        assert_eq!(param(chat(json!({ "stream": "yes" }))).as_deref(), Some("stream"));
        assert_eq!(
            param(chat(json!({ "temperature": "hot" }))).as_deref(),
            Some("temperature")
        );
        assert_eq!(param(chat(json!({ "max_tokens": -1 }))).as_deref(), Some("max_tokens"));
        assert_eq!(
            param(chat(json!({ "max_tokens": 1_000_000_000 }))).as_deref(),
            Some("max_tokens")
        );
        assert_eq!(
            param(checked(Operation::Chat, json!({ "messages": [] }))).as_deref(),
            Some("model")
        );
        assert!(chat(json!({ "temperature": 0.5, "max_tokens": 10, "stream": true })).is_ok());
    }

    #[test]
    fn override_fields_are_dropped_but_content_is_kept() {
        let inbound = checked(
            Operation::Chat,
            json!({ "model": "m", "api_base": "http://evil", "api_key": "k",
                    "extra": { "base_url": "http://evil", "keep": 1 },
                    "messages": [{ "role": "user", "content": "hi", "api_key": "part of the content" }] }),
        )
        .unwrap();
        let body = Value::Object(inbound.body);
        assert!(body.get("api_base").is_none() && body.get("api_key").is_none());
        assert_eq!(body["extra"], json!({ "keep": 1 }));
        assert_eq!(body["messages"][0]["api_key"], "part of the content");
    }

    #[test]
    fn embedding_inputs_are_checked() {
        let embed = |input: Value| checked(Operation::Embeddings, json!({ "model": "e", "input": input }));
        assert!(embed(json!("text")).is_ok());
        assert!(embed(json!(["a", "b"])).is_ok());
        assert!(embed(json!([[1, 2], [3]])).is_ok());
        for bad in [
            json!(""),
            json!([]),
            json!([1, "a"]),
            json!([{}]),
            json!(vec!["x"; 10_000]),
        ] {
            assert_eq!(param(embed(bad)).as_deref(), Some("input"));
        }
    }

    #[test]
    fn bodies_must_be_json_objects_in_utf8() {
        assert!(parse(b"{\"a\":1}").is_ok());
        for bad in [&b"{\"a\":"[..], b"[1]", b"\xff\xfe", br#"{"a":"\ud800"}"#] {
            assert!(matches!(parse(bad), Err(ProxyError::BadRequest { .. })), "{bad:?}");
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(deep.as_bytes()).is_err());
    }
}
