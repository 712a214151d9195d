//! Limits for people in the console (issue #23), called as the browser calls them: the gateway
//! edit form refuses each field under its own name and saves all of them in one audited update;
//! the Dashboard lists the busiest end users and groups of every gateway or one, not of an
//! endpoint.

use crate::operator::op;
use crate::support::TestServer;
use app::types::{GatewayId, Metric, Period, PromptCap, RequestLog};
use serde_json::Value;

/// A server with endpoint `a` and gateways `g` and `h` over it, and a signed-in admin.
async fn server() -> (TestServer, reqwest::Client, [GatewayId; 2]) {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let manage = &server.state.manage;
    let endpoint = crate::rig::endpoint("a", app::types::ProviderKind::OpenAi, "http://127.0.0.1:9");
    op(manage).create_endpoint(endpoint).await.unwrap();
    let mut ids = [GatewayId(0); 2];
    for (id, name) in ids.iter_mut().zip(["g", "h"]) {
        let choice = server::manage::endpoint_choice("a").unwrap();
        let new = app::types::NewGateway::new(name, app::types::Strategy::Priority, vec![choice]);
        *id = op(manage).create_gateway(new).await.unwrap().id;
    }
    let (client, _) = server.signed_in("admin@example.com").await;
    (server, client, ids)
}

