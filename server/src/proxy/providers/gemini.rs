//! Google's Gemini API (AI Studio) as an upstream: OpenAI-shaped requests sent as
//! `generateContent` (system instruction, turns, images, tools and function calls, JSON mode),
//! its answers, stream events, embeddings and errors read back into OpenAI's terms. Vertex AI
//! serves the same bodies at its own URLs (issue #25).
//!
//! Invariant: the key travels in `x-goog-api-key`, never in the URL (URLs reach logs).
//! Does not: carry OpenAI-only fields (`n`, `logprobs`, `user`, …) to Gemini.

use super::{
    content_parts, content_text, join, push_turn, Answer, AnswerBody, Call, ContentPart, Image, Invalid, Operation,
    Outbound, UpstreamError, Usage,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

mod stream;

pub use stream::StreamDecoder;

/// Gemini's API: chat and embeddings, with its own bodies, answers, stream events and errors.
pub struct Gemini;

/// Why Gemini's and Vertex AI's endpoints refuse token arrays to embed.
pub const TOKENS_REFUSED: &str = "Gemini and Vertex AI embed text, not token arrays: send `input` as text";

impl super::Adapter for Gemini {
    fn supports(&self, operation: Operation) -> bool {
        matches!(operation, Operation::Chat | Operation::Embeddings)
    }

    fn refuses(
        &self,
        _endpoint: &app::types::InferenceEndpoint,
        operation: Operation,
        body: &Map<String, Value>,
    ) -> Option<(&'static str, &'static str)> {
        super::embeds_tokens(operation, body).then_some(("input", TOKENS_REFUSED))
    }

    fn request(&self, call: &Call<'_>) -> Outbound {
        let mut headers = Vec::new();
        if let Some(credential) = call.credential {
            headers.push(("x-goog-api-key", credential.to_string()));
        }
        Outbound {
            url: join(
                &call.endpoint.base_url,
                &path(&call.endpoint.model, call.operation, call.stream),
            ),
            headers,
            body: body(call),
        }
    }

    fn answer(&self, operation: Operation, bytes: bytes::Bytes, stamp: &super::Stamp) -> Result<Answer, Invalid> {
        match operation {
            Operation::Embeddings => embeddings_answer(&bytes),
            Operation::Chat | Operation::Completions | Operation::Responses => answer(&bytes, stamp),
        }
    }

    fn stream_decoder(&self, _operation: Operation, stamp: &super::Stamp) -> super::StreamDecoder {
        super::StreamDecoder::Gemini(StreamDecoder::new(stamp.clone()))
    }

    fn error(&self, body: &Value) -> UpstreamError {
        error(body)
    }
}

/// The path of a model's method: `models/{model}:generateContent`, `:streamGenerateContent`
/// (as server-sent events) or `:batchEmbedContents`.
pub fn path(model: &str, operation: Operation, stream: bool) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    let model = super::path_segment(model);
    let method = match (operation, stream) {
        (Operation::Embeddings, _) => "batchEmbedContents",
        (Operation::Chat | Operation::Completions | Operation::Responses, true) => "streamGenerateContent?alt=sse",
        (Operation::Chat | Operation::Completions | Operation::Responses, false) => "generateContent",
    };
    format!("models/{model}:{method}")
}

