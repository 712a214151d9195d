//! Provider adapters: pure translators between the gateway's canonical shape (OpenAI's) and
//! each provider's wire format — the request to send, the answer, the stream's events, the
//! error bodies.
//!
//! Invariant: no I/O and no clocks here (the caller passes the [`Stamp`]); one exhaustive `match`
//! on [`ProviderKind`] ([`adapter`]) picks the adapter.
//! Invariant: the URL and credential come from the endpoint, never from the request body.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod gemini;
pub mod ollama;
pub mod openai;
pub mod step;
pub mod vertex;

use app::types::{InferenceEndpoint, ProviderKind};
use serde_json::{Map, Value};

/// What a request asks the upstream to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Chat completions (`/v1/chat/completions`, and Anthropic's `/v1/messages` inbound).
    Chat,
    /// Legacy text completions (`/v1/completions`).
    Completions,
    /// Embeddings (`/v1/embeddings`).
    Embeddings,
    /// OpenAI's Responses API, sent as the client wrote it to an endpoint that serves it
    /// (OpenAI, Azure OpenAI; issue #25). A `/v1/responses` request reads as `Chat` until its
    /// route finds that every endpoint that may serve it can take it so (`route::native`).
    Responses,
}

impl Operation {
    /// The name stored in request logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Completions => "completions",
            Operation::Embeddings => "embeddings",
            Operation::Responses => "responses",
        }
    }

    /// The OpenAI path suffix of the operation.
    fn openai_path(self) -> &'static str {
        match self {
            Operation::Chat => "chat/completions",
            Operation::Completions => "completions",
            Operation::Embeddings => "embeddings",
            Operation::Responses => "responses",
        }
    }
}

/// What a translated answer is stamped with where its upstream says nothing: when it was made
/// (the caller's clock) and an id of the gateway's (`chatcmpl-{request id}`), so no two
/// requests' answers share an id (Bedrock's answers have none; Gemini's sometimes).
pub type Stamp = step::Head;

/// Tokens one request used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// The most tokens an upstream may report for one request in either figure: past every model's
/// context and output today by two orders of magnitude, so only a broken or hostile upstream
/// reaches it. Larger figures are clamped to it, so counters, budgets and the database never
/// meet a figure they cannot add.
pub const MAX_REPORTED_TOKENS: u64 = 100_000_000;

impl Usage {
    /// Both figures added, saturating.
    pub fn total(self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }

    /// This usage and `other`'s, added (several calls of one request).
    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens.saturating_add(other.prompt_tokens),
            completion_tokens: self.completion_tokens.saturating_add(other.completion_tokens),
        }
    }

    /// The usage with each figure clamped to [`MAX_REPORTED_TOKENS`], and whether one was past
    /// it.
    pub fn bounded(self) -> (Usage, bool) {
        let bounded = Usage {
            prompt_tokens: self.prompt_tokens.min(MAX_REPORTED_TOKENS),
            completion_tokens: self.completion_tokens.min(MAX_REPORTED_TOKENS),
        };
        (bounded, bounded != self)
    }

    /// Reads OpenAI's `usage` object (`prompt_tokens`, `completion_tokens`).
    pub fn from_openai(usage: &Value) -> Option<Usage> {
        let prompt = usage.get("prompt_tokens")?.as_u64()?;
        let completion = usage.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0);
        Some(Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
        })
    }

    /// OpenAI's `usage` object.
    pub fn to_openai(self) -> Value {
        serde_json::json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total(),
        })
    }
}

/// One request, ready to send upstream.
#[derive(Debug)]
pub struct Outbound {
    pub url: String,
    /// Headers besides `content-type: application/json` (credentials among them).
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What a request needs to be sent to one endpoint.
pub struct Call<'a> {
    pub endpoint: &'a InferenceEndpoint,
    /// The endpoint's credential, opened.
    pub credential: Option<&'a str>,
    pub operation: Operation,
    /// The canonical (OpenAI-shaped) body, already validated.
    pub body: &'a Map<String, Value>,
    pub stream: bool,
}

/// An upstream answer that is not what its provider promises (a 200 with a broken body).
#[derive(Debug, thiserror::Error)]
#[error("the upstream's answer is not valid: {0}")]
pub struct Invalid(pub String);

/// A checked non-streamed answer, in OpenAI's shape, with its usage when the upstream said.
#[derive(Debug)]
pub struct Answer {
    pub body: AnswerBody,
    pub usage: Option<Usage>,
}

