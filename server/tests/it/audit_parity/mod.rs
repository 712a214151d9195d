//! Audit parity: every mutation of `schema.graphql`, made through GraphQL, through the
//! console's equivalent server function and through the CLI's equivalent command (where
//! they have one), writes exactly one audit entry, with the same action, target and details
//! whichever path made it and the path itself recorded beside them (`via`); and a viewer is
//! refused by every write on every path, with nothing written and nothing changed.
//!
//! The table (`table.rs`) has one row per mutation; a guard fails when a mutation has none.
//! Each (row, path) runs on a fresh server seeded with the same fixtures in the same order, so
//! ids line up across paths; the random ones (keys' and tokens' public ids) are masked.

mod table;

use crate::{
    operator::{op, op_as},
    rig::endpoint,
    support::{TestServer, PASSWORD},
};
use app::types::{AdminRole, AuditEntry, ModelPrice, ProviderKind, Strategy, Via};
use app::types::{CompositeKind, CompositeMember, MultiMode, NewComposite};
use app::types::{Detector, GuardAction, GuardDirection, KeySource, NewGuardrail, NewIdentityProvider};
use app::types::{EndpointChoice, EndpointRef, NewAdmin, NewGateway, NewKey, NewPrompt, PromptTemplate, WriteOnly};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use futures_util::{stream, StreamExt};
use serde_json::{json, Value};
use server::manage::{Actor, Manage};
use std::collections::BTreeSet;
use table::{Console, Row, ADMIN, SECOND, UPSTREAM, VIEWER};

/// A way a change reaches the management service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Graphql,
    Console,
    Cli,
}

impl Path {
    /// What the audit log records for it.
    fn via(self) -> Via {
        match self {
            Path::Graphql => Via::Graphql,
            Path::Console => Via::Console,
            Path::Cli => Via::Cli,
        }
    }
}

impl Row {
    /// The paths this row has: GraphQL always, the console and the CLI where they can.
    fn paths(&self) -> Vec<Path> {
        let mut paths = vec![Path::Graphql];
        if self.console.is_some() {
            paths.push(Path::Console);
        }
        if self.cli.is_some() {
            paths.push(Path::Cli);
        }
        paths
    }
}

/// The seeded ids, as the marks of the table's variables, forms and command lines.
struct Fixture {
    marks: Vec<(String, String)>,
}

impl Fixture {
    /// `text` with every mark replaced by its id.
    fn fill(&self, text: &str) -> String {
        let mut filled = text.to_string();
        for (mark, id) in &self.marks {
            filled = filled.replace(mark.as_str(), id);
        }
        assert!(!filled.contains('<'), "an unknown mark in {text:?}");
        filled
    }

