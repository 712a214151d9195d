//! The management API over real HTTP: GraphQL at `/graphql` with session cookies and admin
//! API tokens, every query and mutation, the transport and limit rules (B-10…B-13), the
//! separation of credentials (A-06, A-07), the committed SDL (SC-03), and the whole path from
//! signing in to seeing a request on a subscription.

use crate::{
    rig::{chat, post_as, CANARY},
    support::{TestServer, PASSWORD},
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use server::testing::MockUpstream;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

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

async fn endpoint_count(server: &TestServer) -> usize {
    server.state.manage.endpoints().await.unwrap().len()
}

#[tokio::test]
async fn the_sdl_matches_the_committed_schema() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert!(
        committed == server::graphql::sdl(),
        "the GraphQL schema changed: run `cargo run -p server --bin model-gateway -- schema > schema.graphql` \
         and review the difference"
    );
}

/// SC-03: no object type has a field that could carry a secret; the two payloads that hand
/// out a new secret once are the only exceptions.
#[tokio::test]
async fn sc03_no_type_carries_a_secret() {
    let sdl = server::graphql::sdl();
    let forbidden = ["secret", "password", "apikey", "credential", "hash", "token"];
    let mut current: Option<&str> = None;
    let mut checked = 0;
    let mut in_description = false;
    for line in sdl.lines() {
        let line = line.trim();
        // Descriptions: `"""` on a line of its own opens and closes a block.
        if line == "\"\"\"" {
            in_description = !in_description;
            continue;
        }
        if in_description {
            continue;
        }
        if let Some(rest) = line.strip_prefix("type ") {
            current = rest.split_whitespace().next();
            continue;
        }
        if line == "}" {
            current = None;
            continue;
        }
        let Some(kind) = current else { continue };
        if matches!(kind, "Query" | "Mutation" | "Subscription") || line.starts_with('"') || line.is_empty() {
            continue;
        }
        let field = line.split(['(', ':']).next().unwrap().trim().to_lowercase();
        checked += 1;
        let allowed = matches!(
            (kind, field.as_str()),
            ("CreatedKey" | "CreatedAdminApiToken", "secret")
        ) || (kind == "CreatedAdminApiToken" && field == "token")
            || field == "hascredential"
            || field.ends_with("tokens");
        if !allowed {
            for word in forbidden {
                assert!(!field.contains(word), "{kind}.{field} may carry a secret");
            }
        }
    }
    assert!(checked > 100, "the SDL was read ({checked} fields)");
    for kind in ["InferenceEndpoint", "GatewayKey", "AdminApiToken", "AdminUser"] {
        assert!(sdl.contains(&format!("type {kind} implements Node")), "{kind}");
    }
}