/// An answer's body: the upstream's own bytes when it already speaks OpenAI's shape (passed on
/// untouched, never re-encoded), or the translation.
#[derive(Debug)]
pub enum AnswerBody {
    Raw(bytes::Bytes),
    Translated(Value),
    /// OpenAI's own response object (`Operation::Responses`), for a Responses client: passed
    /// on as it came, read only for its text when no usage came.
    Native(bytes::Bytes),
}

impl AnswerBody {
    /// The body as a JSON value (parsed when raw: only for translation and estimates).
    pub fn json(&self) -> std::borrow::Cow<'_, Value> {
        match self {
            AnswerBody::Raw(bytes) | AnswerBody::Native(bytes) => {
                std::borrow::Cow::Owned(serde_json::from_slice(bytes).unwrap_or(Value::Null))
            }
            AnswerBody::Translated(value) => std::borrow::Cow::Borrowed(value),
        }
    }

    /// The body as bytes to send.
    pub fn into_bytes(self) -> bytes::Bytes {
        match self {
            AnswerBody::Raw(bytes) | AnswerBody::Native(bytes) => bytes,
            AnswerBody::Translated(value) => bytes::Bytes::from(value.to_string()),
        }
    }
}

/// What one upstream stream event means.
#[derive(Debug, PartialEq)]
pub enum StreamItem {
    /// A chunk for the client, in OpenAI's shape (without usage), as a tree: what must change
    /// a chunk (guardrails) or read it whole builds it.
    Chunk(Value),
    /// A translating decoder's chunk, typed (issue #26): written in the client's shape
    /// without a tree.
    Step(step::Step),
    /// An OpenAI-shaped upstream's own chunk, as it sent it (issue #26): passed on unchanged
    /// to an OpenAI-shaped client, read into a tree only for what must change it.
    Passed(openai::Passed),
    /// An event of OpenAI's own Responses stream (`Operation::Responses`), as it came: only a
    /// Responses client asks for one.
    Event(openai::responses::Event),
    /// The tokens used, reported by the upstream.
    Usage(Usage),
    /// The stream ended properly.
    Done,
}

/// What went wrong inside a 200 stream.
#[derive(Debug, PartialEq)]
pub enum StreamFault {
    /// An event the gateway cannot read.
    Unreadable(String),
    /// An error the upstream reported, with the status it stands for.
    Reported { status: u16, message: String },
}

impl StreamFault {
    /// The fault with the endpoint's `credential` and anything shaped like a key scrubbed
    /// from its message.
    pub fn redacted(self, credential: Option<&str>) -> StreamFault {
        match self {
            StreamFault::Unreadable(message) => StreamFault::Unreadable(super::redact::redacted(&message, credential)),
            StreamFault::Reported { status, message } => StreamFault::Reported {
                status,
                message: super::redact::redacted(&message, credential),
            },
        }
    }

    /// What to tell the client.
    pub fn message(&self) -> &str {
        match self {
            StreamFault::Unreadable(message) | StreamFault::Reported { message, .. } => message,
        }
    }
}

/// An upstream error body, read into OpenAI's terms.
#[derive(Debug, PartialEq)]
pub struct UpstreamError {
    pub message: String,
    pub kind: String,
    pub code: Option<String>,
    pub param: Option<String>,
    /// The account's quota is spent (`insufficient_quota`, `enforced_spend_limit_reached`):
    /// not worth retrying on this endpoint for a long while.
    pub quota_exhausted: bool,
}

/// How the gateway speaks to one kind of provider: the request it sends, how it reads the
/// answer, the stream and an error. The defaults are OpenAI's wire format, which most
/// providers speak; an adapter overrides what its provider does differently. What a kind
/// *is* (its name, default URL, whether it needs a credential) is `ProviderKind::spec`.
pub trait Adapter: Sync {
    /// Whether an endpoint of this kind can serve the operation: OpenAI's Responses API only
    /// where the adapter says so.
    fn supports(&self, operation: Operation) -> bool {
        match operation {
            Operation::Chat | Operation::Completions | Operation::Embeddings => true,
            Operation::Responses => false,
        }
    }

    /// Why `endpoint` cannot take this request, though its kind serves the operation: the
    /// field at fault and the reason (`None`: it can). The plan leaves such endpoints out.
    fn refuses(
        &self,
        _endpoint: &InferenceEndpoint,
        _operation: Operation,
        _body: &Map<String, Value>,
    ) -> Option<(&'static str, &'static str)> {
        None
    }

