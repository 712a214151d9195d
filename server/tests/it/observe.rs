//! Observability (issue #7): `/metrics` after known traffic, its token, OTLP traces with the
//! `traceparent` sent upstream, request-log retention, and RELIABILITY SC-01 (canary secrets
//! never appear in logs at `trace` level, answers or the database).

use crate::operator::op;
use crate::{
    rig::{chat, data_lines, endpoint, metric, post_as, steady, Rig, CANARY},
    support::TestServer,
};
use app::types::{ProviderKind, RequestLog};
use axum::{extract::State, routing::post, Json, Router};
use serde_json::{json, Value};
use server::{
    manage::{limits::parse_limit, NewKey},
    secrets::Secret,
    store::{now_ms, Finished},
    testing::{Behaviour, MockUpstream},
};
use std::{
    collections::BTreeMap,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// One sample of the exposition: `name{labels} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once("=\"").unwrap();
                    (key.to_string(), value.trim_end_matches('"').to_string())
                })
                .collect();
            Sample {
                name: name.to_string(),
                labels,
                value: value.parse().unwrap(),
            }
        })
        .collect()
}

/// The value of the series `name` with exactly these labels; 0 when absent.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let wanted: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == wanted)
        .map_or(0.0, |s| s.value)
}

async fn scrape(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{url}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Scrapes until `ready` holds (a stream's record ends just after its last byte), up to 5 s.
async fn scrape_until(url: &str, ready: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let response = scrape(url, None).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        let samples = parse(&response.text().await.unwrap());
        if ready(&samples) || Instant::now() > until {
            return samples;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Known traffic — answers, a stream, a failover, refusals, a limit — and the counts that
/// `/metrics` must show for it, checked against the stored request logs where they overlap.
#[tokio::test]
async fn metrics_count_known_traffic() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        steady,
        vec![
            endpoint("a", ProviderKind::OpenAi, &mock.url()),
            endpoint("b", ProviderKind::OpenAi, &mock.url()),
        ],
        |_| {},
    )
    .await;
    let url = &rig.server.url;
    // The first call fails at `a`; its retry fails over to `b`.
    mock.push(Behaviour::Status {
        status: 500,
        headers: vec![],
        body: "{}".into(),
    });
    assert_eq!(rig.post("/v1/chat/completions", &chat(false)).await.status(), 200);
    for _ in 0..3 {
        assert_eq!(rig.post("/v1/chat/completions", &chat(false)).await.status(), 200);
    }
    let streamed = rig.post("/v1/chat/completions", &chat(true)).await;
    assert_eq!(streamed.status(), 200);
    assert!(data_lines(&streamed.text().await.unwrap()).contains(&"[DONE]"));
    // Refused before routing: a wrong key (no gateway known), an unknown model.
    assert_eq!(
        post_as(url, "mgw_nope", "/v1/chat/completions", &chat(false))
            .await
            .status(),
        401
    );
    let unknown = json!({ "model": "gpt-9", "messages": [{ "role": "user", "content": "hi" }] });
    assert_eq!(rig.post("/v1/chat/completions", &unknown).await.status(), 404);
    // A key allowed one request a minute: the second is refused by its limit.
    let manage = &rig.server.state.manage;
    let tight = op(manage)
        .create_key(NewKey {
            gateway: op(manage).gateway_id("g").await,
            name: "tight".into(),
            limits: vec![parse_limit("requests/minute=1").unwrap()],
            ..NewKey::default()
        })
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let tight = tight.secret.expose().to_string();
    assert_eq!(
        post_as(url, &tight, "/v1/chat/completions", &chat(false))
            .await
            .status(),
        200
    );
    assert_eq!(
        post_as(url, &tight, "/v1/chat/completions", &chat(false))
            .await
            .status(),
        429
    );

    let at = |endpoint: &'static str| [("gateway", "g"), ("endpoint", endpoint), ("model", "gpt-4o-mini")];
    let served = |endpoint: &'static str, status: &'static str| {
        let [g, e, m] = at(endpoint);
        [g, e, m, ("status", status)]
    };
    let samples = scrape_until(url, |s| value(s, "mgw_requests_total", &served("a", "200")) >= 5.0).await;
    let count = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels);
    assert_eq!(
        count("mgw_requests_total", &served("a", "200")),
        5.0,
        "3 + the stream + tight's first"
    );
    assert_eq!(count("mgw_requests_total", &served("b", "200")), 1.0, "the failover");
    assert_eq!(count("mgw_requests_total", &served("", "429")), 1.0, "the limit");
    let refused = |gateway: &'static str, status: &'static str| {
        [
            ("gateway", gateway),
            ("endpoint", ""),
            ("model", ""),
            ("status", status),
        ]
    };
    assert_eq!(count("mgw_requests_total", &refused("", "401")), 1.0);
    assert_eq!(count("mgw_requests_total", &refused("g", "404")), 1.0);
    assert_eq!(
        count(
            "mgw_rate_limit_rejections_total",
            &[("gateway", "g"), ("scope", "key"), ("metric", "requests")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "mgw_upstream_errors_total",
            &[("gateway", "g"), ("endpoint", "a"), ("class", "upstream_server_error")]
        ),
        1.0
    );
    assert_eq!(count("mgw_retries_total", &[("gateway", "g")]), 1.0);
    assert_eq!(count("mgw_failovers_total", &[("gateway", "g")]), 1.0);
    assert_eq!(count("mgw_request_duration_seconds_count", &at("a")), 5.0);
    assert_eq!(count("mgw_time_to_first_token_seconds_count", &at("a")), 5.0);
    // The mock's usage is 10 prompt and 5 completion tokens per answer.
    let tokens = |endpoint: &'static str, kind: &'static str| {
        let [g, e, m] = at(endpoint);
        count("mgw_tokens_total", &[g, e, m, ("kind", kind)])
    };
    assert_eq!((tokens("a", "prompt"), tokens("a", "completion")), (50.0, 25.0));
    assert_eq!((tokens("b", "prompt"), tokens("b", "completion")), (10.0, 5.0));
    // Cost is what the logs say it is.
    let logs: Vec<RequestLog> = rig.logs(7).await;
    let cost_a: i64 = logs
        .iter()
        .filter(|l| l.status == 200 && l.attempts.len() == 1 && l.attempts[0].status == Some(200))
        .map(|l| l.cost_micros)
        .sum();
    assert!(cost_a > 0, "gpt-4o-mini has a default price");
    let cost_b = logs.iter().find(|l| l.attempts.len() == 2).unwrap().cost_micros;
    assert_eq!(
        count("mgw_cost_micros_total", &at("a")) + count("mgw_cost_micros_total", &at("b")),
        (cost_a + cost_b) as f64
    );
    for endpoint in ["a", "b"] {
        assert_eq!(
            count("mgw_endpoint_health", &[("endpoint", endpoint), ("state", "healthy")]),
            1.0
        );
        assert_eq!(
            count(
                "mgw_endpoint_health",
                &[("endpoint", endpoint), ("state", "circuit_open")]
            ),
            0.0
        );
    }
    assert_eq!(count("mgw_requests_in_flight", &[]), 0.0);
    assert_eq!(count("mgw_usage_queue_dropped_total", &[]), 0.0);
    assert_eq!(count("mgw_usage_queue_capacity", &[]), 10_000.0);
    metric("metrics_series", samples.len());
}

/// With a token configured, `/metrics` answers 401 without it or with another one.
#[tokio::test]
async fn metrics_require_the_configured_token() {
    let server = TestServer::start_with(|config| {
        config.metrics.token = Some(Secret::new("scrape-token-1".into()));
    })
    .await;
    assert_eq!(scrape(&server.url, None).await.status(), 401);
    assert_eq!(scrape(&server.url, Some("scrape-token-2")).await.status(), 401);
    let allowed = scrape(&server.url, Some("scrape-token-1")).await;
    assert_eq!(allowed.status(), 200);
    let text = allowed.text().await.unwrap();
    assert!(text.contains("\nmgw_usage_queue_dropped_total 0\n"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    // Open without a token configured.
    let open = TestServer::start().await;
    assert_eq!(scrape(&open.url, None).await.status(), 200);
}

/// A collector that keeps every OTLP/HTTP JSON export it receives.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route(
            "/v1/traces",
            post(
                |State(received): State<Arc<Mutex<Vec<Value>>>>, Json(body): Json<Value>| async move {
                    received.lock().unwrap().push(body);
                    Json(json!({}))
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

/// An attribute's value as text (OTLP JSON writes integers as strings or numbers).
fn attribute(span: &Value, key: &str) -> Option<String> {
    let value = &span["attributes"].as_array()?.iter().find(|a| a["key"] == key)?["value"];
    let value = value.as_object()?.values().next()?;
    Some(value.as_str().map_or_else(|| value.to_string(), str::to_string))
}

/// Whether a span is of this kind (OTLP JSON may write the number or the name).
fn kind(span: &Value, number: u64, name: &str) -> bool {
    span["kind"] == number || span["kind"] == name
}

/// OTLP traces: the request's server span continues the client's trace, each upstream attempt
/// is a client span under it with the GenAI attributes, and each upstream call carries its
/// attempt's `traceparent`.
#[tokio::test]
async fn traces_follow_a_request_through_its_attempts_to_the_upstream() {
    let (collector_url, received) = collector().await;
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        |config| {
            steady(config);
            config.traces.otlp_endpoint = Some(collector_url.clone());
        },
        vec![endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |_| {},
    )
    .await;
    mock.push(Behaviour::Status {
        status: 503,
        headers: vec![],
        body: "{}".into(),
    });
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let answered = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", rig.server.url))
        .bearer_auth(&rig.key)
        .header("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01"))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    // Stopping the server exports what is buffered.
    rig.server.stop().await;

    let spans: Vec<Value> = received
        .lock()
        .unwrap()
        .iter()
        .flat_map(|export| export["resourceSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|resource| resource["scopeSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|scope| scope["spans"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(spans.len(), 3, "one request and two attempts: {spans:#?}");
    let request = spans
        .iter()
        .find(|s| s["name"] == "chat gpt-4o-mini" && kind(s, 2, "SPAN_KIND_SERVER"))
        .unwrap();
    assert_eq!(request["traceId"], trace_id, "the client's trace goes on");
    assert_eq!(request["parentSpanId"], "b7ad6b7169203331");
    assert_eq!(attribute(request, "gen_ai.operation.name").as_deref(), Some("chat"));
    assert_eq!(
        attribute(request, "gen_ai.request.model").as_deref(),
        Some("gpt-4o-mini")
    );
    assert_eq!(attribute(request, "gen_ai.usage.input_tokens").as_deref(), Some("10"));
    assert_eq!(attribute(request, "gen_ai.usage.output_tokens").as_deref(), Some("5"));
    assert_eq!(attribute(request, "http.response.status_code").as_deref(), Some("200"));
    let mut attempts: Vec<&Value> = spans.iter().filter(|s| kind(s, 3, "SPAN_KIND_CLIENT")).collect();
    attempts.sort_by_key(|s| attribute(s, "mgw.attempt"));
    assert_eq!(attempts.len(), 2);
    for attempt in &attempts {
        assert_eq!(attempt["traceId"], trace_id);
        assert_eq!(attempt["parentSpanId"], request["spanId"]);
        assert_eq!(attribute(attempt, "gen_ai.provider.name").as_deref(), Some("openai"));
        assert_eq!(attribute(attempt, "server.address").as_deref(), Some("127.0.0.1"));
    }
    assert_eq!(
        attribute(attempts[0], "http.response.status_code").as_deref(),
        Some("503")
    );
    assert_eq!(
        attribute(attempts[0], "error.type").as_deref(),
        Some("upstream_server_error")
    );
    assert_eq!(
        attribute(attempts[1], "gen_ai.usage.input_tokens").as_deref(),
        Some("10")
    );
    // Each upstream call carried its own attempt's context.
    let sent: Vec<String> = mock
        .recorded()
        .iter()
        .map(|r| r.header("traceparent").unwrap().to_string())
        .collect();
    let expected: Vec<String> = attempts
        .iter()
        .map(|a| format!("00-{trace_id}-{}-01", a["spanId"].as_str().unwrap()))
        .collect();
    assert_eq!(sent, expected);
}

/// Retention deletes request logs (and usage events) older than its age, oldest first in
/// batches, and keeps the newer ones and the hourly aggregates.
#[tokio::test]
async fn retention_deletes_old_request_logs_in_batches() {
    let server = TestServer::start_with(|config| {
        config.request_logs.retention = Duration::from_secs(3600);
        config.request_logs.sweep_interval = Duration::from_millis(100);
        config.request_logs.sweep_batch = 7;
    })
    .await;
    let store = server.state.manage.store();
    let now = now_ms();
    let record = |n: i64, created_at: i64| {
        let request_id = format!("{:012x}{n:020x}", created_at);
        Finished {
            log: RequestLog {
                request_id,
                created_at,
                api: "openai".into(),
                operation: "chat".into(),
                status: 200,
                ..RequestLog::default()
            },
            store_log: true,
            charged: vec![],
        }
    };
    // 40 two days old, then 5 from the last minute.
    let old: Vec<Finished> = (0..40).map(|n| record(n, now - 48 * 3600 * 1000 + n)).collect();
    let new: Vec<Finished> = (40..45).map(|n| record(n, now - 60_000 + n)).collect();
    store.store_finished(&old).await.unwrap();
    store.store_finished(&new).await.unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let left = store.recent_request_logs(100).await.unwrap();
        if left.len() == 5 {
            assert!(left.iter().all(|l| l.created_at > now - 3600 * 1000));
            break;
        }
        assert!(Instant::now() < until, "{} logs left", left.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The real binary over one data directory, with a clean environment plus `env`.
struct Binary {
    data: String,
    env: Vec<(&'static str, &'static str)>,
}

impl Binary {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_model-gateway"));
        command
            .args(["--data-dir", &self.data])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().copied())
            .stdin(Stdio::null());
        command
    }

    /// Runs a subcommand to success; returns its output.
    fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.command(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        out
    }

    /// `serve` on a free port, stderr to `logs`; returns once it is ready.
    async fn serve(&self, flags: &[&str], logs: &std::path::Path) -> (std::process::Child, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bind = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--bind", &bind];
        args.extend_from_slice(flags);
        let child = self
            .command(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(logs).unwrap())
            .spawn()
            .unwrap();
        let url = format!("http://{bind}");
        let until = Instant::now() + Duration::from_secs(20);
        while !reqwest::get(format!("{url}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(Instant::now() < until, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (child, url)
    }

    /// SIGTERM, then waits for a clean exit (a graceful stop writes the request logs first).
    fn stop(mut child: std::process::Child) {
        let signalled = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(signalled.success());
        assert!(child.wait().unwrap().success());
    }
}

/// `--log-format json`: one JSON object per line; a finished request is logged (at debug)
/// with the fixed field names of STYLE §3.
#[tokio::test]
async fn json_logs_use_the_fixed_field_names() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary = Binary {
        data: dir.path().to_str().unwrap().to_string(),
        env: vec![("RUST_LOG", "info,server=debug")],
    };
    let base = format!("{}/v1", mock.url());
    binary.ok(&[
        "endpoint",
        "add",
        "--name",
        "a",
        "--provider",
        "openai_compatible",
        "--url",
        &base,
        "--model",
        "gpt-4o-mini",
    ]);
    binary.ok(&["gateway", "add", "--name", "g", "--endpoints", "a"]);
    let created: Value = serde_json::from_slice(
        &binary
            .ok(&["key", "create", "--gateway", "g", "--name", "app", "--json"])
            .stdout,
    )
    .unwrap();
    let key = created["key"].as_str().unwrap();
    let logs = dir.path().join("logs.json");
    let (child, url) = binary.serve(&["--log-format", "json"], &logs).await;
    let answered = post_as(&url, key, "/v1/chat/completions", &chat(false)).await;
    assert_eq!(answered.status(), 200);
    let request_id = answered.headers()["x-request-id"].to_str().unwrap().to_string();
    Binary::stop(child);
    let text = std::fs::read_to_string(&logs).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let finished = lines
        .iter()
        .find(|l| l["message"] == "request finished")
        .unwrap_or_else(|| panic!("no request line in {text}"));
    assert_eq!(finished["level"], "DEBUG");
    assert_eq!(finished["request_id"], request_id.as_str());
    assert_eq!(finished["model"], "gpt-4o-mini");
    assert_eq!(finished["status"], 200);
    for field in [
        "gateway_id",
        "key_id",
        "endpoint_id",
        "latency_ms",
        "ttft_ms",
        "attempts",
    ] {
        assert!(finished[field].is_number(), "{field} in {finished}");
    }
}

/// RELIABILITY SC-01: the real binary at `RUST_LOG=trace`, given canary secrets — a provider
/// key, an admin password, the master key, the key-hash secret, a metrics token — and a
/// gateway key, serves answers, stream, refusals, a sign-in and an upstream credential
/// refusal. None of the canaries appears in its logs, in any answer, or in the database
/// (read without the credential ciphertext).
/// The global id of the (only) endpoint, read over GraphQL.
async fn server_endpoint_id(client: &reqwest::Client, url: &str, token: &str) -> String {
    let body: Value = client
        .post(format!("{url}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ inferenceEndpoints { id } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["inferenceEndpoints"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn sc01_canary_secrets_never_leave() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let master = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
    let hash_secret = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
    let password = "canary-admin-password-42";
    let token = "canary-metrics-token-42";
    let env = [
        ("MGW_MASTER_KEY", master),
        ("MGW_KEY_HASH_SECRET", hash_secret),
        ("MGW_ADMIN_PASSWORD", password),
        ("MGW_METRICS__TOKEN", token),
        ("RUST_LOG", "trace"),
    ];
    let logs = dir.path().join("logs.txt");
    let binary = Binary {
        data: data.clone(),
        env: env.to_vec(),
    };
    let output = |args: &[&str]| binary.ok(args);
    let mut captured = String::new();
    let base = format!("{}/v1", mock.url());
    for args in [
        vec!["admin", "create", "--email", "ops@example.com"],
        vec![
            "endpoint",
            "add",
            "--name",
            "a",
            "--provider",
            "openai",
            "--url",
            &base,
            "--api-key",
            CANARY,
            "--model",
            "gpt-4o-mini",
        ],
        vec![
            "gateway",
            "add",
            "--name",
            "g",
            "--endpoints",
            "a",
            "--strategy",
            "priority",
        ],
    ] {
        let out = output(&args);
        captured.push_str(&String::from_utf8_lossy(&out.stderr));
        captured.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    // The key's secret is printed this once, on stdout: that is its one allowed appearance.
    let created = output(&["key", "create", "--gateway", "g", "--name", "app", "--json"]);
    captured.push_str(&String::from_utf8_lossy(&created.stderr));
    let created: Value = serde_json::from_slice(&created.stdout).unwrap();
    let key = created["key"].as_str().unwrap().to_string();

    let (child, url) = binary.serve(&[], &logs).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut answers = String::new();
    let note = |response: reqwest::Response| async move {
        let mut text = format!("{:?}\n", response.headers());
        text.push_str(&response.text().await.unwrap_or_default());
        text
    };
    answers.push_str(&note(post_as(&url, &key, "/v1/chat/completions", &chat(false)).await).await);
    answers.push_str(&note(post_as(&url, &key, "/v1/chat/completions", &chat(true)).await).await);
    // A wrong secret for the right key id, and the provider refusing our credential.
    let wrong = format!("{}x", &key[..key.len() - 1]);
    answers.push_str(&note(post_as(&url, &wrong, "/v1/chat/completions", &chat(false)).await).await);
    mock.push(Behaviour::Status {
        status: 401,
        headers: vec![],
        body: json!({ "error": { "message": format!("Incorrect API key provided: {CANARY}") } }).to_string(),
    });
    let refused = post_as(&url, &key, "/v1/chat/completions", &chat(false)).await;
    assert_eq!(refused.status(), 502);
    answers.push_str(&note(refused).await);
    for attempt in ["wrong-password", password] {
        let signed = client
            .post(format!("{url}/login"))
            .form(&[("email", "ops@example.com"), ("password", attempt)])
            .send()
            .await
            .unwrap();
        answers.push_str(&note(signed).await);
    }
    // GraphQL: sign in (the password in a JSON body), create an admin API token (its secret is
    // in that one answer, left out of `answers`), then use it: list, test the endpoint while
    // the provider refuses the credential and echoes it, read logs and the audit log.
    let graphql = |query: &str, variables: Value| {
        client
            .post(format!("{url}/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
    };
    let login = "mutation($p: String!) { login(email: \"ops@example.com\", password: $p) { role } }";
    let signed = graphql(login, json!({ "p": password })).send().await.unwrap();
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    answers.push_str(&note(signed).await);
    let created = graphql(
        "mutation { createAdminApiToken(input: { name: \"ci\" }) { secret } }",
        json!({}),
    )
    .header("cookie", &cookie)
    .send()
    .await
    .unwrap();
    let admin_token = created.json::<Value>().await.unwrap()["data"]["createAdminApiToken"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    mock.push(Behaviour::Status {
        status: 401,
        headers: vec![],
        body: json!({ "error": { "message": format!("Incorrect API key provided: {CANARY}") } }).to_string(),
    });
    for query in [
        "{ inferenceEndpoints { id name baseUrl hasCredential } gateways { name keys { name masked publicId } } }",
        "{ requestLogs(first: 50) { edges { node { requestId status errorClass requestBody responseBody } } } }",
        "{ auditLog(first: 50) { edges { node { action actor details } } } adminApiTokens { name publicId } }",
    ] {
        let answer = graphql(query, json!({}))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answers.push_str(&note(answer).await);
    }
    let endpoint_id = server_endpoint_id(&client, &url, &admin_token).await;
    let probe = graphql(
        "mutation($id: ID!) { testEndpoint(id: $id) { ok status error } }",
        json!({ "id": endpoint_id }),
    )
    .bearer_auth(&admin_token)
    .send()
    .await
    .unwrap();
    let probe = note(probe).await;
    assert!(probe.contains("refused the endpoint's credential"), "{probe}");
    answers.push_str(&probe);
    let scraped = client
        .get(format!("{url}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), 200);
    answers.push_str(&note(scraped).await);
    Binary::stop(child);
    captured.push_str(&std::fs::read_to_string(&logs).unwrap());
    assert!(captured.contains("TRACE"), "logs were captured at trace level");

    // The database, every table and column but the sealed credential, as text.
    let db = format!("sqlite://{data}/model-gateway.db");
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let mut dump = String::new();
    for table in &tables {
        let columns: Vec<String> = sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for column in columns.iter().filter(|c| *c != "credential_ciphertext") {
            // As bytes: hashes and tokens are blobs; text columns come out as their UTF-8.
            let values: Vec<Option<Vec<u8>>> =
                sqlx::query_scalar(&format!("SELECT CAST({column} AS BLOB) FROM {table}"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            for value in values.into_iter().flatten() {
                dump.push_str(&String::from_utf8_lossy(&value));
                dump.push('\n');
            }
        }
    }
    assert!(dump.contains("gpt-4o-mini"), "the dump read the tables");

    let canaries = [
        CANARY,
        master,
        hash_secret,
        password,
        token,
        &key,
        &key[key.len() - 20..],
        &admin_token,
        &admin_token[admin_token.len() - 20..],
    ];
    let mut found = 0;
    for canary in canaries {
        for (place, text) in [("logs", &captured), ("answers", &answers), ("database", &dump)] {
            let hits = text.matches(canary).count();
            assert_eq!(hits, 0, "{canary} appears {hits} times in the {place}");
            found += hits;
        }
    }
    metric("sc01_canary_occurrences", found);
}
