use super::*;
use crate::testing::MockUpstream;

fn chain(vars: &[(&str, &str)]) -> AwsChain {
    let vars: HashMap<String, String> = vars.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    AwsChain::with_vars(|name| vars.get(name).cloned())
}

async fn key(chain: &AwsChain) -> String {
    chain.credentials().await.unwrap().expose().to_string()
}

#[tokio::test]
async fn the_environments_key_comes_first() {
    let chain = chain(&[
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("AWS_SESSION_TOKEN", "env-session"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1"),
    ]);
    assert_eq!(key(&chain).await, "AKIDENV:env-secret:env-session");
}

#[tokio::test]
async fn a_profile_of_the_shared_credentials_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(
        &file,
        "# keys\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\n\
         [work]\nAWS_ACCESS_KEY_ID=AKIDWORK\naws_secret_access_key=work-secret\naws_session_token = work-session\n\
         [broken]\naws_access_key_id = AKIDHALF\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let no_imds = ("AWS_EC2_METADATA_DISABLED", "true");
    assert_eq!(
        key(&chain(&[("AWS_SHARED_CREDENTIALS_FILE", path), no_imds])).await,
        "AKIDDEFAULT:default-secret"
    );
    let work = chain(&[("AWS_SHARED_CREDENTIALS_FILE", path), ("AWS_PROFILE", "work"), no_imds]);
    assert_eq!(key(&work).await, "AKIDWORK:work-secret:work-session");
    // `~/.aws/credentials` when no file is named.
    std::fs::create_dir(dir.path().join(".aws")).unwrap();
    std::fs::copy(&file, dir.path().join(".aws/credentials")).unwrap();
    let home = chain(&[("HOME", dir.path().to_str().unwrap()), no_imds]);
    assert_eq!(key(&home).await, "AKIDDEFAULT:default-secret");
    let broken = chain(&[
        ("AWS_SHARED_CREDENTIALS_FILE", path),
        ("AWS_PROFILE", "broken"),
        no_imds,
    ]);
    let refused = broken.credentials().await.unwrap_err();
    assert!(
        matches!(&refused, TokenError::Missing(reason) if reason.contains("profile broken")),
        "{refused:?}"
    );
    // A profile the file does not have: on to the next source (here: none).
    let elsewhere = chain(&[("AWS_SHARED_CREDENTIALS_FILE", path), ("AWS_PROFILE", "other"), no_imds]);
    let refused = elsewhere.credentials().await.unwrap_err();
    assert!(
        matches!(&refused, TokenError::Missing(reason) if reason.contains("disabled")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_instance_role_is_read_through_an_imdsv2_session_and_held_until_near_expiry() {
    let mock = MockUpstream::start().await.unwrap();
    let chain = chain(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &mock.url())]);
    assert_eq!(key(&chain).await, "ASIAMOCK1:mock-secret-1:mock-session-1");
    assert_eq!(key(&chain).await, "ASIAMOCK1:mock-secret-1:mock-session-1", "held");
    assert_eq!(mock.tokens_issued(), 1);
    assert_eq!(mock.requests_received(), 0, "not provider calls");
    // Credentials that expire within the margin are fetched again for the next call.
    mock.set_token_lifetime(Duration::from_secs(60));
    let short = chain_with_endpoint(&mock);
    assert_eq!(key(&short).await, "ASIAMOCK2:mock-secret-2:mock-session-2");
    assert_eq!(key(&short).await, "ASIAMOCK3:mock-secret-3:mock-session-3");
}

fn chain_with_endpoint(mock: &MockUpstream) -> AwsChain {
    chain(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &mock.url())])
}

#[tokio::test]
async fn a_call_waits_for_a_slow_lookup_until_its_deadline_and_the_lookup_goes_on_without_it() {
    let mock = MockUpstream::start().await.unwrap();
    // An IMDSv2 lookup is three calls: 900 ms in all.
    mock.set_credentials_delay(Duration::from_millis(300));
    let chain = chain_with_endpoint(&mock);
    let started = Instant::now();
    let refused = chain
        .credentials_by(started + Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(290),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(&refused, TokenError::TimedOut), "{refused:?}");
    // The lookup the first call started is the one the next calls share, once it ends.
    let until = Instant::now() + Duration::from_secs(10);
    let found = loop {
        match chain.credentials_by(Instant::now() + Duration::from_millis(50)).await {
            Ok(found) => break found,
            Err(_) if Instant::now() < until => {}
            Err(error) => panic!("never found: {error:?}"),
        }
    };
    assert_eq!(found.expose(), "ASIAMOCK1:mock-secret-1:mock-session-1");
    assert_eq!(mock.tokens_issued(), 1, "one lookup in all");
}