    /// Every string in `value` filled.
    fn fill_json(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.fill(text)),
            Value::Array(items) => Value::Array(items.iter().map(|item| self.fill_json(item)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| (key.clone(), self.fill_json(item)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn fill_form(&self, form: &[(&str, &str)]) -> Vec<(String, String)> {
        form.iter()
            .map(|(name, value)| (name.to_string(), self.fill(value)))
            .collect()
    }
}

/// A GraphQL global id: base64url (unpadded) of `Kind:local id`, as `graphql::types` makes it.
fn global_id(kind: &str, local: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{local}"))
}

fn account(email: &str, role: AdminRole) -> NewAdmin {
    NewAdmin {
        email: email.into(),
        password: WriteOnly(PASSWORD.into()),
        role,
    }
}

/// The fixtures every run starts from, always created in this order: the admin, endpoint
/// `e1` (with a credential) and `e-spare` (in no gateway), gateway `g1` over `e1`, key `k1`
/// on it, composite `c1` on it (over `e1`), prompt `p1` (one version, for every gateway),
/// identity provider `i1` of `g1` (issuer `https://i1.example.com`), guardrail `r1` of `g1`
/// (e-mail addresses redacted), the
/// price of `m1`, a second admin, a viewer, and the admin's API token `t1`; and the template
/// file `<template>` the CLI's prompt commands read (`table::TEMPLATE_YAML`).
async fn seed(server: &TestServer) -> Fixture {
    let manage = &server.state.manage;
    let admin = op(manage).create_admin(account(ADMIN, AdminRole::Admin)).await.unwrap();
    let e1 = (op(manage)
        .create_endpoint(endpoint("e1", ProviderKind::OpenAi, UPSTREAM))
        .await)
        .unwrap();
    let spare = (op(manage)
        .create_endpoint(endpoint("e-spare", ProviderKind::OpenAi, UPSTREAM))
        .await)
        .unwrap();
    let over_e1 = vec![EndpointChoice {
        endpoint: EndpointRef::Name("e1".into()),
        weight: 1,
        priority: None,
    }];
    let g1 = (op(manage)
        .create_gateway(NewGateway::new("g1", Strategy::Priority, over_e1))
        .await)
        .unwrap();
    let k1 = op(manage)
        .create_key(NewKey {
            gateway: g1.id,
            name: "k1".into(),
            ..NewKey::default()
        })
        .await
        .unwrap();
    let c1 = op(manage)
        .create_composite(NewComposite {
            gateway_id: g1.id,
            name: "c1".into(),
            kind: CompositeKind::Load,
            members: vec![CompositeMember {
                category: String::new(),
                target: "e1".into(),
                share: 1.0,
            }],
            sticky: false,
            mode: MultiMode::WaitForAll,
            judge: None,
            rubric: None,
            cache: None,
        })
        .await
        .unwrap();
    let template: PromptTemplate = yaml_serde::from_str(table::TEMPLATE_YAML).unwrap();
    let p1 = op(manage)
        .create_prompt(NewPrompt {
            name: "p1".into(),
            description: String::new(),
            gateways: Vec::new(),
            template,
        })
        .await
        .unwrap();
    let i1 = op(manage)
        .add_identity_provider(NewIdentityProvider {
            gateway_id: g1.id,
            issuer: "https://i1.example.com".into(),
            audiences: vec!["g1".into()],
            keys: KeySource::JwksUrl {
                url: "https://i1.example.com/jwks".into(),
            },
            algorithms: Vec::new(),
            leeway_s: 60,
            required_claims: Vec::new(),
        })
        .await
        .unwrap();
    let r1 = op(manage)
        .add_guardrail(NewGuardrail {
            gateway_id: g1.id,
            detector: Detector::Email,
            action: GuardAction::Redact,
            direction: GuardDirection::Both,
            logs_only: false,
            fail_closed: false,
        })
        .await
        .unwrap();
    let template_file = server.dir.path().join("template.yaml");
    std::fs::write(&template_file, table::TEMPLATE_YAML).unwrap();
    let m1 = ModelPrice {
        model: "m1".into(),
        input_per_mtok_micros: 150_000,
        output_per_mtok_micros: 600_000,
    };
    op(manage).set_price(m1).await.unwrap();
    let second = op(manage)
        .create_admin(account(SECOND, AdminRole::Admin))
        .await
        .unwrap();
    op(manage)
        .create_admin(account(VIEWER, AdminRole::Viewer))
        .await
        .unwrap();
    // Only a person mints admin API tokens (the local operator cannot): the admin, in the console.
    let token = op_as(manage, Actor::admin(admin, Via::Console))
        .create_admin_token("t1", AdminRole::Admin, None)
        .await
        .unwrap();
    // A connection test needs the endpoint loaded (each change above loads it already).
    server.state.registry.refresh(manage).await.unwrap();
    let ids = [
        ("e1", "InferenceEndpoint", e1.id.0.to_string()),
        ("spare", "InferenceEndpoint", spare.id.0.to_string()),
        ("g1", "Gateway", g1.id.0.to_string()),
        ("k1", "GatewayKey", k1.key.public_id.clone()),
        ("c1", "CompositeModel", c1.id.0.to_string()),
        ("p1", "Prompt", p1.id.0.to_string()),
        ("i1", "IdentityProvider", i1.id.0.to_string()),
        ("r1", "Guardrail", r1.id.0.to_string()),
        ("second", "AdminUser", second.id.0.to_string()),
        ("token", "AdminApiToken", token.token.id.0.to_string()),
    ];
    let mut marks: Vec<(String, String)> = ids
        .into_iter()
        .flat_map(|(mark, kind, local)| {
            let global = global_id(kind, &local);
            [(format!("<{mark}>"), local), (format!("<{mark}:id>"), global)]
        })
        .collect();
    marks.push(("<template>".into(), template_file.display().to_string()));
    Fixture { marks }
}

/// POSTs a GraphQL document as `client` (with its session cookie, if any); the answer.
async fn graphql(server: &TestServer, client: &reqwest::Client, document: &str, variables: Value) -> Value {
    let response = client
        .post(format!("{}/graphql", server.url))
        .json(&json!({ "query": document, "variables": variables }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{document}: {status}, not JSON: {text}"))
}

/// Calls the console's server function `name` as the browser does (a form, with the
/// session cookie); the status and the answer's text.
async fn server_fn(
    server: &TestServer,
    client: &reqwest::Client,
    name: &str,
    form: &[(String, String)],
) -> (u16, String) {
    let response = client
        .post(format!("{}/api/{name}", server.url))
        .header("accept", "application/json")
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Whether a server function succeeded: a 2xx (a refusal is its 4xx with a `ConsoleError`).
fn console_succeeded(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Runs the real binary against the running server's data directory (SQLite in WAL mode
/// lets the two processes share it), with a clean environment.
async fn cli(server: &TestServer, args: &[String]) -> std::process::Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_model-gateway"));
    command
        .arg("--data-dir")
        .arg(server.dir.path().join("data"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    if args.first().is_some_and(|first| first.as_str() == "admin") {
        // `admin create` reads the new admin's password from here (or prompts for it).
        command.env("MGW_ADMIN_PASSWORD", PASSWORD);
    }
    command.output().await.unwrap()
}

/// The newest audit entry's id.
async fn newest_audit_id(manage: &Manage) -> i64 {
    manage
        .audit_log(None, 1)
        .await
        .unwrap()
        .first()
        .map_or(0, |entry| entry.id)
}

/// The audit entries written after entry `watermark`, oldest first.
async fn entries_after(manage: &Manage, watermark: i64) -> Vec<AuditEntry> {
    let mut entries: Vec<AuditEntry> = (manage.audit_log(None, 100).await.unwrap().into_iter())
        .filter(|entry| entry.id > watermark)
        .collect();
    entries.reverse();
    entries
}

/// An entry as it must be the same on every path.
#[derive(Debug, PartialEq)]
struct Recorded {
    action: String,
    target_kind: Option<String>,
    target_id: Option<i64>,
    details: Value,
}

/// Details as JSON, with the random public ids masked.
fn normalized(details: &str) -> Value {
    let mut value: Value =
        serde_json::from_str(details).unwrap_or_else(|error| panic!("details are not JSON ({error}): {details}"));
    mask_public_ids(&mut value);
    value
}

fn mask_public_ids(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if matches!(key.as_str(), "public_id" | "old_public_id") {
                    *item = json!("*");
                } else {
                    mask_public_ids(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_public_ids),
        _ => {}
    }
}

/// Makes `row`'s change along `path` on a fresh server (signed in as the admin, which is
/// audited before the watermark); checks it wrote exactly one entry, with the row's action
/// and the path as `via`, made by the admin (the operator on the CLI); returns it.
async fn one_change(row: &Row, path: Path) -> Recorded {
    let server = TestServer::start().await;
    let fixture = seed(&server).await;
    let manage = &server.state.manage;
    let (client, _) = server.signed_in(ADMIN).await;
    let watermark = newest_audit_id(manage).await;
    let what = format!("{} via {path:?}", row.mutation);
    match path {
        Path::Graphql => {
            // Signing in is done without a session, as a caller who signs in has none.
            let caller = if row.mutation == "login" {
                server.client()
            } else {
                client.clone()
            };
            let body = graphql(&server, &caller, row.document, fixture.fill_json(&row.variables)).await;
            assert!(
                body.get("errors").is_none() && !body["data"].is_null(),
                "{what}: {body}"
            );
        }
        Path::Console => match row.console.as_ref().expect("a console path") {
            Console::Function(name, form) => {
                let (status, text) = server_fn(&server, &client, name, &fixture.fill_form(form)).await;
                assert!(console_succeeded(status), "{what}: {status} {text}");
            }
            Console::Login => {
                let response = server.sign_in(&server.client(), ADMIN, PASSWORD).await;
                assert_eq!(response.status(), 303, "{what}");
            }
            Console::Logout => {
                let response = client.post(format!("{}/logout", server.url)).send().await.unwrap();
                assert_eq!(response.status(), 303, "{what}");
            }
        },
        Path::Cli => {
            let args: Vec<String> = (row.cli.expect("a CLI path").iter())
                .map(|arg| fixture.fill(arg))
                .collect();
            let output = cli(&server, &args).await;
            assert!(
                output.status.success(),
                "{what}: {args:?}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let entries = entries_after(manage, watermark).await;
    assert_eq!(entries.len(), 1, "{what}: exactly one audit entry, not {entries:#?}");
    let entry = &entries[0];
    assert_eq!(entry.action, row.action, "{what}: {entry:?}");
    assert_eq!(entry.via, Some(path.via()), "{what}: {entry:?}");
    let actor = if path == Path::Cli { "cli" } else { ADMIN };
    assert_eq!(entry.actor_label, actor, "{what}: {entry:?}");
    let recorded = Recorded {
        action: entry.action.clone(),
        target_kind: entry.target_kind.clone(),
        target_id: entry.target_id,
        details: normalized(&entry.details),
    };
    drop(server.stop().await);
    recorded
}

/// The names of `type Mutation`'s fields in an SDL text.
fn mutation_fields(sdl: &str) -> BTreeSet<String> {
    let mut lines = sdl
        .lines()
        .map(str::trim)
        .skip_while(|line| !line.starts_with("type Mutation "));
    lines.next();
    let mut fields = BTreeSet::new();
    let mut in_description = false;
    for line in lines {
        if in_description {
            in_description = !line.ends_with("\"\"\"");
            continue;
        }
        // `"""` alone opens a description block; `"""text"""` is one on a single line.
        if let Some(rest) = line.strip_prefix("\"\"\"") {
            in_description = !rest.ends_with("\"\"\"");
            continue;
        }
        if line.is_empty() || line.starts_with('"') {
            continue;
        }
        if line == "}" {
            break;
        }
        let name = line.split(['(', ':']).next().unwrap_or_default().trim();
        fields.insert(name.to_string());
    }
    fields
}

/// A guard, as the conformance suites have one per provider: a mutation added to the schema
/// without a row here fails, and so does a row for a mutation that is gone.
#[test]
fn the_parity_table_covers_every_mutation_of_the_schema() {
    let schema = mutation_fields(&server::graphql::sdl());
    assert!(schema.len() >= 20, "the Mutation type was read: {schema:?}");
    let rows = table::table();
    let covered: BTreeSet<String> = rows.iter().map(|row| row.mutation.to_string()).collect();
    assert_eq!(covered.len(), rows.len(), "a mutation has two rows");
    let missing: Vec<&String> = schema.difference(&covered).collect();
    let unknown: Vec<&String> = covered.difference(&schema).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "mutations without a row: {missing:?}; rows for no mutation: {unknown:?}"
    );
    for row in &rows {
        assert!(
            row.document.contains(row.mutation),
            "{}'s document does not call it",
            row.mutation
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_mutation_writes_one_identical_audit_entry_on_every_path() {
    let rows = table::table();
    let checks = rows.iter().map(|row| async move {
        let mut made = Vec::new();
        for path in row.paths() {
            made.push((path, one_change(row, path).await));
        }
        let (first_path, first) = &made[0];
        for (path, recorded) in &made[1..] {
            assert_eq!(
                recorded, first,
                "{}: {path:?} recorded another entry than {first_path:?}",
                row.mutation
            );
        }
    });
    // A few rows at a time: each path is a server of its own.
    stream::iter(checks).buffer_unordered(4).collect::<Vec<()>>().await;
}

/// What a viewer can see of everything a write could change.
async fn snapshot(manage: &Manage) -> Value {
    let revision = manage.config_revision().await.unwrap();
    let endpoints = manage.endpoints().await.unwrap();
    let gateways = manage.gateways().await.unwrap();
    let keys = manage.keys(None).await.unwrap();
    let prices = manage.prices().await.unwrap();
    let admins = manage.admin_accounts().await.unwrap();
    let tokens = manage.admin_tokens().await.unwrap();
    let prompts = manage.prompts().await.unwrap();
    let providers = manage.identity_providers(None).await.unwrap();
    json!({ "revision": revision, "endpoints": endpoints, "gateways": gateways, "keys": keys,
            "prices": prices, "admins": admins, "tokens": tokens, "prompts": prompts,
            "identity_providers": providers })
}

/// Every write is refused to a viewer through GraphQL (`FORBIDDEN`) and the console (the
/// server function's error), with no audit entry and nothing changed. The CLI has no viewer:
/// it is the local operator, who holds the database's keys and so every permission.
#[tokio::test]
async fn a_viewer_is_refused_by_every_write_on_every_path() {
    let server = TestServer::start().await;
    let fixture = seed(&server).await;
    let manage = &server.state.manage;
    let (viewer, _) = server.signed_in(VIEWER).await;
    let before = snapshot(manage).await;
    let watermark = newest_audit_id(manage).await;
    let rows = table::table();
    for row in rows.iter().filter(|row| !row.viewer_may) {
        let body = graphql(&server, &viewer, row.document, fixture.fill_json(&row.variables)).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{} via GraphQL: {body}",
            row.mutation
        );
        if let Some(Console::Function(name, form)) = &row.console {
            let (status, text) = server_fn(&server, &viewer, name, &fixture.fill_form(form)).await;
            assert!(
                status == 403 && text.contains("viewers can only read"),
                "{} via the console: {status} {text}",
                row.mutation
            );
        }
        assert_eq!(
            entries_after(manage, watermark).await,
            Vec::<AuditEntry>::new(),
            "{}: a refused write is not audited",
            row.mutation
        );
        assert_eq!(
            snapshot(manage).await,
            before,
            "{}: a refused write changes nothing",
            row.mutation
        );
    }

    // What a viewer may do, they can, as themselves (`login` is anyone's, with a password:
    // its row signs the admin in). Signing out comes last: it ends the session.
    let mut allowed: Vec<&Row> = (rows.iter())
        .filter(|row| row.viewer_may && row.mutation != "login")
        .collect();
    allowed.sort_by_key(|row| row.mutation == "logout");
    for row in allowed {
        let mark = newest_audit_id(manage).await;
        let body = graphql(&server, &viewer, row.document, fixture.fill_json(&row.variables)).await;
        assert!(body.get("errors").is_none(), "{} as a viewer: {body}", row.mutation);
        let entries = entries_after(manage, mark).await;
        let made: Vec<(&str, &str)> = (entries.iter())
            .map(|entry| (entry.action.as_str(), entry.actor_label.as_str()))
            .collect();
        assert_eq!(made, [(row.action, VIEWER)], "{} as a viewer", row.mutation);
    }
}
