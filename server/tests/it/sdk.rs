//! The official SDKs against the real server: the `openai` Python package (chat, streaming
//! chat with and without usage, embeddings, models, errors, the Azure client with the `auto`
//! deployment, a limited key's `RateLimitError`) and the `anthropic` package (`/v1/messages`,
//! streamed and not).
//!
//! The packages live in `.venv/` (`scripts/setup.sh --test` installs them from
//! `server/tests/sdk/requirements.txt`); `MGW_TEST_PYTHON` names another interpreter. Without
//! one the tests say so and pass, except under CI, where they fail.

use crate::composites::{composite, member};
use crate::operator::op;
use crate::rig::{endpoint, steady, Rig};
use app::types::ProviderKind;
use app::types::{CompositeKind, MultiMode, NewComposite, NewKey, NewPrompt};
use server::{manage::limits::parse_limit, testing::MockUpstream};
use std::path::PathBuf;

pub fn python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var_os("MGW_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {} does not exist: run scripts/setup.sh --test",
        python.display()
    );
    eprintln!(
        "NOTE: {} not found; the SDK tests are skipped (scripts/setup.sh --test installs it)",
        python.display()
    );
    None
}

async fn run(script: &str, checks: &[&str]) {
    run_with_limits(script, checks, &[]).await;
}

/// Runs `script` with a key holding `limits` (the rig's own key when there are none).
async fn run_with_limits(script: &str, checks: &[&str], limits: &[&str]) {
    run_on(script, checks, limits, &[], &[]).await;
}

/// Runs `script` against a gateway over endpoints `mock` and `other` (both the mock) with these
/// composite models, and a key holding `limits` (the rig's own key when there are none).
async fn run_on(script: &str, checks: &[&str], limits: &[&str], composites: &[NewComposite], prompts: &[NewPrompt]) {
    let Some(python) = python() else { return };
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        steady,
        vec![
            endpoint("mock", ProviderKind::OpenAi, &mock.url()),
            endpoint("other", ProviderKind::OpenAi, &mock.url()),
        ],
        |_| {},
    )
    .await;
    let manage = &rig.server.state.manage;
    for composite in composites {
        let new = NewComposite {
            gateway_id: op(manage).gateway_id("g").await,
            ..composite.clone()
        };
        op(manage).create_composite(new).await.unwrap();
    }
    for prompt in prompts {
        op(manage).create_prompt(prompt.clone()).await.unwrap();
    }
    rig.server.state.registry.refresh(manage).await.unwrap();
    let key = if limits.is_empty() {
        rig.key.clone()
    } else {
        let new = NewKey {
            gateway: op(&rig.server.state.manage).gateway_id("g").await,
            name: "limited".into(),
            limits: limits.iter().map(|l| parse_limit(l).unwrap()).collect(),
            ..NewKey::default()
        };
        let created = op(&rig.server.state.manage).create_key(new).await.unwrap();
        created.secret.expose().to_string()
    };
    script_passes(&python, script, &rig.server.url, &key, checks).await;
    assert!(mock.requests_received() > 0);
}

/// Runs `script` (in `tests/sdk/`) against the gateway at `url` with `key`; it must succeed
/// and print `<check> ok` for each check.
pub async fn script_passes(python: &std::path::Path, script: &str, url: &str, key: &str, checks: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk").join(script);
    let output = tokio::process::Command::new(python)
        .arg(&script)
        .arg(url)
        .arg(key)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{} failed:\n{stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    for check in checks {
        assert!(
            stdout.lines().any(|l| l == format!("{check} ok")),
            "{check} not reached:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn the_openai_sdk_chats_streams_and_embeds_through_the_gateway() {
    run(
        "openai_sdk.py",
        &[
            "chat",
            "headers",
            "stream",
            "stream usage",
            "embeddings",
            "models",
            "errors",
            "auth",
            "azure",
        ],
    )
    .await;
}

#[tokio::test]
async fn the_anthropic_sdk_sends_messages_through_the_gateway() {
    run("anthropic_sdk.py", &["messages", "stream", "errors"]).await;
}

/// RELIABILITY §4.2 through the SDK: a limited key's answers carry OpenAI's rate-limit headers,
/// and the SDK raises `RateLimitError` with them once the limit is reached.
#[tokio::test]
async fn the_openai_sdk_sees_rate_limits_as_openai_reports_them() {
    run_with_limits("openai_limits.py", &["headers", "rate limit"], &["requests/day=1"]).await;
}

/// Composite models (`ab`, `load`, `multi` answering with its first member, `best` with a
/// judge) answer the SDK normal objects (issue #21).
#[tokio::test]
async fn the_openai_sdk_gets_normal_completions_from_ab_load_first_answer_and_best_models() {
    let composites = [
        composite(
            "ab-test",
            CompositeKind::Ab,
            vec![member("a", "mock", 0.5), member("b", "other", 0.5)],
        ),
        composite(
            "spread",
            CompositeKind::Load,
            vec![member("", "mock", 1.0), member("", "other", 1.0)],
        ),
        NewComposite {
            mode: MultiMode::First,
            ..composite(
                "fastest",
                CompositeKind::Multi,
                vec![member("", "mock", 1.0), member("", "other", 1.0)],
            )
        },
        NewComposite {
            judge: Some("mock".into()),
            ..composite(
                "judged",
                CompositeKind::Best,
                vec![member("", "mock", 1.0), member("", "other", 1.0)],
            )
        },
    ];
    run_on(
        "openai_composites.py",
        &["ab", "load", "first", "best", "models"],
        &[],
        &composites,
        &[],
    )
    .await;
}

/// Named prompts (issue #22) through both SDKs: `extra_body` names the prompt and its
/// parameters; the answer is to the rendered request; a missing parameter is a `BadRequestError`
/// naming it.
#[tokio::test]
async fn both_sdks_call_a_named_prompt_with_its_parameters() {
    let prompt = NewPrompt {
        name: "email-template-gen".into(),
        description: String::new(),
        gateways: Vec::new(),
        template: crate::prompts::email_template("You write emails for {{ brand }}."),
    };
    run_on(
        "prompts_sdk.py",
        &["openai", "errors", "anthropic"],
        &[],
        &[],
        &[prompt],
    )
    .await;
}
