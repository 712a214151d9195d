//! The Settings page's server functions as the browser calls them (form-encoded POSTs with the
//! session cookie): prices, admins, admin API tokens and the admin's own password, each change
//! audited as the signed-in admin "via console"; viewers change nothing but their password.

use crate::support::{TestServer, PASSWORD};
use serde_json::Value;

/// Calls the server function `name` with `form` as `client`; the status and the JSON answer.
async fn call(server: &TestServer, client: &reqwest::Client, name: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client
        .post(format!("{}/api/{name}", server.url))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn settings_server_functions_change_prices_admins_tokens_and_a_password() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let (admin, _) = server.signed_in("admin@example.com").await;
    let (elsewhere, _) = server.signed_in("admin@example.com").await;

    // Prices: a bad number is the field's error; a good one is set, listed and removed.
    let (_, refused) = call(
        &server,
        &admin,
        "prices_set",
        &[("model", "m1"), ("input", "cheap"), ("output", "1")],
    )
    .await;
    assert_eq!(refused["field"], "input", "{refused}");
    let (_, set) = call(
        &server,
        &admin,
        "prices_set",
        &[("model", "m1"), ("input", "0.15"), ("output", "0.6")],
    )
    .await;
    assert_eq!(set["input_per_mtok_micros"], 150_000, "{set}");
    let (_, listing) = call(&server, &admin, "settings_list", &[]).await;
    assert!(
        listing["prices"].as_array().unwrap().iter().any(|p| p["model"] == "m1"),
        "{listing}"
    );
    let (status, _) = call(&server, &admin, "prices_remove", &[("model", "m1")]).await;
    assert_eq!(status, 200);
    assert!(!server
        .state
        .manage
        .prices()
        .await
        .unwrap()
        .iter()
        .any(|p| p.model == "m1"));

    // Admins: a viewer is added; a taken e-mail is the e-mail's error; the viewer may not add one.
    let viewer = [
        ("email", "viewer@example.com"),
        ("password", PASSWORD),
        ("role", "viewer"),
    ];
    let (_, added) = call(&server, &admin, "admins_create", &viewer).await;
    assert_eq!(added["user"]["role"], "viewer", "{added}");
    let (_, taken) = call(&server, &admin, "admins_create", &viewer).await;
    assert_eq!(taken["field"], "email", "{taken}");
    let (as_viewer, _) = server.signed_in("viewer@example.com").await;
    let writes: [(&str, &[(&str, &str)]); 7] = [
        (
            "admins_create",
            &[("email", "x@example.com"), ("password", PASSWORD), ("role", "admin")],
        ),
        ("admins_update", &[("id", "1"), ("change", "viewer")]),
        ("admins_delete", &[("id", "1")]),
        (
            "tokens_create",
            &[("name", "mine"), ("role", "viewer"), ("expires_in_days", "")],
        ),
        ("tokens_revoke", &[("id", "1")]),
        ("prices_set", &[("model", "m2"), ("input", "1"), ("output", "1")]),
        ("prices_remove", &[("model", "gpt-4o-mini")]),
    ];
    for (name, form) in writes {
        let (status, refused) = call(&server, &as_viewer, name, form).await;
        assert_eq!(status, 403, "{name}: a refused write is a 403: {refused}");
        assert_eq!(refused["kind"], "Forbidden", "{name}: {refused}");
        assert!(
            refused.to_string().contains("viewers can only read"),
            "{name}: {refused}"
        );
    }
    assert_eq!(server.state.manage.admin_accounts().await.unwrap().len(), 2);
    assert!(server.state.manage.admin_tokens().await.unwrap().is_empty());
    // A viewer's own password is theirs to change.
    let viewer_new = "the viewer's new password";
    let own = [
        ("current_password", PASSWORD),
        ("new_password", viewer_new),
        ("confirm_password", viewer_new),
    ];
    let (status, changed) = call(&server, &as_viewer, "password_change", &own).await;
    assert_eq!((status, &changed), (200, &serde_json::Value::Null), "{changed}");
    let viewer_id = added["user"]["id"].as_i64().unwrap().to_string();
    let (status, _) = call(
        &server,
        &admin,
        "admins_update",
        &[("id", &viewer_id), ("change", "admin")],
    )
    .await;
    assert_eq!(status, 200);
    let (_, listing) = call(&server, &admin, "settings_list", &[]).await;
    let roles: Vec<&str> = listing["admins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["user"]["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["admin", "admin"], "{listing}");

    // A token: its secret once, usable against /graphql until revoked.
    let (_, created) = call(
        &server,
        &admin,
        "tokens_create",
        &[("name", "ci"), ("role", "viewer"), ("expires_in_days", "0")],
    )
    .await;
    assert_eq!(created["field"], "expires_in_days", "{created}");
    let (_, created) = call(
        &server,
        &admin,
        "tokens_create",
        &[("name", "ci"), ("role", "viewer"), ("expires_in_days", "")],
    )
    .await;
    let secret = created["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string();
    let token_secret = secret.clone();
    assert!(secret.starts_with("mgwa_"));
    let graphql = |token: String| {
        reqwest::Client::new()
            .post(format!("{}/graphql", server.url))
            .bearer_auth(token)
            .json(&serde_json::json!({ "query": "{ viewer { role } }" }))
            .send()
    };
    let answer: Value = graphql(secret.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(answer["data"]["viewer"]["role"], "VIEWER", "{answer}");
    let token_id = created["token"]["id"].as_i64().unwrap().to_string();
    let (status, _) = call(&server, &admin, "tokens_revoke", &[("id", &token_id)]).await;
    assert_eq!(status, 200);
    let answer: Value = graphql(secret).await.unwrap().json().await.unwrap();
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{answer}");
    let (_, listing) = call(&server, &admin, "settings_list", &[]).await;
    assert!(!listing.to_string().contains("mgwa_"), "a listing never holds a secret");

    // The password: refusals name their fields; a change keeps this session and ends the other.
    let new = "an entirely new password";
    let (_, mismatch) = call(
        &server,
        &admin,
        "password_change",
        &[
            ("current_password", PASSWORD),
            ("new_password", new),
            ("confirm_password", "other"),
        ],
    )
    .await;
    assert_eq!(mismatch["field"], "confirm_password", "{mismatch}");
    let (_, wrong) = call(
        &server,
        &admin,
        "password_change",
        &[
            ("current_password", "not it"),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await;
    assert_eq!(wrong["field"], "current_password", "{wrong}");
    let (_, short) = call(
        &server,
        &admin,
        "password_change",
        &[
            ("current_password", PASSWORD),
            ("new_password", "short"),
            ("confirm_password", "short"),
        ],
    )
    .await;
    assert_eq!(short["field"], "new_password", "{short}");
    let (_, changed) = call(
        &server,
        &admin,
        "password_change",
        &[
            ("current_password", PASSWORD),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await;
    assert_eq!(changed, serde_json::Value::Null, "{changed}");
    assert_eq!(
        call(&server, &admin, "settings_list", &[]).await.0,
        200,
        "this session goes on"
    );
    assert_eq!(
        call(&server, &elsewhere, "settings_list", &[]).await.0,
        401,
        "the other session ended"
    );

    let audit = server.state.manage.audit_log(None, 50).await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e.via == Some(app::types::Via::Console) && e.action != "admin.login")
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "admin.change_password",
            "admin_token.revoke",
            "admin_token.create",
            "admin.update",
            "admin.change_password",
            "admin.create",
            "price.delete",
            "price.set",
        ]
    );
    let secrets = [PASSWORD, new, viewer_new, token_secret.as_str()];
    assert!(audit
        .iter()
        .all(|e| secrets.iter().all(|secret| !e.details.contains(secret))));
}
