//! Fragment fan-out (issue 18, item 9): a signed-in reader's document whose fragments spread
//! each other is refused by its expanded size before validation does the work it stands for.

use crate::support::TestServer;
use app::types::{AdminRole, NewAdmin, WriteOnly};

#[tokio::test]
async fn a_document_of_fragments_spreading_fragments_is_refused_before_validation() {
    let server = TestServer::start().await;
    let new = NewAdmin {
        email: "viewer@example.com".into(),
        password: WriteOnly(crate::support::PASSWORD.into()),
        role: AdminRole::Viewer,
    };
    crate::operator::op(&server.state.manage)
        .create_admin(new)
        .await
        .unwrap();
    let (client, _) = server.signed_in("viewer@example.com").await;
    let mut query = String::from("{ ...F0 }");
    for level in 0..8 {
        let spreads = format!("...F{} ", level + 1).repeat(8);
        query += &format!(" fragment F{level} on Query {{ viewer {{ role }} {spreads} }}");
    }
    query += " fragment F8 on Query { viewer { role } }";
    let answer: serde_json::Value = client
        .post(format!("{}/graphql", server.url))
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let error = &answer["errors"][0];
    assert_eq!(error["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{answer}");
    assert!(
        error["message"].as_str().unwrap().contains("fragments expand"),
        "{answer}"
    );
    assert_eq!(server.state.graphql.resolver_calls(), 0);
}
