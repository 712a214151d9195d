//! The `model-gateway` binary as a user runs it.

use std::process::{Command, Output, Stdio};

fn model_gateway(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_model-gateway"));
    // A clean environment: nothing from the developer's shell (MGW_DATABASE_URL, keys…) leaks in.
    command
        .args(args)
        .stdin(Stdio::null())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// The CLI against a data directory of its own.
pub struct Cli {
    pub dir: tempfile::TempDir,
}

impl Cli {
    pub fn new() -> Self {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs `model-gateway --data-dir <dir> <args>`.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--data-dir", self.dir.path().to_str().unwrap()];
        all.extend_from_slice(args);
        model_gateway(&all, &[])
    }

    /// Runs it and returns its standard output, failing the test if it failed.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "{args:?}: {}", text(&output));
        String::from_utf8(output.stdout).unwrap()
    }

    /// Adds endpoint `mini` (at a closed port) and gateway `gateway` over it.
    pub fn gateway_over_one_endpoint(&self, gateway: &str) {
        self.ok(&[
            "endpoint",
            "add",
            "--name",
            "mini",
            "--provider",
            "openai_compatible",
            "--url",
            "http://127.0.0.1:9/v1",
            "--model",
            "mini",
        ]);
        self.ok(&["gateway", "add", "--name", gateway, "--endpoints", "mini"]);
    }
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn help_documents_every_subcommand_and_flag() {
    let cases: [(&[&str], &[&str]); 10] = [
        (
            &["--help"],
            &[
                "serve",
                "admin",
                "endpoint",
                "gateway",
                "key",
                "check-config",
                "--config",
                "--database-url",
                "--data-dir",
                "MGW_",
            ],
        ),
        (
            &["serve", "--help"],
            &[
                "--bind",
                "--public-url",
                "--site-root",
                "--log-format",
                "--config",
                "--database-url",
                "--data-dir",
            ],
        ),
        (&["admin", "--help"], &["create"]),
        (
            &["admin", "create", "--help"],
            &["--email", "--role", "MGW_ADMIN_PASSWORD"],
        ),
        (
            &["endpoint", "add", "--help"],
            &[
                "--name",
                "--provider",
                "--url",
                "--api-key",
                "--model",
                "--deployment",
                "--api-version",
                "--rpm",
                "--tpm",
                "--json",
            ],
        ),
        (
            &["gateway", "add", "--help"],
            &["--name", "--endpoints", "--strategy", "--json"],
        ),
        (
            &["key", "create", "--help"],
            &[
                "--gateway",
                "--name",
                "--parent",
                "--limit",
                "requests/minute=100",
                "--json",
            ],
        ),
        (
            &["key", "--help"],
            &["create", "list", "update", "rotate", "reset", "revoke"],
        ),
        (
            &["key", "update", "--help"],
            &[
                "--rename",
                "--models",
                "--all-models",
                "--expires-in",
                "--no-expiry",
                "--enabled",
                "--limit",
                "--no-limits",
            ],
        ),
        (&["price", "--help"], &["list", "set", "remove"]),
    ];
    for (args, expected) in cases {
        let output = model_gateway(args, &[]);
        assert!(output.status.success(), "{args:?}");
        let help = text(&output);
        for word in expected {
            assert!(
                help.contains(word),
                "`model-gateway {}` lacks {word}:\n{help}",
                args.join(" ")
            );
        }
    }
}

#[test]
fn admin_create_takes_the_password_from_the_environment_and_refuses_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let args = ["--data-dir", data_dir, "admin", "create", "--email", "Ops@Example.com"];
    let created = model_gateway(&args, &[("MGW_ADMIN_PASSWORD", "a long enough password")]);
    assert!(created.status.success(), "{}", text(&created));
    assert!(text(&created).contains("Created admin ops@example.com (role admin)."));
    assert!(
        !text(&created).contains("a long enough password"),
        "the password is never printed"
    );

    let again = model_gateway(&args, &[("MGW_ADMIN_PASSWORD", "a long enough password")]);
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));
}

