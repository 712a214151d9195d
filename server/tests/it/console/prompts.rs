//! The Prompts page's server functions and the playground's prompt mode, called as the browser
//! calls them: a template refused under the editor, a prompt created, given a second version,
//! labelled, compared, offered in the playground and sent from it (rendered on the inference
//! path), then deleted — each change one audited management operation.

use crate::operator::op;
use crate::{rig, support::TestServer};
use app::types::{LineChange, ParameterForm, ParameterType, ProviderKind, TemplateForm, TemplateMessage};
use serde_json::{json, Value};
use server::testing::MockUpstream;

/// The editor's state for a template saying `content` to the parameter `who`.
fn template(content: &str, declared: bool) -> String {
    let form = TemplateForm {
        messages: vec![TemplateMessage {
            role: "user".into(),
            content: content.into(),
        }],
        parameters: (declared.then(|| ParameterForm {
            name: "who".into(),
            kind: ParameterType::String,
            required: true,
            default: String::new(),
            description: "Who to greet".into(),
        }))
        .into_iter()
        .collect(),
        ..TemplateForm::default()
    };
    serde_json::to_string(&form).unwrap()
}

#[tokio::test]
async fn prompt_server_functions_refuse_under_the_editor_create_version_label_compare_send_and_delete() {
    let mock = MockUpstream::start().await.unwrap();
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let manage = &server.state.manage;
    let endpoint = (op(manage).create_endpoint(rig::endpoint("solo", ProviderKind::OpenAi, &mock.url())))
        .await
        .unwrap();
    let (client, _) = server.signed_in("admin@example.com").await;
    let call = |endpoint: &str, form: Vec<(&str, String)>| {
        let request = client
            .post(format!("{}/api/{endpoint}", server.url))
            .header("accept", "application/json")
            .form(&form);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let new = |content: &str, declared: bool| {
        vec![
            ("name", "greeting".to_string()),
            ("description", "Says hello".to_string()),
            ("gateways", String::new()),
            ("template", template(content, declared)),
        ]
    };

    let (status, refused) = call("prompts_create", new("Say hello to {{ who }}.", false)).await;
    assert_eq!((status, &refused["field"]), (400, &json!("template")), "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("`who` is not one of the template's parameters"),
        "{refused}"
    );
    let (status, created) = call("prompts_create", new("Say hello to {{ who }}.", true)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["versions"][0]["template"]["parameters"]["who"]["required"],
        true
    );
    let id = created["id"].as_i64().unwrap().to_string();

    let version = vec![
        ("id", id.clone()),
        ("template", template("Say goodbye to {{ who }}.", true)),
    ];
    let (status, versioned) = call("prompts_version", version).await;
    assert_eq!(
        (status, versioned["versions"].as_array().unwrap().len()),
        (200, 2),
        "{versioned}"
    );
    let label = |version: &str| {
        vec![
            ("id", id.clone()),
            ("label", "production".to_string()),
            ("version", version.to_string()),
        ]
    };
    let (status, refused) = call("prompts_label", label("9")).await;
    assert_eq!((status, &refused["field"]), (400, &json!("version")), "{refused}");
    let (status, labelled) = call("prompts_label", label("1")).await;
    assert_eq!(
        (status, &labelled["labels"]["production"]),
        (200, &json!(1)),
        "{labelled}"
    );

    let range = vec![("id", id.clone()), ("from", "1".into()), ("to", "2".into())];
    let (status, diff) = call("prompts_diff", range).await;
    assert_eq!(status, 200, "{diff}");
    let lines: Vec<app::types::DiffLine> = serde_json::from_value(diff).unwrap();
    let changed = |change| {
        (lines.iter())
            .find(|line| line.change == change)
            .map(|line| line.text.trim())
    };
    assert_eq!(changed(LineChange::Removed), Some("content: Say hello to {{ who }}."));
    assert_eq!(changed(LineChange::Added), Some("content: Say goodbye to {{ who }}."));
    let (status, stats) = call(
        "prompts_version_stats",
        vec![("id", id.clone()), ("range", "Week".into())],
    )
    .await;
    assert_eq!((status, stats), (200, json!([])), "no requests yet");

    let (_, listed) = call("prompts_list", vec![]).await;
    assert_eq!(listed["prompts"][0]["name"], "greeting", "{listed}");
    let (_, setup) = call("playground_setup", vec![]).await;
    assert_eq!(
        setup["prompts"][0]["labels"]["production"], 1,
        "the playground offers it"
    );

    // Sent from the playground to the endpoint on its own: the inference path renders it.
    let body = json!({ "prompt": "greeting@2", "parameters": { "who": "Ada" }, "messages": [] });
    let sent = client
        .post(format!("{}/api/playground/chat", server.url))
        .json(&json!({ "target": { "endpoint": endpoint.id.0 }, "body": body }))
        .send()
        .await
        .unwrap();
    let answer: Value = sent.json().await.unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"], "mock reply to: Say goodbye to Ada.",
        "{answer}"
    );
    assert_eq!(
        mock.recorded()[0].body.as_ref().unwrap()["messages"][0]["content"],
        "Say goodbye to Ada."
    );

    let (status, _) = call("prompts_delete", vec![("id", id.clone())]).await;
    assert_eq!(status, 200);
    assert!(manage.prompts().await.unwrap().is_empty());
    let audit = manage.audit_log(None, 4).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["prompt.delete", "prompt.label", "prompt.version", "prompt.create"]
    );
    assert!(audit.iter().all(|e| e.via == Some(app::types::Via::Console)));
}