/// Posts a server function's form; answers the status and the JSON.
async fn call(server: &TestServer, client: &reqwest::Client, function: &str, form: &[(&str, String)]) -> (u16, Value) {
    let response = (client.post(format!("{}/api/{function}", server.url)))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_gateway_form_refuses_each_people_field_under_its_name_and_saves_them_together() {
    let (server, client, [g, _]) = server().await;
    let form = |people: &[(&'static str, &str)]| {
        let mut form: Vec<(&str, String)> = [
            ("id", g.0.to_string()),
            ("name", "g".into()),
            ("strategy", "priority".into()),
            ("endpoints", "a:1".into()),
            ("max_attempts", "3".into()),
            ("backoff_base_ms", "100".into()),
            ("backoff_cap_ms", "2000".into()),
            ("enabled", "on".into()),
        ]
        .into();
        form.extend(people.iter().map(|(name, value)| (*name, value.to_string())));
        form
    };
    let refused = |people: &'static [(&'static str, &'static str)]| {
        let form = form(people);
        let (server, client) = (&server, &client);
        async move {
            let (status, answer) = call(server, client, "gateways_update", &form).await;
            assert_eq!(status, 400, "{people:?}: {answer}");
            (
                answer["field"].as_str().unwrap().to_string(),
                answer["message"].as_str().unwrap().to_string(),
            )
        }
    };

    let (field, message) = refused(&[("user_limits", "prompts/fortnight=2")]).await;
    assert_eq!(field, "user_limits", "{message}");
    let (field, message) = refused(&[("group_rule", "user.department ==")]).await;
    assert_eq!(field, "group_rule");
    assert!(message.starts_with("Line 1, column "), "{message}");
    let (field, message) = refused(&[("group_limits", "prompts/hour=100")]).await;
    assert_eq!(field, "group_rule");
    assert_eq!(
        message,
        "Group limits need a group rule (a CEL expression such as user.department)."
    );
    let (field, message) = refused(&[("group_limits", "prompts=lots"), ("group_rule", "user.department")]).await;
    assert_eq!(field, "group_limits", "{message}");
    let (field, message) = refused(&[("max_tokens_per_prompt", "0")]).await;
    assert_eq!(
        (field.as_str(), message.as_str()),
        ("max_tokens_per_prompt", "The cap per prompt must be at least 1.")
    );
    let (field, _) = refused(&[("max_tokens_per_prompt", "a few")]).await;
    assert_eq!(field, "max_tokens_per_prompt");
    let manage = &server.state.manage;
    assert!(
        manage.gateway(g).await.unwrap().people.is_empty(),
        "nothing refused is saved"
    );

    let saved = form(&[
        ("user_limits", "prompts/minute=2"),
        ("group_rule", "user.department"),
        ("group_limits", "prompts/hour=100"),
        ("max_tokens_per_prompt", "300"),
        ("over_cap", "clamp"),
    ]);
    let (status, answer) = call(&server, &client, "gateways_update", &saved).await;
    assert_eq!(status, 200, "{answer}");
    let people = manage.gateway(g).await.unwrap().people;
    let user = &people.per_user[0];
    assert_eq!(
        (user.metric, user.period, user.max_value),
        (Metric::Requests, Period::Minute, 2)
    );
    assert_eq!(people.group_rule.as_deref(), Some("user.department"));
    assert_eq!(people.per_group[0].max_value, 100);
    assert_eq!(
        (people.max_tokens_per_prompt, people.over_cap),
        (Some(300), PromptCap::Clamp)
    );
    assert_eq!(answer["people"]["over_cap"], "clamp", "the answer shows them: {answer}");
    let audit = manage.audit_log(None, 1).await.unwrap();
    assert_eq!(audit[0].action, "gateway.update");

    // Emptied fields remove them all.
    let (status, _) = call(&server, &client, "gateways_update", &form(&[])).await;
    assert_eq!(status, 200);
    assert!(manage.gateway(g).await.unwrap().people.is_empty());
}

#[tokio::test]
async fn the_dashboard_lists_the_busiest_end_users_and_groups_of_every_gateway_or_one() {
    let (server, client, [g, h]) = server().await;
    let now = server::store::now_ms();
    let log = |n: usize, user: &str, group: &str, gateway: GatewayId, status: i64| RequestLog {
        request_id: format!("req-{user}-{n}"),
        created_at: now - 60_000 + n as i64,
        gateway_id: Some(gateway),
        api: "openai".into(),
        operation: "chat".into(),
        status,
        latency_ms: 20,
        prompt_tokens: 10,
        completion_tokens: 5,
        end_user: Some(user.into()),
        end_user_group: Some(group.into()),
        ..RequestLog::default()
    };
    // On g: ada of research 4 times (the last refused), bob of sales twice; on h: cy of sales
    // 5 times and twelve users of ops once each; and a request without an end user.
    let mut logs: Vec<RequestLog> = (0..3).map(|n| log(n, "ada", "research", g, 200)).collect();
    logs.push(log(3, "ada", "research", g, 429));
    logs.extend((0..2).map(|n| log(n, "bob", "sales", g, 200)));
    logs.extend((0..5).map(|n| log(n, "cy", "sales", h, 200)));
    logs.extend((0..12).map(|n| log(0, &format!("ops-{n:02}"), "ops", h, 200)));
    logs.push(RequestLog {
        end_user: None,
        end_user_group: None,
        ..log(0, "nobody", "", g, 200)
    });
    server.state.store.insert_request_logs(&logs).await.unwrap();
    let dashboard = |scope: &str| {
        let form = [("query[range]", "24h".to_string()), ("query[scope]", scope.to_string())];
        let (server, client) = (&server, &client);
        async move {
            let (status, stats) = call(server, client, "dashboard_stats", &form).await;
            assert_eq!(status, 200, "{stats}");
            stats
        }
    };
    let ranked = |people: &Value| -> Vec<(String, i64)> {
        (people.as_array().unwrap().iter())
            .map(|person| {
                (
                    person["name"].as_str().unwrap().to_string(),
                    person["requests"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let pair = |name: &str, requests| (name.to_string(), requests);

    let every = dashboard("").await;
    let users = ranked(&every["top_users"]);
    assert_eq!(users.len(), 10, "the ten busiest: {users:?}");
    assert_eq!(users[..3], [pair("cy", 5), pair("ada", 4), pair("bob", 2)]);
    assert_eq!(
        ranked(&every["top_groups"]),
        [pair("ops", 12), pair("sales", 7), pair("research", 4)]
    );

    let one = dashboard("gateway:g").await;
    assert_eq!(ranked(&one["top_users"]), [pair("ada", 4), pair("bob", 2)]);
    assert_eq!(ranked(&one["top_groups"]), [pair("research", 4), pair("sales", 2)]);
    let ada = &one["top_users"][0];
    assert_eq!(
        (&ada["errors"], &ada["prompt_tokens"]),
        (&1.into(), &40.into()),
        "{ada}"
    );

    let endpoint = dashboard("endpoint:a").await;
    assert_eq!(
        (&endpoint["top_users"], &endpoint["top_groups"]),
        (&serde_json::json!([]), &serde_json::json!([])),
        "an endpoint's requests are not one gateway's people"
    );
}
