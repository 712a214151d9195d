//! Limits for people (issue #23): the documentation's three levels — each end user 60 an hour,
//! each department 600 an hour, every user together 1000 an hour — held exactly under 200
//! concurrent requests; keys that may assert users; the cap on one request's tokens; and the
//! flags that set them from the command line.

use crate::{
    cli::{text, Cli},
    end_users::{chat, now_s, signed, trust_test_issuer, ISSUER},
    operator::op,
    rig::{self, Rig},
};
use app::types::{AuthMode, GatewayUpdate, Limit, Metric, NewKey, PeopleLimits, Period, PromptCap};
use futures_util::StreamExt;
use serde_json::{json, Value};
use server::testing::MockUpstream;
use std::collections::HashMap;

/// An RS256 token for `sub` of `department`, signed with the test-only key `rsa-a`.
fn token(sub: &str, department: &str) -> String {
    signed(&json!({ "iss": ISSUER, "aud": "g", "sub": sub, "exp": now_s() + 3600, "department": department }))
}

fn hourly(requests: i64) -> Vec<Limit> {
    vec![Limit {
        metric: Metric::Requests,
        period: Period::Hour,
        max_value: requests,
    }]
}

/// Waits out the end of the hour when it is less than 40 s away: the windows are hourly, and
/// a test must not straddle two of them.
async fn clear_of_the_hour_boundary() {
    let now_ms = server::store::now_ms();
    let left = 3_600_000 - now_ms.rem_euclid(3_600_000);
    if left < 40_000 {
        tokio::time::sleep(std::time::Duration::from_millis(left as u64 + 500)).await;
    }
}

/// Sends one chat request for each `(user, department)` with that user's token alone, at most
/// 200 at once; answers the statuses and the 429s' messages, by status.
async fn burst(rig: &Rig, users: &[(String, String)]) -> HashMap<u16, Vec<String>> {
    let tokens: HashMap<&str, String> = (users.iter())
        .map(|(user, department)| (user.as_str(), format!("Bearer {}", token(user, department))))
        .collect();
    let answers: Vec<(u16, Value)> = futures_util::stream::iter(users)
        .map(|(user, _)| {
            let header = tokens[user.as_str()].clone();
            async move { chat(rig, "/g/g/v1/chat/completions", &[("authorization", &header)]).await }
        })
        .buffer_unordered(200)
        .collect()
        .await;
    let mut by_status: HashMap<u16, Vec<String>> = HashMap::new();
    for (status, body) in answers {
        let message = body["error"]["message"].as_str().unwrap_or_default().to_string();
        by_status.entry(status).or_default().push(message);
    }
    by_status
}

/// `count` requests from each of `users` users of `department` (named `{department}-{n}`).
fn department(department: &str, users: usize, count: usize) -> Vec<(String, String)> {
    (0..count)
        .flat_map(|_| (0..users).map(|n| (format!("{department}-{n}"), department.to_string())))
        .collect()
}

