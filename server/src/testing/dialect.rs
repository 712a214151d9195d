//! The mock's answers in each provider's shape, as JSON or as an SSE stream (and OpenAI's
//! moderation verdicts).

use super::{responses, Usage};
use axum::{
    body::{Body, Bytes},
    response::{IntoResponse, Response},
};
use futures_util::stream;
use serde_json::{json, Value};
use std::time::Duration;

/// Which API a request path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `/v1/chat/completions`, and Azure's `/openai/deployments/{d}/chat/completions`.
    Chat,
    /// `/v1/completions`.
    Completions,
    /// OpenAI's Responses API: `/v1/responses`, and Azure's `/openai/v1/responses`.
    Responses,
    /// `/v1/embeddings`, and Azure's deployment path.
    Embeddings,
    /// `GET /v1/models`.
    Models,
    /// Anthropic's `/v1/messages`.
    Messages,
    /// `/v1/moderations`: a text is flagged (category `violence`) when it holds the word
    /// "violent", any case.
    Moderations,
    /// Gemini's `models/{model}:generateContent`.
    Gemini,
    /// Gemini's `models/{model}:streamGenerateContent` (`alt=sse`): streamed whatever the body
    /// says.
    GeminiStream,
    /// Gemini's `models/{model}:batchEmbedContents`.
    GeminiEmbed,
    /// Vertex AI's `models/{model}:predict` (embeddings).
    VertexPredict,
    /// Bedrock's `model/{model}/converse`.
    Converse,
    /// Bedrock's `model/{model}/converse-stream`: AWS's binary event stream, whatever the body
    /// says.
    ConverseStream,
    /// Bedrock's `model/{model}/invoke`, as its embedding models answer: Amazon Titan's for an
    /// `inputText`, Cohere's for `texts`.
    Invoke,
}

/// Faults injected into a stream.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// End (cleanly, but without the final event) after this many chunks.
    pub cut_after: Option<usize>,
    /// Send nothing more after this many chunks.
    pub stall_after: Option<usize>,
    /// Send an error event instead of chunk number `error_at`, then end.
    pub error_at: Option<usize>,
}

/// One SSE event: `event:` (Anthropic) and `data:`.
fn event(name: Option<&str>, data: &str) -> String {
    match name {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

fn last_user_text(request: &Value) -> String {
    if let Some(contents) = request.get("contents").and_then(Value::as_array) {
        // Gemini's turns: the last user turn's text parts.
        let turn = contents.iter().rev().find(|turn| turn["role"] == "user");
        let parts = turn.and_then(|turn| turn["parts"].as_array()).into_iter().flatten();
        return parts
            .filter_map(|part| part["text"].as_str())
            .collect::<Vec<_>>()
            .join(" ");
    }
    if let Some(text) = responses::last_user_text(request) {
        return text;
    }
    let messages = request.get("messages").and_then(Value::as_array);
    let content = messages
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .map(|m| &m["content"]);
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => request
            .get("prompt")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}

fn model(request: &Value) -> String {
    request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_string()
}

/// One Gemini answer (a whole answer, or one stream event): `text` from the model, the usage
/// so far, and the finish reason when it ends.
fn gemini_event(model: &str, text: &str, finish: Option<&str>, usage: Usage) -> Value {
    let mut candidate = json!({ "content": { "role": "model", "parts": [{ "text": text }] }, "index": 0 });
    if let Some(finish) = finish {
        candidate["finishReason"] = json!(finish);
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": { "promptTokenCount": usage.prompt, "candidatesTokenCount": usage.completion,
                           "totalTokenCount": usage.prompt + usage.completion },
        "modelVersion": model, "responseId": "gemini-mock",
    })
}

/// The words of the reply, one per chunk.
fn words(chunks: usize) -> Vec<String> {
    (0..chunks.max(1)).map(|i| format!("word{i} ")).collect()
}

