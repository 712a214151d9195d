//! Composite models through the real server and the mock upstream (issue #21): `ab` splits
//! users by ratio and keeps each on their variant, a sticky `load` moves only a removed
//! member's users, a failing member falls over, and what management refuses.

use crate::operator::op;
use crate::rig::{endpoint, metric, steady, Rig};
use app::types::{
    CompositeKind, CompositeMember, CompositeUpdate, MultiMode, NewComposite, NewKey, ProviderKind, RequestLog,
    VariantStats,
};
use futures_util::{stream, StreamExt};
use serde_json::{json, Value};
use server::{
    manage::{limits::parse_limit, ManageError},
    testing::{refusing_addr, MockUpstream},
};
use std::collections::HashMap;

/// A member: `category` (empty: the target's name), `target`, `share`.
pub fn member(category: &str, target: &str, share: f64) -> CompositeMember {
    CompositeMember {
        category: category.into(),
        target: target.into(),
        share,
    }
}

/// A composite with every other setting at its default (its gateway filled in when added).
pub fn composite(name: &str, kind: CompositeKind, members: Vec<CompositeMember>) -> NewComposite {
    NewComposite {
        gateway_id: app::types::GatewayId(0),
        name: name.into(),
        kind,
        members,
        sticky: false,
        mode: MultiMode::WaitForAll,
        judge: None,
        rubric: None,
        cache: None,
    }
}

/// Sends `body` 200 times at once with a new key of gateway `g` limited to `limit` tokens in
/// all (a fixed window a minute long could end while they run, and admit a second `limit`),
/// and checks that every answer is a 200 or a 429, with some of each, and that the
/// logged usage stayed within the limit (reported as metric `figure`). Answers the logs.
pub async fn two_hundred_at_once_within(rig: &Rig, limit: i64, body: &Value, figure: &str) -> Vec<RequestLog> {
    let manage = &rig.server.state.manage;
    let key = op(manage)
        .create_key(NewKey {
            gateway: op(manage).gateway_id("g").await,
            name: "limited".into(),
            limits: vec![
                parse_limit(&format!("tokens/total={limit}")).unwrap(),
                parse_limit("concurrency=1000").unwrap(),
            ],
            ..NewKey::default()
        })
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let secret = key.secret.expose().to_string();
    let statuses: Vec<u16> = stream::iter(0..200)
        .map(|_| {
            let (url, secret) = (rig.server.url.clone(), secret.clone());
            async move {
                (crate::rig::post_as(&url, &secret, "/v1/chat/completions", body).await)
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(200)
        .collect()
        .await;
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        admitted > 0 && statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "the limit was reached");
    let logs = rig.logs(200).await;
    let used: i64 = logs.iter().map(|l| l.prompt_tokens + l.completion_tokens).sum();
    metric(figure, format!("{used}/{limit}"));
    assert!(used <= limit, "{used} tokens used past the limit of {limit}");
    logs
}

/// Adds `new` to gateway `g` and reloads the registry.
async fn add(rig: &Rig, mut new: NewComposite) -> Result<app::types::CompositeModel, ManageError> {
    let manage = &rig.server.state.manage;
    new.gateway_id = op(manage).gateway_id("g").await;
    let created = op(manage).create_composite(new).await;
    rig.server.state.registry.refresh(manage).await.unwrap();
    created
}

/// A rig over endpoints `names`, each at `base`.
async fn rig_over(names: &[&str], base: &str) -> Rig {
    let endpoints = names
        .iter()
        .map(|name| endpoint(name, ProviderKind::OpenAi, base))
        .collect();
    Rig::start(steady, endpoints, |_| {}).await
}

fn chat_as(model: &str, user: &str) -> Value {
    json!({ "model": model, "user": user, "messages": [{ "role": "user", "content": "hello" }] })
}

/// The variant each user gets, asking `concurrency` at a time.
async fn variants(rig: &Rig, model: &str, users: impl Iterator<Item = String>) -> Vec<(String, String)> {
    stream::iter(users)
        .map(|user| async move {
            let response = rig.post("/v1/chat/completions", &chat_as(model, &user)).await;
            assert_eq!(response.status(), 200, "{user}");
            let variant = response.headers()["x-mgw-variant"].to_str().unwrap().to_string();
            (user, variant)
        })
        .buffer_unordered(32)
        .collect()
        .await
}

#[tokio::test]
async fn an_ab_test_splits_ten_thousand_users_by_its_ratios_and_keeps_each_user_on_one_variant() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig_over(&["openai", "llama"], &mock.url()).await;
    let members = vec![member("a", "openai", 0.8), member("b", "llama", 0.2)];
    add(&rig, composite("a-80-b-20", CompositeKind::Ab, members))
        .await
        .unwrap();

    let seen = variants(&rig, "a-80-b-20", (0..10_000).map(|i| format!("user-{i}"))).await;
    let a = seen.iter().filter(|(_, variant)| variant == "a").count();
    let share = a as f64 / seen.len() as f64;
    crate::rig::metric("ab_share_of_a", share);
    assert!((share - 0.8).abs() <= 0.015, "a got {share} of 10,000 users");

    let first: HashMap<String, String> = seen.into_iter().take(200).collect();
    let again = variants(&rig, "a-80-b-20", first.keys().cloned().cycle().take(1_000)).await;
    for (user, variant) in again {
        assert_eq!(variant, first[&user], "{user} moved to another variant");
    }
    // The variant is in the log, and the endpoint that served is the variant's.
    let logs = rig.server.state.manage.recent_request_logs(50).await.unwrap();
    assert!(logs
        .iter()
        .all(|log| log.variant.as_deref().is_some_and(|v| v == "a" || v == "b")));
    assert!(logs.iter().all(|log| log.model.as_deref() == Some("a-80-b-20")));
}

#[tokio::test]
async fn removing_a_member_of_a_sticky_load_model_moves_only_that_members_users() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig_over(&["x", "y", "z"], &mock.url()).await;
    let members = vec![member("", "x", 1.0), member("", "y", 1.0), member("", "z", 1.0)];
    let mut new = composite("spread", CompositeKind::Load, members);
    new.sticky = true;
    let created = add(&rig, new).await.unwrap();

    let users = || (0..300).map(|i| format!("u{i}"));
    let before: HashMap<String, String> = variants(&rig, "spread", users()).await.into_iter().collect();
    assert!(before.values().any(|v| v == "z"), "z had users");
    let manage = &rig.server.state.manage;
    let update = CompositeUpdate {
        members: Some(vec![member("", "x", 1.0), member("", "y", 1.0)]),
        ..CompositeUpdate::default()
    };
    manage
        .update_composite(&op(manage).1, created.id, update)
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let after: HashMap<String, String> = variants(&rig, "spread", users()).await.into_iter().collect();
    for (user, member) in &before {
        if member != "z" {
            assert_eq!(&after[user], member, "{user} moved though its member stayed");
        }
    }
}