    /// The request to send.
    fn request(&self, call: &Call<'_>) -> Outbound;

    /// A non-streamed 2xx answer, translated to OpenAI's shape.
    fn answer(&self, operation: Operation, bytes: bytes::Bytes, _stamp: &Stamp) -> Result<Answer, Invalid> {
        openai::answer(operation, bytes)
    }

    /// A decoder for a stream from an endpoint of this kind.
    fn stream_decoder(&self, _operation: Operation, _stamp: &Stamp) -> StreamDecoder {
        StreamDecoder::OpenAi(openai::StreamDecoder)
    }

    /// An error answer's body (parsed as JSON, `Null` when it is not), read into OpenAI's terms.
    fn error(&self, body: &Value) -> UpstreamError {
        openai::error(body)
    }
}

/// The adapter of a provider kind: the one `match` on [`ProviderKind`] in the proxy.
pub fn adapter(kind: ProviderKind) -> &'static dyn Adapter {
    match kind {
        ProviderKind::OpenAi => &openai::OpenAi,
        ProviderKind::OpenAiCompatible => &openai::Compatible,
        ProviderKind::AzureOpenAi => &azure::Azure,
        ProviderKind::Anthropic => &anthropic::Anthropic,
        ProviderKind::Ollama => &ollama::Ollama,
        ProviderKind::Gemini => &gemini::Gemini,
        ProviderKind::Vertex => &vertex::Vertex,
        ProviderKind::Bedrock => &bedrock::Bedrock,
    }
}

/// Reads a stream's events for one provider.
pub enum StreamDecoder {
    OpenAi(openai::StreamDecoder),
    Anthropic(anthropic::StreamDecoder),
    Gemini(gemini::StreamDecoder),
    Bedrock(bedrock::StreamDecoder),
    /// OpenAI's own Responses events.
    Responses(openai::responses::StreamDecoder),
}

impl StreamDecoder {
    /// What one SSE event (its `event:` name, if any, and its `data:`) means.
    pub fn event(&mut self, name: &str, data: String) -> Result<Vec<StreamItem>, StreamFault> {
        match self {
            StreamDecoder::OpenAi(decoder) => decoder.event(data),
            StreamDecoder::Anthropic(decoder) => decoder.event(name, &data),
            StreamDecoder::Gemini(decoder) => decoder.event(&data),
            StreamDecoder::Bedrock(decoder) => decoder.event(name, &data),
            StreamDecoder::Responses(decoder) => decoder.event(name, data),
        }
    }
}

/// An error answer's body, read into OpenAI's terms by the endpoint's adapter, with the
/// endpoint's `credential` and anything shaped like a key scrubbed from it.
pub fn error(kind: ProviderKind, status: u16, bytes: &[u8], credential: Option<&str>) -> UpstreamError {
    let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let mut error = adapter(kind).error(&body);
    if error.message.is_empty() {
        error.message = format!("the upstream answered {status}");
    }
    error.message = super::redact::redacted(&error.message, credential);
    error.kind = super::redact::redacted(&error.kind, credential);
    error.code = error.code.map(|code| super::redact::redacted(&code, credential));
    error.param = error.param.map(|param| super::redact::redacted(&param, credential));
    error
}

/// One part of OpenAI message content, as the translating adapters read it.
pub enum ContentPart<'a> {
    Text(&'a str),
    Image(Image<'a>),
}

/// An image part: inline (a `data:` URL's media type and base64 data) or a web address.
pub enum Image<'a> {
    Inline { media_type: &'a str, data: &'a str },
    Url(&'a str),
}

/// OpenAI content (a string, or text and image parts) read into its parts; parts of other
/// kinds are skipped.
pub fn content_parts(content: &Value) -> Vec<ContentPart<'_>> {
    match content {
        Value::String(text) => vec![ContentPart::Text(text)],
        Value::Array(parts) => (parts.iter())
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text") => Some(ContentPart::Text(
                    part.get("text").and_then(Value::as_str).unwrap_or_default(),
                )),
                Some("image_url") => {
                    let url = part.pointer("/image_url/url").and_then(Value::as_str)?;
                    let inline = url.strip_prefix("data:").and_then(|rest| rest.split_once(";base64,"));
                    Some(ContentPart::Image(match inline {
                        Some((media_type, data)) => Image::Inline { media_type, data },
                        None => Image::Url(url),
                    }))
                }
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

