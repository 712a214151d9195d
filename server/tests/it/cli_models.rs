//! Composite models, prompts and a gateway's parameter policy, managed with the
//! `model-gateway` binary as a user runs it.

use crate::cli::{text, Cli};
use serde_json::json;

#[test]
fn composite_models_of_every_kind_are_managed_from_the_command_line() {
    let cli = Cli::new();
    let ok = |args: &[&str]| cli.ok(args);
    for name in ["mini", "large"] {
        let url = "http://127.0.0.1:9/v1";
        ok(&[
            "endpoint",
            "add",
            "--name",
            name,
            "--provider",
            "openai_compatible",
            "--url",
            url,
            "--model",
            name,
        ]);
    }
    ok(&["gateway", "add", "--name", "prod", "--endpoints", "mini,large"]);
    let add = |extra: &[&str]| {
        let mut args = vec!["composite", "add", "--gateway", "prod"];
        args.extend_from_slice(extra);
        cli.run(&args)
    };
    let added = add(&[
        "--name",
        "a-80-b-20",
        "--kind",
        "ab",
        "--member",
        "a:mini=0.8",
        "--member",
        "b:large=0.2",
    ]);
    assert!(
        text(&added).contains("Added composite model a-80-b-20 to prod."),
        "{}",
        text(&added)
    );
    let judged = add(&[
        "--name",
        "best-of",
        "--kind",
        "best",
        "--member",
        "mini",
        "--member",
        "large",
        "--judge",
        "large",
        "--rubric",
        "Prefer the shorter answer.",
    ]);
    assert!(judged.status.success(), "{}", text(&judged));
    let listed = ok(&["composite", "list", "--gateway", "prod"]);
    assert!(
        listed.contains("a:mini=0.8,b:large=0.2") && listed.contains("best-of"),
        "{listed}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&["composite", "list", "--json"])).unwrap();
    let best = (json.as_array().unwrap().iter())
        .find(|c| c["name"] == "best-of")
        .unwrap();
    assert_eq!(
        (best["kind"].as_str(), best["judge"].as_str()),
        (Some("best"), Some("large"))
    );
    assert_eq!(best["rubric"], "Prefer the shorter answer.");

    // Refusals name what is wrong, and nothing is written.
    let uneven = add(&[
        "--name",
        "uneven",
        "--kind",
        "ab",
        "--member",
        "a:mini=0.5",
        "--member",
        "b:large=0.4",
    ]);
    assert!(
        !uneven.status.success() && text(&uneven).contains("members"),
        "{}",
        text(&uneven)
    );
    let judgeless = add(&[
        "--name",
        "judgeless",
        "--kind",
        "best",
        "--member",
        "mini",
        "--member",
        "large",
    ]);
    assert!(
        !judgeless.status.success() && text(&judgeless).contains("judge"),
        "{}",
        text(&judgeless)
    );
    let listed = ok(&["composite", "list"]);
    assert!(!listed.contains("uneven") && !listed.contains("judgeless"), "{listed}");

    ok(&[
        "composite",
        "update",
        "--gateway",
        "prod",
        "--name",
        "best-of",
        "--rubric",
        "",
    ]);
    let json: serde_json::Value = serde_json::from_str(&ok(&["composite", "list", "--json"])).unwrap();
    let best = (json.as_array().unwrap().iter())
        .find(|c| c["name"] == "best-of")
        .unwrap();
    assert_eq!(
        best["rubric"],
        serde_json::Value::Null,
        "an empty rubric is the default again"
    );
    assert!(ok(&["composite", "remove", "--gateway", "prod", "--name", "best-of"])
        .contains("Removed composite model best-of from prod."));
    assert!(!ok(&["composite", "list"]).contains("best-of"));
}

#[test]
fn prompts_are_created_versioned_labelled_shown_and_rendered_from_the_command_line() {
    let cli = Cli::new();
    let ok = |args: &[&str]| cli.ok(args);
    let file = |name: &str, system: &str| {
        let path = cli.dir.path().join(name);
        let yaml = format!(
            "messages:\n  - role: system\n    content: \"{system}\"\n  - role: user\n    content: \"Write {{{{ templatecount }}}} emails for {{{{ firstname }}}}.\"\n\
             model: gpt-4o-mini\nparams:\n  temperature: 0.2\nparameters:\n  brand: {{ type: string, required: true }}\n  \
             firstname: {{ type: string, required: true, description: The reader }}\n  templatecount: {{ type: integer, default: 3 }}\n"
        );
        std::fs::write(&path, yaml).unwrap();
        path.to_str().unwrap().to_string()
    };
    let first = file("v1.yaml", "You write for {{ brand }}.");
    let second = file("v2.yaml", "Version two, for {{ brand }}.");
    assert!(
        ok(&["prompt", "create", "--name", "email-template-gen", "--file", &first])
            .contains("Created prompt email-template-gen (version 1).")
    );
    assert!(ok(&["prompt", "version", "email-template-gen", "--file", &second]).contains("Added version 2"));
    assert!(ok(&["prompt", "label", "email-template-gen", "production", "1"]).contains("is version 1"));

    let rendered = ok(&[
        "prompt",
        "render",
        "email-template-gen",
        "--param",
        "brand=Sun and Sands",
        "--param",
        "firstname=Joe",
    ]);
    let rendered: serde_json::Value = serde_json::from_str(&rendered).unwrap();
    assert_eq!(rendered["messages"][0]["content"], "You write for Sun and Sands.");
    assert_eq!(rendered["messages"][1]["content"], "Write 3 emails for Joe.");
    assert_eq!(
        (rendered["model"].as_str(), rendered["temperature"].as_f64()),
        (Some("gpt-4o-mini"), Some(0.2))
    );
    let pinned = ok(&[
        "prompt",
        "render",
        "email-template-gen@2",
        "--param",
        "brand=B",
        "--param",
        "firstname=J",
        "--param",
        "templatecount=5",
    ]);
    assert!(
        pinned.contains("Version two, for B.") && pinned.contains("Write 5 emails for J."),
        "{pinned}"
    );

    let shown = ok(&["prompt", "show", "email-template-gen"]);
    assert!(
        shown.contains("version 1 of 2") && shown.contains("production → 1"),
        "{shown}"
    );
    assert!(
        shown.contains("You write for {{ brand }}.") && shown.contains("The reader"),
        "{shown}"
    );
    let listed = ok(&["prompt", "list"]);
    assert!(
        listed.contains("email-template-gen") && listed.contains("production=1"),
        "{listed}"
    );

    // Refusals name what is wrong.
    let missing = cli.run(&["prompt", "render", "email-template-gen", "--param", "brand=B"]);
    assert!(
        !missing.status.success() && text(&missing).contains("firstname"),
        "{}",
        text(&missing)
    );
    let sloppy = cli.dir.path().join("sloppy.yaml");
    std::fs::write(&sloppy, "messages:\n  - role: user\n    content: \"Hi {{ nobody }}\"\n").unwrap();
    let refused = cli.run(&[
        "prompt",
        "version",
        "email-template-gen",
        "--file",
        sloppy.to_str().unwrap(),
    ]);
    assert!(
        !refused.status.success() && text(&refused).contains("nobody"),
        "{}",
        text(&refused)
    );
    let unknown_field = cli.dir.path().join("typo.yaml");
    std::fs::write(&unknown_field, "mesages: []\n").unwrap();
    let refused = cli.run(&[
        "prompt",
        "create",
        "--name",
        "typo",
        "--file",
        unknown_field.to_str().unwrap(),
    ]);
    assert!(
        !refused.status.success() && text(&refused).contains("mesages"),
        "{}",
        text(&refused)
    );
    assert!(ok(&["prompt", "remove", "email-template-gen"]).contains("Removed prompt email-template-gen."));
    assert!(!ok(&["prompt", "list"]).contains("email-template-gen"));
}

#[test]
fn a_gateways_parameter_policy_is_set_replaced_and_removed_from_the_command_line() {
    let cli = Cli::new();
    let ok = |args: &[&str]| cli.ok(args);
    let url = "http://127.0.0.1:9/v1";
    ok(&[
        "endpoint",
        "add",
        "--name",
        "e",
        "--provider",
        "openai_compatible",
        "--url",
        url,
        "--model",
        "m",
    ]);
    ok(&[
        "gateway",
        "add",
        "--name",
        "prod",
        "--endpoints",
        "e",
        "--param-max",
        "max_tokens=1024",
        "--param-deny",
        "logit_bias",
    ]);
    let policy = |cli: &Cli| {
        let gateways: serde_json::Value = serde_json::from_str(&cli.ok(&["gateway", "list", "--json"])).unwrap();
        gateways[0]["param_policy"].clone()
    };
    let set = policy(&cli);
    assert_eq!(set["maxima"][0], json!({ "name": "max_tokens", "value": "1024" }));
    assert_eq!(set["denied"], json!(["logit_bias"]));
    // Text that is not JSON is a string; the flags replace the whole policy.
    ok(&[
        "gateway",
        "update",
        "prod",
        "--param-default",
        "temperature=0.2",
        "--param-override",
        "user=gateway",
    ]);
    let replaced = policy(&cli);
    assert_eq!(
        replaced["defaults"][0],
        json!({ "name": "temperature", "value": "0.2" })
    );
    assert_eq!(
        replaced["overrides"][0],
        json!({ "name": "user", "value": "\"gateway\"" })
    );
    assert_eq!(replaced["maxima"], json!([]));
    let refused = cli.run(&["gateway", "update", "prod", "--param-max", "max_tokens=lots"]);
    assert!(
        !refused.status.success() && text(&refused).contains("must be a number"),
        "{}",
        text(&refused)
    );
    let refused = cli.run(&["gateway", "update", "prod", "--param-override", "model=gpt-4o"]);
    assert!(
        !refused.status.success() && text(&refused).contains("`model`"),
        "{}",
        text(&refused)
    );
    ok(&["gateway", "update", "prod", "--no-param-policy"]);
    assert_eq!(policy(&cli)["defaults"], json!([]));
}
