//! A composite model's and a prompt's own response cache settings (issue #24): a request naming
//! one goes by its settings instead of its gateway's — a prompt's first, then the composite's —
//! so either turns the cache on over a gateway that does not cache, or off over one that does;
//! without settings of their own they follow the gateway. A `multi` or `best` composite's answers
//! are made of several and are refused a cache of their own. Set as operators do: the CLI.

use crate::{
    cli::{text, Cli},
    composites::{composite, member},
    operator::op,
    prompts::email_template,
    rig::{self, Rig},
};
use app::types::{CacheMode, CacheSettings, Change, CompositeKind, CompositeUpdate, NewPrompt, ProviderKind};
use serde_json::{json, Value};
use server::{manage::ManageError, testing::MockUpstream};

fn exact() -> CacheSettings {
    CacheSettings {
        mode: CacheMode::Exact,
        ..CacheSettings::default()
    }
}

/// A rig whose gateway caches (or not) with composite `steady` (load over the endpoint) and
/// prompt `mail`, each with the settings given (`None`: the gateway's).
async fn rig(
    mock: &MockUpstream,
    gateway_caches: bool,
    composite_own: Option<CacheSettings>,
    prompt_own: Option<CacheSettings>,
) -> Rig {
    let rig = Rig::start(
        rig::steady,
        vec![rig::endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |gateway| {
            if gateway_caches {
                rig::caches(gateway);
            }
        },
    )
    .await;
    let manage = &rig.server.state.manage;
    let mut steady = composite("steady", CompositeKind::Load, vec![member("a", "a", 1.0)]);
    steady.gateway_id = op(manage).gateway_id("g").await;
    steady.cache = composite_own;
    op(manage).create_composite(steady).await.unwrap();
    let prompt = NewPrompt {
        name: "mail".into(),
        description: String::new(),
        gateways: Vec::new(),
        template: email_template("For {{ brand }}."),
    };
    op(manage).create_prompt(prompt).await.unwrap();
    op(manage).set_prompt_cache("mail", prompt_own).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    rig
}

/// What the cache said of each of two identical requests (`None`: nothing), and how many
/// reached the mock meanwhile.
async fn twice(rig: &Rig, mock: &MockUpstream, body: &Value) -> (Option<String>, Option<String>, u64) {
    let before = mock.requests_received();
    let mut said = Vec::new();
    for _ in 0..2 {
        let response = rig.post("/v1/chat/completions", body).await;
        assert_eq!(response.status(), 200);
        said.push((response.headers().get("x-mgw-cache")).map(|value| value.to_str().unwrap().to_string()));
    }
    (said[0].clone(), said[1].clone(), mock.requests_received() - before)
}

fn to(model: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "hello there" }] })
}

fn mail() -> Value {
    json!({ "prompt": "mail", "parameters": { "brand": "B", "firstname": "Ann" } })
}

fn said(what: &str) -> Option<String> {
    Some(what.into())
}

#[tokio::test]
async fn a_composite_or_a_prompt_with_a_cache_of_its_own_is_cached_over_a_gateway_that_does_not_cache() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock, false, Some(exact()), Some(exact())).await;
    assert_eq!(
        twice(&rig, &mock, &to("gpt-4o-mini")).await,
        (None, None, 2),
        "the gateway's own models"
    );
    assert_eq!(
        twice(&rig, &mock, &to("steady")).await,
        (said("miss"), said("hit"), 1),
        "the composite's"
    );
    assert_eq!(
        twice(&rig, &mock, &mail()).await,
        (said("miss"), said("hit"), 1),
        "the prompt's"
    );
}

#[tokio::test]
async fn a_composite_or_a_prompt_turns_its_gateways_cache_off_and_without_its_own_follows_it() {
    let mock = MockUpstream::start().await.unwrap();
    let off = CacheSettings::default();
    let rig = rig(&mock, true, Some(off.clone()), Some(off)).await;
    assert_eq!(
        twice(&rig, &mock, &to("gpt-4o-mini")).await,
        (said("miss"), said("hit"), 1)
    );
    assert_eq!(
        twice(&rig, &mock, &to("steady")).await,
        (None, None, 2),
        "the composite's: off"
    );
    assert_eq!(twice(&rig, &mock, &mail()).await, (None, None, 2), "the prompt's: off");

    // Back to the gateway's: cached again.
    let manage = &rig.server.state.manage;
    let update = CompositeUpdate {
        cache: Change::Clear,
        ..CompositeUpdate::default()
    };
    assert_eq!(
        op(manage).update_composite("g", "steady", update).await.unwrap().cache,
        None
    );
    op(manage).set_prompt_cache("mail", None).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    assert_eq!(twice(&rig, &mock, &to("steady")).await, (said("miss"), said("hit"), 1));
    assert_eq!(twice(&rig, &mock, &mail()).await, (said("miss"), said("hit"), 1));
}

