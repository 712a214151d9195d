//! Amazon Bedrock endpoints (issue #25) through the real server: failover from a throttling
//! Bedrock endpoint to a Gemini one before the first byte, what adding one checks, and the
//! AWS credential chain's credentials when none is stored (the real binary on an "instance"
//! whose metadata service is the mock). The conformance suite covers chat, binary streams,
//! signatures, errors and the rest.

use crate::operator::op;
use crate::rig::{chat, endpoint, steady, Rig};
use crate::support::{serve, TestServer};
use app::types::{EndpointUpdate, ProviderKind, WriteOnly};
use serde_json::json;
use server::{
    manage::ManageError,
    testing::{Behaviour, MockUpstream},
};

#[tokio::test]
async fn a_throttling_bedrock_endpoint_fails_over_to_gemini_before_the_first_byte() {
    let bedrock = MockUpstream::start().await.unwrap();
    let gemini = MockUpstream::start().await.unwrap();
    for _ in 0..2 {
        bedrock.push(Behaviour::Status {
            status: 429,
            headers: vec![(
                "x-amzn-ErrorType".into(),
                "ThrottlingException:http://internal.amazon.com/".into(),
            )],
            body: r#"{"message":"Too many requests, please wait before trying again."}"#.into(),
        });
    }
    let rig = Rig::start(
        steady,
        vec![
            endpoint("bedrock", ProviderKind::Bedrock, &bedrock.url()),
            endpoint("gemini", ProviderKind::Gemini, &gemini.url()),
        ],
        |_| {},
    )
    .await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mgw-endpoint"], "gemini");
    let text = rig
        .post("/v1/chat/completions", &chat(true))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(gemini.requests_received(), 2);
    assert_eq!(
        bedrock.requests_received(),
        1,
        "a throttled endpoint rests: the stream went straight to Gemini"
    );
    let logs = rig.logs(2).await;
    let first = logs.iter().find(|log| !log.stream).unwrap();
    let statuses: Vec<Option<i64>> = first.attempts.iter().map(|attempt| attempt.status).collect();
    assert_eq!(statuses, [Some(429), Some(200)], "{logs:?}");
}

#[tokio::test]
async fn adding_an_endpoint_checks_the_access_key_and_defaults_to_the_regions_address() {
    let server = TestServer::start_with(steady).await;
    let manage = &server.state.manage;
    let mut new = endpoint("b", ProviderKind::Bedrock, "http://127.0.0.1:9");
    new.base_url = None;
    new.region = Some("eu-central-1".into());
    new.model = "anthropic.claude-3-5-haiku-20241022-v1:0".into();
    let added = op(manage).create_endpoint(new.clone()).await.unwrap();
    assert_eq!(added.base_url, "https://bedrock-runtime.eu-central-1.amazonaws.com");
    op(manage).delete_endpoint("b").await.unwrap();
    new.api_key = Some(WriteOnly("no-colon-here".into()));
    match op(manage).create_endpoint(new.clone()).await {
        Err(ManageError::Invalid { field, message }) => {
            assert_eq!(field, "api_key");
            assert!(!message.contains("no-colon-here"), "{message}");
        }
        other => panic!("not refused: {other:?}"),
    }
    // No key stored: the environment's credentials are used (an endpoint may have none).
    new.api_key = None;
    let keyless = op(manage).create_endpoint(new).await.unwrap();
    assert!(!keyless.has_credential);
    // The address follows a new region (the signature's scope names the region too).
    let update = EndpointUpdate {
        region: Some("ap-south-1".into()),
        ..EndpointUpdate::default()
    };
    let moved = op(manage).update_endpoint("b", update).await.unwrap();
    assert_eq!(moved.base_url, "https://bedrock-runtime.ap-south-1.amazonaws.com");
}

