//! The console's playground route (`POST /api/playground/chat`) and the server functions of
//! the playground and the dashboard, over HTTP as the browser calls them: a request to an
//! endpoint on its own and one through a gateway, both logged (with no key) and counted in the
//! hourly history the dashboard draws; who may send; bad input; a logged request replayed.

use crate::operator::op;
use crate::{rig, support::TestServer};
use app::types::{AdminRole, ProviderKind, RequestLog, Strategy};
use app::types::{EndpointChoice, NewAdmin, NewGateway, WriteOnly};
use serde_json::{json, Value};
use server::{store::HourlyScope, testing::MockUpstream};
use std::time::{Duration, Instant};

/// An endpoint `solo` at the mock and a gateway `pg` over it that logs bodies; their ids.
async fn configure(server: &TestServer, mock: &MockUpstream) -> (i64, i64) {
    let manage = &server.state.manage;
    let endpoint = op(manage)
        .create_endpoint(rig::endpoint("solo", ProviderKind::OpenAi, &mock.url()))
        .await
        .unwrap();
    let gateway = op(manage)
        .create_gateway(NewGateway {
            name: "pg".into(),
            description: String::new(),
            strategy: Strategy::Priority,
            endpoints: vec![EndpointChoice {
                endpoint: app::types::EndpointRef::Name("solo".into()),
                weight: 1,
                priority: None,
            }],
            retry: None,
            deadline_ms: None,
            log_metadata: true,
            log_payloads: true,
            model_aliases: Default::default(),
            enabled: true,
            limits: Vec::new(),
            param_policy: Default::default(),
            auth_mode: Default::default(),
            access_rule: None,
            people: Default::default(),
            model_rules: Vec::new(),
            cache: Default::default(),
        })
        .await
        .unwrap();
    (endpoint.id.0, gateway.id.0)
}

/// Waits (up to 5 s) for `count` request logs; returns them, newest first.
async fn logs(server: &TestServer, count: usize) -> Vec<RequestLog> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let logs = server.state.manage.recent_request_logs(100).await.unwrap();
        if logs.len() >= count || Instant::now() > until {
            assert_eq!(logs.len(), count, "request logs stored");
            return logs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Requests in `scope`'s history this hour and the last.
async fn counted(server: &TestServer, scope: HourlyScope) -> i64 {
    let now = server::store::now_ms();
    let hours = server
        .state
        .manage
        .hourly_usage(scope, now - 7_200_000, now + 3_600_000)
        .await
        .unwrap();
    hours.iter().map(|h| h.requests).sum()
}

#[tokio::test]
async fn the_playground_sends_to_an_endpoint_or_through_a_gateway_and_both_are_logged_and_counted() {
    let mock = MockUpstream::start().await.unwrap();
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let (client, _) = server.signed_in("admin@example.com").await;
    let (endpoint, gateway) = configure(&server, &mock).await;
    let send = |ask: Value| {
        client
            .post(format!("{}/api/playground/chat", server.url))
            .json(&ask)
            .send()
    };
    let messages = json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "replay this"}]);

    // To the endpoint on its own, not streamed: its model is the endpoint's, whatever is asked.
    let alone = send(json!({"target": {"endpoint": endpoint}, "body": {"model": "other", "messages": messages}}))
        .await
        .unwrap();
    assert_eq!(alone.status(), 200);
    assert_eq!(alone.headers()["x-mgw-endpoint"], "solo");
    let answer: Value = alone.json().await.unwrap();
    assert_eq!(answer["usage"]["prompt_tokens"], 10, "{answer}");
    assert_eq!(mock.recorded()[0].body.as_ref().unwrap()["model"], "gpt-4o-mini");

    // Through the gateway, streamed with usage.
    let body = json!({"model": "gpt-4o-mini", "messages": messages, "temperature": 0.3, "stream": true,
        "stream_options": {"include_usage": true}});
    let routed = send(json!({"target": {"gateway": gateway}, "body": body}))
        .await
        .unwrap();
    assert_eq!(routed.status(), 200);
    assert!(routed.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let request_id = routed.headers()["x-request-id"].to_str().unwrap().to_string();
    let events = routed.text().await.unwrap();
    assert!(
        events.contains("\"usage\"") && events.trim_end().ends_with("data: [DONE]"),
        "{events}"
    );

    let stored = logs(&server, 2).await;
    let (via_gateway, via_endpoint) = (&stored[0], &stored[1]);
    assert_eq!(via_endpoint.gateway_id, None);
    assert_eq!(via_endpoint.endpoint_id.map(|id| id.0), Some(endpoint));
    assert_eq!(via_endpoint.request_body, None, "an endpoint on its own logs no bodies");
    assert_eq!(via_gateway.request_id, request_id);
    assert_eq!(via_gateway.gateway_id.map(|id| id.0), Some(gateway));
    assert!(via_gateway.request_body.as_deref().unwrap().contains("replay this"));
    assert!(stored.iter().all(|log| log.key_id.is_none() && log.status == 200));

    // The hourly history: the endpoint served both; the gateway (and every gateway) one.
    let until = Instant::now() + Duration::from_secs(5);
    while counted(&server, HourlyScope::Endpoint(app::types::EndpointId(endpoint))).await < 2 && Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        counted(&server, HourlyScope::Endpoint(app::types::EndpointId(endpoint))).await,
        2
    );
    assert_eq!(
        counted(&server, HourlyScope::Gateway(app::types::GatewayId(gateway))).await,
        1
    );
    assert_eq!(counted(&server, HourlyScope::AllGateways).await, 1);

    // The dashboard's server function reads the same history, hour by hour with no gaps.
    let call = |name: &str, form: Vec<(&str, String)>| {
        client
            .post(format!("{}/api/{name}", server.url))
            .header("accept", "application/json")
            .form(&form)
            .send()
    };
    let stats: Value = call(
        "dashboard_stats",
        vec![("query[range]", "7d".into()), ("query[scope]", "endpoint:solo".into())],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(stats["totals"]["requests"], 2, "{stats}");
    assert_eq!(stats["series"].as_array().unwrap().len(), 168);
    let every: Value = call(
        "dashboard_stats",
        vec![("query[range]", "".into()), ("query[scope]", "".into())],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(every["totals"]["requests"], 1);
    assert_eq!(every["series"].as_array().unwrap().len(), 24);
    assert_eq!(every["gateways"][0]["name"], "pg");
    assert_eq!(every["endpoints"][0]["sums"]["requests"], 2);
    let unknown = call(
        "dashboard_stats",
        vec![("query[range]", "".into()), ("query[scope]", "gateway:nope".into())],
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), 400, "a refusal is a 4xx, not a 500");
    assert!(unknown.text().await.unwrap().contains("No gateway is named"));

    // The playground's set-up: every endpoint and the gateway's model, and the logged request
    // to replay, with its target.
    let setup: Value = call("playground_setup", vec![("log", request_id.clone())])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let targets: Vec<&str> = setup["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        [format!("endpoint:{endpoint}"), format!("gateway:{gateway}:gpt-4o-mini")]
    );
    assert_eq!(setup["can_send"], true);
    let replay = &setup["replay"];
    assert_eq!(replay["target"], format!("gateway:{gateway}:gpt-4o-mini"));
    assert_eq!(
        (replay["system"].as_str(), replay["user"].as_str()),
        (Some("be brief"), Some("replay this"))
    );
    assert_eq!(replay["parameters"]["temperature"], "0.3");
}