/// The whole path: sign in, create an endpoint at the mock, a gateway and a key; send a chat
/// request with the key; find it in `requestLogs` and receive it on the subscription.
#[tokio::test]
async fn end_to_end_from_login_to_a_logged_request_on_the_subscription() {
    let mock = MockUpstream::start().await.unwrap();
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;

    let endpoint = api.ok(CREATE_ENDPOINT, endpoint_input("mock", &mock.url())).await;
    let endpoint_id = endpoint["createEndpoint"]["id"].as_str().unwrap().to_string();
    assert_eq!(endpoint["createEndpoint"]["hasCredential"], true);
    assert_eq!(endpoint["createEndpoint"]["health"], "HEALTHY");
    let gateway = api
        .ok(
            CREATE_GATEWAY,
            json!({ "input": { "name": "main", "strategy": "PRIORITY",
                               "endpoints": [{ "endpointId": endpoint_id }] } }),
        )
        .await;
    let gateway_id = gateway["createGateway"]["id"].as_str().unwrap().to_string();
    let key = api
        .ok(
            CREATE_KEY,
            json!({ "input": { "gatewayId": gateway_id, "name": "app" } }),
        )
        .await;
    let secret = key["createKey"]["secret"].as_str().unwrap().to_string();

    // The subscription, authenticated by an admin API token in `connection_init`.
    let token = api
        .ok(
            "mutation { createAdminApiToken(input: { name: \"ci\" }) { secret token { publicId role } } }",
            json!({}),
        )
        .await["createAdminApiToken"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let mut request = format!("{}/graphql", server.url.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    socket.send(Message::text(init.to_string())).await.unwrap();
    let ack = next_json(&mut socket).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription($g: ID) { requestLogs(gatewayId: $g) { requestId status model gatewayName endpointName } }",
        "variables": { "g": gateway_id } } });
    socket.send(Message::text(subscribe.to_string())).await.unwrap();

    let response = post_as(&server.url, &secret, "/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(!response.text().await.unwrap().is_empty());

    let pushed = tokio::time::timeout(Duration::from_secs(10), next_json(&mut socket))
        .await
        .expect("the subscription delivers the request within 10 s");
    assert_eq!(pushed["type"], "next", "{pushed}");
    let log = &pushed["payload"]["data"]["requestLogs"];
    assert_eq!(log["requestId"], request_id.as_str(), "{pushed}");
    assert_eq!(log["status"], 200);
    assert_eq!(log["gatewayName"], "main");
    assert_eq!(log["endpointName"], "mock");

    let logs = api
        .ok(
            "query($f: RequestLogFilter) { requestLogs(filter: $f, first: 10) {
               edges { cursor node { requestId status model promptTokens attempts { attempt status endpointId } } }
               pageInfo { hasNextPage } } }",
            json!({ "f": { "gatewayId": gateway_id, "status": 200 } }),
        )
        .await;
    let edges = logs["requestLogs"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1, "{logs}");
    assert_eq!(edges[0]["node"]["requestId"], request_id.as_str());
    assert_eq!(edges[0]["node"]["attempts"][0]["endpointId"], endpoint_id.as_str());
    assert_eq!(logs["requestLogs"]["pageInfo"]["hasNextPage"], false);
    let none = api
        .ok(
            "query($f: RequestLogFilter) { requestLogs(filter: $f) { edges { cursor } } }",
            json!({ "f": { "gatewayId": gateway_id, "errorsOnly": true } }),
        )
        .await;
    assert_eq!(none["requestLogs"]["edges"], json!([]));

    // The same request by its id, as a node, and in the hourly history and the dashboard.
    let one = api
        .ok(
            "query($r: String!) { requestLog(requestId: $r) { id keyId } }",
            json!({ "r": request_id }),
        )
        .await;
    assert_eq!(one["requestLog"]["keyId"], key["createKey"]["key"]["id"]);
    let node = api
        .ok(
            "query($id: ID!) { node(id: $id) { ... on RequestLog { requestId } } }",
            json!({ "id": one["requestLog"]["id"] }),
        )
        .await;
    assert_eq!(node["node"]["requestId"], request_id.as_str());
    let now = server::store::now_ms();
    let history = api
        .ok(
            "query($id: ID!, $from: Int!, $to: Int!) {
               gateway(id: $id) { usage(from: $from, to: $to) { requests promptTokens latencyP50Ms } }
               dashboard(from: $from, to: $to) { totals { requests errors costMicros } series { requests } } }",
            json!({ "id": gateway_id, "from": now - 7_200_000, "to": now + 3_600_000 }),
        )
        .await;
    assert_eq!(history["gateway"]["usage"][0]["requests"], 1, "{history}");
    assert!(history["gateway"]["usage"][0]["latencyP50Ms"].is_i64());
    assert_eq!(history["dashboard"]["totals"]["requests"], 1);
    assert_eq!(history["dashboard"]["totals"]["errors"], 0);
    assert_eq!(mock.requests_received(), 1);

    // Over the socket only subscriptions run: queries and mutations are POSTed.
    let mutation = json!({ "id": "2", "type": "subscribe", "payload": {
        "query": "mutation { setPrice(input: { model: \"x\", inputPerMtokMicros: 1, outputPerMtokMicros: 1 }) { model } }" } });
    socket.send(Message::text(mutation.to_string())).await.unwrap();
    let refused = next_json(&mut socket).await;
    assert_eq!(refused["id"], "2", "{refused}");
    assert!(
        refused.to_string().contains("only subscriptions run over the socket"),
        "{refused}"
    );
    assert!(server
        .state
        .manage
        .prices()
        .await
        .unwrap()
        .iter()
        .all(|p| p.model != "x"));

    // Revoking the token ends its subscription (checked every 5 s).
    let token_id = api.ok("{ adminApiTokens { id } }", json!({})).await["adminApiTokens"][0]["id"].clone();
    api.ok(
        "mutation($id: ID!) { revokeAdminApiToken(id: $id) { id } }",
        json!({ "id": token_id }),
    )
    .await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let message = next_json(&mut socket).await;
            if message["id"] == "1" && message["type"] != "next" || message["payload"]["errors"].is_array() {
                return message;
            }
        }
    })
    .await
    .expect("the subscription ends within 10 s of the revocation");
    assert!(
        ended["type"] == "complete" || ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED",
        "{ended}"
    );
    socket.close(None).await.ok();
}