#[tokio::test]
async fn a_keyless_endpoint_signs_with_the_instance_roles_credentials() {
    let mock = MockUpstream::start().await.unwrap();
    let mut keyless = endpoint("b", ProviderKind::Bedrock, &mock.url());
    keyless.api_key = None;
    let rig = Rig::start(steady, vec![keyless], |_| {}).await;
    let key = rig.key.clone();
    let dir = rig.server.stop().await;
    let data_dir = dir.path().join("data").to_str().unwrap().to_string();
    // No key in the environment, no credentials file: the instance's role it is.
    let home = tempfile::tempdir().unwrap();
    let env = [
        ("HOME", home.path().to_str().unwrap()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &mock.url()),
    ];
    let (_binary, url) = serve(&data_dir, &env).await;
    for _ in 0..2 {
        let answered = crate::rig::post_as(&url, &key, "/v1/chat/completions", &chat(false)).await;
        assert_eq!(answered.status(), 200);
    }
    let calls = mock.recorded();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        let signature = call.header("authorization").unwrap();
        assert!(
            signature.starts_with("AWS4-HMAC-SHA256 Credential=ASIAMOCK1/")
                && signature.contains("/us-west-2/bedrock/"),
            "{signature}"
        );
        assert_eq!(call.header("x-amz-security-token"), Some("mock-session-1"));
    }
    assert_eq!(mock.tokens_issued(), 1, "held for the second call");
}

#[tokio::test]
async fn embeddings_go_to_invoke_model_in_each_familys_own_body() {
    let mock = MockUpstream::start().await.unwrap();
    let model = |name: &str, model: &str| {
        let mut new = endpoint(name, ProviderKind::Bedrock, &mock.url());
        new.model = model.into();
        new
    };
    let endpoints = vec![
        model("titan", "amazon.titan-embed-text-v2:0"),
        model("cohere", "cohere.embed-english-v3"),
    ];
    let rig = Rig::start(steady, endpoints, |_| {}).await;
    let titan = rig
        .post(
            "/v1/embeddings",
            &json!({ "model": "amazon.titan-embed-text-v2:0", "input": "hello" }),
        )
        .await;
    assert_eq!(titan.status(), 200);
    let answer: serde_json::Value = titan.json().await.unwrap();
    assert_eq!(answer["data"][0]["embedding"], json!([0.1, 0.2, 0.3]));
    let sent = mock.recorded().remove(0);
    assert!(
        sent.path.ends_with("/model/amazon.titan-embed-text-v2%3A0/invoke"),
        "{}",
        sent.path
    );
    assert_eq!(sent.body, Some(json!({ "inputText": "hello" })));
    assert!(sent.header("authorization").unwrap().starts_with("AWS4-HMAC-SHA256"));

    let cohere = json!({ "model": "cohere.embed-english-v3", "input": ["a", "b"] });
    let answer: serde_json::Value = rig.post("/v1/embeddings", &cohere).await.json().await.unwrap();
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        mock.recorded()[1].body,
        Some(json!({ "texts": ["a", "b"], "input_type": "search_document" }))
    );
    // Titan embeds one text a call: a batch is refused by name, with no call.
    let batch = json!({ "model": "amazon.titan-embed-text-v2:0", "input": ["a", "b"] });
    let refused = rig.post("/v1/embeddings", &batch).await;
    assert_eq!(refused.status(), 400);
    let error: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["param"], "input", "{error}");
    let logs = rig.logs(2).await;
    assert!(
        logs.iter().any(|log| log.prompt_tokens == 10),
        "Titan's token count: {logs:?}"
    );
    assert_eq!(mock.requests_received(), 2);
}

#[tokio::test]
async fn answers_without_an_upstream_id_get_the_gateways_own_one_per_request() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(steady, vec![endpoint("b", ProviderKind::Bedrock, &mock.url())], |_| {}).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let answer: serde_json::Value = rig
            .post("/v1/chat/completions", &chat(false))
            .await
            .json()
            .await
            .unwrap();
        ids.push(answer["id"].as_str().unwrap().to_string());
        let body = json!({ "model": "gpt-4o-mini", "input": "hi" });
        let response: serde_json::Value = rig.post("/v1/responses", &body).await.json().await.unwrap();
        ids.push(response["id"].as_str().unwrap().to_string());
    }
    assert!(
        ids[0].starts_with("chatcmpl-") && ids[1].starts_with("resp_"),
        "{ids:?}"
    );
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{ids:?}");
}