impl Dialect {
    /// The dialect of a path, or `None` for paths the mock does not serve.
    pub fn of(path: &str) -> Option<Dialect> {
        let path = path.trim_end_matches('/');
        if path.ends_with(":generateContent") {
            Some(Dialect::Gemini)
        } else if path.ends_with(":streamGenerateContent") {
            Some(Dialect::GeminiStream)
        } else if path.ends_with(":batchEmbedContents") {
            Some(Dialect::GeminiEmbed)
        } else if path.ends_with(":predict") {
            Some(Dialect::VertexPredict)
        } else if path.ends_with("/converse") {
            Some(Dialect::Converse)
        } else if path.ends_with("/converse-stream") {
            Some(Dialect::ConverseStream)
        } else if path.ends_with("/invoke") {
            Some(Dialect::Invoke)
        } else if path.ends_with("/responses") {
            Some(Dialect::Responses)
        } else if path.ends_with("/chat/completions") {
            Some(Dialect::Chat)
        } else if path.ends_with("/completions") {
            Some(Dialect::Completions)
        } else if path.ends_with("/embeddings") {
            Some(Dialect::Embeddings)
        } else if path.ends_with("/models") {
            Some(Dialect::Models)
        } else if path.ends_with("/messages") {
            Some(Dialect::Messages)
        } else if path.ends_with("/moderations") {
            Some(Dialect::Moderations)
        } else {
            None
        }
    }

    /// The request as the mock reads it: Gemini (`models/{m}:…`) and Bedrock (`model/{m}/…`)
    /// name the model in the path, not the body.
    pub fn read(self, path: &str, mut request: Value) -> Value {
        let model = match self {
            Dialect::Gemini | Dialect::GeminiStream | Dialect::GeminiEmbed | Dialect::VertexPredict => {
                path.rsplit_once("/models/").and_then(|(_, rest)| rest.split_once(':'))
            }
            Dialect::Converse | Dialect::ConverseStream | Dialect::Invoke => {
                path.rsplit_once("/model/").and_then(|(_, rest)| rest.split_once('/'))
            }
            Dialect::Chat
            | Dialect::Completions
            | Dialect::Responses
            | Dialect::Embeddings
            | Dialect::Models
            | Dialect::Messages
            | Dialect::Moderations => None,
        };
        if let (Some((model, _)), Some(object)) = (model, request.as_object_mut()) {
            object.insert("model".into(), json!(model));
        }
        request
    }

    /// Whether the answer to `request` is streamed.
    fn streams(self, request: &Value) -> bool {
        match self {
            Dialect::GeminiStream | Dialect::ConverseStream => true,
            Dialect::Gemini | Dialect::GeminiEmbed | Dialect::VertexPredict | Dialect::Converse | Dialect::Invoke => {
                false
            }
            Dialect::Chat | Dialect::Completions | Dialect::Messages | Dialect::Responses => {
                request.get("stream").and_then(Value::as_bool) == Some(true)
            }
            Dialect::Embeddings | Dialect::Models | Dialect::Moderations => false,
        }
    }

