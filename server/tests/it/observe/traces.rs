//! OTLP traces: a request's server span continues the client's trace, its attempts are client
//! spans under it (a composite's member calls too, each naming its member), and each upstream
//! call carries its attempt's `traceparent`.

use crate::composites::{composite, member};
use crate::operator::op;
use crate::rig::{chat, endpoint, steady, Rig};
use app::types::{CompositeKind, NewComposite, ProviderKind};
use axum::{extract::State, routing::post, Json, Router};
use serde_json::{json, Value};
use server::testing::{Behaviour, MockUpstream};
use std::sync::{Arc, Mutex};

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

/// Every span the collector received.
fn spans(received: &Mutex<Vec<Value>>) -> Vec<Value> {
    (received.lock().unwrap().iter())
        .flat_map(|export| export["resourceSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|resource| resource["scopeSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|scope| scope["spans"].as_array().cloned().unwrap_or_default())
        .collect()
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

    let spans = spans(&received);
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

/// A `multi` composite's member calls are attempts under the request's span, each naming its
/// member and carrying its own `traceparent` upstream (issue #21).
#[tokio::test]
async fn a_multi_composites_member_calls_are_attempt_spans_naming_their_member() {
    let (collector_url, received) = collector().await;
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        |config| {
            steady(config);
            config.traces.otlp_endpoint = Some(collector_url.clone());
        },
        vec![
            endpoint("a", ProviderKind::OpenAi, &mock.url()),
            endpoint("b", ProviderKind::OpenAi, &mock.url()),
        ],
        |_| {},
    )
    .await;
    let manage = &rig.server.state.manage;
    let new = NewComposite {
        gateway_id: op(manage).gateway_id("g").await,
        ..composite(
            "both",
            CompositeKind::Multi,
            vec![member("", "a", 1.0), member("", "b", 1.0)],
        )
    };
    op(manage).create_composite(new).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let body = json!({ "model": "both", "messages": [{ "role": "user", "content": "hello" }] });
    assert_eq!(rig.post("/v1/chat/completions", &body).await.status(), 200);
    rig.server.stop().await;

    let spans = spans(&received);
    let request = (spans.iter()).find(|s| kind(s, 2, "SPAN_KIND_SERVER")).unwrap();
    let mut members: Vec<String> = (spans.iter())
        .filter(|s| kind(s, 3, "SPAN_KIND_CLIENT"))
        .inspect(|attempt| assert_eq!(attempt["parentSpanId"], request["spanId"]))
        .filter_map(|attempt| attribute(attempt, "mgw.member"))
        .collect();
    members.sort();
    assert_eq!(members, ["a", "b"], "{spans:#?}");
    let sent = mock.recorded();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| r.header("traceparent").is_some()));
}
