//! A gateway in front of a mock upstream: the real server, endpoints pointing at the mock, a
//! gateway over them and a key — the set-up every inference test starts from.

use crate::operator::op;
use crate::support::TestServer;
use app::types::{EndpointChoice, NewEndpoint, NewGateway, NewKey, WriteOnly};
use app::types::{ProviderKind, RequestLog, Strategy};
use serde_json::Value;
use server::{config::Config, testing::MockUpstream};
use std::time::{Duration, Instant};

/// The provider credential every rig endpoint holds (tests look for it where it must not be).
pub const CANARY: &str = "sk-canary-upstream-0123456789";

/// An endpoint of `provider` at `base` (the mock's URL), serving `gpt-4o-mini`.
pub fn endpoint(name: &str, provider: ProviderKind, base: &str) -> NewEndpoint {
    let base_url = match provider {
        ProviderKind::OpenAi | ProviderKind::OpenAiCompatible | ProviderKind::Ollama => format!("{base}/v1"),
        ProviderKind::AzureOpenAi | ProviderKind::Anthropic => base.to_string(),
        ProviderKind::Gemini => format!("{base}/v1beta"),
        ProviderKind::Vertex => format!("{base}/v1"),
        ProviderKind::Bedrock => base.to_string(),
    };
    // Vertex signs in with a service account whose tokens the mock issues; elsewhere a key.
    let (api_key, region) = match provider {
        ProviderKind::Vertex => (
            server::testing::service_account_key(&format!("{base}/token"), "test-project"),
            Some("us-central1".to_string()),
        ),
        ProviderKind::OpenAi
        | ProviderKind::OpenAiCompatible
        | ProviderKind::Ollama
        | ProviderKind::AzureOpenAi
        | ProviderKind::Anthropic
        | ProviderKind::Gemini => (CANARY.to_string(), None),
        // An AWS access key whose secret is the canary: it must never be sent, only sign.
        ProviderKind::Bedrock => (format!("AKIDTEST:{CANARY}"), Some("us-west-2".to_string())),
    };
    let azure = provider == ProviderKind::AzureOpenAi;
    NewEndpoint {
        name: name.into(),
        provider,
        base_url: Some(base_url),
        api_key: Some(WriteOnly(api_key)),
        model: "gpt-4o-mini".into(),
        deployment: azure.then(|| "mini-deployment".into()),
        api_version: azure.then(|| "2024-10-21".into()),
        project: None,
        region,
        rpm_limit: None,
        tpm_limit: None,
        timeouts: None,
        enabled: true,
    }
}

fn timeouts(config: &mut Config, first_byte: Duration, idle: Duration, deadline: Duration) {
    config.proxy.first_byte_timeout = first_byte;
    config.proxy.stream_first_byte_timeout = first_byte;
    config.proxy.idle_timeout = idle;
    config.proxy.request_deadline = deadline;
    config.proxy.default_cooldown = Duration::from_secs(2);
}

/// A gateway that caches answers exactly, with the default TTL and entry size.
pub fn caches(gateway: &mut NewGateway) {
    gateway.cache = app::types::CacheSettings {
        mode: app::types::CacheMode::Exact,
        ..app::types::CacheSettings::default()
    };
}

/// Timeouts far above anything a healthy mock needs, even on a loaded machine: for tests
/// that are not about timeouts (the suite runs many servers at once on two cores, where a
/// 300 ms first-byte timeout sometimes fired on a healthy upstream).
pub fn steady(config: &mut Config) {
    let ten = Duration::from_secs(10);
    timeouts(config, ten, ten, Duration::from_secs(30));
}

/// Timeouts scaled down for the fault tests (RELIABILITY §4: every test under 5 s).
pub fn quick(config: &mut Config) {
    timeouts(
        config,
        Duration::from_millis(300),
        Duration::from_millis(500),
        Duration::from_secs(4),
    );
}

/// A running gateway and its key.
pub struct Rig {
    pub server: TestServer,
    pub key: String,
}

impl Rig {
    /// A server (configured by `config`) with these endpoints, gateway `g` over them in order
    /// (adjusted by `gateway`), and one key.
    pub async fn start(
        config: impl FnOnce(&mut Config),
        endpoints: Vec<NewEndpoint>,
        gateway: impl FnOnce(&mut NewGateway),
    ) -> Rig {
        let server = TestServer::start_with(config).await;
        let manage = &server.state.manage;
        let mut choices = Vec::new();
        for endpoint in endpoints {
            choices.push(EndpointChoice {
                endpoint: app::types::EndpointRef::Name(endpoint.name.clone()),
                weight: 1,
                priority: None,
            });
            op(manage).create_endpoint(endpoint).await.unwrap();
        }
        let mut new = NewGateway::new("g", Strategy::Priority, choices);
        gateway(&mut new);
        op(manage).create_gateway(new).await.unwrap();
        let key = op(manage)
            .create_key(NewKey {
                gateway: op(manage).gateway_id("g").await,
                name: "app".into(),
                ..NewKey::default()
            })
            .await
            .unwrap();
        server.state.registry.refresh(manage).await.unwrap();
        Rig {
            server,
            key: key.secret.expose().to_string(),
        }
    }

    /// One OpenAI endpoint at the mock, quick timeouts (for the fault tests), default gateway.
    pub async fn openai(mock: &MockUpstream) -> Rig {
        Rig::start(quick, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await
    }

    /// POSTs `body` to `path` with the key as a Bearer token.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        post_as(&self.server.url, &self.key, path, body).await
    }

    /// POSTs raw bytes to `path` as JSON.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}{path}", self.server.url))
            .bearer_auth(&self.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Waits (up to 5 s) until `count` request logs are stored; returns them, newest first.
    pub async fn logs(&self, count: usize) -> Vec<RequestLog> {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let logs = self.server.state.manage.recent_request_logs(1000).await.unwrap();
            if logs.len() >= count || Instant::now() > until {
                assert_eq!(logs.len(), count, "request logs stored");
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What `/metrics` says now.
    pub async fn metrics(&self) -> String {
        let url = format!("{}/metrics", self.server.url);
        reqwest::get(url).await.unwrap().text().await.unwrap()
    }

    /// The request logs stored now.
    pub async fn logs_now(&self) -> Vec<RequestLog> {
        self.server.state.manage.recent_request_logs(1000).await.unwrap()
    }
}

/// POSTs `body` to `{base}{path}` with `key` as a Bearer token.
pub async fn post_as(base: &str, key: &str, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A chat request for `gpt-4o-mini`.
pub fn chat(stream: bool) -> Value {
    serde_json::json!({ "model": "gpt-4o-mini", "stream": stream,
                        "messages": [{ "role": "user", "content": "hello there" }] })
}

/// The `data:` payloads of an SSE body.
pub fn data_lines(body: &str) -> Vec<&str> {
    body.lines().filter_map(|l| l.strip_prefix("data: ")).collect()
}

/// Reports a figure for CI to collect (RELIABILITY §4).
pub fn metric(name: &str, value: impl std::fmt::Display) {
    eprintln!("METRIC {name}={value}");
}
