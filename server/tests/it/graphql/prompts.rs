//! Named prompts through GraphQL (issue #22): created with a template, versioned, labelled,
//! read back by `node`, `prompts` and `prompt`, deleted; refusals naming their field, and a
//! viewer who reads but cannot write.

use super::{endpoint_input, server, Api, ADMIN, CREATE_ENDPOINT, CREATE_GATEWAY};
use crate::support::PASSWORD;
use app::types::{ParameterSpec, ParameterType, PromptTemplate, RequestLog, TemplateMessage};
use serde_json::{json, Value};

const PROMPT: &str = "id name description gatewayIds gateways { name } createdAt updatedAt
    labels { label version }
    versions { version createdAt template { model params messages { role content }
      parameters { name type required default description } } }";

const CREATE_PROMPT: &str = "mutation($input: CreatePromptInput!) {
    createPrompt(input: $input) { id name description gatewayIds gateways { name } createdAt updatedAt
      labels { label version }
      versions { version createdAt template { model params messages { role content }
        parameters { name type required default description } } } } }";

const ADD_VERSION: &str = "mutation($id: ID!, $template: PromptTemplateInput!) {
    addPromptVersion(promptId: $id, template: $template) { version prompt { versions { version } } } }";

const SET_LABEL: &str = "mutation($id: ID!, $label: String!, $version: Int!) {
    setPromptLabel(promptId: $id, label: $label, version: $version) { labels { label version } } }";

/// The documentation's example as GraphQL takes it: three parameters, a default model and
/// params, and the system message's text.
fn email_template(system: &str) -> Value {
    json!({
        "messages": [
            { "role": "system", "content": system },
            { "role": "user", "content": "Write {{ templatecount }} email templates for {{ firstname }}." },
        ],
        "model": "gpt-4o-mini",
        "params": { "temperature": 0.2, "response_format": { "type": "json_object" } },
        "parameters": [
            { "name": "templatecount", "type": "INTEGER", "default": 3, "description": "How many." },
            { "name": "brand", "type": "STRING", "required": true },
            { "name": "firstname", "type": "STRING", "required": true },
        ],
    })
}