#[test]
fn admin_create_explains_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let short = model_gateway(
        &["--data-dir", data_dir, "admin", "create", "--email", "a@example.com"],
        &[("MGW_ADMIN_PASSWORD", "short")],
    );
    assert!(!short.status.success());
    assert!(
        text(&short).contains("password: must be 12 to 1024 characters long"),
        "{}",
        text(&short)
    );

    let no_password = model_gateway(
        &["--data-dir", data_dir, "admin", "create", "--email", "a@example.com"],
        &[],
    );
    assert!(!no_password.status.success());
    assert!(
        text(&no_password).contains("MGW_ADMIN_PASSWORD"),
        "{}",
        text(&no_password)
    );

    let bad_email = model_gateway(
        &["--data-dir", data_dir, "admin", "create", "--email", "nope"],
        &[("MGW_ADMIN_PASSWORD", "a long enough password")],
    );
    assert!(
        text(&bad_email).contains("email: is not a valid e-mail address"),
        "{}",
        text(&bad_email)
    );
}

#[test]
fn a_bad_configuration_is_refused_naming_the_key() {
    let output = model_gateway(&["check-config"], &[("MGW_DATABASE__MAX_CONNECTIONS", "0")]);
    assert!(!output.status.success());
    assert!(text(&output).contains("database.max_connections"), "{}", text(&output));
    let output = model_gateway(&["check-config"], &[("MGW_BIND", "not an address")]);
    assert!(!output.status.success());
    assert!(text(&output).to_lowercase().contains("bind"), "{}", text(&output));
}

#[test]
fn check_config_prints_the_effective_configuration_without_secrets() {
    let output = model_gateway(
        &["--data-dir", "/srv/mgw", "check-config"],
        &[("MGW_MASTER_KEY", &"cd".repeat(32))],
    );
    assert!(output.status.success(), "{}", text(&output));
    let printed = text(&output);
    assert!(printed.contains("/srv/mgw"));
    assert!(
        printed.contains("<redacted>") && !printed.contains(&"cd".repeat(32)),
        "{printed}"
    );
}

#[test]
fn serve_says_how_to_create_the_first_admin() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_model-gateway"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the log on a thread, so a server that never says "listening" fails the test
    // (after a bounded wait) instead of hanging it.
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    while let Ok(line) = received.recv_timeout(std::time::Duration::from_secs(20)) {
        log.push_str(&line);
        log.push('\n');
        if line.contains("listening on") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(log.contains("model-gateway admin create --email"), "{log}");
    assert!(dir.path().join("master.key").exists() && dir.path().join("key-hash.secret").exists());
}

