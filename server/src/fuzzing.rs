//! What the fuzz targets in `fuzz/` drive (RELIABILITY §4.4): one function per parser that
//! faces the network, each taking arbitrary bytes and panicking only when a property fails.
//! `cargo fuzz` runs them under libFuzzer (`scripts/fuzz.sh`, a bounded time in CI); the tests
//! below replay the committed corpus (`fuzz/corpus/<target>/`) through them on every
//! `cargo test`, so the targets always build and their findings stay fixed.
//!
//! Invariant: each function is the target's whole body; `fuzz/fuzz_targets/*.rs` only call it.

use crate::{
    gateway_key,
    proxy::{
        providers::{self, Call, Operation, StreamDecoder},
        route::{self, Api},
        sse::{Decoder, Event, SseError},
    },
};
use app::types::{EndpointId, InferenceEndpoint, ProviderKind, Timeouts};
use serde_json::{Map, Value};

/// Every provider kind (the adapters the translation targets go through).
const KINDS: [ProviderKind; 8] = [
    ProviderKind::OpenAi,
    ProviderKind::OpenAiCompatible,
    ProviderKind::AzureOpenAi,
    ProviderKind::Anthropic,
    ProviderKind::Ollama,
    ProviderKind::Gemini,
    ProviderKind::Vertex,
    ProviderKind::Bedrock,
];

/// Every operation an adapter may be asked for.
const OPERATIONS: [Operation; 4] = [
    Operation::Chat,
    Operation::Completions,
    Operation::Embeddings,
    Operation::Responses,
];

/// The credential the targets' endpoints hold.
const CREDENTIAL: &str = "sk-fuzz-endpoint-credential-0123456789";

/// Z-01: upstream bytes at any chunk split decode to the same events and the same end, and the
/// decoder never holds more than its limit (twice: the line and the event). The first two bytes
/// choose the split points; a small limit makes oversized events reachable.
pub fn sse(data: &[u8]) {
    const LIMIT: usize = 64;
    let (points, stream) = data.split_at(data.len().min(2));
    let whole = decode(&[stream], LIMIT);
    let mut cuts: Vec<usize> = points.iter().map(|p| usize::from(*p) * stream.len() / 255).collect();
    cuts.sort_unstable();
    let (a, b) = (cuts.first().copied().unwrap_or(0), cuts.last().copied().unwrap_or(0));
    let split = decode(&[&stream[..a], &stream[a..b], &stream[b..]], LIMIT);
    assert_eq!(whole, split, "a split changed what the stream decodes to");
}

/// Decodes `chunks` in order: the events, and whether the stream ended on an oversized event.
fn decode(chunks: &[&[u8]], limit: usize) -> (Vec<Event>, bool) {
    let mut decoder = Decoder::new(limit);
    let mut events = Vec::new();
    for chunk in chunks {
        match decoder.feed(chunk, &mut events) {
            Ok(()) => assert!(
                decoder.held() <= 3 * limit,
                "the decoder holds {} bytes",
                decoder.held()
            ),
            Err(SseError::TooLarge(_)) => return (events, true),
            Err(SseError::Body(_) | SseError::Frame(_)) => unreachable!("no body or binary frames here"),
        }
    }
    (events, false)
}

/// Z-02: an OpenAI-shaped request body, read as the chat route reads it, then written for every
/// provider: no panic, and nothing in the body reaches the upstream's address or credentials.
pub fn openai_request(data: &[u8]) {
    translate(Api::OpenAi, data);
}

/// Z-02: an Anthropic Messages body, read as `/v1/messages` reads it, then written for every
/// provider.
pub fn anthropic_request(data: &[u8]) {
    translate(Api::Anthropic, data);
}

/// Z-02: an OpenAI Responses body, read as `/v1/responses` reads it, then written for every
/// provider.
pub fn responses_request(data: &[u8]) {
    translate(Api::Responses, data);
}

fn translate(api: Api, data: &[u8]) {
    let snapshot = crate::proxy::registry::Snapshot::default();
    let prompts = route::PromptScope {
        snapshot: &snapshot,
        gateway: None,
    };
    let Ok(route::Read { inbound, native, .. }) = route::read(api, Operation::Chat, data, None, prompts) else {
        return;
    };
    // The chat reading to every kind; a Responses client's own body to those with the API.
    let mut calls = vec![(inbound.operation, &inbound.body)];
    calls.extend(native.as_ref().map(|native| (Operation::Responses, &native.body)));
    for kind in KINDS {
        let endpoint = endpoint(kind);
        for (operation, body) in calls.iter().copied() {
            let supported = providers::adapter(kind).supports(operation);
            if operation == Operation::Responses && !supported {
                continue;
            }
            check_call(kind, &endpoint, operation, body, inbound.stream);
        }
    }
}

/// A call built for an endpoint of `kind` goes to its address, carries only its credential,
/// and passes no override field upstream.
fn check_call(
    kind: ProviderKind,
    endpoint: &InferenceEndpoint,
    operation: Operation,
    body: &Map<String, Value>,
    stream: bool,
) {
    let outbound = providers::adapter(kind).request(&Call {
        endpoint,
        credential: Some(CREDENTIAL),
        operation,
        body,
        stream,
    });
    assert!(
        outbound.url.starts_with(&endpoint.base_url),
        "{kind:?}: the request went to {}",
        outbound.url
    );
    for (name, value) in &outbound.headers {
        let expected = value.contains(CREDENTIAL) || !name.contains("key") && *name != "authorization";
        assert!(expected, "{kind:?}: header {name} is not the endpoint's credential");
    }
    let body: Value = serde_json::from_slice(&outbound.body).unwrap_or_else(|error| {
        panic!("{kind:?}: the upstream body is not JSON: {error}");
    });
    for field in ["api_base", "base_url", "api_key", "azure_endpoint", "azure_ad_token"] {
        assert!(body.get(field).is_none(), "{kind:?}: `{field}` was passed upstream");
    }
}