    /// The non-streamed answer's body.
    pub fn json_body(self, request: &Value, usage: Usage) -> String {
        let model = model(request);
        let reply = format!("mock reply to: {}", last_user_text(request));
        let openai_usage = json!({ "prompt_tokens": usage.prompt, "completion_tokens": usage.completion, "total_tokens": usage.prompt + usage.completion });
        let body = match self {
            Dialect::Chat => json!({
                "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": reply }, "finish_reason": "stop" }],
                "usage": openai_usage,
            }),
            Dialect::Responses => responses::response(request, &model, Some((&reply, usage))),
            Dialect::Completions => json!({
                "id": "cmpl-mock", "object": "text_completion", "created": 1_700_000_000, "model": model,
                "choices": [{ "index": 0, "text": reply, "finish_reason": "stop" }],
                "usage": openai_usage,
            }),
            Dialect::Embeddings => {
                let inputs = match request.get("input") {
                    Some(Value::Array(items)) => items.clone(),
                    Some(one) => vec![one.clone()],
                    None => vec![Value::Null],
                };
                let data: Vec<Value> = (inputs.iter().enumerate())
                    .map(|(i, input)| json!({ "object": "embedding", "index": i, "embedding": words_vector(input) }))
                    .collect();
                json!({ "object": "list", "data": data, "model": model,
                        "usage": { "prompt_tokens": usage.prompt, "total_tokens": usage.prompt } })
            }
            Dialect::Models => {
                json!({ "object": "list", "data": [{ "id": "mock-model", "object": "model", "owned_by": "mock" }] })
            }
            Dialect::Moderations => {
                let texts: Vec<&str> = match request.get("input") {
                    Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                    Some(Value::String(text)) => vec![text.as_str()],
                    _ => Vec::new(),
                };
                let results: Vec<Value> = (texts.iter())
                    .map(|text| {
                        let violent = text.to_lowercase().contains("violent");
                        json!({ "flagged": violent, "categories": { "violence": violent, "harassment": false },
                                "category_scores": { "violence": if violent { 0.97 } else { 0.01 }, "harassment": 0.01 } })
                    })
                    .collect();
                json!({ "id": "modr-mock", "model": model, "results": results })
            }
            Dialect::Gemini | Dialect::GeminiStream => gemini_event(&model, &reply, Some("STOP"), usage),
            Dialect::GeminiEmbed => {
                let texts = request.get("requests").and_then(Value::as_array).map_or(0, Vec::len);
                let embeddings: Vec<Value> = (0..texts)
                    .map(|i| json!({ "values": [0.1, 0.2, 0.3, i as f64] }))
                    .collect();
                json!({ "embeddings": embeddings })
            }
            Dialect::Converse | Dialect::ConverseStream => json!({
                "output": { "message": { "role": "assistant", "content": [{ "text": reply }] } },
                "stopReason": "end_turn",
                "usage": { "inputTokens": usage.prompt, "outputTokens": usage.completion,
                           "totalTokens": usage.prompt + usage.completion },
                "metrics": { "latencyMs": 1 },
            }),
            Dialect::Invoke => match request.get("texts").and_then(Value::as_array) {
                Some(texts) => {
                    let vectors: Vec<Value> = (0..texts.len()).map(|i| json!([0.1, 0.2, i as f64])).collect();
                    json!({ "id": "cohere-mock", "embeddings": vectors, "response_type": "embeddings_floats",
                            "texts": texts })
                }
                None => json!({ "embedding": [0.1, 0.2, 0.3], "inputTextTokenCount": usage.prompt }),
            },
            Dialect::VertexPredict => {
                let texts = request.get("instances").and_then(Value::as_array).map_or(0, Vec::len);
                let predictions: Vec<Value> = (0..texts)
                    .map(|i| json!({ "embeddings": { "values": [0.1, 0.2, 0.3, i as f64],
                                                     "statistics": { "token_count": usage.prompt as f64, "truncated": false } } }))
                    .collect();
                json!({ "predictions": predictions })
            }
            Dialect::Messages => json!({
                "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
                "content": [{ "type": "text", "text": reply }],
                "stop_reason": "end_turn", "stop_sequence": null,
                "usage": { "input_tokens": usage.prompt, "output_tokens": usage.completion },
            }),
        };
        body.to_string()
    }

    /// The events of a streamed answer, in order; the last one is the final event.
    fn events(self, request: &Value, usage: Usage, chunks: usize) -> Vec<String> {
        let model = model(request);
        match self {
            Dialect::Converse | Dialect::ConverseStream => unreachable!("Bedrock's stream is binary: frames()"),
            Dialect::Invoke => unreachable!("InvokeModel's embeddings are never streamed"),
            Dialect::Responses => responses::events(request, &model, &words(chunks), usage),
            Dialect::Messages => {
                let mut events = vec![
                    event(
                        Some("message_start"),
                        &json!({ "type": "message_start", "message": {
                        "id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": [],
                        "stop_reason": null, "usage": { "input_tokens": usage.prompt, "output_tokens": 1 } } })
                        .to_string(),
                    ),
                    event(
                        Some("content_block_start"),
                        &json!({ "type": "content_block_start", "index": 0,
                        "content_block": { "type": "text", "text": "" } })
                        .to_string(),
                    ),
                ];
                events.extend(words(chunks).iter().map(|w| {
                    event(
                        Some("content_block_delta"),
                        &json!({ "type": "content_block_delta", "index": 0,
                        "delta": { "type": "text_delta", "text": w } })
                        .to_string(),
                    )
                }));
                events.push(event(
                    Some("content_block_stop"),
                    r#"{"type":"content_block_stop","index":0}"#,
                ));
                events.push(event(
                    Some("message_delta"),
                    &json!({ "type": "message_delta",
                    "delta": { "stop_reason": "end_turn", "stop_sequence": null },
                    "usage": { "output_tokens": usage.completion } })
                    .to_string(),
                ));
                events.push(event(Some("message_stop"), r#"{"type":"message_stop"}"#));
                events
            }
            Dialect::Gemini | Dialect::GeminiStream | Dialect::GeminiEmbed | Dialect::VertexPredict => {
                // No closing event: the last word's event carries the finish reason and usage.
                let words = words(chunks);
                let last = words.len() - 1;
                let running = |i: usize| Usage {
                    prompt: usage.prompt,
                    completion: (i as u32 + 1).min(usage.completion),
                };
                (words.iter().enumerate())
                    .map(|(i, word)| {
                        let (finish, usage) = if i == last {
                            (Some("STOP"), usage)
                        } else {
                            (None, running(i))
                        };
                        // Google's server-sent events end their lines with CRLF.
                        format!("data: {}\r\n\r\n", gemini_event(&model, word, finish, usage))
                    })
                    .collect()
            }
            Dialect::Chat | Dialect::Completions | Dialect::Embeddings | Dialect::Models | Dialect::Moderations => {
                // Legacy completions stream `text`; chat streams deltas.
                let completion = self == Dialect::Completions;
                let wants_usage = request
                    .pointer("/stream_options/include_usage")
                    .and_then(Value::as_bool)
                    == Some(true);
                let chunk = |delta: Value, finish: Value| {
                    let choice = match completion {
                        true => json!({ "index": 0, "text": delta.get("content").cloned().unwrap_or(json!("")),
                                        "finish_reason": finish }),
                        false => json!({ "index": 0, "delta": delta, "finish_reason": finish }),
                    };
                    let object = if completion {
                        "text_completion"
                    } else {
                        "chat.completion.chunk"
                    };
                    let mut chunk = json!({ "id": "chatcmpl-mock", "object": object, "created": 1_700_000_000,
                            "model": model, "choices": [choice] });
                    // Asked for usage, OpenAI marks every chunk before the last `"usage": null`.
                    if wants_usage {
                        chunk["usage"] = Value::Null;
                    }
                    chunk
                };
                let mut events = vec![event(
                    None,
                    &chunk(json!({ "role": "assistant", "content": "" }), Value::Null).to_string(),
                )];
                events.extend(
                    words(chunks)
                        .iter()
                        .map(|w| event(None, &chunk(json!({ "content": w }), Value::Null).to_string())),
                );
                events.push(event(None, &chunk(json!({}), json!("stop")).to_string()));
                if wants_usage {
                    // Sent with the finishing chunk, as OpenAI does: no gap of its own, so a
                    // client that asks for usage waits no longer than one that does not.
                    let finish = events.pop().unwrap_or_default();
                    events.push(
                        finish
                            + &event(
                                None,
                                &json!({ "id": "chatcmpl-mock", "object": "chat.completion.chunk",
                        "created": 1_700_000_000, "model": model, "choices": [],
                        "usage": { "prompt_tokens": usage.prompt, "completion_tokens": usage.completion,
                                   "total_tokens": usage.prompt + usage.completion } })
                                .to_string(),
                            ),
                    );
                }
                events.push(event(None, "[DONE]"));
                events
            }
        }
    }

    /// Bedrock's stream: binary frames, the usage in the last (`metadata`).
    fn frames(self, usage: Usage, chunks: usize) -> Vec<Bytes> {
        let frame = |name: &str, payload: Value| {
            Bytes::from(crate::proxy::aws_events::frame(name, payload.to_string().as_bytes()))
        };
        let mut frames = vec![frame("messageStart", json!({ "role": "assistant" }))];
        frames.extend((words(chunks).iter()).map(|word| {
            frame(
                "contentBlockDelta",
                json!({ "contentBlockIndex": 0, "delta": { "text": word } }),
            )
        }));
        frames.push(frame("contentBlockStop", json!({ "contentBlockIndex": 0 })));
        frames.push(frame("messageStop", json!({ "stopReason": "end_turn" })));
        frames.push(frame(
            "metadata",
            json!({ "usage": { "inputTokens": usage.prompt, "outputTokens": usage.completion,
                               "totalTokens": usage.prompt + usage.completion }, "metrics": { "latencyMs": 1 } }),
        ));
        frames
    }

    fn error_event(self) -> Bytes {
        let text = match self {
            Dialect::Converse | Dialect::ConverseStream | Dialect::Invoke => {
                let payload = br#"{"message":"The model's stream failed (mock)."}"#;
                let frame = crate::proxy::aws_events::exception_frame("modelStreamErrorException", payload);
                return Bytes::from(frame);
            }
            Dialect::Gemini | Dialect::GeminiStream | Dialect::GeminiEmbed | Dialect::VertexPredict => event(
                None,
                r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#,
            ),
            Dialect::Responses => responses::error_event(),
            Dialect::Messages => event(
                Some("error"),
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ),
            Dialect::Chat | Dialect::Completions | Dialect::Embeddings | Dialect::Models | Dialect::Moderations => {
                event(
                    None,
                    r#"{"error":{"message":"mock upstream error","type":"server_error","param":null,"code":null}}"#,
                )
            }
        };
        Bytes::from(text)
    }

    /// The answer: JSON, or SSE when the request says `"stream": true` (faults apply to SSE),
    /// its events `gap` apart (zero: sent back to back).
    pub fn answer(
        self,
        request: &Value,
        usage: Usage,
        chunks: usize,
        gap: Duration,
        faults: Option<Faults>,
    ) -> Response {
        let streamed = self.streams(request) || faults.is_some();
        if !streamed
            || matches!(
                self,
                Dialect::Embeddings
                    | Dialect::Models
                    | Dialect::Moderations
                    | Dialect::GeminiEmbed
                    | Dialect::VertexPredict
                    | Dialect::Invoke
            )
        {
            return ([("content-type", "application/json")], self.json_body(request, usage)).into_response();
        }
        let faults = faults.unwrap_or_default();
        let mut events: Vec<Bytes> = match self {
            Dialect::ConverseStream => self.frames(usage, chunks),
            _ => (self.events(request, usage, chunks).into_iter())
                .map(Bytes::from)
                .collect(),
        };
        if let Some(at) = faults.error_at {
            events.truncate(at);
            events.push(self.error_event());
        }
        if let Some(at) = faults.cut_after {
            events.truncate(at);
        }
        let stall_after = faults.stall_after;
        let pieces = stream::unfold((events.into_iter(), 0usize), move |(mut rest, sent)| async move {
            if stall_after == Some(sent) {
                // Hold the connection open, sending nothing, until the client goes away.
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            let next = rest.next()?;
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            Some((Ok::<_, std::io::Error>(next), (rest, sent + 1)))
        });
        let mut response = Response::new(Body::from_stream(pieces));
        let headers = response.headers_mut();
        let content_type = match self {
            Dialect::ConverseStream => "application/vnd.amazon.eventstream",
            _ => "text/event-stream",
        };
        headers.insert("content-type", axum::http::HeaderValue::from_static(content_type));
        headers.insert("cache-control", axum::http::HeaderValue::from_static("no-cache"));
        response
    }
}

/// A text's mock embedding: its words (lowercased, letters and digits) counted into 64
/// buckets by their hash, so texts with the same words have the same vector and texts sharing
/// most words are close (what a semantic cache's tests need); anything not a text `[0, 0, 0, 1]`.
pub fn words_vector(input: &Value) -> Vec<f64> {
    let Some(text) = input.as_str() else {
        return vec![0.0, 0.0, 0.0, 1.0];
    };
    let mut vector = vec![0.0; 64];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        let hash = (word.to_lowercase().bytes()).fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        vector[(hash % 64) as usize] += 1.0;
    }
    vector
}