/// The README's flow: an endpoint, a gateway and a key from the command line.
#[test]
fn endpoints_gateways_and_keys_are_managed_from_the_command_line() {
    let cli = Cli::new();
    let run = |args: &[&str]| cli.run(args);
    let ok = |args: &[&str]| cli.ok(args);

    ok(&[
        "endpoint",
        "add",
        "--name",
        "local",
        "--provider",
        "openai_compatible",
        "--url",
        "http://127.0.0.1:9/v1",
        "--model",
        "gpt-4o-mini",
    ]);
    let added = ok(&[
        "endpoint",
        "add",
        "--name",
        "cloud",
        "--provider",
        "openai",
        "--api-key",
        "sk-canary-cli-1",
        "--model",
        "gpt-4o-mini",
        "--json",
    ]);
    let added: serde_json::Value = serde_json::from_str(&added).unwrap();
    assert_eq!(added["has_credential"], true);
    assert_eq!(added["base_url"], "https://api.openai.com/v1");
    let listed = ok(&["endpoint", "list"]);
    assert!(
        listed.starts_with("NAME") && listed.contains("cloud") && listed.contains("local"),
        "{listed}"
    );
    assert!(!listed.contains("canary") && !ok(&["endpoint", "list", "--json"]).contains("canary"));

    assert!(ok(&[
        "gateway",
        "add",
        "--name",
        "prod",
        "--endpoints",
        "local,cloud:2",
        "--strategy",
        "weighted"
    ])
    .contains("Added gateway prod."));
    let gateways: serde_json::Value = serde_json::from_str(&ok(&["gateway", "list", "--json"])).unwrap();
    assert_eq!(gateways[0]["strategy"], "weighted");
    assert_eq!(gateways[0]["endpoints"][1]["endpoint_name"], "cloud");
    assert_eq!(gateways[0]["endpoints"][1]["weight"], 2);

    let created = ok(&["key", "create", "--gateway", "prod", "--name", "my app"]);
    let secret = created
        .lines()
        .find(|l| l.starts_with("mgw_"))
        .expect("the secret is printed")
        .to_string();
    let parsed = server::gateway_key::parse(&secret).expect("a well-formed key");
    let listed = ok(&["key", "list", "--gateway", "prod"]);
    assert!(
        listed.contains(parsed.public_id) && !listed.contains(&secret),
        "{listed}"
    );
    let child = ok(&[
        "key",
        "create",
        "--gateway",
        "prod",
        "--name",
        "child",
        "--parent",
        parsed.public_id,
        "--json",
    ]);
    let child: serde_json::Value = serde_json::from_str(&child).unwrap();
    assert!(child["key"].as_str().unwrap().starts_with("mgw_"));
    assert!(ok(&["key", "revoke", parsed.public_id]).contains("Revoked 2 key(s)"));

    let in_use = run(&["endpoint", "remove", "local"]);
    assert!(!in_use.status.success());
    assert!(text(&in_use).contains("used by gateway(s) prod"), "{}", text(&in_use));
    let bad = run(&["endpoint", "add", "--name", "x", "--provider", "openia", "--model", "m"]);
    assert!(
        !bad.status.success() && text(&bad).contains("openai_compatible"),
        "{}",
        text(&bad)
    );
    let metadata = run(&[
        "endpoint",
        "add",
        "--name",
        "x",
        "--provider",
        "ollama",
        "--url",
        "http://169.254.169.254",
        "--model",
        "m",
    ]);
    assert!(
        text(&metadata).contains("base_url: must not point at a cloud metadata service"),
        "{}",
        text(&metadata)
    );
    // `update` does not read MGW_ENDPOINT_API_KEY: a key exported for `add` stays off it.
    let updated = model_gateway(
        &[
            "--data-dir",
            cli.dir.path().to_str().unwrap(),
            "endpoint",
            "update",
            "local",
            "--rename",
            "local2",
            "--json",
        ],
        &[("MGW_ENDPOINT_API_KEY", "sk-exported-for-add")],
    );
    assert!(updated.status.success(), "{}", text(&updated));
    let updated: serde_json::Value = serde_json::from_slice(&updated.stdout).unwrap();
    assert_eq!(
        (updated["name"].as_str(), updated["has_credential"].as_bool()),
        (Some("local2"), Some(false))
    );
    ok(&["endpoint", "update", "local2", "--rename", "local"]);
    ok(&["gateway", "remove", "prod"]);
    ok(&["endpoint", "remove", "local"]);
    assert!(!ok(&["endpoint", "list"]).contains("local"));
}