/// The body to send for a call.
pub fn body(call: &Call<'_>) -> Vec<u8> {
    let body = match call.operation {
        Operation::Embeddings => embeddings_request(&call.endpoint.model, call.body),
        Operation::Chat | Operation::Completions | Operation::Responses => generate_request(call.body),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// OpenAI-shaped request → `generateContent`

/// Between a tool call's id and the thought signature Gemini gave the call: the signature must
/// come back with the call in the next turn (Gemini 3 refuses a turn without it), and an
/// OpenAI-shaped client keeps only the id, so the signature travels inside it.
pub const SIGNATURE_MARK: &str = "__thought__";

/// OpenAI content as Gemini parts (empty text left out): an image inline, or a web address by
/// reference with its type guessed from the name.
fn parts(content: &Value) -> Vec<Value> {
    (content_parts(content).into_iter())
        .filter_map(|part| match part {
            ContentPart::Text("") => None,
            ContentPart::Text(text) => Some(json!({ "text": text })),
            ContentPart::Image(Image::Inline { media_type, data }) => {
                Some(json!({ "inlineData": { "mimeType": media_type, "data": data } }))
            }
            ContentPart::Image(Image::Url(url)) => {
                let path = url.split(['?', '#']).next().unwrap_or(url).to_ascii_lowercase();
                let mime = [("png", "image/png"), ("gif", "image/gif"), ("webp", "image/webp")]
                    .into_iter()
                    .find(|(extension, _)| path.ends_with(extension))
                    .map_or("image/jpeg", |(_, mime)| mime);
                Some(json!({ "fileData": { "mimeType": mime, "fileUri": url } }))
            }
        })
        .collect()
}

/// An assistant's tool call as a `functionCall` part, its thought signature restored.
fn function_call_part(call: &Value) -> Value {
    let id = call.get("id").and_then(Value::as_str).unwrap_or_default();
    let arguments = call
        .pointer("/function/arguments")
        .and_then(Value::as_str)
        .unwrap_or("{}");
    let mut part = json!({ "functionCall": {
        "name": call.pointer("/function/name").cloned().unwrap_or_default(),
        "args": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
    } });
    if let Some((_, signature)) = id.split_once(SIGNATURE_MARK) {
        part["thoughtSignature"] = json!(signature);
    }
    part
}

/// An OpenAI chat request as a `generateContent` body.
pub fn generate_request(body: &Map<String, Value>) -> Value {
    let mut system = Vec::new();
    let mut contents = Vec::new();
    // A tool result names its function in Gemini: the name of each call id seen so far.
    let mut names: Vec<(String, String)> = Vec::new();
    for message in body.get("messages").and_then(Value::as_array).into_iter().flatten() {
        let content = message.get("content").unwrap_or(&Value::Null);
        match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => system.push(content_text(content)),
            Some("assistant") => {
                let mut turn = parts(content);
                for call in message
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let id = call.get("id").and_then(Value::as_str).unwrap_or_default();
                    let name = call
                        .pointer("/function/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    names.push((id.to_string(), name.to_string()));
                    turn.push(function_call_part(call));
                }
                push_turn(&mut contents, "model", "parts", turn);
            }
            Some("tool") => {
                let id = message.get("tool_call_id").and_then(Value::as_str).unwrap_or_default();
                let name = names
                    .iter()
                    .rev()
                    .find(|(seen, _)| seen == id)
                    .map_or(id, |(_, name)| name);
                let part = json!({ "functionResponse": {
                    "name": name, "response": { "content": content_text(content) },
                } });
                push_turn(&mut contents, "user", "parts", vec![part]);
            }
            _ => push_turn(&mut contents, "user", "parts", parts(content)),
        }
    }
    let mut out = Map::new();
    out.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        out.insert(
            "systemInstruction".into(),
            json!({ "parts": [{ "text": system.join("\n\n") }] }),
        );
    }
    let config = generation_config(body);
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let declarations: Vec<Value> = tools
            .iter()
            .filter_map(|tool| {
                let function = tool.get("function")?;
                let mut declaration = json!({ "name": function.get("name").cloned().unwrap_or_default() });
                if let Some(description) = function.get("description") {
                    declaration["description"] = description.clone();
                }
                // JSON Schema as the client wrote it (`parameters` takes only an OpenAPI subset).
                if let Some(parameters) = function.get("parameters") {
                    declaration["parametersJsonSchema"] = parameters.clone();
                }
                Some(declaration)
            })
            .collect();
        if !declarations.is_empty() {
            out.insert("tools".into(), json!([{ "functionDeclarations": declarations }]));
        }
    }
    let calling = match body.get("tool_choice") {
        Some(Value::String(choice)) if choice == "none" => Some(json!({ "mode": "NONE" })),
        Some(Value::String(choice)) if choice == "required" => Some(json!({ "mode": "ANY" })),
        Some(Value::String(_)) => Some(json!({ "mode": "AUTO" })),
        Some(Value::Object(choice)) => choice
            .get("function")
            .and_then(|f| f.get("name"))
            .map(|name| json!({ "mode": "ANY", "allowedFunctionNames": [name] })),
        _ => None,
    };
    if let Some(calling) = calling {
        out.insert("toolConfig".into(), json!({ "functionCallingConfig": calling }));
    }
    Value::Object(out)
}

