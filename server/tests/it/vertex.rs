//! Vertex AI endpoints (issue #25) through the real server: the service account's signed
//! assertion exchanged for access tokens at the mock, tokens shared and renewed before they
//! expire, a refused account, and what adding an endpoint checks. The conformance suite covers
//! chat, streams, errors and embeddings.

use crate::cli::Cli;
use crate::operator::op;
use crate::rig::{chat, endpoint, steady, Rig};
use crate::support::TestServer;
use app::types::{NewEndpoint, ProviderKind, WriteOnly};
use futures_util::{stream, StreamExt};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use server::{manage::ManageError, testing::MockUpstream};
use std::time::Duration;

async fn rig(mock: &MockUpstream) -> Rig {
    Rig::start(steady, vec![endpoint("v", ProviderKind::Vertex, &mock.url())], |_| {}).await
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires_and_no_request_fails() {
    let mock = MockUpstream::start().await.unwrap();
    // A two-second token is renewed after one: the second request, 1.3 s on, gets a new one
    // while the first is still valid.
    mock.set_token_lifetime(Duration::from_secs(2));
    let rig = rig(&mock).await;
    assert_eq!(rig.post("/v1/chat/completions", &chat(false)).await.status(), 200);
    assert_eq!(rig.post("/v1/chat/completions", &chat(false)).await.status(), 200);
    assert_eq!(mock.tokens_issued(), 1, "a fresh token is used again");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let streamed = rig.post("/v1/chat/completions", &chat(true)).await;
    assert_eq!(streamed.status(), 200);
    assert!(streamed.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    assert_eq!(mock.tokens_issued(), 2, "renewed ahead of its expiry");
    let carried: Vec<String> = (mock.recorded().iter())
        .filter_map(|call| call.header("authorization").map(str::to_string))
        .collect();
    assert_eq!(
        carried,
        ["Bearer ya29.mock-1", "Bearer ya29.mock-1", "Bearer ya29.mock-2"]
    );

    // The assertion is the service account's, signed with its key, for the token endpoint.
    let assertion = mock.last_assertion().unwrap();
    let public = DecodingKey::from_rsa_pem(include_bytes!("../fixtures/jwt/rsa-a.pub.pem")).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[format!("{}/token", mock.url())]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&assertion, &public, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["iss"], "gateway@test-project.iam.gserviceaccount.com");
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/cloud-platform");
    let logs = rig.logs(3).await;
    assert!(
        logs.iter().all(|log| log.status == 200 && log.prompt_tokens == 10),
        "{logs:?}"
    );
}

#[tokio::test]
async fn concurrent_first_requests_share_one_token_exchange() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let statuses: Vec<u16> = stream::iter(0..20)
        .map(|_| async { rig.post("/v1/chat/completions", &chat(false)).await.status().as_u16() })
        .buffer_unordered(20)
        .collect()
        .await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    assert_eq!(mock.tokens_issued(), 1);
}

#[tokio::test]
async fn a_refused_service_account_is_a_credential_error_and_no_call_is_made() {
    let mock = MockUpstream::start().await.unwrap();
    mock.refuse_tokens(true);
    let rig = rig(&mock).await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 502);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_auth_error", "{body}");
    assert_eq!(mock.requests_received(), 0, "nothing is sent without a token");
    // "Test connection" says why.
    let manage = &rig.server.state.manage;
    let id = manage.endpoints().await.unwrap()[0].id;
    let probe = manage.test_endpoint(&server::manage::Actor::cli(), id).await.unwrap();
    let error = probe.error.unwrap();
    assert!(
        error.contains("refused the service account (400): invalid_grant"),
        "{error}"
    );
}

fn vertex(api_key: Option<&str>, project: Option<&str>, region: Option<&str>) -> NewEndpoint {
    let mut new = endpoint("v", ProviderKind::Vertex, "http://127.0.0.1:9");
    new.base_url = None;
    new.api_key = api_key.map(|key| WriteOnly(key.into()));
    new.project = project.map(str::to_string);
    new.region = region.map(str::to_string);
    new
}