#[tokio::test]
async fn a_load_model_falls_over_to_its_next_member_when_one_refuses_connections() {
    let mock = MockUpstream::start().await.unwrap();
    let refused = format!("http://{}", refusing_addr().await.unwrap());
    let endpoints = vec![
        endpoint("down", ProviderKind::OpenAi, &refused),
        endpoint("up", ProviderKind::OpenAi, &mock.url()),
    ];
    let rig = Rig::start(steady, endpoints, |_| {}).await;
    let members = vec![member("", "down", 1.0), member("", "up", 1.0)];
    add(&rig, composite("pair", CompositeKind::Load, members))
        .await
        .unwrap();
    for i in 0..10 {
        let response = rig
            .post("/v1/chat/completions", &chat_as("pair", &format!("u{i}")))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-mgw-endpoint"], "up");
        assert_eq!(response.headers()["x-mgw-variant"], "up");
    }
}

#[tokio::test]
async fn composites_are_listed_as_models_and_bad_ones_are_refused_with_the_reason() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig_over(&["p", "q"], &mock.url()).await;
    add(
        &rig,
        composite(
            "both",
            CompositeKind::Load,
            vec![member("", "p", 1.0), member("", "gpt-4o-mini", 2.0)],
        ),
    )
    .await
    .unwrap();
    let models: Value = reqwest::Client::new()
        .get(format!("{}/v1/models", rig.server.url))
        .bearer_auth(&rig.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"both"), "{ids:?}");

    let refused = |result: Result<app::types::CompositeModel, ManageError>| match result {
        Err(ManageError::Invalid { field, message }) => format!("{field}: {message}"),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let uneven = vec![member("a", "p", 0.7), member("b", "q", 0.2)];
    let message = refused(add(&rig, composite("uneven", CompositeKind::Ab, uneven)).await);
    assert!(message.contains("add up to 1"), "{message}");
    let unknown = vec![member("", "nowhere", 1.0)];
    let message = refused(add(&rig, composite("lost", CompositeKind::Load, unknown)).await);
    assert!(message.contains("nowhere"), "{message}");
    // A cycle: "loop" → "both" is fine, but "both" → "loop" would close it.
    add(
        &rig,
        composite("loop", CompositeKind::Load, vec![member("", "both", 1.0)]),
    )
    .await
    .unwrap();
    let manage = &rig.server.state.manage;
    let both = manage
        .composites(None)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "both")
        .unwrap();
    let update = CompositeUpdate {
        members: Some(vec![member("", "p", 1.0), member("", "loop", 1.0)]),
        ..CompositeUpdate::default()
    };
    let message = refused(manage.update_composite(&op(manage).1, both.id, update).await);
    assert!(message.contains("both → loop → both"), "{message}");
    let taken = composite("gpt-4o-mini", CompositeKind::Load, vec![member("", "p", 1.0)]);
    let message = refused(add(&rig, taken).await);
    assert!(message.contains("already a model"), "{message}");
}

