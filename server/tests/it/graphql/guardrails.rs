//! Guardrails through GraphQL (issue #24): added to a gateway and listed under it, tried on a
//! text, refused by field, removed; a viewer may try but not change them.

use super::{gateway_over_an_endpoint, server, Api, ADMIN};
use serde_json::json;

#[tokio::test]
async fn guardrails_are_added_listed_tried_refused_by_field_and_removed() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let gateway = gateway_over_an_endpoint(&api).await;
    let add = "mutation($input: AddGuardrailInput!) {
        addGuardrail(input: $input) { id detector action direction logsOnly } }";
    let added = api
        .ok(
            add,
            json!({ "input": { "gatewayId": gateway, "detector": "card", "action": "REDACT" } }),
        )
        .await;
    assert_eq!(added["addGuardrail"]["detector"], "card");
    assert_eq!(added["addGuardrail"]["direction"], "BOTH", "the default for redact");
    let id = added["addGuardrail"]["id"].clone();
    let restore = api
        .ok(
            add,
            json!({ "input": { "gatewayId": gateway, "detector": "email", "action": "RESTORE" } }),
        )
        .await;
    assert_eq!(
        restore["addGuardrail"]["direction"], "REQUEST",
        "the default for restore"
    );

    let listed = api
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Gateway { guardrails { detector action } } } }",
            json!({ "id": gateway }),
        )
        .await;
    assert_eq!(
        listed["node"]["guardrails"],
        json!([{ "detector": "card", "action": "REDACT" }, { "detector": "email", "action": "RESTORE" }])
    );

    let tried = api
        .ok(
            "query($g: ID!, $t: String!) { tryGuardrails(gatewayId: $g, text: $t) { text blockedBy findings } }",
            json!({ "g": gateway, "t": "ada@example.com paid with 4111-1111-1111-1111" }),
        )
        .await;
    assert_eq!(
        tried["tryGuardrails"],
        json!({ "text": "[EMAIL_1] paid with [CARD_1]", "blockedBy": null,
                "findings": ["email:restore", "card:redact"] })
    );

    let error = api
        .fails(
            add,
            json!({ "input": { "gatewayId": gateway, "detector": "regex:(?=x)", "action": "BLOCK" } }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "detector", "{error}");

    api.ok("mutation($id: ID!) { removeGuardrail(id: $id) }", json!({ "id": id }))
        .await;
    let node = api
        .ok("query($id: ID!) { node(id: $id) { id } }", json!({ "id": id }))
        .await;
    assert_eq!(node["node"], json!(null), "removed");
}