async fn next_json<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match socket.next().await.expect("the socket is open").unwrap() {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] != "ping" && value["type"] != "pong" {
                    return value;
                }
            }
            Message::Close(frame) => panic!("the socket closed: {frame:?}"),
            _ => {}
        }
    }
}

/// Every query and mutation, with an admin's session: endpoints, gateways, keys (as a tree),
/// admin users, tokens, prices, the audit log, `node`, the dashboard and password changes.
#[tokio::test]
async fn every_query_and_mutation_works_for_an_admin() {
    let mock = MockUpstream::start().await.unwrap();
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;

    // Endpoints.
    let a = api.ok(CREATE_ENDPOINT, endpoint_input("a", &mock.url())).await["createEndpoint"].clone();
    let b = api.ok(CREATE_ENDPOINT, endpoint_input("b", &mock.url())).await["createEndpoint"].clone();
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let updated = api
        .ok(
            "mutation($id: ID!) { updateEndpoint(id: $id, input: { region: \"eu\", rpmLimit: 100 }) { region rpmLimit name } }",
            json!({ "id": b_id }),
        )
        .await;
    assert_eq!(
        updated["updateEndpoint"],
        json!({ "region": "eu", "rpmLimit": 100, "name": "b" })
    );
    let tested = api
        .ok(
            "mutation($id: ID!) { testEndpoint(id: $id) { ok status latencyMs error } }",
            json!({ "id": a_id }),
        )
        .await;
    assert_eq!(tested["testEndpoint"]["ok"], true, "{tested}");
    assert_eq!(tested["testEndpoint"]["status"], 200);
    let listed = api.ok("{ inferenceEndpoints { name provider } }", json!({})).await;
    assert_eq!(listed["inferenceEndpoints"].as_array().unwrap().len(), 2);

    // Gateways.
    let gateway = api
        .ok(
            CREATE_GATEWAY,
            json!({ "input": { "name": "g", "strategy": "WEIGHTED",
                    "endpoints": [{ "endpointId": a_id, "weight": 3 }, { "endpointId": b_id, "weight": 1, "priority": 5 }],
                    "limits": [{ "metric": "REQUESTS", "period": "MINUTE", "maxValue": 1000 }],
                    "modelAliases": [{ "alias": "fast", "model": "gpt-4o-mini" }] } }),
        )
        .await["createGateway"]
        .clone();
    let gateway_id = gateway["id"].as_str().unwrap();
    assert_eq!(gateway["endpoints"][0]["weight"], 3);
    assert_eq!(gateway["endpoints"][1]["priority"], 5);
    assert_eq!(gateway["limits"][0]["maxValue"], 1000);
    let reordered = api
        .ok(
            "mutation($id: ID!, $e: [GatewayEndpointInput!]!) { setGatewayEndpoints(id: $id, endpoints: $e) { endpoints { endpointName position } } }",
            json!({ "id": gateway_id, "e": [{ "endpointId": b_id }, { "endpointId": a_id }] }),
        )
        .await;
    assert_eq!(reordered["setGatewayEndpoints"]["endpoints"][0]["endpointName"], "b");
    let renamed = api
        .ok(
            "mutation($id: ID!) { updateGateway(id: $id, input: { description: \"main\", logPayloads: true,
               retry: { maxAttempts: 2, baseMs: 50, capMs: 500 }, deadlineMs: 9000,
               modelAliases: [{ alias: \"quick\", model: \"gpt-4o-mini\" }] }) {
               description logPayloads retry { maxAttempts baseMs capMs } deadlineMs modelAliases { alias } } }",
            json!({ "id": gateway_id }),
        )
        .await;
    assert_eq!(
        renamed["updateGateway"],
        json!({ "description": "main", "logPayloads": true, "retry": { "maxAttempts": 2, "baseMs": 50, "capMs": 500 },
                "deadlineMs": 9000, "modelAliases": [{ "alias": "quick" }] })
    );
    let back = api
        .ok(
            "mutation($id: ID!) { updateGateway(id: $id, input: { deadlineMs: null }) { deadlineMs retry { maxAttempts } } }",
            json!({ "id": gateway_id }),
        )
        .await;
    assert_eq!(
        back["updateGateway"],
        json!({ "deadlineMs": null, "retry": { "maxAttempts": 2 } })
    );
    let by_id = api
        .ok(
            "query($id: ID!) { gateway(id: $id) { name } gateways { name } }",
            json!({ "id": gateway_id }),
        )
        .await;
    assert_eq!(
        by_id,
        json!({ "gateway": { "name": "g" }, "gateways": [{ "name": "g" }] })
    );
    let by_name = api
        .ok(
            "{ gateway(name: \"g\") { id modelAliases { alias model } } }",
            json!({}),
        )
        .await;
    assert_eq!(by_name["gateway"]["id"], gateway_id);
    assert_eq!(by_name["gateway"]["modelAliases"][0]["alias"], "quick");

    // Keys: a parent and a child, as a tree; update, reset, rotate, revoke.
    let parent = api
        .ok(
            CREATE_KEY,
            json!({ "input": { "gatewayId": gateway_id, "name": "team",
                               "limits": [{ "metric": "TOKENS", "period": "DAY", "maxValue": 5000 }] } }),
        )
        .await["createKey"]
        .clone();
    let parent_id = parent["key"]["id"].as_str().unwrap();
    assert!(parent["secret"].as_str().unwrap().starts_with("mgw_"));
    assert_eq!(parent["key"]["status"], "ACTIVE");
    let child = api
        .ok(
            CREATE_KEY,
            json!({ "input": { "gatewayId": gateway_id, "name": "app", "parentId": parent_id } }),
        )
        .await["createKey"]
        .clone();
    let child_id = child["key"]["id"].as_str().unwrap();
    assert_eq!(child["key"]["parentId"], parent_id);
    let over = api
        .fails(
            CREATE_KEY,
            json!({ "input": { "gatewayId": gateway_id, "name": "greedy", "parentId": parent_id,
                               "limits": [{ "metric": "TOKENS", "period": "DAY", "maxValue": 9000 }] } }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(over["extensions"]["field"], "limits", "{over}");
    let tree = api
        .ok(
            "query($g: ID!) { keys(gatewayId: $g) { name children { name children { name } } } }",
            json!({ "g": gateway_id }),
        )
        .await;
    assert_eq!(
        tree["keys"],
        json!([{ "name": "team", "children": [{ "name": "app", "children": [] }] }])
    );
    let changed = api
        .ok(
            "mutation($id: ID!) { updateKey(id: $id, input: { allowedModels: [\"gpt-4o-mini\"], enabled: false }) { allowedModels status } }",
            json!({ "id": child_id }),
        )
        .await;
    assert_eq!(
        changed["updateKey"],
        json!({ "allowedModels": ["gpt-4o-mini"], "status": "DISABLED" })
    );
    let cleared = api
        .ok(
            "mutation($id: ID!) { updateKey(id: $id, input: { allowedModels: null, enabled: true }) { allowedModels status } }",
            json!({ "id": child_id }),
        )
        .await;
    assert_eq!(
        cleared["updateKey"],
        json!({ "allowedModels": null, "status": "ACTIVE" })
    );
    let reset = api
        .ok(
            "mutation($id: ID!) { resetKeyUsage(id: $id) { usageResetAt } }",
            json!({ "id": child_id }),
        )
        .await;
    assert!(reset["resetKeyUsage"]["usageResetAt"].is_i64());
    let rotated = api
        .ok(
            "mutation($id: ID!) { rotateKey(id: $id, graceSeconds: 60) { secret key { id name } } }",
            json!({ "id": child_id }),
        )
        .await;
    assert_ne!(rotated["rotateKey"]["key"]["id"], child_id);
    let doomed = api
        .ok(
            CREATE_KEY,
            json!({ "input": { "gatewayId": gateway_id, "name": "doomed", "parentId": child_id } }),
        )
        .await["createKey"]["key"]["id"]
        .clone();
    api.ok("mutation($id: ID!) { deleteKey(id: $id) }", json!({ "id": doomed }))
        .await;
    let gone = api
        .ok("query($id: ID!) { node(id: $id) { id } }", json!({ "id": doomed }))
        .await;
    assert_eq!(gone["node"], Value::Null);
    let revoked = api
        .ok("mutation($id: ID!) { revokeKey(id: $id) }", json!({ "id": parent_id }))
        .await;
    assert!(
        revoked["revokeKey"].as_i64().unwrap() >= 2,
        "the parent and its descendants: {revoked}"
    );
    let node = api
        .ok(
            "query($id: ID!) { node(id: $id) { id ... on GatewayKey { status } } }",
            json!({ "id": parent_id }),
        )
        .await;
    assert_eq!(node["node"]["status"], "REVOKED");

    // Admin users and tokens.
    let viewer = api
        .ok(
            "mutation { createAdminUser(input: { email: \"viewer@example.com\", password: \"correct horse battery\", role: VIEWER }) { id role disabled } }",
            json!({}),
        )
        .await["createAdminUser"]
        .clone();
    let viewer_id = viewer["id"].as_str().unwrap();
    let disabled = api
        .ok(
            "mutation($id: ID!) { updateAdminUser(id: $id, input: { disabled: true }) { disabled } }",
            json!({ "id": viewer_id }),
        )
        .await;
    assert_eq!(disabled["updateAdminUser"]["disabled"], true);
    let me = api.ok("{ viewer { user { id } } }", json!({})).await["viewer"]["user"]["id"].clone();
    let last = api
        .fails(
            "mutation($id: ID!) { updateAdminUser(id: $id, input: { role: VIEWER }) { role } }",
            json!({ "id": me }),
            "BAD_USER_INPUT",
        )
        .await;
    assert!(
        last["message"].as_str().unwrap().contains("last enabled admin"),
        "{last}"
    );
    api.ok(
        "mutation($id: ID!) { deleteAdminUser(id: $id) }",
        json!({ "id": viewer_id }),
    )
    .await;
    let users = api.ok("{ adminUsers { email } }", json!({})).await;
    assert_eq!(users["adminUsers"], json!([{ "email": ADMIN }]));
    let token = api
        .ok(
            "mutation { createAdminApiToken(input: { name: \"deploy\" }) { secret token { id publicId } } }",
            json!({}),
        )
        .await["createAdminApiToken"]
        .clone();
    let token_id = token["token"]["id"].as_str().unwrap();
    let listed = api
        .ok("{ adminApiTokens { name lastUsedAt revokedAt } }", json!({}))
        .await;
    assert_eq!(
        listed["adminApiTokens"],
        json!([{ "name": "deploy", "lastUsedAt": null, "revokedAt": null }])
    );
    api.ok(
        "mutation($id: ID!) { revokeAdminApiToken(id: $id) { revokedAt } }",
        json!({ "id": token_id }),
    )
    .await;

    // Prices.
    let price = api
        .ok(
            "mutation { setPrice(input: { model: \"my-model\", inputPerMtokMicros: 1000000, outputPerMtokMicros: 2000000 }) { model } }",
            json!({}),
        )
        .await;
    assert_eq!(price["setPrice"]["model"], "my-model");
    let prices = api.ok("{ prices { model inputPerMtokMicros } }", json!({})).await;
    assert!(prices["prices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["model"] == "my-model"));
    api.ok("mutation { deletePrice(model: \"my-model\") }", json!({})).await;

    // Dashboard (empty history is fine: the totals are zero).
    let now = server::store::now_ms();
    let dashboard = api
        .ok(
            "query($from: Int!, $to: Int!, $g: ID) { dashboard(from: $from, to: $to, gatewayId: $g) { totals { requests errors } series { hourStart } } }",
            json!({ "from": now - 86_400_000, "to": now + 3_600_000, "g": gateway_id }),
        )
        .await;
    assert_eq!(dashboard["dashboard"]["totals"]["requests"], 0);

    // Deletions: the gateway, then its endpoints.
    api.ok(
        "mutation($id: ID!) { deleteGateway(id: $id) }",
        json!({ "id": gateway_id }),
    )
    .await;
    api.ok("mutation($id: ID!) { deleteEndpoint(id: $id) }", json!({ "id": a_id }))
        .await;
    api.ok("mutation($id: ID!) { deleteEndpoint(id: $id) }", json!({ "id": b_id }))
        .await;
    assert_eq!(endpoint_count(&server).await, 0);

    // The audit log: every change, by whom, never a secret.
    let audit = api
        .ok(
            "{ auditLog(first: 100) { edges { node { action actor actorKind details targetId } } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    let text = audit.to_string();
    assert!(
        !text.contains(CANARY) && !text.contains(PASSWORD),
        "a secret in the audit log"
    );
    let actions: Vec<&str> = audit["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["action"].as_str().unwrap())
        .collect();
    for action in [
        "admin.login",
        "endpoint.create",
        "endpoint.update",
        "endpoint.test",
        "gateway.create",
        "gateway.update",
        "key.create",
        "key.update",
        "key.reset",
        "key.rotate",
        "key.revoke",
        "key.delete",
        "admin.create",
        "admin.update",
        "admin.delete",
        "admin_token.create",
        "admin_token.revoke",
        "price.set",
        "price.delete",
        "gateway.delete",
        "endpoint.delete",
    ] {
        assert!(actions.contains(&action), "{action} is audited: {actions:?}");
    }
    assert_eq!(audit["auditLog"]["edges"][0]["node"]["actor"], ADMIN);
    assert_eq!(audit["auditLog"]["edges"][0]["node"]["actorKind"], "ADMIN");

    // Password change, then sign-out: the old cookie no longer works.
    api.ok(
        "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
        json!({ "c": PASSWORD, "n": "a new horse battery staple" }),
    )
    .await;
    assert_eq!(api.ok("mutation { logout }", json!({})).await["logout"], true);
    let (status, _) = api.send("{ viewer { role } }", json!({})).await;
    assert_eq!(status, 401);
}

/// Validation errors name the field in `extensions`, and change nothing.
#[tokio::test]
async fn invalid_input_names_the_field_and_writes_nothing() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let error = api
        .fails(
            CREATE_ENDPOINT,
            endpoint_input("bad name!", "http://127.0.0.1:9"),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "name", "{error}");
    let error = api
        .fails(
            CREATE_ENDPOINT,
            json!({ "input": { "name": "meta", "provider": "OPENAI", "baseUrl": "http://169.254.169.254/v1", "model": "m" } }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "baseUrl", "{error}");
    api.fails("mutation { deleteEndpoint(id: \"nope\") }", json!({}), "BAD_USER_INPUT")
        .await;
    // A gateway whose limits are refused is not created either.
    let error = api
        .fails(
            CREATE_GATEWAY,
            json!({ "input": { "name": "g", "strategy": "PRIORITY", "endpoints": [],
                               "limits": [{ "metric": "REQUESTS", "period": "MINUTE", "maxValue": -1 }] } }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "limits");
    assert!(server.state.manage.gateways().await.unwrap().is_empty());
    assert_eq!(endpoint_count(&server).await, 0);
}

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

    // A browser's GET shows GraphiQL.
    let page = reqwest::Client::new()
        .get(&url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().to_lowercase().contains("graphiql"));
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

/// A-06: no session, an expired one, or a cookie replayed after logout: 401, no resolver runs.
#[tokio::test]
async fn a06_no_expired_or_replayed_sessions_get_401_and_run_nothing() {
    let query = "{ viewer { role } inferenceEndpoints { name } }";
    // Resolver calls made while answering `api`'s request, which must be refused.
    async fn refused(server: &TestServer, api: &Api, query: &str, case: &str) -> u64 {
        let before = server.state.graphql.resolver_calls();
        let (status, _) = api.send(query, json!({})).await;
        assert_eq!(status, 401, "{case}");
        server.state.graphql.resolver_calls() - before
    }

    let server = TestServer::start_with(|config| config.sessions.idle_timeout = Duration::from_millis(1)).await;
    server.create_admin(ADMIN).await;
    let mut calls = refused(&server, &Api::anonymous(&server), query, "no session").await;
    // Idle for longer than the (1 ms) idle timeout: expired.
    let expired = Api::login(&server, ADMIN).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    calls += refused(&server, &expired, query, "expired session").await;

    // A cookie replayed after its owner signed out.
    let server = self::server().await;
    let (client, cookie) = server.signed_in(ADMIN).await;
    let signed_in = Api {
        url: server.url.clone(),
        client,
        token: None,
    };
    signed_in.ok("{ viewer { role } }", json!({})).await;
    assert_eq!(signed_in.ok("mutation { logout }", json!({})).await["logout"], true);
    let replay = Api {
        url: server.url.clone(),
        client: reqwest::Client::builder()
            .default_headers(
                [(
                    reqwest::header::COOKIE,
                    format!("mgw_session={cookie}").parse().unwrap(),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .unwrap(),
        token: None,
    };
    calls += refused(&server, &replay, query, "replayed cookie").await;
    assert_eq!(calls, 0, "resolver calls for refused requests");
    crate::rig::metric("a06_resolver_calls_refused", calls);
}

/// A-07: a gateway key opens nothing on the admin API, and an admin cookie nothing on `/v1`.
#[tokio::test]
async fn a07_gateway_keys_and_admin_sessions_are_separate_credentials() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = crate::rig::Rig::openai(&mock).await;
    rig.server.create_admin(ADMIN).await;
    let calls = rig.server.state.graphql.resolver_calls();
    let (status, _) = Api::with_token(&rig.server, &rig.key)
        .send("{ viewer { role } }", json!({}))
        .await;
    assert_eq!(status, 401, "a gateway key against /graphql");
    assert_eq!(rig.server.state.graphql.resolver_calls(), calls);

    let (client, _) = rig.server.signed_in(ADMIN).await;
    let response = client
        .post(format!("{}/v1/chat/completions", rig.server.url))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "an admin cookie against /v1");
    assert_eq!(mock.requests_received(), 0);
}

/// Admin API tokens: shown once, stored hashed, acting with at most their role; a viewer
/// reads but cannot write; a revoked token stops at once.
#[tokio::test]
async fn admin_api_tokens_authenticate_with_their_role_until_revoked() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let create = "mutation($role: AdminRole!) { createAdminApiToken(input: { name: \"bot\", role: $role }) { secret token { id role publicId } } }";
    let admin = api.ok(create, json!({ "role": "ADMIN" })).await["createAdminApiToken"].clone();
    let viewer = api.ok(create, json!({ "role": "VIEWER" })).await["createAdminApiToken"].clone();
    let admin_secret = admin["secret"].as_str().unwrap();
    assert!(admin_secret.starts_with("mgwa_"));

    let bot = Api::with_token(&server, admin_secret);
    let me = bot
        .ok("{ viewer { role authenticatedBy user { email } } }", json!({}))
        .await;
    assert_eq!(
        me["viewer"],
        json!({ "role": "ADMIN", "authenticatedBy": "API_TOKEN", "user": { "email": ADMIN } })
    );
    bot.ok(
        "mutation { setPrice(input: { model: \"m\", inputPerMtokMicros: 1, outputPerMtokMicros: 1 }) { model } }",
        json!({}),
    )
    .await;
    let audit = bot
        .ok(
            "{ auditLog(first: 1) { edges { node { actor actorKind } } } }",
            json!({}),
        )
        .await;
    let entry = &audit["auditLog"]["edges"][0]["node"];
    assert_eq!(entry["actorKind"], "API_TOKEN");
    assert!(entry["actor"].as_str().unwrap().starts_with("bot ("), "{entry}");

    // A token cannot mint tokens (one that outlived it would survive its revocation).
    let error = bot
        .fails(
            "mutation { createAdminApiToken(input: { name: \"copy\" }) { secret } }",
            json!({}),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "owner");
    let reader = Api::with_token(&server, viewer["secret"].as_str().unwrap());
    reader
        .ok("{ inferenceEndpoints { name } prices { model } }", json!({}))
        .await;
    reader
        .fails("mutation { deletePrice(model: \"m\") }", json!({}), "FORBIDDEN")
        .await;

    // The secret is stored only as a hash.
    let dir = server.dir.path().join("data");
    let database = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(".db"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .unwrap_or_default();
    // `mgwa_<public id>_<secret>`: the secret's base64url may itself hold `_`.
    let secret_part = admin_secret.splitn(3, '_').nth(2).unwrap();
    assert!(secret_part.len() >= 43, "{secret_part}");
    assert!(!database.windows(secret_part.len()).any(|w| w == secret_part.as_bytes()));

    api.ok(
        "mutation($id: ID!) { revokeAdminApiToken(id: $id) { revokedAt } }",
        json!({ "id": admin["token"]["id"] }),
    )
    .await;
    let (status, _) = bot.send("{ viewer { role } }", json!({})).await;
    assert_eq!(status, 401, "a revoked token");
    let (status, _) = Api::with_token(&server, &format!("{admin_secret}x"))
        .send("{ viewer { role } }", json!({}))
        .await;
    assert_eq!(status, 401, "a wrong token");
}

/// Sign-in over GraphQL: a wrong password is UNAUTHENTICATED (with no cookie), and the
/// throttle answers RATE_LIMITED with the wait.
#[tokio::test]
async fn login_refuses_wrong_passwords_and_is_throttled() {
    let server = server().await;
    let api = Api::anonymous(&server);
    let login = "mutation($p: String!) { login(email: \"admin@example.com\", password: $p) { role } }";
    let response = api
        .request()
        .json(&json!({ "query": login, "variables": { "p": "wrong password!" } }))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("set-cookie").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let mut last = Value::Null;
    for _ in 0..6 {
        last = api.send(login, json!({ "p": "wrong password!" })).await.1;
    }
    assert_eq!(last["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{last}");
    assert!(last["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap() > 0);
}