#[tokio::test]
async fn the_documentations_three_levels_hold_exactly_under_200_concurrent_requests() {
    clear_of_the_hour_boundary().await;
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        |_| {},
        vec![rig::endpoint("a", app::types::ProviderKind::OpenAi, &mock.url())],
        |g| {
            g.auth_mode = AuthMode::Both;
            g.limits = hourly(1000);
            g.people = PeopleLimits {
                per_user: hourly(60),
                group_rule: Some("user.department".into()),
                per_group: hourly(600),
                ..PeopleLimits::default()
            };
        },
    )
    .await;
    trust_test_issuer(&rig, &[]).await;
    let limited = |by: &HashMap<u16, Vec<String>>, level: &str| {
        (by.get(&429).into_iter().flatten())
            .filter(|message| message.contains(&format!("Limit reached for {level}:")))
            .count()
    };

    // One user, 200 at once: 60 pass, each other one is refused naming the end user's limit.
    let one = burst(&rig, &department("research", 1, 200)).await;
    let statuses: Vec<(u16, usize)> = one.iter().map(|(status, answers)| (*status, answers.len())).collect();
    assert_eq!(one[&200].len(), 60, "{statuses:?}");
    assert_eq!(limited(&one, "this end user"), 140);

    // One department's 12 users, 60 each (720, 200 at once): the department's 600 pass.
    let sales = burst(&rig, &department("sales", 12, 60)).await;
    assert_eq!(sales[&200].len(), 600);
    assert_eq!(limited(&sales, "this end user's group"), 120);

    // Two more departments of 10 users, 60 each (1200): what is left of the total (1000 −
    // 660 = 340) passes, the rest is refused naming the gateway.
    let mut others = department("legal", 10, 60);
    others.extend(department("ops", 10, 60));
    let rest = burst(&rig, &others).await;
    assert_eq!(rest[&200].len(), 340);
    assert_eq!(limited(&rest, "this gateway"), 1200 - 340);

    // Zero overshoot: exactly 1000 reached the upstream, each logged with its user and group.
    assert_eq!(mock.requests_received(), 1000);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let logs = loop {
        let logs = rig.server.state.store.recent_request_logs(5000).await.unwrap();
        if logs.len() >= 2120 || std::time::Instant::now() > until {
            break logs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let served: Vec<_> = logs.iter().filter(|log| log.status == 200).collect();
    assert_eq!(served.len(), 1000);
    let by_group = |group: &str| {
        (served.iter())
            .filter(|log| log.end_user_group.as_deref() == Some(group))
            .count()
    };
    assert_eq!((by_group("research"), by_group("sales")), (60, 600));
    assert_eq!(by_group("legal") + by_group("ops"), 340);
    assert!(served.iter().all(|log| log.end_user.is_some()));
    // A refusal by a person's limit is a 429 with the same headers as any other.
    let refused = rig.post("/v1/chat/completions", &rig::chat(false)).await;
    assert_eq!(
        refused.status(),
        429,
        "the key's requests count in the gateway's total too"
    );
    assert!(refused.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_key_that_may_assert_users_names_them_and_other_keys_may_not() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        |_| {},
        vec![rig::endpoint("a", app::types::ProviderKind::OpenAi, &mock.url())],
        |g| {
            g.people.per_user = vec![Limit {
                metric: Metric::Requests,
                period: Period::Day,
                max_value: 2,
            }];
        },
    )
    .await;
    let manage = &rig.server.state.manage;
    let trusted = op(manage)
        .create_key(NewKey {
            gateway: op(manage).gateway_id("g").await,
            name: "backend".into(),
            may_assert_users: true,
            ..NewKey::default()
        })
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let trusted = format!("Bearer {}", trusted.secret.expose());
    let plain = format!("Bearer {}", rig.key);
    let post = |key: String, user_header: Option<&'static str>, body_user: Option<&'static str>| {
        let url = format!("{}/v1/chat/completions", rig.server.url);
        async move {
            let mut body = rig::chat(false);
            if let Some(user) = body_user {
                body["user"] = json!(user);
            }
            let mut request = reqwest::Client::new()
                .post(url)
                .header("authorization", key)
                .json(&body);
            if let Some(user) = user_header {
                request = request.header("x-mgw-user", user);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // The header and the body's `user` name the same person: their two requests a day.
    assert_eq!(post(trusted.clone(), Some("carol"), None).await.0, 200);
    assert_eq!(post(trusted.clone(), None, Some("carol")).await.0, 200);
    let (status, body) = post(trusted.clone(), Some("carol"), None).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("this end user"),
        "{body}"
    );
    assert_eq!(
        post(trusted.clone(), Some("dan"), None).await.0,
        200,
        "another user has their own"
    );

    // A key that may not assert users is refused when it names one in the header; its body's
    // `user` is OpenAI's hint, which limits nothing.
    let (status, body) = post(plain.clone(), Some("carol"), None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("may not name end users"),
        "{body}"
    );
    for _ in 0..3 {
        assert_eq!(post(plain.clone(), None, Some("erin")).await.0, 200);
    }
    let logs = rig.logs(7).await;
    let users: Vec<Option<&str>> = logs.iter().rev().map(|log| log.end_user.as_deref()).collect();
    assert_eq!(
        users,
        [
            Some("carol"),
            Some("carol"),
            Some("carol"),
            Some("dan"),
            None,
            None,
            None
        ]
    );
    assert_eq!(mock.requests_received(), 6);
}

#[tokio::test]
async fn a_request_over_the_cap_per_prompt_is_refused_or_clamped_as_the_gateway_says() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        |_| {},
        vec![rig::endpoint("a", app::types::ProviderKind::OpenAi, &mock.url())],
        |g| {
            g.people.max_tokens_per_prompt = Some(300);
        },
    )
    .await;
    let mut body = rig::chat(false);
    body["max_tokens"] = json!(1_000);
    let refused = rig.post("/v1/chat/completions", &body).await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["param"], "max_tokens", "{error}");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 300 tokens per prompt"));
    assert_eq!(mock.requests_received(), 0, "nothing over the cap is sent");

    let update = GatewayUpdate {
        people: Some(PeopleLimits {
            max_tokens_per_prompt: Some(300),
            over_cap: PromptCap::Clamp,
            ..PeopleLimits::default()
        }),
        ..GatewayUpdate::default()
    };
    op(&rig.server.state.manage).update_gateway("g", update).await.unwrap();
    rig.server
        .state
        .registry
        .refresh(&rig.server.state.manage)
        .await
        .unwrap();
    assert_eq!(rig.post("/v1/chat/completions", &body).await.status(), 200);
    // Without max_tokens, the request is given what the cap leaves too.
    assert_eq!(rig.post("/v1/chat/completions", &rig::chat(false)).await.status(), 200);
    let sent: Vec<i64> = (mock.recorded().iter())
        .map(|request| request.body.as_ref().unwrap()["max_tokens"].as_i64().unwrap())
        .collect();
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter().all(|max| *max > 0 && *max < 300 && *max == sent[0]),
        "{sent:?}"
    );
}

