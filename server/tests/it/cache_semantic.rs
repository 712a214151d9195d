//! The semantic cache (issue #24) through the real server and the mock, whose embeddings count
//! a text's words (texts with the same words have the same vector; sharing most words, a close
//! one): a request whose last user message means nearly the same as a kept one's — and is
//! otherwise the same — gets the kept answer without a chat call, marked a hit with its
//! similarity; below the similarity, or in another context (another system message), it is a
//! miss; an embedding model that fails leaves the exact cache working. Set from the command
//! line as an operator does it.

use crate::{
    cache::{hit, miss},
    cli::{text, Cli},
    rig::{self, Rig},
};
use app::types::{CacheMode, CacheSettings, ProviderKind};
use serde_json::{json, Value};
use server::testing::{Behaviour, MockUpstream};

/// A rig whose gateway has a chat endpoint (`gpt-4o-mini`) and an embedding endpoint
/// (`text-embedding-3-small`), and caches semantically at `similarity`.
async fn semantic(mock: &MockUpstream, similarity: f64) -> Rig {
    let mut embedder = rig::endpoint("emb", ProviderKind::OpenAi, &mock.url());
    embedder.model = "text-embedding-3-small".into();
    Rig::start(
        rig::steady,
        vec![rig::endpoint("a", ProviderKind::OpenAi, &mock.url()), embedder],
        |g| {
            g.cache = CacheSettings {
                mode: CacheMode::Semantic,
                embedding_model: Some("text-embedding-3-small".into()),
                similarity,
                ..CacheSettings::default()
            };
        },
    )
    .await
}

/// A chat request with a system message and a question.
fn asking(system: &str, question: &str, stream: bool) -> Value {
    json!({ "model": "gpt-4o-mini", "stream": stream, "messages": [
        { "role": "system", "content": system },
        { "role": "user", "content": question },
    ] })
}

/// POSTs a chat request; answers the status, `x-mgw-cache`, `x-mgw-cache-similarity`, body.
async fn ask(rig: &Rig, body: &Value) -> (u16, Option<String>, Option<String>, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", rig.server.url))
        .bearer_auth(&rig.key)
        .json(body)
        .send()
        .await
        .unwrap();
    let header = |name: &str| (response.headers().get(name)).map(|value| value.to_str().unwrap().to_string());
    let (cache, similarity) = (header("x-mgw-cache"), header("x-mgw-cache-similarity"));
    (
        response.status().as_u16(),
        cache,
        similarity,
        response.text().await.unwrap(),
    )
}

/// The paths the mock was asked, in order.
fn paths(mock: &MockUpstream) -> Vec<String> {
    mock.recorded().into_iter().map(|request| request.path).collect()
}

