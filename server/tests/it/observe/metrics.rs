//! `/metrics`: the counts it shows after known traffic, and its token.

use crate::operator::op;
use crate::{
    rig::{chat, data_lines, endpoint, metric, post_as, steady, Rig},
    support::TestServer,
};
use app::types::NewKey;
use app::types::{ProviderKind, RequestLog};
use serde_json::json;
use server::{
    manage::limits::parse_limit,
    secrets::Secret,
    testing::{Behaviour, MockUpstream},
};
use std::{
    collections::BTreeMap,
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
