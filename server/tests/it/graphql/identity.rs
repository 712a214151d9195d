//! End users through GraphQL (issue #23): identity providers added to a gateway, read back
//! under it and by `node`, refused naming their field, closed to viewers, and removed; and an
//! access rule tried against claims (`testAccessRule`).

use super::{gateway_over_an_endpoint, server, Api, ADMIN};
use crate::support::PASSWORD;
use serde_json::{json, Value};

const ADD: &str = "mutation($input: AddIdentityProviderInput!) { addIdentityProvider(input: $input) {
    id gatewayId issuer audiences keySource jwksUrl environmentVariable algorithms leewayS requiredClaims } }";

#[tokio::test]
async fn identity_providers_are_added_read_back_refused_by_field_and_removed() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let gateway = gateway_over_an_endpoint(&api).await;
    let input = |extra: Value| {
        let mut input = json!({ "gatewayId": gateway, "issuer": "https://id.example.com", "audiences": ["g"] });
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({ "input": input })
    };

    let added = api
        .ok(
            ADD,
            input(
                json!({ "jwksUrl": "https://id.example.com/jwks", "algorithms": ["RS256", "ES256"],
                          "requiredClaims": ["email"] }),
            ),
        )
        .await["addIdentityProvider"]
        .clone();
    assert_eq!(
        (&added["gatewayId"], &added["keySource"], &added["jwksUrl"]),
        (&gateway, &json!("jwks_url"), &json!("https://id.example.com/jwks"))
    );
    assert_eq!(added["algorithms"], json!(["RS256", "ES256"]));
    assert_eq!(
        (&added["leewayS"], &added["requiredClaims"]),
        (&json!(60), &json!(["email"]))
    );
    let secret = api
        .ok(
            ADD,
            input(json!({ "issuer": "internal", "secretEnv": "MGW_JWT_SECRET" })),
        )
        .await["addIdentityProvider"]
        .clone();
    assert_eq!(
        (&secret["environmentVariable"], &secret["algorithms"]),
        (&json!("MGW_JWT_SECRET"), &json!(["HS256"]))
    );

    // Read back under the gateway, and by node.
    let listed = api
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Gateway { authMode identityProviders { id issuer } } } }",
            json!({ "id": gateway }),
        )
        .await["node"]
        .clone();
    assert_eq!(listed["authMode"], "KEY");
    let issuers: Vec<&str> = (listed["identityProviders"].as_array().unwrap().iter())
        .map(|p| p["issuer"].as_str().unwrap())
        .collect();
    assert_eq!(issuers, ["https://id.example.com", "internal"]);
    let node = api
        .ok(
            "query($id: ID!) { node(id: $id) { ... on IdentityProvider { issuer } } }",
            json!({ "id": added["id"] }),
        )
        .await;
    assert_eq!(node["node"]["issuer"], "https://id.example.com");

    // Refusals name their field and store nothing.
    let bad = "BAD_USER_INPUT";
    let refusals = [
        (
            json!({ "issuer": "x", "jwksUrl": "https://x/jwks", "discovery": true }),
            "keys",
            bad,
        ),
        (json!({ "issuer": "x" }), "keys", bad),
        (
            json!({ "issuer": "x", "jwksUrl": "https://x/jwks", "algorithms": ["HS256"] }),
            "algorithms",
            bad,
        ),
        (
            json!({ "issuer": "x", "audiences": [], "jwksUrl": "https://x/jwks" }),
            "audiences",
            bad,
        ),
        (
            json!({ "jwksUrl": "https://id.example.com/other" }),
            "issuer",
            "CONFLICT",
        ),
    ];
    for (extra, field, code) in refusals {
        let error = api.fails(ADD, input(extra.clone()), code).await;
        assert_eq!(error["extensions"]["field"], field, "{extra}: {error}");
    }
    assert_eq!(server.state.manage.identity_providers(None).await.unwrap().len(), 2);

    // A viewer reads but cannot add or remove.
    api.ok(
        "mutation($p: String!) { createAdminUser(input: { email: \"viewer@example.com\", password: $p, role: VIEWER }) { id } }",
        json!({ "p": PASSWORD }),
    )
    .await;
    let viewer = Api::login(&server, "viewer@example.com").await;
    viewer
        .fails(ADD, input(json!({ "issuer": "v", "discovery": true })), "FORBIDDEN")
        .await;
    viewer
        .fails(
            "mutation($id: ID!) { removeIdentityProvider(id: $id) }",
            json!({ "id": added["id"] }),
            "FORBIDDEN",
        )
        .await;

    // Removed; the gateway's ways in changed.
    let removed = api
        .ok(
            "mutation($id: ID!) { removeIdentityProvider(id: $id) }",
            json!({ "id": added["id"] }),
        )
        .await;
    assert_eq!(removed["removeIdentityProvider"], added["id"]);
    let changed = api
        .ok(
            "mutation($id: ID!) { updateGateway(id: $id, input: { authMode: BOTH }) { authMode identityProviders { issuer } } }",
            json!({ "id": gateway }),
        )
        .await;
    assert_eq!(
        changed["updateGateway"],
        json!({ "authMode": "BOTH", "identityProviders": [{ "issuer": "internal" }] })
    );

    // An access rule: compiled when written (a syntax error names `access` and where), read back.
    let rule =
        "mutation($id: ID!, $rule: String) { updateGateway(id: $id, input: { accessRule: $rule }) { accessRule } }";
    let error = api
        .fails(
            rule,
            json!({ "id": gateway, "rule": "'x' in user.groups &&" }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "access", "{error}");
    assert!(error["message"].as_str().unwrap().contains("line 1, column"), "{error}");
    let set = api
        .ok(rule, json!({ "id": gateway, "rule": "'x' in user.groups" }))
        .await;
    assert_eq!(set["updateGateway"]["accessRule"], "'x' in user.groups");
    let cleared = api.ok(rule, json!({ "id": gateway, "rule": null })).await;
    assert_eq!(cleared["updateGateway"]["accessRule"], Value::Null);
}

