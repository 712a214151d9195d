//! Access rules on models and prompts (issue #23): besides its gateway's, a request must
//! satisfy the rule on the model it asks for (as the client names it — a model, an alias or a
//! composite model) and its named prompt's; a denial is a 403 naming the rule, and nothing
//! reaches the upstream. Set from the command line as an operator does it.

use crate::{
    cli::{text, Cli},
    end_users::{now_s, signed, trust_test_issuer, ISSUER},
    operator::op,
    prompts::email_template,
    rig::{self, Rig},
};
use app::types::{AuthMode, GatewayUpdate, ModelRule, NewPrompt};
use serde_json::{json, Value};
use server::testing::MockUpstream;

/// An RS256 token for `sub` in `groups`.
fn token(sub: &str, groups: &[&str]) -> String {
    signed(&json!({ "iss": ISSUER, "aud": "g", "sub": sub, "exp": now_s() + 3600, "groups": groups }))
}

/// POSTs `body` to the token-alone way in of gateway `g` as `token`'s user.
async fn ask(rig: &Rig, token: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/g/g/v1/chat/completions", rig.server.url))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_rule_on_a_model_or_a_prompt_denies_whom_it_does_not_let_through() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        |_| {},
        vec![rig::endpoint("a", app::types::ProviderKind::OpenAi, &mock.url())],
        |g| {
            g.auth_mode = AuthMode::Jwt;
            g.model_aliases = vec![app::types::ModelAlias {
                alias: "premium".into(),
                model: "gpt-4o-mini".into(),
            }];
            g.model_rules = vec![ModelRule {
                model: "premium".into(),
                rule: "'premium' in user.groups".into(),
            }];
        },
    )
    .await;
    trust_test_issuer(&rig, &[]).await;
    let manage = &rig.server.state.manage;
    let prompt = op(manage)
        .create_prompt(NewPrompt {
            name: "hr-letter".into(),
            description: String::new(),
            gateways: Vec::new(),
            template: email_template("You write letters for {{ brand }}."),
        })
        .await
        .unwrap();
    manage
        .set_prompt_access(
            &server::manage::Actor::cli(),
            prompt.id,
            Some("user.groups.includes('hr')"),
        )
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let (ada, bob) = (token("ada", &["premium", "hr"]), token("bob", &["staff"]));

    // The model as the client names it: the alias has a rule, the model behind it none.
    let premium = json!({ "model": "premium", "messages": [{ "role": "user", "content": "hi" }] });
    assert_eq!(ask(&rig, &ada, &premium).await.0, 200);
    let (status, body) = ask(&rig, &bob, &premium).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "access_denied");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the access rule on model premium of gateway g"),
        "{body}"
    );
    assert!(!message.contains("staff"), "a denial never echoes claims: {body}");
    assert_eq!(
        ask(&rig, &bob, &rig::chat(false)).await.0,
        200,
        "gpt-4o-mini has no rule"
    );

    // A named prompt's rule.
    let letter = json!({ "prompt": "hr-letter", "parameters": { "brand": "B", "firstname": "Ann" } });
    assert_eq!(ask(&rig, &ada, &letter).await.0, 200);
    let (status, body) = ask(&rig, &bob, &letter).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("prompt hr-letter's access rule"),
        "{body}"
    );
    assert_eq!(mock.requests_received(), 3, "nothing denied reached the upstream");

    // Removing the rules lets everyone through.
    let update = GatewayUpdate {
        model_rules: Some(Vec::new()),
        ..GatewayUpdate::default()
    };
    op(manage).update_gateway("g", update).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    assert_eq!(ask(&rig, &bob, &premium).await.0, 200);
}

#[test]
fn rules_on_models_and_prompts_are_set_from_the_command_line() {
    let cli = Cli::new();
    let ok = |args: &[&str]| cli.ok(args);
    cli.gateway_over_one_endpoint("tasks");
    ok(&[
        "gateway",
        "update",
        "tasks",
        "--model-access",
        "mini='llm' in user.groups",
    ]);
    let gateways: Value = serde_json::from_str(&ok(&["gateway", "list", "--json"])).unwrap();
    assert_eq!(
        gateways[0]["model_rules"],
        json!([{ "model": "mini", "rule": "'llm' in user.groups" }])
    );
    let bad = cli.run(&[
        "gateway",
        "update",
        "tasks",
        "--model-access",
        "mini=user.groups.includes(",
    ]);
    assert!(
        !bad.status.success() && text(&bad).contains("mini: line 1, column"),
        "{}",
        text(&bad)
    );
    let bad = cli.run(&["gateway", "update", "tasks", "--model-access", "no rule"]);
    assert!(
        !bad.status.success() && text(&bad).contains("MODEL=EXPR"),
        "{}",
        text(&bad)
    );
    ok(&["gateway", "update", "tasks", "--no-model-access"]);
    let gateways: Value = serde_json::from_str(&ok(&["gateway", "list", "--json"])).unwrap();
    assert_eq!(gateways[0]["model_rules"], json!([]));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.yaml");
    std::fs::write(&file, "messages:\n- role: user\n  content: hello\nmodel: mini\n").unwrap();
    ok(&["prompt", "create", "--name", "hello", "--file", file.to_str().unwrap()]);
    let said = ok(&["prompt", "access", "hello", "'hr' in user.groups"]);
    assert!(said.contains("must satisfy: 'hr' in user.groups"), "{said}");
    let bad = cli.run(&["prompt", "access", "hello", "'hr' in"]);
    assert!(!bad.status.success() && text(&bad).contains("line 1"), "{}", text(&bad));
    let listed: Value = serde_json::from_str(&ok(&["prompt", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["access_rule"], "'hr' in user.groups");
    ok(&["prompt", "access", "hello", "--none"]);
    let listed: Value = serde_json::from_str(&ok(&["prompt", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["access_rule"], Value::Null);
}
