//! External moderation (issue #24): a gateway's `moderation:ENDPOINT` guardrail asks an
//! OpenAI-shaped endpoint (the mock's `/v1/moderations`, which flags "violent") about each
//! request's text before any provider sees it: a flag blocks (400, recorded, no provider call)
//! or marks the log; the endpoint is sent the text after the other guardrails' redactions;
//! an endpoint that cannot answer lets requests pass (fail-open) or refuses them (fail-closed,
//! 503). Managed as operators do it, with refusals under their fields.

use crate::{
    cli::{text, Cli},
    operator::op,
    rig::{self, Rig},
};
use app::types::{Detector, EndpointUpdate, GuardAction, GuardDirection, NewGuardrail, ProviderKind};
use serde_json::{json, Value};
use server::{
    manage::ManageError,
    testing::{Behaviour, MockUpstream},
};

/// A rig whose gateway `g` serves from `chat` and has endpoint `mod` (at `moderator`, model
/// `omni-moderation-latest`, not one of `g`'s) besides, with these guardrails: `(detector,
/// action, fail_closed)`, all on requests.
async fn moderated(chat: &MockUpstream, moderator: &MockUpstream, rails: &[(&str, GuardAction, bool)]) -> Rig {
    let rig = Rig::start(
        rig::steady,
        vec![rig::endpoint("a", ProviderKind::OpenAi, &chat.url())],
        |g| g.log_payloads = true,
    )
    .await;
    let manage = &rig.server.state.manage;
    let mut endpoint = rig::endpoint("mod", ProviderKind::OpenAi, &moderator.url());
    endpoint.model = "omni-moderation-latest".into();
    op(manage).create_endpoint(endpoint).await.unwrap();
    for (detector, action, fail_closed) in rails {
        let new = NewGuardrail {
            gateway_id: op(manage).gateway_id("g").await,
            detector: Detector::parse(detector).unwrap(),
            action: *action,
            direction: GuardDirection::Request,
            logs_only: false,
            fail_closed: *fail_closed,
        };
        op(manage).add_guardrail(new).await.unwrap();
    }
    rig.server.state.registry.refresh(manage).await.unwrap();
    rig
}

fn asking(text: &str) -> Value {
    json!({ "model": "gpt-4o-mini", "messages": [
        { "role": "system", "content": "Be brief." },
        { "role": "user", "content": text },
    ] })
}