const TEST_RULE: &str = "query($rule: String!, $claims: JSON!, $model: String, $gateway: ID) {
    testAccessRule(expression: $rule, claims: $claims, model: $model, gateway: $gateway) { allowed error } }";

#[tokio::test]
async fn an_access_rule_is_tried_against_claims_allowing_denying_or_refused_where_it_does_not_parse() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let gateway = gateway_over_an_endpoint(&api).await;
    let audited = server.state.manage.audit_log(None, 1).await.unwrap()[0].id;
    let rule = "'llm' in user.groups && gateway.name == 'g' && request.model == 'gpt-4o'";
    let tried = |claims: Value, gateway: Value| json!({ "rule": rule, "claims": claims, "model": "gpt-4o", "gateway": gateway });
    let ada = json!({ "sub": "ada", "groups": ["llm"] });

    let allowed = api.ok(TEST_RULE, tried(ada.clone(), gateway.clone())).await;
    assert_eq!(allowed["testAccessRule"], json!({ "allowed": true, "error": null }));
    // Claims without the group, or another gateway's name: denied.
    let bob = json!({ "sub": "bob", "groups": ["staff"] });
    let denied = api.ok(TEST_RULE, tried(bob, gateway.clone())).await;
    assert_eq!(denied["testAccessRule"], json!({ "allowed": false, "error": null }));
    let nowhere = api.ok(TEST_RULE, tried(ada.clone(), Value::Null)).await;
    assert_eq!(nowhere["testAccessRule"]["allowed"], false);
    // Claims the rule cannot be evaluated on: denied, saying why.
    let failed = api.ok(TEST_RULE, tried(json!({ "sub": "eve" }), gateway.clone())).await;
    assert_eq!(failed["testAccessRule"]["allowed"], false);
    assert!(failed["testAccessRule"]["error"].is_string(), "{failed}");

    // A rule that does not parse is refused under `expression`, with where.
    let broken = json!({ "rule": "'llm' in user.groups &&", "claims": ada, "gateway": gateway });
    let error = api.fails(TEST_RULE, broken, "BAD_USER_INPUT").await;
    assert_eq!(error["extensions"]["field"], "expression", "{error}");
    assert!(error["message"].as_str().unwrap().contains("line 1, column"), "{error}");

    // Trying changes nothing and records nothing; it needs a caller.
    assert_eq!(server.state.manage.audit_log(None, 1).await.unwrap()[0].id, audited);
    let stored = server.state.manage.gateways().await.unwrap();
    assert_eq!(stored[0].access_rule, None);
    let (status, _) = Api::anonymous(&server).send(TEST_RULE, tried(ada, gateway)).await;
    assert_eq!(status, 401);
}