#[tokio::test]
async fn a_containers_endpoint_is_asked_with_its_authorization() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "pod-identity-token\n").unwrap();
    let url = format!("{}/v2/credentials/task-1", mock.url());
    let chain = chain(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file.to_str().unwrap()),
    ]);
    assert_eq!(key(&chain).await, "ASIAMOCK1:mock-secret-1:mock-session-1");
    assert_eq!(mock.last_assertion().as_deref(), Some("pod-identity-token"));
}

#[tokio::test]
async fn with_no_source_the_refusal_says_where_it_looked() {
    let refused = chain(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1")])
        .credentials()
        .await
        .unwrap_err();
    let TokenError::Missing(reason) = refused else {
        panic!("{refused:?}")
    };
    assert!(
        reason.contains("environment") && reason.contains("instance metadata service"),
        "{reason}"
    );
}

#[test]
fn expiry_is_read_from_the_services_timestamp() {
    let soon = SystemTime::now() + Duration::from_secs(600);
    let answer = serde_json::json!({
        "AccessKeyId": "A", "SecretAccessKey": "S",
        "Expiration": humantime::format_rfc3339_seconds(soon).to_string(),
    });
    let found = issued(answer.to_string().as_bytes(), "a test").unwrap();
    let held = found.renew_at.unwrap().saturating_duration_since(Instant::now());
    assert!(
        held > Duration::from_secs(290) && held <= Duration::from_secs(300),
        "{held:?}"
    );
    assert_eq!(found.key.expose(), "A:S");
    assert!(issued(b"{}", "a test").is_err());
}

#[tokio::test]
async fn a_container_address_aws_would_not_ask_is_refused_unasked() {
    for (name, value) in [
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://credentials.example.com/v2/credentials/x",
        ),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.0.0.5/creds"),
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ".evil.example/x"),
    ] {
        let refused = chain(&[(name, value)]).credentials().await.unwrap_err();
        assert!(
            matches!(&refused, TokenError::Missing(reason) if reason.contains(name)),
            "{value}: {refused:?}"
        );
    }
    for allowed in [
        "https://credentials.example.com/x",
        "http://127.0.0.1:8080/x",
        "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials",
        "http://localhost/x",
    ] {
        assert!(container_host_allowed(allowed), "{allowed}");
    }
}

#[tokio::test]
async fn a_lookup_that_found_nothing_is_remembered_and_names_no_address() {
    let unreachable = chain(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1")]);
    let refused = unreachable.credentials().await.unwrap_err();
    assert!(!refused.message().contains("127.0.0.1"), "{refused:?}");
    // A container whose token file is not there yet: the lookup fails; once the file is
    // written a lookup would succeed, but the failure is remembered.
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let url = format!("{}/v2/credentials/task-1", mock.url());
    let chain = chain(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file.to_str().unwrap()),
    ]);
    let first = chain.credentials().await.unwrap_err();
    std::fs::write(&token_file, "pod-identity-token").unwrap();
    assert_eq!(
        chain.credentials().await.unwrap_err(),
        first,
        "remembered, not looked up again"
    );
    assert_eq!(mock.tokens_issued(), 0);
}

#[tokio::test]
async fn a_failed_renewal_keeps_the_held_credentials_while_they_work() {
    let mock = MockUpstream::start().await.unwrap();
    // Under the renewal margin: every call renews.
    mock.set_token_lifetime(Duration::from_secs(200));
    let chain = chain_with_endpoint(&mock);
    assert_eq!(key(&chain).await, "ASIAMOCK1:mock-secret-1:mock-session-1");
    drop(mock);
    assert_eq!(
        key(&chain).await,
        "ASIAMOCK1:mock-secret-1:mock-session-1",
        "the metadata service is gone: the held credentials still work for minutes"
    );
}
