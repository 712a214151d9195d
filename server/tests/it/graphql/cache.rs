//! The response cache's settings through GraphQL (issue #24): set on a gateway, read back,
//! refused by field when out of range.

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
}