/// `generationConfig`: sampling, length, stops and the answer's format.
fn generation_config(body: &Map<String, Value>) -> Map<String, Value> {
    let mut config = Map::new();
    let copies = [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ];
    for (from, to) in copies {
        if let Some(value) = body.get(from).filter(|value| value.is_number()) {
            config.insert(to.into(), value.clone());
        }
    }
    if let Some(max) = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .filter(|value| value.is_u64())
    {
        config.insert("maxOutputTokens".into(), max.clone());
    }
    if let Some(stops) = super::stop_sequences(body) {
        config.insert("stopSequences".into(), stops);
    }
    let format = body.get("response_format");
    match format.and_then(|f| f.get("type")).and_then(Value::as_str) {
        Some("json_object") => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        Some("json_schema") => {
            config.insert("responseMimeType".into(), json!("application/json"));
            if let Some(schema) = format.and_then(|f| f.pointer("/json_schema/schema")) {
                config.insert("responseJsonSchema".into(), schema.clone());
            }
        }
        _ => {}
    }
    config
}

/// An OpenAI embeddings request as `batchEmbedContents`: one request a text.
pub fn embeddings_request(model: &str, body: &Map<String, Value>) -> Value {
    let model = format!("models/{}", model.strip_prefix("models/").unwrap_or(model));
    let texts: Vec<String> = match body.get("input") {
        Some(Value::Array(items)) => items.iter().map(content_text).collect(),
        Some(item) => vec![content_text(item)],
        None => vec![],
    };
    let dimensions = body.get("dimensions").and_then(Value::as_u64);
    let requests: Vec<Value> = texts
        .into_iter()
        .map(|text| {
            let mut request = json!({ "model": model, "content": { "parts": [{ "text": text }] } });
            if let Some(dimensions) = dimensions {
                request["outputDimensionality"] = json!(dimensions);
            }
            request
        })
        .collect();
    json!({ "requests": requests })
}

// ---------------------------------------------------------------------------------------------
// Answers → OpenAI

/// Gemini's `usageMetadata` (an answer's, and every stream event's, cumulative).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// The prompt, cached content included.
    #[serde(default)]
    prompt_token_count: Option<u64>,
    /// A tool's own prompt (code execution, search).
    #[serde(default)]
    tool_use_prompt_token_count: Option<u64>,
    #[serde(default)]
    candidates_token_count: Option<u64>,
    /// Thinking, billed as output.
    #[serde(default)]
    thoughts_token_count: Option<u64>,
}

impl UsageMetadata {
    /// The usage, when the prompt's count is given.
    pub fn usage(&self) -> Option<Usage> {
        let prompt = self.prompt_token_count?;
        Some(Usage {
            prompt_tokens: prompt.saturating_add(self.tool_use_prompt_token_count.unwrap_or(0)),
            completion_tokens: (self.candidates_token_count.unwrap_or(0))
                .saturating_add(self.thoughts_token_count.unwrap_or(0)),
        })
    }
}

/// A candidate's finish reason in OpenAI's terms (`tool_calls` when it called a function).
pub fn finish_reason(reason: &str, called: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => "content_filter",
        _ if called => "tool_calls",
        _ => "stop",
    }
}

/// The id an OpenAI-shaped client is given for a function call: Gemini's own when it gave one,
/// else `call_{answer}_{n}` (`answer`: the last 16 letters and digits of the answer's id — the
/// gateway's ends in its request id's random part — so ids do not repeat from one turn to the
/// next), with the call's thought signature after [`SIGNATURE_MARK`].
pub fn call_id(own: Option<&str>, answer: &str, index: usize, signature: Option<&str>) -> String {
    let letters: Vec<char> = answer.chars().filter(char::is_ascii_alphanumeric).collect();
    let scope: String = letters[letters.len().saturating_sub(16)..].iter().collect();
    let id = own.map_or_else(|| format!("call_{scope}_{index}"), str::to_string);
    match signature {
        Some(signature) => format!("{id}{SIGNATURE_MARK}{signature}"),
        None => id,
    }
}