/// A tool call's id as another provider is sent it: without a Gemini thought signature
/// (`gemini::SIGNATURE_MARK` and after), which only Gemini reads and others refuse (their ids
/// are letters, digits, `_` and `-`). Missing: empty.
fn sent_call_id(id: Option<&Value>) -> Value {
    let id = id.and_then(Value::as_str).unwrap_or_default();
    Value::String(id.split(gemini::SIGNATURE_MARK).next().unwrap_or(id).to_string())
}

/// OpenAI's embeddings list of these vectors, in order, with the prompt tokens as its usage
/// when the upstream counted them.
fn embeddings_list(vectors: impl IntoIterator<Item = Vec<f64>>, prompt_tokens: Option<u64>) -> Answer {
    let data: Vec<Value> = (vectors.into_iter().enumerate())
        .map(|(index, embedding)| serde_json::json!({ "object": "embedding", "index": index, "embedding": embedding }))
        .collect();
    let mut body = serde_json::json!({ "object": "list", "data": data });
    if let Some(tokens) = prompt_tokens {
        body["usage"] = serde_json::json!({ "prompt_tokens": tokens, "total_tokens": tokens });
    }
    Answer {
        body: AnswerBody::Translated(body),
        usage: prompt_tokens.map(|prompt_tokens| Usage {
            prompt_tokens,
            completion_tokens: 0,
        }),
    }
}

/// A translated embeddings answer (floats, as every other provider writes them) in the
/// encoding the client asked for: with `encoding_format: base64` — the OpenAI SDKs' default —
/// each vector becomes the base64 of its little-endian 32-bit floats, as OpenAI sends it. An
/// upstream's own bytes are left as they came (an OpenAI-shaped server was sent the field).
pub fn encode_as_asked(answer: &mut Answer, operation: Operation, body: &Map<String, Value>) {
    use base64::{engine::general_purpose::STANDARD, Engine as _};
    let (Operation::Embeddings, AnswerBody::Translated(value)) = (operation, &mut answer.body) else {
        return;
    };
    if body.get("encoding_format").and_then(Value::as_str) != Some("base64") {
        return;
    }
    let items = value.get_mut("data").and_then(Value::as_array_mut);
    for embedding in items.into_iter().flatten().filter_map(|item| item.get_mut("embedding")) {
        if let Value::Array(numbers) = embedding {
            let bytes: Vec<u8> = (numbers.iter())
                .flat_map(|x| (x.as_f64().unwrap_or_default() as f32).to_le_bytes())
                .collect();
            *embedding = Value::String(STANDARD.encode(bytes));
        }
    }
}

/// Whether an embeddings request's `input` is token arrays (one, or a list of them), which only
/// OpenAI-shaped servers embed.
fn embeds_tokens(operation: Operation, body: &Map<String, Value>) -> bool {
    let tokens = |items: &[Value]| items.first().is_some_and(|item| item.is_u64() || item.is_array());
    match operation {
        Operation::Embeddings => body
            .get("input")
            .and_then(Value::as_array)
            .is_some_and(|items| tokens(items)),
        Operation::Chat | Operation::Completions | Operation::Responses => false,
    }
}

/// OpenAI's `stop` (a string or a list) as the list of stop sequences other dialects take.
fn stop_sequences(body: &Map<String, Value>) -> Option<Value> {
    match body.get("stop") {
        Some(Value::String(stop)) => Some(Value::Array(vec![Value::String(stop.clone())])),
        Some(Value::Array(stops)) => Some(Value::Array(stops.clone())),
        _ => None,
    }
}

/// Appends `items` as a turn of `role` (its list under `field`), merged into the previous turn
/// when that has the same role: Anthropic and Gemini want user and model turns to alternate.
fn push_turn(turns: &mut Vec<Value>, role: &str, field: &str, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut() {
        if last["role"] == role {
            if let Some(existing) = last[field].as_array_mut() {
                existing.extend(items);
                return;
            }
        }
    }
    let mut turn = Map::new();
    turn.insert("role".into(), Value::String(role.to_string()));
    turn.insert(field.into(), Value::Array(items));
    turns.push(Value::Object(turn));
}

/// A URL path segment (a model, a project, a region), percent-encoded: form encoding writes a
/// space as `+` (a literal `+` becomes `%2B`), and a path wants `%20`.
fn path_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A base URL joined with a path, with exactly one slash between them.
fn join(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// The text of OpenAI message content (shared with the console's playground).
pub use app::types::content_text;
