//! Every query and mutation for an admin (endpoints, gateways, keys, admins, tokens, prices, the
//! dashboard, the audit log), and validation errors that name the field and write nothing.

use super::{endpoint_count, endpoint_input, server, Api, ADMIN, CREATE_ENDPOINT, CREATE_GATEWAY, CREATE_KEY};
use crate::{rig::CANARY, support::PASSWORD};
use serde_json::{json, Value};
use server::testing::MockUpstream;

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
    // Nor one that gives an alias twice (the rule is the management service's, so the CLI and
    // the console meet it too).
    let endpoint = api.ok(CREATE_ENDPOINT, endpoint_input("a", "http://127.0.0.1:9")).await;
    let error = api
        .fails(
            CREATE_GATEWAY,
            json!({ "input": { "name": "g", "strategy": "PRIORITY",
                               "endpoints": [{ "endpointId": endpoint["createEndpoint"]["id"] }],
                               "modelAliases": [{ "alias": "fast", "model": "m1" }, { "alias": "fast", "model": "m2" }] } }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "modelAliases", "{error}");
    assert!(server.state.manage.gateways().await.unwrap().is_empty());
    assert_eq!(endpoint_count(&server).await, 1);
}
