//! The management API over real HTTP: GraphQL at `/graphql` with session cookies and admin
//! API tokens, every query and mutation, the transport and limit rules (B-10…B-13), the
//! separation of credentials, the committed SDL (SC-03), and the whole path from
//! signing in to seeing a request on a subscription.
//!
//! Here: the client (`Api`), a server with one admin, and the documents the areas share.

use crate::{
    rig::CANARY,
    support::{TestServer, PASSWORD},
};
use serde_json::{json, Value};

const ADMIN: &str = "admin@example.com";

/// A GraphQL client: a cookie-keeping HTTP client, or a Bearer token.
struct Api {
    url: String,
    client: reqwest::Client,
    token: Option<String>,
}

impl Api {
    /// Signs in with the `login` mutation (the session cookie is kept).
    async fn login(server: &TestServer, email: &str) -> Api {
        let api = Api {
            url: server.url.clone(),
            client: server.client(),
            token: None,
        };
        let (status, body) = api
            .send(
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { role user { email } } }",
                json!({ "e": email, "p": PASSWORD }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["login"]["user"]["email"], email, "{body}");
        api
    }

    /// No credentials at all.
    fn anonymous(server: &TestServer) -> Api {
        Api {
            url: server.url.clone(),
            client: server.client(),
            token: None,
        }
    }

    /// An admin API token.
    fn with_token(server: &TestServer, token: &str) -> Api {
        Api {
            url: server.url.clone(),
            client: reqwest::Client::new(),
            token: Some(token.to_string()),
        }
    }

    fn request(&self) -> reqwest::RequestBuilder {
        let request = self.client.post(format!("{}/graphql", self.url));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(&self, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .request()
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(
            !text.contains(CANARY),
            "a provider credential in a GraphQL answer: {text}"
        );
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Runs an operation that must succeed; returns `data`.
    async fn ok(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.send(query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }

    /// Runs an operation that must fail with `code`; returns the first error.
    async fn fails(&self, query: &str, variables: Value, code: &str) -> Value {
        let (_, body) = self.send(query, variables).await;
        let error = body["errors"][0].clone();
        assert_eq!(error["extensions"]["code"], code, "{query}: {body}");
        error
    }
}

/// A server with one admin.
async fn server() -> TestServer {
    let server = TestServer::start().await;
    server.create_admin(ADMIN).await;
    server
}

const CREATE_ENDPOINT: &str = "mutation($input: CreateEndpointInput!) {
    createEndpoint(input: $input) { id name provider baseUrl model hasCredential enabled health timeouts { connectMs } } }";
const CREATE_GATEWAY: &str = "mutation($input: CreateGatewayInput!) {
    createGateway(input: $input) { id name strategy endpoints { endpointName weight priority position endpoint { id } }
      limits { metric period maxValue } retry { maxAttempts } } }";
const CREATE_KEY: &str = "mutation($input: CreateKeyInput!) {
    createKey(input: $input) { secret key { id name publicId masked status parentId gatewayId limits { metric maxValue } } } }";

fn endpoint_input(name: &str, base: &str) -> Value {
    json!({ "input": { "name": name, "provider": "OPENAI", "baseUrl": format!("{base}/v1"),
                       "apiKey": CANARY, "model": "gpt-4o-mini" } })
}

/// Creates endpoint `e` (at an address nothing listens on) and gateway `g` over it; answers
/// the gateway's id.
async fn gateway_over_an_endpoint(api: &Api) -> Value {
    let endpoint =
        api.ok(CREATE_ENDPOINT, endpoint_input("e", "http://127.0.0.1:9")).await["createEndpoint"]["id"].clone();
    let input = json!({ "input": { "name": "g", "strategy": "PRIORITY", "endpoints": [{ "endpointId": endpoint }] } });
    api.ok(CREATE_GATEWAY, input).await["createGateway"]["id"].clone()
}

async fn endpoint_count(server: &TestServer) -> usize {
    server.state.manage.endpoints().await.unwrap().len()
}

mod access;
mod cache;
mod guardrails;
mod identity;
mod operations;
mod people;
mod prompts;
mod schema;
mod subscription;
mod transport;