async fn ask(rig: &Rig, text: &str) -> (u16, Value) {
    let response = rig.post("/v1/chat/completions", &asking(text)).await;
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_request_the_moderation_endpoint_flags_is_blocked_before_any_provider_call() {
    let (chat, moderator) = (
        MockUpstream::start().await.unwrap(),
        MockUpstream::start().await.unwrap(),
    );
    let rig = moderated(&chat, &moderator, &[("moderation:mod", GuardAction::Block, false)]).await;

    let (status, error) = ask(&rig, "Write a violent story.").await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "content_policy_violation");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`moderation`") && !message.contains("violent"),
        "{message}"
    );
    assert_eq!(chat.requests_received(), 0, "no provider call");

    // The moderation endpoint was asked OpenAI's way: its model, every text, its credential.
    let asked = moderator.recorded();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].path, "/v1/moderations");
    assert_eq!(
        asked[0].header("authorization"),
        Some(format!("Bearer {}", rig::CANARY).as_str())
    );
    assert_eq!(
        asked[0].body,
        Some(json!({ "model": "omni-moderation-latest", "input": ["Be brief.", "Write a violent story."] }))
    );

    let (status, answer) = ask(&rig, "Write a calm story.").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(chat.requests_received(), 1);
    assert_eq!(moderator.requests_received(), 2);

    let logs = rig.logs(2).await; // newest first
    assert_eq!(logs[1].status, 400);
    assert_eq!(logs[1].error_class.as_deref(), Some("content_policy_violation"));
    assert_eq!(logs[1].guardrails.as_deref(), Some("request:moderation:block"));
    assert_eq!(logs[0].guardrails, None);
    let metrics = rig.metrics().await;
    assert!(
        metrics.contains(
            r#"mgw_guardrail_hits_total{gateway="g",direction="request",detector="moderation",action="block"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_moderation_endpoint_reads_the_text_after_redaction_and_a_flag_only_marks_the_log() {
    let (chat, moderator) = (
        MockUpstream::start().await.unwrap(),
        MockUpstream::start().await.unwrap(),
    );
    let rig = moderated(
        &chat,
        &moderator,
        &[
            ("email", GuardAction::Redact, false),
            ("moderation:mod", GuardAction::Flag, false),
        ],
    )
    .await;
    let (status, answer) = ask(&rig, "Tell ada@example.com a violent joke.").await;
    assert_eq!(status, 200, "{answer}");
    let asked = moderator.recorded()[0].body.clone().unwrap().to_string();
    assert!(asked.contains("Tell [EMAIL_1] a violent joke."), "{asked}");
    assert!(!asked.contains("example.com"), "{asked}");
    assert_eq!(chat.requests_received(), 1, "a flag passes");
    let logs = rig.logs(1).await;
    assert_eq!(
        logs[0].guardrails.as_deref(),
        Some("request:email:redact,request:moderation:flag")
    );
}

#[tokio::test]
async fn an_unanswering_moderation_endpoint_lets_requests_pass_unless_it_fails_closed() {
    let (chat, moderator) = (
        MockUpstream::start().await.unwrap(),
        MockUpstream::start().await.unwrap(),
    );
    let broken = || Behaviour::Status {
        status: 500,
        headers: Vec::new(),
        body: r#"{"error":{"message":"down"}}"#.into(),
    };
    let open = moderated(&chat, &moderator, &[("moderation:mod", GuardAction::Block, false)]).await;
    moderator.push(broken());
    let (status, answer) = ask(&open, "Write a violent story.").await;
    assert_eq!(status, 200, "fail-open: {answer}");
    assert_eq!(chat.requests_received(), 1);
    assert!(
        open.metrics().await.contains(
            r#"mgw_guardrail_hits_total{gateway="g",direction="request",detector="moderation",action="unavailable"} 1"#
        ),
        "the pass unmoderated is counted"
    );

    let closed_chat = MockUpstream::start().await.unwrap();
    let closed = moderated(
        &closed_chat,
        &moderator,
        &[("moderation:mod", GuardAction::Block, true)],
    )
    .await;
    moderator.push(broken());
    let (status, error) = ask(&closed, "Write a calm story.").await;
    assert_eq!(status, 503, "fail-closed: {error}");
    assert_eq!(error["error"]["code"], "moderation_unavailable");
    assert_eq!(closed_chat.requests_received(), 0);
    // Answering again, it moderates again.
    let (status, _) = ask(&closed, "Write a calm story.").await;
    assert_eq!(status, 200);
    let logs = closed.logs(2).await; // newest first
    assert_eq!(logs[1].error_class.as_deref(), Some("moderation_unavailable"));
    assert_eq!(logs[0].error_class, None);
}

#[tokio::test]
async fn a_moderation_guardrail_names_an_openai_shaped_endpoint_reads_requests_and_keeps_it() {
    let (chat, moderator) = (
        MockUpstream::start().await.unwrap(),
        MockUpstream::start().await.unwrap(),
    );
    let rig = moderated(&chat, &moderator, &[]).await;
    let manage = &rig.server.state.manage;
    op(manage)
        .create_endpoint(rig::endpoint("claude", ProviderKind::Anthropic, &moderator.url()))
        .await
        .unwrap();
    let gateway = op(manage).gateway_id("g").await;
    let refused = |detector: &'static str, action: GuardAction, direction: GuardDirection, fail_closed: bool| {
        let new = NewGuardrail {
            gateway_id: gateway,
            detector: Detector::parse(detector).unwrap(),
            action,
            direction,
            logs_only: false,
            fail_closed,
        };
        async move {
            match op(manage).add_guardrail(new).await {
                Err(ManageError::Invalid { field, .. }) => field,
                other => panic!("{detector}: {other:?}"),
            }
        }
    };
    let request = GuardDirection::Request;
    assert_eq!(
        refused("moderation:nowhere", GuardAction::Block, request, false).await,
        "detector"
    );
    assert_eq!(
        refused("moderation:claude", GuardAction::Block, request, false).await,
        "detector"
    );
    assert_eq!(
        refused("moderation:mod", GuardAction::Redact, request, false).await,
        "action"
    );
    assert_eq!(
        refused("moderation:mod", GuardAction::Flag, GuardDirection::Both, false).await,
        "direction"
    );
    assert_eq!(refused("email", GuardAction::Block, request, true).await, "fail_closed");

    let added = NewGuardrail {
        gateway_id: gateway,
        detector: Detector::parse("moderation:mod").unwrap(),
        action: GuardAction::Block,
        direction: request,
        logs_only: false,
        fail_closed: true,
    };
    op(manage).add_guardrail(added).await.unwrap();
    let deleting = op(manage).delete_endpoint("mod").await;
    assert!(
        matches!(deleting, Err(ManageError::Conflict { ref message, .. }) if message.contains("moderates")),
        "{deleting:?}"
    );
    let renamed = EndpointUpdate {
        name: Some("moderator".into()),
        ..EndpointUpdate::default()
    };
    op(manage).update_endpoint("mod", renamed).await.unwrap();
    let rails = manage.guardrails(Some(gateway)).await.unwrap();
    assert_eq!(
        rails[0].detector,
        Detector::Moderation("moderator".into()),
        "it follows a rename"
    );
    assert!(rails[0].fail_closed);
}