/// Issue #3: a change made by the CLI (another process) reaches a running server within about
/// a second.
#[tokio::test]
async fn a_change_made_by_the_cli_reaches_a_running_server_within_a_second() {
    let server = crate::support::TestServer::start().await;
    let data_dir = server.dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap().to_string();
    let before = server.state.registry.snapshot().revision;
    let added = model_gateway(
        &[
            "--data-dir",
            &data_dir,
            "endpoint",
            "add",
            "--name",
            "live",
            "--provider",
            "ollama",
            "--model",
            "llama3",
        ],
        &[],
    );
    assert!(added.status.success(), "{}", text(&added));
    let written = std::time::Instant::now();
    let deadline = written + std::time::Duration::from_secs(3);
    let mut seen = None;
    while std::time::Instant::now() < deadline {
        let snapshot = server.state.registry.snapshot();
        if snapshot.upstreams.values().any(|u| u.endpoint.name == "live") {
            seen = Some(written.elapsed());
            assert!(snapshot.revision > before);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let delay = seen.expect("the running server never saw the change");
    eprintln!("METRIC config_propagation_ms={}", delay.as_millis());
    assert!(delay < std::time::Duration::from_millis(1500), "took {delay:?}");
}

#[test]
fn limits_rotation_reset_and_prices_are_managed_from_the_command_line() {
    let cli = Cli::new();
    let run = |args: &[&str]| cli.run(args);
    let ok = |args: &[&str]| cli.ok(args);
    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ok(args)).unwrap() };
    ok(&[
        "endpoint",
        "add",
        "--name",
        "local",
        "--provider",
        "ollama",
        "--model",
        "llama3",
    ]);
    let gateway = json(&[
        "gateway",
        "add",
        "--name",
        "g",
        "--endpoints",
        "local",
        "--limit",
        "tokens/day=1000000",
        "--json",
    ]);
    assert_eq!(gateway["limits"][0]["metric"], "tokens");
    let team = json(&[
        "key",
        "create",
        "--gateway",
        "g",
        "--name",
        "team",
        "--limit",
        "requests/minute=100",
        "--limit",
        "cost/month=25.5",
        "--json",
    ]);
    let team_id = team["details"]["public_id"].as_str().unwrap().to_string();
    assert_eq!(team["details"]["limits"][1]["max_value"], 25_500_000);
    let too_much = run(&[
        "key",
        "create",
        "--gateway",
        "g",
        "--name",
        "app",
        "--parent",
        &team_id,
        "--limit",
        "requests/minute=200",
    ]);
    assert!(!too_much.status.success());
    assert!(
        text(&too_much).contains("exceeds the parent key"),
        "{}",
        text(&too_much)
    );
    let bad = run(&[
        "key",
        "create",
        "--gateway",
        "g",
        "--name",
        "app",
        "--limit",
        "requests/week=1",
    ]);
    assert!(
        text(&bad).contains("the period is minute, hour, day, month or total"),
        "{}",
        text(&bad)
    );
    let app = json(&[
        "key",
        "create",
        "--gateway",
        "g",
        "--name",
        "app",
        "--parent",
        &team_id,
        "--limit",
        "requests/minute=50",
        "--json",
    ]);
    let app_id = app["details"]["public_id"].as_str().unwrap().to_string();
    let updated = json(&[
        "key",
        "update",
        &app_id,
        "--limit",
        "requests/minute=60",
        "--enabled",
        "false",
        "--json",
    ]);
    assert_eq!(
        (updated["enabled"].as_bool(), updated["limits"][0]["max_value"].as_i64()),
        (Some(false), Some(60))
    );
    assert!(ok(&["key", "list"]).contains("requests/minute=60"));
    assert!(ok(&["key", "reset", &app_id]).contains("Reset the counted usage"));
    let rotated = json(&["key", "rotate", &team_id, "--grace", "10m", "--json"]);
    assert!(rotated["key"].as_str().unwrap().starts_with("mgw_"));
    assert_eq!(rotated["details"]["limits"], team["details"]["limits"]);
    let keys = json(&["key", "list", "--json"]);
    let moved = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["public_id"] == app_id.as_str())
        .unwrap();
    assert_eq!(
        moved["parent_id"], rotated["details"]["id"],
        "children follow the successor"
    );
    assert!(ok(&["key", "list"]).contains("rotating"));

    assert!(ok(&["price", "list"]).contains("gpt-4o-mini"));
    ok(&["price", "set", "llama3", "--input", "0.1", "--output", "0.2"]);
    let prices = json(&["price", "list", "--json"]);
    let llama = prices
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["model"] == "llama3")
        .unwrap();
    assert_eq!(
        (
            llama["input_per_mtok_micros"].as_i64(),
            llama["output_per_mtok_micros"].as_i64()
        ),
        (Some(100_000), Some(200_000))
    );
    assert!(ok(&["price", "list"]).contains("0.2"));
    ok(&["price", "remove", "llama3"]);
    assert!(!run(&["price", "remove", "llama3"]).status.success());
}