/// A `generateContent` answer as an OpenAI chat completion. A prompt Gemini blocked (no
/// candidate) is an empty answer finished by `content_filter`.
pub fn answer(bytes: &[u8], stamp: &super::Stamp) -> Result<Answer, Invalid> {
    let body: Value = serde_json::from_slice(bytes).map_err(|e| Invalid(e.to_string()))?;
    let blocked = body.pointer("/promptFeedback/blockReason").is_some();
    let candidate = body.pointer("/candidates/0");
    if candidate.is_none() && !blocked {
        return Err(Invalid("no candidate and no block reason".into()));
    }
    let parts = candidate
        .and_then(|c| c.pointer("/content/parts"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let text: String = parts
        .iter()
        .filter(|part| part.get("thought") != Some(&Value::Bool(true)))
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect();
    // Gemini's id for the answer, when it gives one; else the gateway's.
    let id = body.get("responseId").and_then(Value::as_str).unwrap_or(&stamp.id);
    let tool_calls: Vec<Value> = parts
        .iter()
        .filter_map(|part| Some((part.get("functionCall")?, part)))
        .enumerate()
        .map(|(index, (call, part))| {
            let id = call_id(
                call.get("id").and_then(Value::as_str),
                id,
                index,
                part.get("thoughtSignature").and_then(Value::as_str),
            );
            let arguments = call.get("args").map_or_else(|| "{}".to_string(), Value::to_string);
            json!({ "id": id, "type": "function", "function": { "name": call["name"], "arguments": arguments } })
        })
        .collect();
    let reason = candidate.and_then(|c| c.get("finishReason")).and_then(Value::as_str);
    let finish = match (blocked, reason) {
        (true, _) => "content_filter",
        (false, reason) => finish_reason(reason.unwrap_or("STOP"), !tool_calls.is_empty()),
    };
    let content = if text.is_empty() && (!tool_calls.is_empty() || blocked) {
        Value::Null
    } else {
        json!(text)
    };
    let mut message = json!({ "role": "assistant", "content": content });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    let usage = (body.get("usageMetadata"))
        .and_then(|usage| UsageMetadata::deserialize(usage).ok())
        .and_then(|usage| usage.usage());
    let mut out = json!({
        "id": id,
        "object": "chat.completion",
        "created": stamp.created,
        "model": body.get("modelVersion").cloned().unwrap_or_default(),
        "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
    });
    if let Some(usage) = usage {
        out["usage"] = usage.to_openai();
    }
    Ok(Answer {
        body: AnswerBody::Translated(out),
        usage,
    })
}

/// A `batchEmbedContents` answer as OpenAI's embeddings list. Gemini reports no usage for
/// embeddings: the gateway's estimate stands.
pub fn embeddings_answer(bytes: &[u8]) -> Result<Answer, Invalid> {
    #[derive(Deserialize)]
    struct Embedded {
        embeddings: Vec<Embedding>,
    }
    #[derive(Deserialize)]
    struct Embedding {
        values: Vec<f64>,
    }
    let embedded: Embedded = serde_json::from_slice(bytes).map_err(|e| Invalid(e.to_string()))?;
    let vectors = embedded.embeddings.into_iter().map(|embedding| embedding.values);
    Ok(super::embeddings_list(vectors, None))
}

/// The OpenAI error type of a Google API status.
fn kind_of(status: &str) -> &'static str {
    match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => "invalid_request_error",
        "UNAUTHENTICATED" => "authentication_error",
        "PERMISSION_DENIED" => "permission_error",
        "NOT_FOUND" => "not_found_error",
        "RESOURCE_EXHAUSTED" => "rate_limit_error",
        _ => "server_error",
    }
}

/// Google's error body `{"error": {"code", "message", "status"}}`; the status is kept as the
/// code.
pub fn error(body: &Value) -> UpstreamError {
    // Some Google front ends answer a list of one error.
    let body = body.get(0).unwrap_or(body);
    let error = body.get("error").unwrap_or(body);
    let status = error.get("status").and_then(Value::as_str);
    UpstreamError {
        message: (error.get("message").and_then(Value::as_str))
            .unwrap_or_default()
            .to_string(),
        kind: status.map_or("upstream_error", kind_of).to_string(),
        code: status.map(str::to_string),
        param: None,
        quota_exhausted: false,
    }
}

#[cfg(test)]
mod tests;