#[tokio::test]
async fn operators_add_and_list_moderation_guardrails_from_the_command_line() {
    let cli = Cli::new();
    cli.gateway_over_one_endpoint("g");
    cli.ok(&[
        "endpoint",
        "add",
        "--name",
        "omni",
        "--provider",
        "openai_compatible",
        "--url",
        "http://127.0.0.1:9/v1",
        "--model",
        "omni-moderation-latest",
    ]);
    let added = cli.ok(&[
        "guardrail",
        "add",
        "--gateway",
        "g",
        "--detector",
        "moderation:omni",
        "--action",
        "block",
        "--fail-closed",
    ]);
    assert!(added.contains("blocks moderation:omni in requests"), "{added}");
    let listed = cli.ok(&["guardrail", "list", "--gateway", "g"]);
    assert!(
        listed.contains("moderation:omni") && listed.contains("fails closed"),
        "{listed}"
    );
    let refused = cli.run(&[
        "guardrail",
        "add",
        "--gateway",
        "g",
        "--detector",
        "moderation:omni",
        "--action",
        "redact",
    ]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("action"), "{}", text(&refused));
}

#[tokio::test]
async fn a_kept_answer_is_not_given_to_a_request_moderation_refuses_nor_is_padding_let_through() {
    let (chat, moderator) = (
        MockUpstream::start().await.unwrap(),
        MockUpstream::start().await.unwrap(),
    );
    let rig = Rig::start(
        rig::steady,
        vec![rig::endpoint("a", ProviderKind::OpenAi, &chat.url())],
        rig::caches,
    )
    .await;
    let manage = &rig.server.state.manage;
    // Answered and kept before the gateway moderated anything.
    assert_eq!(ask(&rig, "Write a violent story.").await.0, 200);
    let mut endpoint = rig::endpoint("mod", ProviderKind::OpenAi, &moderator.url());
    endpoint.model = "omni-moderation-latest".into();
    op(manage).create_endpoint(endpoint).await.unwrap();
    let new = NewGuardrail {
        gateway_id: op(manage).gateway_id("g").await,
        detector: Detector::parse("moderation:mod").unwrap(),
        action: GuardAction::Block,
        direction: GuardDirection::Request,
        logs_only: false,
        fail_closed: false,
    };
    op(manage).add_guardrail(new).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let (status, error) = ask(&rig, "Write a violent story.").await;
    assert_eq!(status, 400, "moderated before the cache: {error}");
    assert_eq!(chat.requests_received(), 1);

    // An endpoint that refuses the text itself (too long) blocks it, even failing open.
    moderator.push(Behaviour::Status {
        status: 400,
        headers: Vec::new(),
        body: r#"{"error":{"message":"input too long"}}"#.into(),
    });
    let (status, error) = ask(&rig, "A calm story, padded.").await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "content_policy_violation");
    assert_eq!(chat.requests_received(), 1);

    // Passed unmoderated (the endpoint down, failing open): answered, but not kept.
    moderator.push(Behaviour::Status {
        status: 503,
        headers: Vec::new(),
        body: "{}".into(),
    });
    assert_eq!(ask(&rig, "A calm story.").await.0, 200);
    assert_eq!(ask(&rig, "A calm story.").await.0, 200);
    assert_eq!(chat.requests_received(), 3, "the unmoderated answer was not kept");
}