#[tokio::test]
async fn a_multi_or_best_composite_is_refused_a_cache_of_its_own_and_settings_are_checked() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock, false, None, None).await;
    let manage = &rig.server.state.manage;
    let mut both = composite(
        "both",
        CompositeKind::Multi,
        vec![member("a", "a", 1.0), member("b", "a", 1.0)],
    );
    both.gateway_id = op(manage).gateway_id("g").await;
    both.cache = Some(exact());
    let refused = op(manage).create_composite(both.clone()).await.unwrap_err();
    assert!(
        matches!(&refused, ManageError::Invalid { field, message } if *field == "cache" && message.contains("multi")),
        "{refused:?}"
    );
    // Off is no cache: allowed.
    both.cache = Some(CacheSettings::default());
    op(manage).create_composite(both).await.unwrap();

    let week = CacheSettings {
        ttl_s: 7 * 86_400,
        ..exact()
    };
    let refused = op(manage).set_prompt_cache("mail", Some(week)).await.unwrap_err();
    assert!(
        matches!(&refused, ManageError::Invalid { field, .. } if *field == "cache_ttl"),
        "{refused:?}"
    );
}

#[test]
fn a_composites_and_a_prompts_cache_are_set_from_the_command_line() {
    let cli = Cli::new();
    cli.gateway_over_one_endpoint("g");
    let shown = cli.ok(&[
        "composite",
        "add",
        "--gateway",
        "g",
        "--name",
        "steady",
        "--kind",
        "load",
        "--member",
        "mini",
        "--cache",
        "exact",
        "--cache-ttl",
        "1h",
        "--json",
    ]);
    let composite: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        composite["cache"],
        json!({ "mode": "exact", "ttl_s": 3600, "max_entry_bytes": 1_048_576, "collapse": false,
                "embedding_model": null, "similarity": 0.95 })
    );
    // Only what is given changes; --cache-from-gateway drops its own.
    let update = |flag: &str| {
        let shown = cli.ok(&[
            "composite",
            "update",
            "--gateway",
            "g",
            "--name",
            "steady",
            flag,
            "--json",
        ]);
        serde_json::from_str::<Value>(&shown).unwrap()["cache"].clone()
    };
    let collapsing = update("--cache-collapse");
    assert_eq!(
        (&collapsing["ttl_s"], &collapsing["collapse"]),
        (&json!(3600), &json!(true))
    );
    assert_eq!(update("--cache-from-gateway"), Value::Null);
    let refused = cli.run(&[
        "composite",
        "add",
        "--gateway",
        "g",
        "--name",
        "all",
        "--kind",
        "multi",
        "--member",
        "a:mini",
        "--member",
        "b:mini",
        "--cache",
        "exact",
    ]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("cache"), "{}", text(&refused));

    let template = cli.dir.path().join("mail.yaml");
    std::fs::write(&template, "messages:\n  - role: user\n    content: hello\n").unwrap();
    cli.ok(&[
        "prompt",
        "create",
        "--name",
        "mail",
        "--file",
        template.to_str().unwrap(),
    ]);
    let shown = cli.ok(&[
        "prompt",
        "cache",
        "mail",
        "--cache",
        "exact",
        "--cache-ttl",
        "90 minutes",
    ]);
    assert!(shown.contains("cached for 5400 s"), "{shown}");
    let shown = cli.ok(&["prompt", "cache", "mail", "--cache-from-gateway"]);
    assert!(shown.contains("uses its gateway's"), "{shown}");
    let refused = cli.run(&["prompt", "cache", "mail"]);
    assert!(!refused.status.success(), "nothing to change");
}