/// A prompt is created with a template, gets a second version, has labels moved, and reads
/// back the same by `node`, `prompts` and `prompt`, and as the management service stored it.
#[tokio::test]
async fn a_prompt_is_created_versioned_labelled_read_back_and_deleted() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let endpoint = api.ok(CREATE_ENDPOINT, endpoint_input("a", "http://127.0.0.1:9")).await;
    let gateway = api
        .ok(
            CREATE_GATEWAY,
            json!({ "input": { "name": "g", "strategy": "PRIORITY",
                               "endpoints": [{ "endpointId": endpoint["createEndpoint"]["id"] }] } }),
        )
        .await["createGateway"]
        .clone();
    let gateway_id = gateway["id"].as_str().unwrap();

    let created = api
        .ok(
            CREATE_PROMPT,
            json!({ "input": { "name": "email-template-gen", "description": "Marketing mail",
                               "gatewayIds": [gateway_id], "template": email_template("You write emails for {{ brand }}.") } }),
        )
        .await["createPrompt"]
        .clone();
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["name"], "email-template-gen");
    assert_eq!(created["description"], "Marketing mail");
    assert_eq!(created["gatewayIds"], json!([gateway_id]));
    assert_eq!(created["gateways"], json!([{ "name": "g" }]));
    assert_eq!(created["labels"], json!([]));
    let first = &created["versions"][0];
    assert_eq!(first["version"], 1);
    assert!(first["createdAt"].as_i64().unwrap() > 0);
    assert_eq!(
        first["template"],
        json!({
            "model": "gpt-4o-mini",
            "params": { "temperature": 0.2, "response_format": { "type": "json_object" } },
            "messages": [
                { "role": "system", "content": "You write emails for {{ brand }}." },
                { "role": "user", "content": "Write {{ templatecount }} email templates for {{ firstname }}." },
            ],
            // By name.
            "parameters": [
                { "name": "brand", "type": "STRING", "required": true, "default": null, "description": null },
                { "name": "firstname", "type": "STRING", "required": true, "default": null, "description": null },
                { "name": "templatecount", "type": "INTEGER", "required": false, "default": 3, "description": "How many." },
            ],
        })
    );
    // What the management service stored is the template GraphQL was given, maps and all.
    let stored = server.state.manage.prompts().await.unwrap();
    let spec = |kind, required, default: Option<Value>, description: Option<&str>| ParameterSpec {
        kind,
        required,
        default,
        description: description.map(str::to_string),
    };
    let message = |role: &str, content: &str| TemplateMessage {
        role: role.into(),
        content: content.into(),
    };
    assert_eq!(
        stored[0].versions[0].template,
        PromptTemplate {
            messages: vec![
                message("system", "You write emails for {{ brand }}."),
                message("user", "Write {{ templatecount }} email templates for {{ firstname }}."),
            ],
            model: Some("gpt-4o-mini".into()),
            params: json!({ "temperature": 0.2, "response_format": { "type": "json_object" } })
                .as_object()
                .unwrap()
                .clone(),
            parameters: [
                ("brand".to_string(), spec(ParameterType::String, true, None, None)),
                ("firstname".to_string(), spec(ParameterType::String, true, None, None)),
                (
                    "templatecount".to_string(),
                    spec(ParameterType::Integer, false, Some(json!(3)), Some("How many.")),
                ),
            ]
            .into_iter()
            .collect(),
        }
    );

    // A second version; the first is unchanged.
    let added = api
        .ok(
            ADD_VERSION,
            json!({ "id": id, "template": email_template("Version two, for {{ brand }}.") }),
        )
        .await["addPromptVersion"]
        .clone();
    assert_eq!(added["version"], 2);
    assert_eq!(added["prompt"]["versions"], json!([{ "version": 1 }, { "version": 2 }]));

    // Labels: added, then one moved.
    let label = |label: &str, version: i64| json!({ "id": id, "label": label, "version": version });
    api.ok(SET_LABEL, label("production", 1)).await;
    api.ok(SET_LABEL, label("staging", 2)).await;
    let moved = api.ok(SET_LABEL, label("production", 2)).await;
    assert_eq!(
        moved["setPromptLabel"]["labels"],
        json!([{ "label": "production", "version": 2 }, { "label": "staging", "version": 2 }])
    );

    // Read back by id, in the list and by name.
    let node = api
        .ok(
            &format!("query($id: ID!) {{ node(id: $id) {{ ... on Prompt {{ {PROMPT} }} }} }}"),
            json!({ "id": id }),
        )
        .await["node"]
        .clone();
    assert_eq!(node["id"], id);
    assert_eq!(node["labels"], moved["setPromptLabel"]["labels"]);
    assert_eq!(node["versions"][0], created["versions"][0], "a version never changes");
    assert_eq!(
        node["versions"][1]["template"]["messages"][0]["content"],
        "Version two, for {{ brand }}."
    );
    let listed = api
        .ok(
            &format!("{{ prompts {{ {PROMPT} }} prompt(name: \"email-template-gen\") {{ {PROMPT} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(listed["prompts"], json!([node.clone()]));
    assert_eq!(listed["prompt"], node);
    let unknown = api.ok("{ prompt(name: \"nope\") { id } }", json!({})).await;
    assert_eq!(unknown["prompt"], Value::Null);

    // Deleted: gone by id and from the list.
    let deleted = api
        .ok(
            "mutation($id: ID!) { deletePrompt(promptId: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["deletePrompt"], id);
    let gone = api
        .ok(
            "query($id: ID!) { node(id: $id) { id } prompts { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(gone, json!({ "node": null, "prompts": [] }));
}

/// Refusals name their field and write nothing; a viewer reads prompts but cannot change them.
#[tokio::test]
async fn prompt_refusals_name_their_field_and_a_viewer_only_reads() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let create = |input: Value| json!({ "input": input });

    // A template using a variable it does not declare.
    let error = api
        .fails(
            CREATE_PROMPT,
            create(json!({ "name": "p", "template": email_template("For {{ company }}.") })),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "template", "{error}");
    assert!(error["message"].as_str().unwrap().contains("company"), "{error}");
    // A parameter given twice (GraphQL lists what the template holds as a map).
    let mut twice = email_template("For {{ brand }}.");
    twice["parameters"][1]["name"] = json!("firstname");
    let error = api
        .fails(
            CREATE_PROMPT,
            create(json!({ "name": "p", "template": twice })),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "template", "{error}");
    assert!(error["message"].as_str().unwrap().contains("twice"), "{error}");
    // A default not of its parameter's type.
    let mut mistyped = email_template("For {{ brand }}.");
    mistyped["parameters"][0]["default"] = json!("three");
    let error = api
        .fails(
            CREATE_PROMPT,
            create(json!({ "name": "p", "template": mistyped })),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "template", "{error}");
    // A gateway that is not one, and one that does not exist.
    let endpoint = api.ok(CREATE_ENDPOINT, endpoint_input("a", "http://127.0.0.1:9")).await;
    let error = api
        .fails(
            CREATE_PROMPT,
            create(json!({ "name": "p", "gatewayIds": [endpoint["createEndpoint"]["id"]],
                           "template": email_template("For {{ brand }}.") })),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "gatewayIds", "{error}");
    assert!(server.state.manage.prompts().await.unwrap().is_empty());

    // A label pointing at a version the prompt lacks; a prompt's id that is not one.
    let created = api
        .ok(
            CREATE_PROMPT,
            create(json!({ "name": "p", "template": email_template("For {{ brand }}.") })),
        )
        .await;
    let id = created["createPrompt"]["id"].as_str().unwrap();
    let error = api
        .fails(
            SET_LABEL,
            json!({ "id": id, "label": "production", "version": 9 }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "version", "{error}");
    let error = api
        .fails(
            ADD_VERSION,
            json!({ "id": endpoint["createEndpoint"]["id"], "template": email_template("For {{ brand }}.") }),
            "BAD_USER_INPUT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "promptId", "{error}");
    let error = api
        .fails(
            "mutation($input: CreatePromptInput!) { createPrompt(input: $input) { id } }",
            create(json!({ "name": "p", "template": email_template("For {{ brand }}.") })),
            "CONFLICT",
        )
        .await;
    assert_eq!(error["extensions"]["field"], "name", "{error}");

    // A viewer reads prompts and is refused every change, which writes nothing.
    api.ok(
        "mutation($p: String!) { createAdminUser(input: { email: \"viewer@example.com\", password: $p, role: VIEWER }) { id } }",
        json!({ "p": PASSWORD }),
    )
    .await;
    let viewer = Api::login(&server, "viewer@example.com").await;
    let read = viewer.ok("{ prompts { name versions { version } } }", json!({})).await;
    assert_eq!(
        read["prompts"],
        json!([{ "name": "p", "versions": [{ "version": 1 }] }])
    );
    let before = server.state.manage.prompts().await.unwrap();
    viewer
        .fails(
            CREATE_PROMPT,
            create(json!({ "name": "q", "template": email_template("For {{ brand }}.") })),
            "FORBIDDEN",
        )
        .await;
    viewer
        .fails(
            ADD_VERSION,
            json!({ "id": id, "template": email_template("Mine, for {{ brand }}.") }),
            "FORBIDDEN",
        )
        .await;
    viewer
        .fails(
            SET_LABEL,
            json!({ "id": id, "label": "production", "version": 1 }),
            "FORBIDDEN",
        )
        .await;
    viewer
        .fails(
            "mutation($id: ID!) { deletePrompt(promptId: $id) }",
            json!({ "id": id }),
            "FORBIDDEN",
        )
        .await;
    assert_eq!(server.state.manage.prompts().await.unwrap(), before);
}

/// Each version's figures, from the requests the log holds: a version change can be judged.
#[tokio::test]
async fn a_prompts_requests_are_broken_down_by_version() {
    let server = server().await;
    let api = Api::login(&server, ADMIN).await;
    let created = api
        .ok(
            CREATE_PROMPT,
            json!({ "input": { "name": "greet", "template": email_template("For {{ brand }}.") } }),
        )
        .await["createPrompt"]
        .clone();
    let log = |i: i64, version: i64, latency_ms: i64, status: i64| RequestLog {
        request_id: format!("req-{version}-{i}"),
        created_at: 1_000 + i,
        api: "openai".into(),
        operation: "chat".into(),
        status,
        latency_ms,
        prompt_tokens: 10,
        completion_tokens: 2,
        cost_micros: 5,
        prompt: Some("greet".into()),
        prompt_version: Some(version),
        ..RequestLog::default()
    };
    let mut logs: Vec<RequestLog> = (1..=3).map(|i| log(i, 1, i * 10, 200)).collect();
    logs.extend((1..=2).map(|i| log(i, 2, 500, if i == 2 { 502 } else { 200 })));
    server.state.store.insert_request_logs(&logs).await.unwrap();

    let query = "query($id: ID!, $from: Int!, $to: Int!) { node(id: $id) { ... on Prompt {
        versionStats(from: $from, to: $to) { version requests errors p50LatencyMs p95LatencyMs
          promptTokens completionTokens costMicros feedbackCount meanScore } } } }";
    let stats = api
        .ok(query, json!({ "id": created["id"], "from": 0, "to": 10_000 }))
        .await["node"]["versionStats"]
        .clone();
    assert_eq!(
        stats,
        json!([
            { "version": 1, "requests": 3, "errors": 0, "p50LatencyMs": 20, "p95LatencyMs": 30,
              "promptTokens": 30, "completionTokens": 6, "costMicros": 15, "feedbackCount": 0, "meanScore": null },
            { "version": 2, "requests": 2, "errors": 1, "p50LatencyMs": 500, "p95LatencyMs": 500,
              "promptTokens": 20, "completionTokens": 4, "costMicros": 10, "feedbackCount": 0, "meanScore": null },
        ])
    );
    // A range without requests: no rows.
    let empty = api
        .ok(query, json!({ "id": created["id"], "from": 5_000, "to": 10_000 }))
        .await;
    assert_eq!(empty["node"]["versionStats"], json!([]));
}
