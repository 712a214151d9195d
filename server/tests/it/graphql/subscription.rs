//! The whole path from signing in to seeing a request on the `requestLogs` subscription, and the
//! socket's rules: only subscriptions run over it, and revoking its token ends it.

use super::{endpoint_input, server, Api, ADMIN, CREATE_ENDPOINT, CREATE_GATEWAY, CREATE_KEY};
use crate::rig::{chat, post_as};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use server::testing::MockUpstream;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

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
    assert_eq!(
        endpoint["createEndpoint"]["health"], "UNTESTED",
        "nothing has reached it yet"
    );
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