#[tokio::test]
async fn viewers_strangers_and_bad_requests_send_and_change_nothing() {
    let mock = MockUpstream::start().await.unwrap();
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    op(&server.state.manage)
        .create_admin(NewAdmin {
            email: "viewer@example.com".into(),
            password: WriteOnly(crate::support::PASSWORD.into()),
            role: AdminRole::Viewer,
        })
        .await
        .unwrap();
    let (endpoint, _) = configure(&server, &mock).await;
    let url = format!("{}/api/playground/chat", server.url);
    let ask = json!({"target": {"endpoint": endpoint}, "body": {"messages": [{"role": "user", "content": "hi"}]}});

    let (viewer, _) = server.signed_in("viewer@example.com").await;
    let refused = viewer.post(&url).json(&ask).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "forbidden", "{error}");
    let setup: Value = viewer
        .post(format!("{}/api/playground_setup", server.url))
        .header("accept", "application/json")
        .form(&[("log", "")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(setup["can_send"], false, "{setup}");
    // Nor may a viewer change anything through the console's other server functions.
    let delete = viewer
        .post(format!("{}/api/endpoints_delete", server.url))
        .header("accept", "application/json")
        .form(&[("id", endpoint.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        delete.status(),
        403,
        "a viewer's write is refused with a 403, not a 500"
    );
    assert!(delete.text().await.unwrap().contains("viewers can only read"));
    assert_eq!(server.state.manage.endpoints().await.unwrap().len(), 1);

    let stranger = server.client().post(&url).json(&ask).send().await.unwrap();
    assert_eq!(stranger.status(), 401);

    let (admin, _) = server.signed_in("admin@example.com").await;
    let other_site = admin
        .post(&url)
        .header("origin", "https://evil.example")
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(other_site.status(), 403);
    for (bad, param) in [
        (
            json!({"target": {"endpoint": 9999}, "body": {"messages": []}}),
            "target",
        ),
        (
            json!({"target": {"gateway": 9999}, "body": {"model": "m", "messages": [{"role": "user", "content": "x"}]}}),
            "target",
        ),
        (
            json!({"target": {"endpoint": endpoint}, "body": {"messages": "not a list"}}),
            "messages",
        ),
    ] {
        let answer = admin.post(&url).json(&bad).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{bad}");
        let error: Value = answer.json().await.unwrap();
        assert_eq!(error["error"]["param"], param, "{error}");
    }
    let garbled = admin.post(&url).body("{not json").send().await.unwrap();
    assert_eq!(garbled.status(), 400);
    let error: Value = garbled.json().await.unwrap();
    assert!(
        error["error"]["message"].as_str().unwrap().contains("not understood"),
        "{error}"
    );
    assert_eq!(mock.requests_received(), 0, "nothing refused reached the provider");
    // A good request last: once its log is written, the refused ones would have been too.
    let good = admin.post(&url).json(&ask).send().await.unwrap();
    assert_eq!(good.status(), 200);
    let written = logs(&server, 1).await;
    assert_eq!(written[0].status, 200, "only the good request is logged");
}
