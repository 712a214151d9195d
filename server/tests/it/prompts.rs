//! Named prompts through the real server and the mock upstream (issue #22): a request naming a
//! prompt and its parameters reaches the upstream as the rendered request; bad parameters are
//! refused naming them with no upstream call; versions and labels pick what is rendered, and a
//! label moved from another process is seen within a second; a prompt of another gateway is not
//! found; the gateway's parameter policy applies after the prompt, before admission.

use crate::operator::op;
use crate::rig::{endpoint, metric, post_as, steady, Rig};
use app::types::{
    EndpointChoice, EndpointRef, NewGateway, NewKey, NewPrompt, ParamPolicy, ParamValue, ParameterSpec, ParameterType,
    PromptTemplate, ProviderKind, Strategy, TemplateMessage,
};
use serde_json::{json, Map, Value};
use server::{
    manage::{limits::parse_limit, ManageError},
    testing::MockUpstream,
};
use std::time::{Duration, Instant};

fn parameter(kind: ParameterType, required: bool, default: Option<Value>) -> ParameterSpec {
    ParameterSpec {
        kind,
        required,
        default,
        description: None,
    }
}

/// The documentation's example: an email template with three parameters.
pub fn email_template(system: &str) -> PromptTemplate {
    let params: Map<String, Value> = json!({ "temperature": 0.2, "max_tokens": 64 })
        .as_object()
        .unwrap()
        .clone();
    PromptTemplate {
        messages: vec![
            TemplateMessage {
                role: "system".into(),
                content: system.into(),
            },
            TemplateMessage {
                role: "user".into(),
                content: "Write {{ templatecount }} email templates for {{ firstname }}.".into(),
            },
        ],
        model: Some("gpt-4o-mini".into()),
        params,
        parameters: [
            (
                "templatecount",
                parameter(ParameterType::Integer, false, Some(json!(3))),
            ),
            ("brand", parameter(ParameterType::String, true, None)),
            ("firstname", parameter(ParameterType::String, true, None)),
        ]
        .into_iter()
        .map(|(name, spec)| (name.to_string(), spec))
        .collect(),
    }
}