/// An endpoint of `kind` at a fixed address.
fn endpoint(kind: ProviderKind) -> InferenceEndpoint {
    InferenceEndpoint {
        id: EndpointId(1),
        name: "fuzz".into(),
        provider: kind,
        base_url: "https://upstream.example/v1".into(),
        model: "fuzz-model".into(),
        deployment: Some("fuzz-deployment".into()),
        api_version: Some("2024-10-21".into()),
        project: Some("fuzz-project".into()),
        region: None,
        rpm_limit: None,
        tpm_limit: None,
        timeouts: Timeouts::default(),
        enabled: true,
        has_credential: true,
        created_at: 0,
        updated_at: 0,
    }
}

/// Z-03: an upstream's answer, error body and stream events, read by every provider's adapter:
/// no panic, and the endpoint's credential scrubbed from errors. The first
/// byte picks the part of the input that is the event's name.
pub fn provider_answer(data: &[u8]) {
    let cut = data.first().map_or(0, |b| usize::from(*b) * data.len() / 255);
    let (name, payload) = data.split_at(cut);
    let name = String::from_utf8_lossy(name);
    let payload_text = String::from_utf8_lossy(payload);
    for kind in KINDS {
        let adapter = providers::adapter(kind);
        for operation in OPERATIONS {
            let stamp = providers::Stamp::default();
            let _ = adapter.answer(operation, bytes::Bytes::copy_from_slice(payload), &stamp);
            let mut decoder: StreamDecoder = adapter.stream_decoder(operation, &stamp);
            let _ = decoder.event(&name, payload_text.to_string());
            let _ = decoder.event("", payload_text.to_string());
        }
        let mut with_credential = payload.to_vec();
        with_credential.extend_from_slice(CREDENTIAL.as_bytes());
        let error = providers::error(kind, 400, &with_credential, Some(CREDENTIAL));
        for text in [
            Some(&error.message),
            Some(&error.kind),
            error.code.as_ref(),
            error.param.as_ref(),
        ] {
            assert!(
                !text.is_some_and(|text| text.contains(CREDENTIAL)),
                "{kind:?}: the credential reached an error"
            );
        }
    }
}

/// Z-06: a GraphQL document through the limits: no panic or stack overflow, and a document
/// that passes them expands to no more than the selections allowed.
pub fn graphql_document(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::graphql::screen(query);
}

/// Z-05: a presented gateway key: no panic, and any key accepted is one the format would issue
/// (it round-trips through `assemble`).
pub fn gateway_key(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(key) = gateway_key::parse(text) {
        // `mgw_<12>_<secret: 32><checksum: 6>`
        let secret = &text[4 + key.public_id.len() + 1..text.len() - 6];
        assert_eq!(gateway_key::assemble(key.public_id, secret), text);
    }
}

/// Z-07: `Retry-After` and its millisecond spellings: no panic, never more than a day.
pub fn retry_after(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut headers = http::HeaderMap::new();
    for (name, line) in ["retry-after", "retry-after-ms", "x-ms-retry-after-ms"]
        .iter()
        .zip(text.split('\n'))
    {
        if let Ok(value) = http::HeaderValue::from_str(line) {
            headers.insert(*name, value);
        }
    }
    if let Some(wait) = crate::proxy::failover::retry_after(&headers) {
        assert!(wait <= std::time::Duration::from_secs(86_400));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The committed inputs of one target, at least one.
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target);
        let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
            .collect();
        assert!(!inputs.is_empty(), "{} holds no inputs", dir.display());
        inputs.sort();
        inputs
    }

    macro_rules! replays {
        ($($target:ident),* $(,)?) => {$(
            #[test]
            fn $target() {
                for input in corpus(stringify!($target)) {
                    super::$target(&input);
                }
            }
        )*};
    }

    replays!(
        sse,
        openai_request,
        anthropic_request,
        responses_request,
        provider_answer,
        graphql_document,
        gateway_key,
        retry_after
    );

    #[test]
    fn every_target_has_a_fuzz_target_file() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/fuzz_targets");
        for target in [
            "sse",
            "openai_request",
            "anthropic_request",
            "responses_request",
            "provider_answer",
            "graphql_document",
            "gateway_key",
            "retry_after",
        ] {
            let source = std::fs::read_to_string(dir.join(format!("{target}.rs"))).unwrap();
            assert!(
                source.contains(&format!("server::fuzzing::{target}(")),
                "{target}.rs drives another function"
            );
        }
    }

    #[test]
    fn the_key_corpus_holds_a_well_formed_key_so_the_round_trip_is_checked() {
        let keys = corpus("gateway_key");
        assert!(keys
            .iter()
            .any(|key| gateway_key::parse(std::str::from_utf8(key).unwrap_or("")).is_some()));
    }

    #[test]
    fn a_split_that_changed_the_events_would_be_caught() {
        // The property holds for real streams with events and an oversized one.
        super::sse(b"\x40\xc0data: a\r\n\r\nevent: x\ndata: b\n\n");
        super::sse(&[&b"\x10\x20data: "[..], &[b'y'; 100]].concat());
        let (events, too_large) = decode(&[b"data: a\n\n", &[b'z'; 70]], 64);
        assert_eq!(events.len(), 1);
        assert!(too_large);
    }
}
