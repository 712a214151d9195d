//! The response cache's settings through GraphQL (issue #24): set on a gateway, read back,
//! refused by field when out of range; a composite's and a prompt's own.

use super::{gateway_over_an_endpoint, server, Api, ADMIN};
use serde_json::json;

#[tokio::test]
async fn a_gateways_cache_is_set_read_back_and_refused_out_of_range() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let gateway = gateway_over_an_endpoint(&api).await;
    let read = "query($id: ID!) { node(id: $id) { ... on Gateway { cache { mode ttlS maxEntryBytes collapse } } } }";
    let off = api.ok(read, json!({ "id": gateway })).await;
    assert_eq!(
        off["node"]["cache"],
        json!({ "mode": "OFF", "ttlS": 600, "maxEntryBytes": 1_048_576, "collapse": false })
    );
    let update = "mutation($id: ID!, $cache: CacheSettingsInput!) {
        updateGateway(id: $id, input: { cache: $cache }) { cache { mode ttlS maxEntryBytes collapse } } }";
    let on = api
        .ok(
            update,
            json!({ "id": gateway, "cache": { "mode": "EXACT", "ttlS": 60, "collapse": true } }),
        )
        .await;
    assert_eq!(
        on["updateGateway"]["cache"],
        json!({ "mode": "EXACT", "ttlS": 60, "maxEntryBytes": 1_048_576, "collapse": true })
    );
    let error = api
        .fails(
            update,
            json!({ "id": gateway, "cache": { "mode": "EXACT", "ttlS": 0 } }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "cacheTtl", "{error}");
    assert_eq!(
        api.ok(read, json!({ "id": gateway })).await["node"]["cache"]["ttlS"],
        60,
        "nothing changed"
    );

    // A semantic cache names its embedding model and a similarity above 0 up to 1.
    let semantic = "mutation($id: ID!, $cache: CacheSettingsInput!) {
        updateGateway(id: $id, input: { cache: $cache }) { cache { mode embeddingModel similarity } } }";
    for (cache, field) in [
        (json!({ "mode": "SEMANTIC" }), "cacheEmbedding"),
        (json!({ "mode": "SEMANTIC", "embeddingModel": "  " }), "cacheEmbedding"),
        (
            json!({ "mode": "SEMANTIC", "embeddingModel": "emb", "similarity": 0.0 }),
            "cacheSimilarity",
        ),
        (json!({ "mode": "EXACT", "similarity": 1.01 }), "cacheSimilarity"),
    ] {
        let error = api
            .fails(semantic, json!({ "id": gateway, "cache": cache }), "BAD_USER_INPUT")
            .await;
        assert_eq!(error["extensions"]["field"], field, "{cache}: {error}");
    }
    let on = api
        .ok(
            semantic,
            json!({ "id": gateway, "cache": { "mode": "SEMANTIC", "embeddingModel": " emb ", "similarity": 0.9 } }),
        )
        .await;
    assert_eq!(
        on["updateGateway"]["cache"],
        json!({ "mode": "SEMANTIC", "embeddingModel": "emb", "similarity": 0.9 })
    );
}

#[tokio::test]
async fn a_composites_and_a_prompts_own_cache_are_set_read_back_and_cleared() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let gateway = gateway_over_an_endpoint(&api).await;
    let create =
        "mutation($input: CreateCompositeInput!) { createComposite(input: $input) { id cache { mode ttlS } } }";
    let composite = |kind: &str, cache: serde_json::Value| {
        json!({ "input": { "gatewayId": gateway, "name": format!("c-{kind}"), "kind": kind,
                           "members": [{ "category": "a", "target": "e", "share": 1.0 },
                                       { "category": "b", "target": "e", "share": 1.0 }], "cache": cache } })
    };
    let created = api
        .ok(create, composite("LOAD", json!({ "mode": "EXACT", "ttlS": 60 })))
        .await;
    assert_eq!(
        created["createComposite"]["cache"],
        json!({ "mode": "EXACT", "ttlS": 60 })
    );
    let id = created["createComposite"]["id"].clone();
    let update = "mutation($id: ID!) { updateComposite(id: $id, input: { cache: null }) { cache { mode } } }";
    assert_eq!(
        api.ok(update, json!({ "id": id })).await["updateComposite"]["cache"],
        json!(null)
    );
    let error = api
        .fails(create, composite("MULTI", json!({ "mode": "EXACT" })), "BAD_USER_INPUT")
        .await;
    assert_eq!(error["extensions"]["field"], "cache", "{error}");

    let prompt = api
        .ok(
            "mutation { createPrompt(input: { name: \"p\", template: { messages: [{ role: \"user\", content: \"hi\" }] } }) { id cache { mode } } }",
            json!({}),
        )
        .await["createPrompt"]
        .clone();
    assert_eq!(prompt["cache"], json!(null), "the gateway's until set");
    let set = "mutation($id: ID!, $cache: CacheSettingsInput) { setPromptCache(promptId: $id, cache: $cache) { cache { mode ttlS collapse } } }";
    let on = api
        .ok(
            set,
            json!({ "id": prompt["id"], "cache": { "mode": "EXACT", "collapse": true } }),
        )
        .await;
    assert_eq!(
        on["setPromptCache"]["cache"],
        json!({ "mode": "EXACT", "ttlS": 600, "collapse": true })
    );
    let error = api
        .fails(
            set,
            json!({ "id": prompt["id"], "cache": { "mode": "EXACT", "maxEntryBytes": 0 } }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "cacheMaxEntry", "{error}");
    let cleared = api.ok(set, json!({ "id": prompt["id"], "cache": null })).await;
    assert_eq!(cleared["setPromptCache"]["cache"], json!(null));
}