fn refused_field(result: Result<app::types::InferenceEndpoint, ManageError>) -> (&'static str, String) {
    match result {
        Err(ManageError::Invalid { field, message }) => (field, message),
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn adding_an_endpoint_reads_the_project_from_the_account_and_refuses_what_is_not_one() {
    let server = TestServer::start_with(steady).await;
    let manage = &server.state.manage;
    let account = server::testing::service_account_key("https://oauth2.googleapis.com/token", "acct-project");
    let added = op(manage)
        .create_endpoint(vertex(Some(&account), None, Some("europe-west4")))
        .await
        .unwrap();
    assert_eq!(added.project.as_deref(), Some("acct-project"), "the account's project");
    assert_eq!(added.base_url, "https://europe-west4-aiplatform.googleapis.com/v1");
    assert!(added.has_credential);
    op(manage).delete_endpoint("v").await.unwrap();

    let global = op(manage)
        .create_endpoint(vertex(Some(&account), Some("other-project"), None))
        .await
        .unwrap();
    assert_eq!(
        global.project.as_deref(),
        Some("other-project"),
        "the endpoint's own project wins"
    );
    assert_eq!(global.base_url, "https://aiplatform.googleapis.com/v1");
    op(manage).delete_endpoint("v").await.unwrap();

    let (field, message) = refused_field(
        op(manage)
            .create_endpoint(vertex(Some("sk-not-json"), None, None))
            .await,
    );
    assert_eq!(field, "api_key");
    assert!(
        message.contains("service account") && !message.contains("sk-not-json"),
        "{message}"
    );
    let (field, _) = refused_field(op(manage).create_endpoint(vertex(None, Some("p"), None)).await);
    assert_eq!(field, "api_key");
    let metadata = server::testing::service_account_key("http://169.254.169.254/token", "p");
    let (field, message) = refused_field(op(manage).create_endpoint(vertex(Some(&metadata), None, None)).await);
    assert_eq!(field, "api_key", "the assertion never goes to a metadata service");
    assert!(message.contains("token_uri"), "{message}");
    let no_project = account.replace("\"acct-project\"", "\"\"");
    let (field, _) = refused_field(op(manage).create_endpoint(vertex(Some(&no_project), None, None)).await);
    assert_eq!(field, "project");
    let (field, _) = refused_field(
        op(manage)
            .create_endpoint(vertex(Some(&account), None, Some("eu west/4")))
            .await,
    );
    assert_eq!(field, "region", "a region is part of the address");
}

#[test]
fn the_cli_reads_a_service_account_from_a_file() {
    let cli = Cli::new();
    let file = cli.dir.path().join("account.json");
    let account = server::testing::service_account_key("https://oauth2.googleapis.com/token", "file-project");
    std::fs::write(&file, account).unwrap();
    let key = format!("@{}", file.display());
    cli.ok(&[
        "endpoint",
        "add",
        "--name",
        "vx",
        "--provider",
        "vertex",
        "--region",
        "us-east5",
        "--api-key",
        &key,
        "--model",
        "gemini-2.5-pro",
    ]);
    let listed: serde_json::Value = serde_json::from_str(&cli.ok(&["endpoint", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["project"], "file-project", "{listed}");
    assert_eq!(listed[0]["base_url"], "https://us-east5-aiplatform.googleapis.com/v1");
    assert!(!listed.to_string().contains("PRIVATE KEY"));
    let missing = cli.run(&[
        "endpoint",
        "add",
        "--name",
        "vy",
        "--provider",
        "vertex",
        "--api-key",
        "@/nonexistent/account.json",
        "--model",
        "m",
    ]);
    assert!(!missing.status.success());
    assert!(crate::cli::text(&missing).contains("cannot read /nonexistent/account.json"));
}
