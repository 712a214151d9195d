//! The `model-gateway` binary as a user runs it.

use std::process::{Command, Output, Stdio};

fn model_gateway(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_model-gateway"));
    command
        .args(args)
        .stdin(Stdio::null())
        .env_remove("MGW_ADMIN_PASSWORD")
        .env_remove("MGW_CONFIG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn help_documents_every_subcommand_and_flag() {
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["--help"],
            &[
                "serve",
                "admin",
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
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = String::new();
    // The server logs the hint before "listening"; read until that line (bounded by lines).
    for line in lines.by_ref().take(50) {
        let line = line.unwrap();
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