fn content(body: &str) -> String {
    let body: Value = serde_json::from_str(body).unwrap();
    body["choices"][0]["message"]["content"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_request_meaning_nearly_the_same_gets_the_kept_answer_without_a_chat_call() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = semantic(&mock, 0.95).await;
    let (status, cache, similarity, first) =
        ask(&rig, &asking("Be brief.", "What is the capital of France?", false)).await;
    assert_eq!((status, cache, similarity), (200, miss(), None), "{first}");
    assert_eq!(paths(&mock), ["/v1/embeddings", "/v1/chat/completions"]);
    let embedded = &mock.recorded()[0];
    assert_eq!(
        embedded.body.as_ref().unwrap()["input"],
        "What is the capital of France?"
    );

    // The same words, another case and punctuation: the same meaning to the embedding model.
    let (status, cache, similarity, again) =
        ask(&rig, &asking("Be brief.", "what is the capital of france", false)).await;
    assert_eq!((status, cache, similarity.as_deref()), (200, hit(), Some("1.0000")));
    assert_eq!(
        content(&again),
        "mock reply to: What is the capital of France?",
        "the kept answer"
    );
    assert_eq!(paths(&mock).len(), 3, "one more embedding call, no chat call");
    assert_eq!(paths(&mock)[2], "/v1/embeddings");
    // Asked again, it is an exact repeat of itself: no embedding needed.
    let (status, cache, similarity, repeat) =
        ask(&rig, &asking("Be brief.", "what is the capital of france", false)).await;
    assert_eq!((status, cache, similarity), (200, hit(), None));
    assert_eq!(content(&repeat), "mock reply to: What is the capital of France?");
    assert_eq!(paths(&mock).len(), 3, "no call at all");

    // As a stream, the kept answer is told as one.
    let (status, cache, _, stream) = ask(&rig, &asking("Be brief.", "What is the capital of France", true)).await;
    assert_eq!((status, cache), (200, hit()));
    assert!(
        stream.contains("mock reply to: What is the capital of France?"),
        "{stream}"
    );
    assert!(stream.trim_end().ends_with("data: [DONE]"), "{stream}");

    // One word in six changed is below 0.95: a miss, answered by the provider and kept.
    let (_, cache, _, spain) = ask(&rig, &asking("Be brief.", "What is the capital of Spain?", false)).await;
    assert_eq!(
        (cache, content(&spain)),
        (miss(), "mock reply to: What is the capital of Spain?".to_string())
    );
    // The same question under another system message is another context.
    let (_, cache, _, verbose) = ask(&rig, &asking("Be verbose.", "What is the capital of France?", false)).await;
    assert_eq!(
        (cache, content(&verbose)),
        (miss(), "mock reply to: What is the capital of France?".to_string())
    );
    let chats = paths(&mock)
        .iter()
        .filter(|path| path.ends_with("/chat/completions"))
        .count();
    assert_eq!(chats, 3, "France, Spain, France verbose");

    // The log marks the hits; the embedding call is an attempt of each request, named `cache`.
    let logs = rig.logs(6).await;
    let marks: Vec<_> = logs.iter().rev().map(|log| log.cache.as_deref()).collect();
    assert_eq!(
        marks,
        [
            Some("miss"),
            Some("hit"),
            Some("hit"),
            Some("hit"),
            Some("miss"),
            Some("miss")
        ]
    );
    assert!(logs[3].attempts.is_empty(), "the exact repeat made no call");
    let hit_log = &logs[4];
    assert_eq!(
        (hit_log.prompt_tokens, hit_log.completion_tokens, hit_log.endpoint_id),
        (0, 0, None)
    );
    let attempts = |log: &app::types::RequestLog| -> Vec<(i64, Option<String>, Option<i64>)> {
        (log.attempts.iter())
            .map(|attempt| (attempt.attempt, attempt.variant.clone(), attempt.status))
            .collect()
    };
    assert_eq!(attempts(hit_log), [(1, Some("cache".to_string()), Some(200))]);
    let miss_log = &logs[5];
    assert_eq!(
        attempts(miss_log),
        [(1, Some("cache".to_string()), Some(200)), (2, None, Some(200))],
        "the embedding call, then the chat call"
    );
    // The embedding call is not a retry of the chat call, nor a failover.
    let metrics = reqwest::get(format!("{}/metrics", rig.server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("mgw_retries_total{"), "{metrics}");
    assert!(!metrics.contains("mgw_failovers_total{"), "{metrics}");

    // An image beside the text is not compared: no embedding, a miss.
    let asked = paths(&mock).len();
    let image = json!({ "model": "gpt-4o-mini", "messages": [
        { "role": "system", "content": "Be brief." },
        { "role": "user", "content": [
            { "type": "text", "text": "What is the capital of France?" },
            { "type": "image_url", "image_url": { "url": "https://example.com/map.png" } },
        ] },
    ] });
    let (status, cache, _, _) = ask(&rig, &image).await;
    assert_eq!((status, cache), (200, miss()));
    assert_eq!(paths(&mock)[asked..], ["/v1/chat/completions"], "no embedding call");
}

#[tokio::test]
async fn a_lower_similarity_answers_more_and_an_embedding_model_that_fails_leaves_exact_repeats() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = semantic(&mock, 0.8).await;
    let (_, cache, _, _) = ask(&rig, &asking("Be brief.", "What is the capital of France?", false)).await;
    assert_eq!(cache, miss());
    let (_, cache, similarity, spain) = ask(&rig, &asking("Be brief.", "What is the capital of Spain?", false)).await;
    assert_eq!(cache, hit(), "five words in six shared is above 0.8");
    let similarity: f64 = similarity.unwrap().parse().unwrap();
    assert!((0.8..0.95).contains(&similarity), "{similarity}");
    assert_eq!(content(&spain), "mock reply to: What is the capital of France?");

    // An exact repeat is found before any embedding is made.
    let asked = paths(&mock).len();
    let (status, cache, _, _) = ask(&rig, &asking("Be brief.", "What is the capital of France?", false)).await;
    assert_eq!((status, cache), (200, hit()));
    assert_eq!(paths(&mock).len(), asked, "no embedding call for an exact repeat");

    // The embedding call fails (a 400, not retried): the request is a miss, answered by the
    // provider, not a failure.
    mock.push(Behaviour::Status {
        status: 400,
        headers: Vec::new(),
        body: r#"{"error": {"message": "no"}}"#.into(),
    });
    let (status, cache, _, body) = ask(&rig, &asking("Be brief.", "what is the capital of france", false)).await;
    assert_eq!((status, cache), (200, miss()), "{body}");
    assert_eq!(content(&body), "mock reply to: what is the capital of france");
}

#[test]
fn the_cli_sets_a_semantic_cache_and_refuses_one_without_an_embedding_model() {
    let cli = Cli::new();
    cli.gateway_over_one_endpoint("g");
    for (flags, field) in [
        (&["--cache", "semantic"][..], "cache_embedding"),
        (
            &[
                "--cache",
                "semantic",
                "--cache-embedding",
                "e",
                "--cache-similarity",
                "1.5",
            ][..],
            "cache_similarity",
        ),
    ] {
        let refused = cli.run(&[&["gateway", "update", "g"][..], flags].concat());
        assert!(!refused.status.success());
        assert!(text(&refused).contains(field), "{}", text(&refused));
    }
    let shown = cli.ok(&[
        "gateway",
        "update",
        "g",
        "--cache",
        "semantic",
        "--cache-embedding",
        "text-embedding-3-small",
        "--cache-similarity",
        "0.9",
        "--json",
    ]);
    let gateway: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        (
            &gateway["cache"]["mode"],
            &gateway["cache"]["embedding_model"],
            &gateway["cache"]["similarity"]
        ),
        (&json!("semantic"), &json!("text-embedding-3-small"), &json!(0.9))
    );
}