#[test]
fn limits_for_people_are_set_from_the_command_line() {
    let cli = Cli::new();
    let ok = |args: &[&str]| cli.ok(args);
    cli.gateway_over_one_endpoint("tasks");
    ok(&[
        "gateway",
        "update",
        "tasks",
        "--auth",
        "jwt",
        "--access",
        "user.groups.includes('llm-open-ai-allowed')",
        "--user-limit",
        "prompts/hour=60",
        "--group-rule",
        "user.department",
        "--group-limit",
        "prompts/hour=600",
        "--limit",
        "prompts/hour=1000",
        "--max-tokens-per-prompt",
        "3000",
    ]);
    let gateway: Value = serde_json::from_str(&ok(&["gateway", "list", "--json"])).unwrap();
    let people = &gateway[0]["people"];
    assert_eq!(
        people["per_user"],
        json!([{ "metric": "requests", "period": "hour", "max_value": 60 }])
    );
    assert_eq!(people["per_group"][0]["max_value"], 600);
    assert_eq!(people["group_rule"], "user.department");
    assert_eq!(people["max_tokens_per_prompt"], 3000);
    assert_eq!(people["over_cap"], "refuse");
    assert_eq!(gateway[0]["limits"][0]["max_value"], 1000);

    // A flag changes its part only.
    ok(&["gateway", "update", "tasks", "--over-prompt-cap", "clamp"]);
    let gateway: Value = serde_json::from_str(&ok(&["gateway", "list", "--json"])).unwrap();
    assert_eq!(gateway[0]["people"]["over_cap"], "clamp");
    assert_eq!(gateway[0]["people"]["per_user"][0]["max_value"], 60);

    // Refusals name the field: a group rule that does not parse, group limits without a rule.
    let bad = cli.run(&["gateway", "update", "tasks", "--group-rule", "user.department +"]);
    assert!(
        !bad.status.success() && text(&bad).contains("group_rule"),
        "{}",
        text(&bad)
    );
    let bad = cli.run(&[
        "gateway",
        "update",
        "tasks",
        "--no-group-rule",
        "--group-limit",
        "prompts/hour=5",
    ]);
    assert!(
        !bad.status.success() && text(&bad).contains("cannot be used with"),
        "{}",
        text(&bad)
    );
    ok(&["gateway", "update", "tasks", "--no-group-rule"]);
    let gateway: Value = serde_json::from_str(&ok(&["gateway", "list", "--json"])).unwrap();
    assert_eq!(gateway[0]["people"]["per_group"], json!([]));
    let bad = cli.run(&["gateway", "update", "tasks", "--group-limit", "prompts/hour=5"]);
    assert!(
        !bad.status.success() && text(&bad).contains("group limits need a group rule"),
        "{}",
        text(&bad)
    );
    let bad = cli.run(&["gateway", "update", "tasks", "--user-limit", "prompts/fortnight=5"]);
    assert!(!bad.status.success(), "{}", text(&bad));

    // A key that may assert users, and back.
    let created: Value = serde_json::from_str(&ok(&[
        "key",
        "create",
        "--gateway",
        "tasks",
        "--name",
        "backend",
        "--may-assert-users",
        "--json",
    ]))
    .unwrap();
    assert_eq!(created["details"]["may_assert_users"], true);
    let id = created["details"]["public_id"].as_str().unwrap();
    let updated: Value = serde_json::from_str(&ok(&["key", "update", id, "--no-may-assert-users", "--json"])).unwrap();
    assert_eq!(updated["may_assert_users"], false);
}