#[tokio::test]
async fn feedback_on_requests_shows_in_each_variants_figures_and_only_the_requesting_key_may_give_it() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig_over(&["openai", "llama"], &mock.url()).await;
    let members = vec![member("a", "openai", 0.5), member("b", "llama", 0.5)];
    let created = add(&rig, composite("half", CompositeKind::Ab, members)).await.unwrap();

    let mut scored = HashMap::<String, Vec<f64>>::new();
    for i in 0..40 {
        let response = rig
            .post("/v1/chat/completions", &chat_as("half", &format!("u{i}")))
            .await;
        assert_eq!(response.status(), 200);
        let variant = response.headers()["x-mgw-variant"].to_str().unwrap().to_string();
        let request_id = response.headers()["x-request-id"].to_str().unwrap().to_string();
        if i % 2 == 0 {
            let score = if variant == "a" { 0.9 } else { 0.3 };
            let answer = rig
                .post("/v1/feedback", &json!({ "request_id": request_id, "score": score }))
                .await;
            assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
            scored.entry(variant).or_default().push(score);
        }
    }
    // Bad scores and other keys' (or unknown) requests are refused in OpenAI's shape.
    let refused = rig
        .post("/v1/feedback", &json!({ "request_id": "nope", "score": 0.5 }))
        .await;
    assert_eq!(refused.status(), 404);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "request_not_found");
    let logs = rig.server.state.manage.recent_request_logs(1).await.unwrap();
    let out_of_range = json!({ "request_id": logs[0].request_id, "score": 1.5 });
    let refused = rig.post("/v1/feedback", &out_of_range).await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["param"], "score");

    let manage = &rig.server.state.manage;
    let stats = manage.variant_stats(&created, 0, i64::MAX).await.unwrap();
    assert_eq!(stats.iter().map(|s| s.figures.requests).sum::<i64>(), 40);
    for VariantStats { variant, figures: stat } in &stats {
        let scores = &scored[variant];
        assert_eq!(stat.feedback_count, scores.len() as i64, "{stat:?}");
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        assert!((stat.mean_score.unwrap() - mean).abs() < 1e-9, "{stat:?}");
        assert_eq!(stat.errors, 0);
        assert!(stat.p50_latency_ms <= stat.p95_latency_ms);
        assert!(stat.prompt_tokens > 0 && stat.completion_tokens > 0);
    }
}

#[tokio::test]
async fn the_metrics_count_each_variants_requests_by_status() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig_over(&["openai", "llama"], &mock.url()).await;
    let members = vec![member("a", "openai", 0.5), member("b", "llama", 0.5)];
    add(&rig, composite("half", CompositeKind::Ab, members)).await.unwrap();
    let seen = variants(&rig, "half", (0..20).map(|i| format!("m{i}"))).await;
    let a = seen.iter().filter(|(_, v)| v == "a").count();
    let _ = rig.logs(20).await;
    let metrics = rig.metrics().await;
    let series = |variant: &str| {
        format!("mgw_composite_requests_total{{gateway=\"g\",model=\"half\",variant=\"{variant}\",status=\"200\"}}")
    };
    let count = |variant: &str| -> usize {
        let line = metrics.lines().find(|l| l.starts_with(&series(variant)));
        line.and_then(|l| l.rsplit(' ').next())
            .map_or(0, |n| n.parse().unwrap())
    };
    assert_eq!((count("a"), count("b")), (a, 20 - a), "{metrics}");
}
