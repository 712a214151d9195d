//! Usage by end user through GraphQL (issue #23): `usage(user:)` sums one person's requests,
//! `topEndUsers` ranks people, or their groups, busiest first — on one gateway or every one.

use super::{server, Api, ADMIN};
use app::types::{GatewayId, RequestLog};
use serde_json::{json, Value};

#[tokio::test]
async fn usage_by_end_user_and_the_busiest_users_and_groups_are_read() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let log = |i: i64, user: &str, group: &str, gateway: i64, status: i64| RequestLog {
        request_id: format!("req-{user}-{i}-{gateway}"),
        created_at: 1_000 + i,
        gateway_id: Some(GatewayId(gateway)),
        api: "openai".into(),
        operation: "chat".into(),
        status,
        latency_ms: 10 * i,
        prompt_tokens: 10,
        completion_tokens: 2,
        cost_micros: 5,
        end_user: Some(user.into()),
        end_user_group: Some(group.into()),
        ..RequestLog::default()
    };
    let mut logs: Vec<RequestLog> = (1..=3).map(|i| log(i, "ada", "research", 1, 200)).collect();
    logs.push(log(4, "ada", "research", 1, 429));
    logs.extend((1..=2).map(|i| log(i, "bob", "sales", 1, 200)));
    logs.extend((1..=5).map(|i| log(i, "cy", "sales", 2, 200)));
    logs.push(RequestLog {
        end_user: None,
        end_user_group: None,
        ..log(9, "nobody", "none", 1, 200)
    });
    server.state.store.insert_request_logs(&logs).await.unwrap();

    let usage = "query($user: String!) { usage(user: $user, from: 0, to: 10000) {
        requests errors promptTokens completionTokens costMicros p50LatencyMs } }";
    let ada = api.ok(usage, json!({ "user": "ada" })).await["usage"].clone();
    assert_eq!(
        ada,
        json!({ "requests": 4, "errors": 1, "promptTokens": 40, "completionTokens": 8,
                "costMicros": 20, "p50LatencyMs": 20 })
    );
    let nobody = api.ok(usage, json!({ "user": "zed" })).await["usage"]["requests"].clone();
    assert_eq!(nobody, 0, "someone without requests has zeros");

    let top = "query($groups: Boolean!, $first: Int!) {
        topEndUsers(from: 0, to: 10000, groups: $groups, first: $first) { name requests } }";
    let names = |answer: &Value| -> Vec<(String, i64)> {
        (answer["topEndUsers"].as_array().unwrap().iter())
            .map(|p| (p["name"].as_str().unwrap().to_string(), p["requests"].as_i64().unwrap()))
            .collect()
    };
    let users = api.ok(top, json!({ "groups": false, "first": 2 })).await;
    assert_eq!(names(&users), [("cy".to_string(), 5), ("ada".to_string(), 4)]);
    let groups = api.ok(top, json!({ "groups": true, "first": 10 })).await;
    assert_eq!(names(&groups), [("sales".to_string(), 7), ("research".to_string(), 4)]);
}