/// A rig over the mock with prompt `email-template-gen` (version 1) for every gateway.
async fn with_prompt(mock: &MockUpstream) -> Rig {
    let rig = Rig::start(steady, vec![endpoint("e", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    let manage = &rig.server.state.manage;
    let new = NewPrompt {
        name: "email-template-gen".into(),
        description: "Marketing emails".into(),
        gateways: Vec::new(),
        template: email_template("You write emails for {{ brand }}."),
    };
    op(manage).create_prompt(new).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    rig
}

fn parameters() -> Value {
    json!({ "templatecount": 5, "brand": "Sun and Sands Resorts", "firstname": "Joe" })
}

#[tokio::test]
async fn a_named_prompt_reaches_the_upstream_as_its_rendered_request_with_the_clients_messages_after() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = with_prompt(&mock).await;
    let body = json!({
        "prompt": "email-template-gen", "parameters": parameters(), "temperature": 0.7,
        "messages": [{ "role": "user", "content": "Keep them short." }],
    });
    let response = rig.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "chat.completion", "{answer}");

    let sent = mock.recorded().pop().unwrap().body.unwrap();
    assert_eq!(
        sent["messages"],
        json!([
            { "role": "system", "content": "You write emails for Sun and Sands Resorts." },
            { "role": "user", "content": "Write 5 email templates for Joe." },
            { "role": "user", "content": "Keep them short." },
        ])
    );
    // The template's params, the client's over them; the template's model; nothing of the
    // prompt's own fields.
    assert_eq!(sent["temperature"], 0.7);
    assert_eq!(sent["max_tokens"], 64);
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert!(
        sent.get("prompt").is_none() && sent.get("parameters").is_none(),
        "{sent}"
    );

    let log = &rig.logs(1).await[0];
    assert_eq!(
        (log.prompt.as_deref(), log.prompt_version),
        (Some("email-template-gen"), Some(1))
    );
    assert_eq!(log.model.as_deref(), Some("gpt-4o-mini"));
    // The gateway logs no payloads: the parameters are not kept.
    assert_eq!(log.prompt_parameters, None);

    // A default fills a parameter left out.
    let body = json!({ "prompt": "email-template-gen", "parameters": { "brand": "B", "firstname": "Ann" } });
    assert_eq!(rig.post("/v1/chat/completions", &body).await.status(), 200);
    let sent = mock.recorded().pop().unwrap().body.unwrap();
    assert_eq!(sent["messages"][1]["content"], "Write 3 email templates for Ann.");
}

#[tokio::test]
async fn missing_mistyped_and_unknown_parameters_are_refused_by_name_and_nothing_reaches_the_upstream() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = with_prompt(&mock).await;
    let ask = |parameters: Value| json!({ "prompt": "email-template-gen", "parameters": parameters });
    let cases = [
        (json!({ "brand": "B" }), "parameters.firstname", "is required"),
        (
            json!({ "brand": "B", "firstname": "J", "templatecount": "five" }),
            "parameters.templatecount",
            "integer",
        ),
        (
            json!({ "brand": "B", "firstname": "J", "colour": "red" }),
            "parameters.colour",
            "not a parameter",
        ),
        (json!("brand=B"), "parameters", "object"),
    ];
    for (parameters, param, says) in cases {
        let response = rig.post("/v1/chat/completions", &ask(parameters.clone())).await;
        assert_eq!(response.status(), 400, "{parameters}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["param"], param, "{error}");
        assert!(error["error"]["message"].as_str().unwrap().contains(says), "{error}");
    }
    for reference in ["nope", "email-template-gen@9", "email-template-gen:staging"] {
        let body = json!({ "prompt": reference, "parameters": parameters() });
        let response = rig.post("/v1/chat/completions", &body).await;
        assert_eq!(response.status(), 404, "{reference}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "prompt_not_found", "{error}");
    }
    assert_eq!(mock.requests_received(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn versions_and_labels_choose_what_is_rendered() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = with_prompt(&mock).await;
    let manage = &rig.server.state.manage;
    let two = op(manage)
        .add_prompt_version("email-template-gen", email_template("Version two, for {{ brand }}."))
        .await
        .unwrap();
    assert_eq!(two, 2);
    rig.server.state.registry.refresh(manage).await.unwrap();
    let system_sent = |reference: &'static str| {
        let (rig, mock) = (&rig, &mock);
        async move {
            let body = json!({ "prompt": reference, "parameters": parameters() });
            assert_eq!(
                rig.post("/v1/chat/completions", &body).await.status(),
                200,
                "{reference}"
            );
            let sent = mock.recorded().pop().unwrap().body.unwrap();
            sent["messages"][0]["content"].as_str().unwrap().to_string()
        }
    };
    // Without a production label, the bare name is the latest version.
    assert!(system_sent("email-template-gen").await.starts_with("Version two"));
    assert!(system_sent("email-template-gen@1").await.starts_with("You write"));
    op(manage)
        .set_prompt_label("email-template-gen", "production", 1)
        .await
        .unwrap();
    op(manage)
        .set_prompt_label("email-template-gen", "staging", 2)
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    assert!(system_sent("email-template-gen").await.starts_with("You write"));
    assert!(system_sent("email-template-gen:staging")
        .await
        .starts_with("Version two"));
    // Moved: production now means version 2; a pinned version never changes.
    op(manage)
        .set_prompt_label("email-template-gen", "production", 2)
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    assert!(system_sent("email-template-gen").await.starts_with("Version two"));
    assert!(system_sent("email-template-gen@1").await.starts_with("You write"));
    let logs = rig.logs(6).await;
    let versions: Vec<Option<i64>> = logs.iter().rev().map(|log| log.prompt_version).collect();
    assert_eq!(versions, [Some(2), Some(1), Some(1), Some(2), Some(2), Some(1)]);

    let refused = op(manage).set_prompt_label("email-template-gen", "production", 7).await;
    assert!(
        matches!(refused, Err(ManageError::Invalid { field: "version", .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_prompt_of_another_gateway_is_not_found_and_bad_templates_are_refused_when_written() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(steady, vec![endpoint("e", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    let manage = &rig.server.state.manage;
    let choice = EndpointChoice {
        endpoint: EndpointRef::Name("e".into()),
        weight: 1,
        priority: None,
    };
    let other = op(manage)
        .create_gateway(NewGateway::new("other", Strategy::Priority, vec![choice]))
        .await
        .unwrap();
    let new = NewPrompt {
        name: "theirs".into(),
        description: String::new(),
        gateways: vec![other.id],
        template: email_template("For {{ brand }}."),
    };
    op(manage).create_prompt(new).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let body = json!({ "prompt": "theirs", "parameters": parameters() });
    let response = rig.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error["error"]["message"],
        "The prompt `theirs` does not exist on this gateway."
    );
    assert_eq!(mock.requests_received(), 0);

    let undeclared = NewPrompt {
        name: "sloppy".into(),
        description: String::new(),
        gateways: Vec::new(),
        template: email_template("For {{ company }}."),
    };
    let refused = op(manage).create_prompt(undeclared).await.unwrap_err();
    match refused {
        ManageError::Invalid { field, message } => {
            assert_eq!(field, "template");
            assert!(
                message.contains("messages.0.content") && message.contains("company"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let taken = NewPrompt {
        name: "theirs".into(),
        description: String::new(),
        gateways: Vec::new(),
        template: email_template("For {{ brand }}."),
    };
    let refused = op(manage).create_prompt(taken).await.unwrap_err();
    assert!(
        matches!(
            refused,
            ManageError::Conflict {
                field: Some("name"),
                ..
            }
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_label_moved_from_another_process_is_rendered_by_the_running_server_within_a_second() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = with_prompt(&mock).await;
    let manage = &rig.server.state.manage;
    (op(manage)
        .add_prompt_version("email-template-gen", email_template("Version two, for {{ brand }}."))
        .await)
        .unwrap();
    op(manage)
        .set_prompt_label("email-template-gen", "production", 1)
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let body = json!({ "prompt": "email-template-gen", "parameters": parameters() });
    let system_sent = || async {
        assert_eq!(rig.post("/v1/chat/completions", &body).await.status(), 200);
        let sent = mock.recorded().pop().unwrap().body.unwrap();
        sent["messages"][0]["content"].as_str().unwrap().to_string()
    };
    assert!(system_sent().await.starts_with("You write"));

    // The CLI, another process on the same database, moves the label.
    let data_dir = rig.server.dir.path().join("data");
    let moved = std::process::Command::new(env!("CARGO_BIN_EXE_model-gateway"))
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .args(["prompt", "label", "email-template-gen", "production", "2"])
        .output()
        .unwrap();
    assert!(moved.status.success(), "{}", String::from_utf8_lossy(&moved.stderr));
    let written = Instant::now();
    let mut seen = None;
    while written.elapsed() < Duration::from_secs(3) {
        if system_sent().await.starts_with("Version two") {
            seen = Some(written.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delay = seen.expect("the running server never rendered the moved label");
    metric("prompt_label_propagation_ms", delay.as_millis());
    assert!(delay < Duration::from_secs(1), "took {delay:?}");
    // A pinned version never changes.
    let pinned = json!({ "prompt": "email-template-gen@1", "parameters": parameters() });
    assert_eq!(rig.post("/v1/chat/completions", &pinned).await.status(), 200);
    let sent = mock.recorded().pop().unwrap().body.unwrap();
    assert!(sent["messages"][0]["content"]
        .as_str()
        .unwrap()
        .starts_with("You write"));
}

#[tokio::test]
async fn the_gateways_policy_applies_after_the_prompt_before_admission_and_the_log_shows_what_was_sent() {
    let mock = MockUpstream::start().await.unwrap();
    let policy = ParamPolicy {
        defaults: vec![ParamValue {
            name: "top_p".into(),
            value: "0.9".into(),
        }],
        maxima: vec![ParamValue {
            name: "max_tokens".into(),
            value: "40".into(),
        }],
        denied: vec!["logit_bias".into()],
        ..ParamPolicy::default()
    };
    let rig = Rig::start(
        steady,
        vec![endpoint("e", ProviderKind::OpenAi, &mock.url())],
        |gateway| {
            gateway.param_policy = policy;
            gateway.log_payloads = true;
        },
    )
    .await;
    let manage = &rig.server.state.manage;
    let new = NewPrompt {
        name: "email-template-gen".into(),
        description: String::new(),
        gateways: Vec::new(),
        template: email_template("For {{ brand }}."),
    };
    op(manage).create_prompt(new).await.unwrap();
    // A key allowed 200 tokens a minute: the prompt's params ask 64 completion tokens, the
    // gateway caps them at 40 — the reservation must use the cap, or two requests would not fit.
    let key = op(manage)
        .create_key(NewKey {
            gateway: op(manage).gateway_id("g").await,
            name: "small".into(),
            limits: vec![parse_limit("tokens/minute=120").unwrap()],
            ..NewKey::default()
        })
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let secret = key.secret.expose().to_string();
    let body = json!({ "prompt": "email-template-gen", "parameters": parameters() });
    let response = post_as(&rig.server.url, &secret, "/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    let sent = mock.recorded().pop().unwrap().body.unwrap();
    assert_eq!(
        (sent["max_tokens"].as_u64(), sent["top_p"].as_f64()),
        (Some(40), Some(0.9)),
        "{sent}"
    );
    let log = &rig.logs(1).await[0];
    let logged: Value = serde_json::from_str(log.request_body.as_deref().unwrap()).unwrap();
    assert_eq!(logged["max_tokens"], 40, "the log shows what was sent: {logged}");
    assert_eq!(logged["messages"][0]["content"], "For Sun and Sands Resorts.");
    assert_eq!(log.prompt_parameters.as_deref().map(|p| p.contains("Joe")), Some(true));

    let biased =
        json!({ "model": "gpt-4o-mini", "messages": [{ "role": "user", "content": "hi" }], "logit_bias": { "1": 2 } });
    let response = rig.post("/v1/chat/completions", &biased).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["param"], "logit_bias", "{error}");
}
