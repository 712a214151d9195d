//! "Test connection": one tiny real request to one endpoint, outside any gateway, reporting
//! the status, the latency and what went wrong.
//!
//! Does not: touch the balancer's health, limits or request logs; a probe is not traffic.
//! Invariant: the report never carries the endpoint's credential, even when the upstream's
//! error message echoes it.

use super::{
    providers::{self, Call, Operation},
    registry::{CallCredential, CredentialError, Upstream},
    upstream, Proxy,
};
use std::time::{Duration, Instant};

/// The longest a probe waits for its whole answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// Answers are read up to this size.
const PROBE_BODY_LIMIT: usize = 64 * 1024;
/// Upstream error messages are cut to this many characters.
const MESSAGE_CHARS: usize = 300;

/// What a probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The upstream's HTTP status, when it answered.
    pub status: Option<u16>,
    /// From sending to the whole answer (or the failure), milliseconds.
    pub latency_ms: i64,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

impl Probe {
    /// Whether the endpoint answered the request successfully.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// The smallest request the endpoint's model can answer: embeddings models are asked to embed
/// a word, every other model for one token of chat.
fn probe_request(model: &str) -> (Operation, serde_json::Map<String, serde_json::Value>) {
    let (operation, body) = if model.contains("embed") {
        (
            Operation::Embeddings,
            serde_json::json!({ "model": model, "input": "ping" }),
        )
    } else {
        (
            Operation::Chat,
            serde_json::json!({
                "model": model,
                "messages": [{ "role": "user", "content": "Reply with OK." }],
                "max_tokens": 1,
            }),
        )
    };
    match body {
        serde_json::Value::Object(map) => (operation, map),
        _ => (operation, serde_json::Map::new()),
    }
}

/// `text` with the credential and anything shaped like a key hidden, cut to [`MESSAGE_CHARS`].
fn redacted(text: &str, secret: Option<&str>) -> String {
    super::redact::redacted(text, secret)
        .chars()
        .take(MESSAGE_CHARS)
        .collect()
}

impl Proxy {
    /// Sends one tiny request to `upstream` and reports how it went.
    pub async fn probe(&self, upstream: &Upstream) -> Probe {
        let started = Instant::now();
        let elapsed = || i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let failed = |error: String| Probe {
            status: None,
            latency_ms: elapsed(),
            error: Some(error),
        };
        let endpoint = &upstream.endpoint;
        let carried = match upstream
            .call_credential(&self.clients, &self.aws, started + PROBE_TIMEOUT)
            .await
        {
            Ok(carried) => carried,
            Err(CredentialError::Unreadable) => {
                return failed(
                    "the stored credential cannot be opened (was the master key changed?); set it again".into(),
                )
            }
            Err(CredentialError::Token(error)) => return failed(error.message()),
        };
        let credential = carried.as_ref().map(CallCredential::expose);
        let (operation, body) = probe_request(&endpoint.model);
        if !providers::adapter(endpoint.provider).supports(operation) {
            return failed(format!(
                "{} endpoints do not serve {}",
                endpoint.provider.as_str(),
                operation.as_str()
            ));
        }
        let mut outbound = providers::adapter(endpoint.provider).request(&Call {
            endpoint,
            credential,
            operation,
            body: &body,
            stream: false,
        });
        if let Err(error) = upstream.sign(&mut outbound, credential) {
            return failed(format!("the credential cannot sign the request: {error}"));
        }
        let url = match upstream.parsed_url(&outbound.url) {
            Ok(url) => url,
            Err(error) => return failed(format!("invalid upstream URL: {error}")),
        };
        if !self.clients.allows(&url) {
            return failed(
                "the upstream's address is refused by the upstream policy (proxy.deny_private_upstreams)".into(),
            );
        }
        let connect = endpoint
            .timeouts
            .connect_ms
            .and_then(|ms| u64::try_from(ms).ok())
            .map_or(self.settings.connect_timeout, Duration::from_millis);
        let client = self.clients.get(connect);
        let (status, body) = match upstream::exchange(client, url, outbound, PROBE_TIMEOUT, PROBE_BODY_LIMIT).await {
            Ok(answer) => answer,
            Err(upstream::NoAnswer(reason)) => return failed(redacted(&reason, credential)),
        };
        let error = match status {
            200..=299 => providers::adapter(endpoint.provider)
                .answer(operation, body, &providers::Stamp::default())
                .err()
                .map(|invalid| redacted(&invalid.to_string(), credential)),
            401 | 403 => Some(format!("the upstream refused the endpoint's credential ({status})")),
            _ => {
                let message = providers::error(endpoint.provider, status, &body, credential).message;
                Some(redacted(
                    &format!("the upstream answered {status}: {message}"),
                    credential,
                ))
            }
        };
        Probe {
            status: Some(status),
            latency_ms: elapsed(),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_never_carry_the_credential() {
        assert_eq!(
            redacted("bad key sk-live-123 given", Some("sk-live-123")),
            "bad key [redacted] given"
        );
        assert_eq!(redacted("plain", None), "plain");
        assert_eq!(redacted(&"x".repeat(1000), None).len(), MESSAGE_CHARS);
    }

    #[test]
    fn embedding_models_are_probed_with_an_embedding() {
        assert_eq!(probe_request("text-embedding-3-small").0, Operation::Embeddings);
        assert_eq!(probe_request("gpt-4o-mini").0, Operation::Chat);
    }
}
