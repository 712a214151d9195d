//! The transport and limit rules (B-10…B-13): malformed and oversized operations, POSTed JSON
//! from the same origin only, introspection for signed-in admins.

use super::{endpoint_count, server, Api, ADMIN, CREATE_ENDPOINT};
use serde_json::{json, Value};

/// B-10: a syntax error, an unknown field and variables of the wrong type answer `errors[]`
/// and write nothing.
#[tokio::test]
async fn b10_malformed_operations_answer_errors_and_write_nothing() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    api.fails("mutation { createEndpoint(input: {", json!({}), "GRAPHQL_PARSE_FAILED")
        .await;
    api.fails(
        "{ inferenceEndpoints { name nope } }",
        json!({}),
        "GRAPHQL_VALIDATION_FAILED",
    )
    .await;
    let wrong = json!({ "input": { "name": "x", "provider": "OPENAI", "model": "m", "rpmLimit": "lots" } });
    api.fails(CREATE_ENDPOINT, wrong, "GRAPHQL_VALIDATION_FAILED").await;
    let wrong = json!({ "input": { "name": "x", "provider": "NOT_A_PROVIDER", "model": "m" } });
    api.fails(CREATE_ENDPOINT, wrong, "GRAPHQL_VALIDATION_FAILED").await;
    assert_eq!(endpoint_count(&server).await, 0, "no partial write");
}

/// B-11: depth 11, complexity 1001, 1,000 aliases and a batch of 100 are refused before any
/// resolver runs.
#[tokio::test]
async fn b11_oversized_operations_are_refused_before_any_resolver_runs() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let calls = || server.state.graphql.resolver_calls();

    let mut deep = "id".to_string();
    for _ in 0..8 {
        deep = format!("children {{ {deep} }}");
    }
    let deep = format!("{{ gateways {{ keys {{ {deep} }} }} }}");
    assert_eq!(deep.matches('{').count(), 11, "depth 11");
    let many_fields = format!("{{ inferenceEndpoints {{ {} }} }}", "name ".repeat(1001));
    let many_aliases = format!(
        "{{ {} }}",
        (0..1000)
            .map(|i| format!("a{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let before = calls();
    let error = api.fails(&deep, json!({}), "GRAPHQL_VALIDATION_FAILED").await;
    assert!(error["message"].as_str().unwrap().contains("too deep"), "{error}");
    let error = api.fails(&many_fields, json!({}), "GRAPHQL_VALIDATION_FAILED").await;
    assert!(error["message"].as_str().unwrap().contains("too complex"), "{error}");
    let error = api.fails(&many_aliases, json!({}), "GRAPHQL_VALIDATION_FAILED").await;
    assert!(error["message"].as_str().unwrap().contains("1000 aliases"), "{error}");
    let batch: Vec<Value> = (0..100).map(|_| json!({ "query": "{ viewer { role } }" })).collect();
    let response = api.request().json(&batch).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert_eq!(calls(), before, "resolver calls");
    crate::rig::metric("b11_resolver_calls", calls() - before);

    // The limits are not too tight for real use: depth 10 runs.
    let mut fine = "id".to_string();
    for _ in 0..7 {
        fine = format!("children {{ {fine} }}");
    }
    api.ok(&format!("{{ gateways {{ keys {{ {fine} }} }} }}"), json!({}))
        .await;
    assert!(calls() > before);
}

/// B-12: operations only by POST with JSON; cross-origin browser requests refused.
#[tokio::test]
async fn b12_only_same_origin_json_posts_run_operations() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let url = format!("{}/graphql", server.url);
    let calls = server.state.graphql.resolver_calls();

    let get = api
        .client
        .get(&url)
        .query(&[("query", "mutation { logout }")])
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    let plain = api
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body(r#"{"query":"mutation { logout }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 415);
    let form = api
        .client
        .post(&url)
        .form(&[("query", "mutation { logout }")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    let multipart = api
        .client
        .post(&url)
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{\"query\":\"mutation { logout }\"}\r\n--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(multipart.status(), 415);
    let evil = api
        .request()
        .header("origin", "https://evil.test")
        .json(&json!({ "query": "mutation { logout }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    assert_eq!(server.state.graphql.resolver_calls(), calls, "nothing ran");
    // The session survived all of it.
    api.ok("{ viewer { role } }", json!({})).await;

    // A browser's GET shows the explorer, which loads nothing from another site.
    let page = reqwest::Client::new()
        .get(&url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("GraphQL explorer"));
    for outside in ["http://", "https://", "//cdn", "unpkg", "jsdelivr"] {
        let found = html
            .match_indices(outside)
            .map(|(i, _)| &html[i.saturating_sub(20)..i + 20])
            .collect::<Vec<_>>();
        assert!(found.is_empty(), "{outside}: {found:?}");
    }
}

/// B-13: introspection is for signed-in admins only.
#[tokio::test]
async fn b13_introspection_needs_a_signed_in_admin() {
    let server = server().await;
    // Without credentials only one unaliased `login` runs: no aliases multiplying password checks.
    let many = "mutation { a: login(email: \"a@example.com\", password: \"x\") { role } b: login(email: \"b@example.com\", password: \"x\") { role } }";
    let (status, _) = Api::anonymous(&server).send(many, json!({})).await;
    assert_eq!(status, 401);
    let introspection = "{ __schema { queryType { name } types { name } } }";
    let (status, body) = Api::anonymous(&server).send(introspection, json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert!(body.get("data").is_none());
    let api = Api::login(&server, ADMIN).await;
    let data = api.ok(introspection, json!({})).await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
}
