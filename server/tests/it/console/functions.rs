//! The endpoints, gateways and keys pages' server functions, called as the browser calls them.

use crate::operator::op;
use crate::support::TestServer;

/// The endpoints page's server functions as the browser calls them (form-encoded POSTs with
/// the session cookie): a refused field is named, an endpoint is created, listed with its
/// health, tested against the mock upstream, and deleted; each change is audited.
#[tokio::test]
async fn endpoint_server_functions_create_test_and_delete() {
    let mock = server::testing::MockUpstream::start().await.unwrap();
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let (client, _) = server.signed_in("admin@example.com").await;
    let call = |endpoint: &str, form: Vec<(&str, String)>| {
        client
            .post(format!("{}/api/{endpoint}", server.url))
            .header("accept", "application/json")
            .form(&form)
            .send()
    };
    let fields = |name: &str| {
        vec![
            ("name", name.to_string()),
            ("provider", "openai".to_string()),
            ("base_url", format!("{}/v1", mock.url())),
            ("api_key", crate::rig::CANARY.to_string()),
            ("model", "gpt-4o-mini".to_string()),
            ("deployment", String::new()),
            ("api_version", String::new()),
            ("region", String::new()),
        ]
    };

    let refused: serde_json::Value = call("endpoints_create", fields("bad name!"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["field"], "name", "{refused}");
    let created: serde_json::Value = call("endpoints_create", fields("mock"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap_or_else(|| panic!("{created}"));
    let taken: serde_json::Value = call("endpoints_create", fields("mock"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(taken["field"], "name", "a name in use is the name's error: {taken}");
    assert!(
        !created.to_string().contains(crate::rig::CANARY),
        "the credential is never sent back"
    );

    let listed = call("endpoints_list", vec![]).await.unwrap().text().await.unwrap();
    assert!(
        listed.contains("\"name\":\"mock\"") && listed.contains("\"health\":\"Untested\""),
        "nothing has reached it yet: {listed}"
    );
    let probe: serde_json::Value = call("endpoints_test", vec![("id", id.to_string())])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(probe["status"], 200, "{probe}");
    assert_eq!(probe["error"], serde_json::Value::Null);
    assert_eq!(probe["health"], "Healthy", "the test is evidence: {probe}");
    assert_eq!(mock.requests_received(), 1);

    // An edit: the model changes, the blank key keeps the stored credential.
    let mut edit = fields("mock");
    edit.retain(|(name, _)| *name != "provider");
    edit.push(("id", id.to_string()));
    for (name, value) in &mut edit {
        match *name {
            "model" => *value = "gpt-4o".into(),
            "api_key" => value.clear(),
            _ => {}
        }
    }
    let edited: serde_json::Value = call("endpoints_update", edit).await.unwrap().json().await.unwrap();
    assert_eq!(edited["model"], "gpt-4o", "{edited}");
    assert_eq!(edited["has_credential"], true, "{edited}");

    let deleted = call("endpoints_delete", vec![("id", id.to_string())]).await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert!(server.state.manage.endpoints().await.unwrap().is_empty());
    let audit = server.state.manage.audit_log(None, 10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "endpoint.delete",
            "endpoint.update",
            "endpoint.test",
            "endpoint.create",
            "admin.login",
            "admin.create"
        ],
        "the test's own admin is created by the local operator, and audited too"
    );
    let changes = audit
        .iter()
        .filter(|e| !matches!(e.action.as_str(), "admin.login" | "admin.create"));
    assert!(changes.clone().all(|e| e.actor_label == "admin@example.com"));
    assert!(changes.clone().count() == 4 && changes.into_iter().all(|e| e.via == Some(app::types::Via::Console)));
}

/// The gateways page's server functions: a refused endpoint list names its field; a gateway is
/// created over an endpoint, listed with the URL and model for its snippets, and deleted.
#[tokio::test]
async fn gateway_server_functions_create_list_and_delete() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let manage = &server.state.manage;
    op(manage)
        .create_endpoint(crate::rig::endpoint(
            "a",
            app::types::ProviderKind::OpenAi,
            "http://127.0.0.1:9",
        ))
        .await
        .unwrap();
    let (client, _) = server.signed_in("admin@example.com").await;
    let call = |endpoint: &str, form: Vec<(&str, &str)>| {
        client
            .post(format!("{}/api/{endpoint}", server.url))
            .header("accept", "application/json")
            .form(&form)
            .send()
    };
    let form = |endpoints: &'static str| {
        vec![
            ("name", "main"),
            ("description", "the main one"),
            ("strategy", "weighted"),
            ("endpoints", endpoints),
            ("log_payloads", "on"),
        ]
    };
    let refused: serde_json::Value = call("gateways_create", form("nope"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["field"], "endpoints", "{refused}");
    let created: serde_json::Value = call("gateways_create", form("a:3"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["strategy"], "weighted", "{created}");
    assert_eq!(created["log_payloads"], true);
    assert_eq!(created["endpoints"][0]["weight"], 3);

    let listed: serde_json::Value = call("gateways_list", vec![]).await.unwrap().json().await.unwrap();
    assert_eq!(listed["base_url"], server.url.as_str(), "{listed}");
    assert_eq!(listed["models"][0][1], "gpt-4o-mini");
    let id = listed["gateways"][0]["id"].as_i64().unwrap();
    let deleted = call("gateways_delete", vec![("id", &id.to_string())]).await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert!(manage.gateways().await.unwrap().is_empty());
    let actions: Vec<String> = (manage.audit_log(None, 3).await.unwrap().into_iter())
        .map(|e| e.action)
        .collect();
    assert_eq!(actions[..2], ["gateway.delete", "gateway.create"]);
}

/// The keys page's server functions: bad limits name their field; a key and a child are
/// created (the secret shown once), listed with their usage against their limits, reset,
/// rotated (a new secret, once) and revoked with the child.
#[tokio::test]
async fn key_server_functions_create_list_rotate_and_revoke() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let manage = &server.state.manage;
    op(manage)
        .create_endpoint(crate::rig::endpoint(
            "a",
            app::types::ProviderKind::OpenAi,
            "http://127.0.0.1:9",
        ))
        .await
        .unwrap();
    let choice = server::manage::endpoint_choice("a").unwrap();
    op(manage)
        .create_gateway(app::types::NewGateway::new(
            "g",
            app::types::Strategy::Priority,
            vec![choice],
        ))
        .await
        .unwrap();
    let (client, _) = server.signed_in("admin@example.com").await;
    let call = |endpoint: &str, form: Vec<(&str, String)>| {
        client
            .post(format!("{}/api/{endpoint}", server.url))
            .header("accept", "application/json")
            .form(&form)
            .send()
    };
    let gateway = op(manage).gateway_id("g").await;
    let key = |name: &str, parent: &str, limits: &str| {
        vec![
            ("gateway_id", gateway.0.to_string()),
            ("name", name.to_string()),
            ("parent", parent.to_string()),
            ("allowed_models", "gpt-4o-mini".to_string()),
            ("expires_in_days", "30".to_string()),
            ("limits", limits.to_string()),
        ]
    };
    let refused: serde_json::Value = call("keys_create", key("team", "", "requests/fortnight=5"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["field"], "limits", "{refused}");
    let team: serde_json::Value = call("keys_create", key("team", "", "requests/minute=100"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let team_id = team["key"]["public_id"].as_str().unwrap().to_string();
    assert!(team["secret"].as_str().unwrap().starts_with("mgw_"), "{team}");
    assert!(team["key"]["expires_at"].is_i64());
    let app: serde_json::Value = call("keys_create", key("app", &team_id, ""))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(app["key"]["allowed_models"], serde_json::json!(["gpt-4o-mini"]));

    let listed: serde_json::Value = call("keys_list", vec![]).await.unwrap().json().await.unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    let team_row = listed.iter().find(|k| k["key"]["name"] == "team").unwrap();
    assert_eq!(team_row["gateway"], "g");
    let usage: serde_json::Value = call("keys_usage", vec![]).await.unwrap().json().await.unwrap();
    assert_eq!(usage["currency"], "USD");
    let team_usage = (usage["keys"].as_array().unwrap().iter())
        .find(|k| k["id"] == team_row["key"]["id"])
        .unwrap();
    assert_eq!(team_usage["limits"][0]["limit"]["max_value"], 100);
    assert_eq!(team_usage["limits"][0]["used"], 0);
    assert_eq!(team_usage["month"]["requests"], 0);
    let text = serde_json::Value::Array(listed.clone()).to_string();
    for secret in [&team["secret"], &app["secret"]] {
        assert!(!text.contains(secret.as_str().unwrap()), "no secret in the list");
    }

    assert_eq!(
        call("keys_reset", vec![("public_id", team_id.clone())])
            .await
            .unwrap()
            .status(),
        200
    );
    let rotated: serde_json::Value = call("keys_rotate", vec![("public_id", team_id.clone())])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(rotated["secret"].as_str().unwrap().starts_with("mgw_"), "{rotated}");
    // The child moved to the new key: revoking that takes the child too, and the key it was
    // rotated from, which would otherwise keep working for its hour of grace.
    let new_id = rotated["key"]["public_id"].as_str().unwrap().to_string();
    let revoked: serde_json::Value = call("keys_revoke", vec![("public_id", new_id)])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        revoked.as_u64().unwrap(),
        3,
        "the key, its child and its predecessor: {revoked}"
    );
    assert!(
        manage.key(&team_id).await.unwrap().revoked_at.is_some(),
        "the predecessor is revoked"
    );
    let actions: Vec<String> = (manage.audit_log(None, 5).await.unwrap().into_iter())
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions[..5],
        ["key.revoke", "key.rotate", "key.reset", "key.create", "key.create"]
    );
}

/// The composite models' server functions (the Gateways page): an A/B split whose ratios do not
/// add up to 1 is refused under the members field; one that does is added, listed with its
/// gateway, edited, offered in the playground, read for its variants and removed — each change
/// one audited management operation.
#[tokio::test]
async fn composite_server_functions_refuse_under_the_field_add_edit_list_and_remove() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let manage = &server.state.manage;
    for name in ["a", "b"] {
        let new = crate::rig::endpoint(name, app::types::ProviderKind::OpenAi, "http://127.0.0.1:9");
        op(manage).create_endpoint(new).await.unwrap();
    }
    let choices = ["a", "b"].map(|name| server::manage::endpoint_choice(name).unwrap());
    let new = app::types::NewGateway::new("g", app::types::Strategy::Priority, choices.to_vec());
    let gateway = op(manage).create_gateway(new).await.unwrap().id.0.to_string();
    let (client, _) = server.signed_in("admin@example.com").await;
    let call = |endpoint: &str, form: Vec<(&str, &str)>| {
        let request = client
            .post(format!("{}/api/{endpoint}", server.url))
            .header("accept", "application/json")
            .form(&form);
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let ab = |members: &'static str| {
        vec![
            ("gateway_id", gateway.as_str()),
            ("name", "split"),
            ("kind", "ab"),
            ("members", members),
        ]
    };

    let (status, refused) = call("composites_create", ab("x:a=0.7\ny:b=0.2")).await;
    assert_eq!((status, &refused["field"]), (400, &"members".into()), "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("add up to 1"),
        "{refused}"
    );
    let (status, created) = call("composites_create", ab("x:a=0.8\ny:b=0.2")).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["kind"], "ab");
    assert_eq!(created["members"][1]["category"], "y");
    let id = created["id"].as_i64().unwrap().to_string();

    let (_, listed) = call("gateways_list", vec![]).await;
    assert_eq!(listed["composites"][0]["name"], "split", "{listed}");
    let edit = vec![("id", id.as_str()), ("name", "halves"), ("members", "x:a=0.5, y:b=0.5")];
    let (status, edited) = call("composites_update", edit).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        (&edited["name"], &edited["members"][0]["share"]),
        (&"halves".into(), &0.5.into())
    );

    let (_, setup) = call("playground_setup", vec![]).await;
    let target = (setup["targets"].as_array().unwrap().iter())
        .find(|t| t["value"] == format!("gateway:{gateway}:halves"))
        .unwrap_or_else(|| panic!("the composite is a target: {setup}"));
    assert_eq!(target["label"], "halves (ab composite) via g");
    let (status, variants) = call("composites_variants", vec![("id", id.as_str()), ("range", "Week")]).await;
    assert_eq!((status, variants), (200, serde_json::json!([])), "no requests yet");

    let (status, _) = call("composites_delete", vec![("id", id.as_str())]).await;
    assert_eq!(status, 200);
    assert!(manage.composites(None).await.unwrap().is_empty());
    let audit = manage.audit_log(None, 3).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["composite.delete", "composite.update", "composite.create"]);
    assert!(audit.iter().all(|e| e.via == Some(app::types::Via::Console)));
}
