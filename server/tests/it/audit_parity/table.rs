//! The parity table: one row per field of `type Mutation` in `schema.graphql`, with the
//! GraphQL document that makes the change, the console's and the CLI's way of making the
//! same change where they have one, the audit action it must record, and whether a viewer
//! may do it.
//!
//! Ids differ from run to run (a key's public id is random), so documents' variables, forms
//! and command lines name the fixtures by marks that `Fixture::fill` replaces:
//! `<e1>`, `<spare>`, `<g1>`, `<k1>`, `<c1>`, `<p1>`, `<i1>`, `<second>`, `<token>` are the local ids (a
//! key's public id, a number otherwise), `<e1:id>`, `<g1:id>`… the GraphQL global ids, and
//! `<template>` the path of a template file holding [`TEMPLATE_YAML`].

use crate::support::PASSWORD;
use serde_json::{json, Value};

pub const ADMIN: &str = "admin@example.com";
pub const SECOND: &str = "second@example.com";
pub const VIEWER: &str = "viewer@example.com";
/// Where the fixtures' endpoints point: nothing listens there, so a connection test fails
/// the same way every time.
pub const UPSTREAM: &str = "http://127.0.0.1:9";
const UPSTREAM_V1: &str = "http://127.0.0.1:9/v1";
const API_KEY: &str = "sk-parity-0123456789";
const NEW_PASSWORD: &str = "a brand new password";

/// A prompt's template as the CLI reads it from a file; GraphQL's rows send the same one.
pub const TEMPLATE_YAML: &str = "messages:
  - role: user
    content: \"Say hello to {{ who }}.\"
parameters:
  who:
    type: string
    required: true
";

/// [`TEMPLATE_YAML`] as the console's template editor posts it (its rows, as JSON).
const TEMPLATE_FORM: &str = r#"{"messages":[{"role":"user","content":"Say hello to {{ who }}."}],"model":"","params":"",
"parameters":[{"name":"who","kind":"string","required":true,"default":"","description":""}]}"#;

/// [`TEMPLATE_YAML`] as GraphQL takes it.
fn template() -> Value {
    json!({ "messages": [{ "role": "user", "content": "Say hello to {{ who }}." }],
            "parameters": [{ "name": "who", "type": "STRING", "required": true }] })
}

/// How the console makes a change.
pub enum Console {
    /// A server function at `/api/<endpoint>`, called with these form fields.
    Function(&'static str, &'static [(&'static str, &'static str)]),
    /// `POST /login` with the admin's e-mail address and password (a form, not a function).
    Login,
    /// `POST /logout` with the session cookie.
    Logout,
}

/// One mutation and its equivalents.
pub struct Row {
    /// The field of `type Mutation`.
    pub mutation: &'static str,
    /// The audit action every path must record.
    pub action: &'static str,
    /// Whether a viewer may do it (signing in and out, and changing one's own password).
    pub viewer_may: bool,
    pub document: &'static str,
    pub variables: Value,
    pub console: Option<Console>,
    /// The arguments after `model-gateway --data-dir <dir>`.
    pub cli: Option<&'static [&'static str]>,
}

fn row(mutation: &'static str, action: &'static str, document: &'static str, variables: Value) -> Row {
    Row {
        mutation,
        action,
        viewer_may: false,
        document,
        variables,
        console: None,
        cli: None,
    }
}

impl Row {
    fn via_console(mut self, console: Console) -> Row {
        self.console = Some(console);
        self
    }

    fn via_cli(mut self, args: &'static [&'static str]) -> Row {
        self.cli = Some(args);
        self
    }

    fn for_viewers_too(mut self) -> Row {
        self.viewer_may = true;
        self
    }
}

/// Every mutation. The console has no way to update a gateway or replace its endpoints, nor
/// to update or delete a key, nor to change only some of a composite's fields (its edit form
/// sends them all, so its entry names the members).
/// The CLI has none to test an endpoint, delete a key, sign in or out, change a password,
/// update or delete an admin, or create or revoke an admin API token.
pub fn table() -> Vec<Row> {
    vec![
        // Endpoints.
        row(
            "createEndpoint",
            "endpoint.create",
            "mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }",
            json!({ "input": { "name": "e-new", "provider": "OPENAI", "baseUrl": UPSTREAM_V1,
                               "apiKey": API_KEY, "model": "gpt-4o-mini" } }),
        )
        .via_console(Console::Function(
            "endpoints_create",
            &[
                ("name", "e-new"),
                ("provider", "openai"),
                ("base_url", UPSTREAM_V1),
                ("api_key", API_KEY),
                ("model", "gpt-4o-mini"),
                ("deployment", ""),
                ("api_version", ""),
                ("region", ""),
            ],
        ))
        .via_cli(&[
            "endpoint",
            "add",
            "--name",
            "e-new",
            "--provider",
            "openai",
            "--url",
            UPSTREAM_V1,
            "--api-key",
            API_KEY,
            "--model",
            "gpt-4o-mini",
        ]),
        row(
            "updateEndpoint",
            "endpoint.update",
            "mutation($id: ID!) { updateEndpoint(id: $id, input: { model: \"gpt-4o\" }) { id } }",
            json!({ "id": "<e1:id>" }),
        )
        .via_console(Console::Function(
            "endpoints_update",
            &[
                ("id", "<e1>"),
                ("name", ""),
                ("base_url", ""),
                ("api_key", ""),
                ("model", "gpt-4o"),
                ("deployment", ""),
                ("api_version", ""),
                ("region", ""),
            ],
        ))
        .via_cli(&["endpoint", "update", "e1", "--model", "gpt-4o"]),
        row(
            "deleteEndpoint",
            "endpoint.delete",
            "mutation($id: ID!) { deleteEndpoint(id: $id) }",
            json!({ "id": "<spare:id>" }),
        )
        .via_console(Console::Function("endpoints_delete", &[("id", "<spare>")]))
        .via_cli(&["endpoint", "remove", "e-spare"]),
        row(
            "testEndpoint",
            "endpoint.test",
            "mutation($id: ID!) { testEndpoint(id: $id) { ok } }",
            json!({ "id": "<e1:id>" }),
        )
        .via_console(Console::Function("endpoints_test", &[("id", "<e1>")])),
        // Gateways.
        row(
            "createGateway",
            "gateway.create",
            "mutation($input: CreateGatewayInput!) { createGateway(input: $input) { id } }",
            json!({ "input": { "name": "g-new", "strategy": "PRIORITY", "endpoints": [{ "endpointId": "<e1:id>" }] } }),
        )
        .via_console(Console::Function(
            "gateways_create",
            &[
                ("name", "g-new"),
                ("description", ""),
                ("strategy", "priority"),
                ("endpoints", "e1"),
            ],
        ))
        .via_cli(&[
            "gateway",
            "add",
            "--name",
            "g-new",
            "--endpoints",
            "e1",
            "--strategy",
            "priority",
        ]),
        row(
            "updateGateway",
            "gateway.update",
            "mutation($id: ID!) { updateGateway(id: $id, input: { description: \"changed\" }) { id } }",
            json!({ "id": "<g1:id>" }),
        )
        .via_cli(&["gateway", "update", "g1", "--description", "changed"]),
        row(
            "setGatewayEndpoints",
            "gateway.update",
            "mutation($id: ID!, $endpoints: [GatewayEndpointInput!]!) {
               setGatewayEndpoints(id: $id, endpoints: $endpoints) { id } }",
            json!({ "id": "<g1:id>", "endpoints": [{ "endpointId": "<e1:id>" }, { "endpointId": "<spare:id>" }] }),
        )
        .via_cli(&["gateway", "update", "g1", "--endpoints", "e1,e-spare"]),
        row(
            "deleteGateway",
            "gateway.delete",
            "mutation($id: ID!) { deleteGateway(id: $id) }",
            json!({ "id": "<g1:id>" }),
        )
        .via_console(Console::Function("gateways_delete", &[("id", "<g1>")]))
        .via_cli(&["gateway", "remove", "g1"]),
        // Composite models.
        row(
            "createComposite",
            "composite.create",
            "mutation($input: CreateCompositeInput!) { createComposite(input: $input) { id } }",
            json!({ "input": { "gatewayId": "<g1:id>", "name": "c-new", "kind": "LOAD",
                               "members": [{ "category": "", "target": "e1", "share": 1.0 }] } }),
        )
        .via_console(Console::Function(
            "composites_create",
            &[
                ("gateway_id", "<g1>"),
                ("name", "c-new"),
                ("kind", "load"),
                ("members", "e1"),
            ],
        ))
        .via_cli(&[
            "composite",
            "add",
            "--gateway",
            "g1",
            "--name",
            "c-new",
            "--kind",
            "load",
            "--member",
            "e1",
        ]),
        row(
            "updateComposite",
            "composite.update",
            "mutation($id: ID!) { updateComposite(id: $id, input: { sticky: true }) { id } }",
            json!({ "id": "<c1:id>" }),
        )
        .via_cli(&[
            "composite",
            "update",
            "--gateway",
            "g1",
            "--name",
            "c1",
            "--sticky",
            "true",
        ]),
        row(
            "deleteComposite",
            "composite.delete",
            "mutation($id: ID!) { deleteComposite(id: $id) }",
            json!({ "id": "<c1:id>" }),
        )
        .via_console(Console::Function("composites_delete", &[("id", "<c1>")]))
        .via_cli(&["composite", "remove", "--gateway", "g1", "--name", "c1"]),
        // Named prompts.
        row(
            "createPrompt",
            "prompt.create",
            "mutation($input: CreatePromptInput!) { createPrompt(input: $input) { id } }",
            json!({ "input": { "name": "p-new", "template": template() } }),
        )
        .via_console(Console::Function(
            "prompts_create",
            &[("name", "p-new"), ("template", TEMPLATE_FORM)],
        ))
        .via_cli(&["prompt", "create", "--name", "p-new", "--file", "<template>"]),
        row(
            "addPromptVersion",
            "prompt.version",
            "mutation($id: ID!, $template: PromptTemplateInput!) {
               addPromptVersion(promptId: $id, template: $template) { version } }",
            json!({ "id": "<p1:id>", "template": template() }),
        )
        .via_console(Console::Function(
            "prompts_version",
            &[("id", "<p1>"), ("template", TEMPLATE_FORM)],
        ))
        .via_cli(&["prompt", "version", "p1", "--file", "<template>"]),
        row(
            "setPromptLabel",
            "prompt.label",
            "mutation($id: ID!) { setPromptLabel(promptId: $id, label: \"production\", version: 1) { id } }",
            json!({ "id": "<p1:id>" }),
        )
        .via_console(Console::Function(
            "prompts_label",
            &[("id", "<p1>"), ("label", "production"), ("version", "1")],
        ))
        .via_cli(&["prompt", "label", "p1", "production", "1"]),
        row(
            "setPromptAccessRule",
            "prompt.access",
            "mutation($id: ID!) { setPromptAccessRule(promptId: $id, rule: \"'llm' in user.groups\") { id } }",
            json!({ "id": "<p1:id>" }),
        )
        .via_cli(&["prompt", "access", "p1", "'llm' in user.groups"]),
        row(
            "setPromptCache",
            "prompt.cache",
            "mutation($id: ID!) { setPromptCache(promptId: $id, cache: { mode: EXACT, ttlS: 60 }) { id } }",
            json!({ "id": "<p1:id>" }),
        )
        .via_cli(&["prompt", "cache", "p1", "--cache", "exact", "--cache-ttl", "60"]),
        row(
            "deletePrompt",
            "prompt.delete",
            "mutation($id: ID!) { deletePrompt(promptId: $id) }",
            json!({ "id": "<p1:id>" }),
        )
        .via_console(Console::Function("prompts_delete", &[("id", "<p1>")]))
        .via_cli(&["prompt", "remove", "p1"]),
        // End users' identity providers.
        row(
            "addIdentityProvider",
            "identity.create",
            "mutation($input: AddIdentityProviderInput!) { addIdentityProvider(input: $input) { id } }",
            json!({ "input": { "gatewayId": "<g1:id>", "issuer": "https://new.example.com",
                               "audiences": ["g1"], "jwksUrl": "https://new.example.com/jwks" } }),
        )
        .via_console(Console::Function(
            "identity_create",
            &[
                ("gateway_id", "<g1>"),
                ("issuer", "https://new.example.com"),
                ("audiences", "g1"),
                ("key_source", "jwks_url"),
                ("jwks_url", "https://new.example.com/jwks"),
            ],
        ))
        .via_cli(&[
            "identity",
            "add",
            "--gateway",
            "g1",
            "--issuer",
            "https://new.example.com",
            "--audience",
            "g1",
            "--jwks-url",
            "https://new.example.com/jwks",
        ]),
        row(
            "removeIdentityProvider",
            "identity.delete",
            "mutation($id: ID!) { removeIdentityProvider(id: $id) }",
            json!({ "id": "<i1:id>" }),
        )
        .via_console(Console::Function("identity_delete", &[("id", "<i1>")]))
        .via_cli(&["identity", "remove", "<i1>"]),
        // Guardrails.
        row(
            "addGuardrail",
            "guardrail.create",
            "mutation($input: AddGuardrailInput!) { addGuardrail(input: $input) { id } }",
            json!({ "input": { "gatewayId": "<g1:id>", "detector": "card", "action": "BLOCK", "direction": "REQUEST" } }),
        )
        .via_cli(&[
            "guardrail",
            "add",
            "--gateway",
            "g1",
            "--detector",
            "card",
            "--action",
            "block",
            "--direction",
            "request",
        ]),
        row(
            "removeGuardrail",
            "guardrail.delete",
            "mutation($id: ID!) { removeGuardrail(id: $id) }",
            json!({ "id": "<r1:id>" }),
        )
        .via_cli(&["guardrail", "remove", "<r1>"]),
        // Keys.
        row(
            "createKey",
            "key.create",
            "mutation($input: CreateKeyInput!) { createKey(input: $input) { secret } }",
            json!({ "input": { "gatewayId": "<g1:id>", "name": "k-new" } }),
        )
        .via_console(Console::Function(
            "keys_create",
            &[("gateway_id", "<g1>"), ("name", "k-new")],
        ))
        .via_cli(&["key", "create", "--gateway", "g1", "--name", "k-new"]),
        row(
            "updateKey",
            "key.update",
            "mutation($id: ID!) { updateKey(id: $id, input: { enabled: false }) { id } }",
            json!({ "id": "<k1:id>" }),
        )
        .via_cli(&["key", "update", "<k1>", "--enabled", "false"]),
        row(
            "revokeKey",
            "key.revoke",
            "mutation($id: ID!) { revokeKey(id: $id) }",
            json!({ "id": "<k1:id>" }),
        )
        .via_console(Console::Function("keys_revoke", &[("public_id", "<k1>")]))
        .via_cli(&["key", "revoke", "<k1>"]),
        row(
            "deleteKey",
            "key.delete",
            "mutation($id: ID!) { deleteKey(id: $id) }",
            json!({ "id": "<k1:id>" }),
        ),
        row(
            "resetKeyUsage",
            "key.reset",
            "mutation($id: ID!) { resetKeyUsage(id: $id) { id } }",
            json!({ "id": "<k1:id>" }),
        )
        .via_console(Console::Function("keys_reset", &[("public_id", "<k1>")]))
        .via_cli(&["key", "reset", "<k1>"]),
        // The console rotates with the default grace, an hour: the others ask for an hour.
        row(
            "rotateKey",
            "key.rotate",
            "mutation($id: ID!) { rotateKey(id: $id, graceSeconds: 3600) { secret } }",
            json!({ "id": "<k1:id>" }),
        )
        .via_console(Console::Function("keys_rotate", &[("public_id", "<k1>")]))
        .via_cli(&["key", "rotate", "<k1>", "--grace", "1h"]),
        // Prices: GraphQL takes millionths, the console and the CLI decimal text; 0.15 and
        // 0.6 are 150000 and 600000 millionths, so the stored price is the same.
        row(
            "setPrice",
            "price.set",
            "mutation {
               setPrice(input: { model: \"m2\", inputPerMtokMicros: 150000, outputPerMtokMicros: 600000 }) { model } }",
            json!({}),
        )
        .via_console(Console::Function(
            "prices_set",
            &[("model", "m2"), ("input", "0.15"), ("output", "0.6")],
        ))
        .via_cli(&["price", "set", "m2", "--input", "0.15", "--output", "0.6"]),
        row(
            "deletePrice",
            "price.delete",
            "mutation { deletePrice(model: \"m1\") }",
            json!({}),
        )
        .via_console(Console::Function("prices_remove", &[("model", "m1")]))
        .via_cli(&["price", "remove", "m1"]),
        // Signing in and out, and one's own password.
        row(
            "login",
            "admin.login",
            "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { role } }",
            json!({ "email": ADMIN, "password": PASSWORD }),
        )
        .via_console(Console::Login)
        .for_viewers_too(),
        row("logout", "admin.logout", "mutation { logout }", json!({}))
            .via_console(Console::Logout)
            .for_viewers_too(),
        row(
            "changePassword",
            "admin.change_password",
            "mutation($current: String!, $next: String!) {
               changePassword(currentPassword: $current, newPassword: $next) }",
            json!({ "current": PASSWORD, "next": NEW_PASSWORD }),
        )
        .via_console(Console::Function(
            "password_change",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        ))
        .for_viewers_too(),
        // Admin users.
        row(
            "createAdminUser",
            "admin.create",
            "mutation($input: CreateAdminUserInput!) { createAdminUser(input: $input) { id } }",
            json!({ "input": { "email": "new@example.com", "password": PASSWORD, "role": "VIEWER" } }),
        )
        .via_console(Console::Function(
            "admins_create",
            &[("email", "new@example.com"), ("password", PASSWORD), ("role", "viewer")],
        ))
        .via_cli(&["admin", "create", "--email", "new@example.com", "--role", "viewer"]),
        row(
            "updateAdminUser",
            "admin.update",
            "mutation($id: ID!) { updateAdminUser(id: $id, input: { role: VIEWER }) { id } }",
            json!({ "id": "<second:id>" }),
        )
        .via_console(Console::Function(
            "admins_update",
            &[("id", "<second>"), ("change", "viewer")],
        )),
        row(
            "deleteAdminUser",
            "admin.delete",
            "mutation($id: ID!) { deleteAdminUser(id: $id) }",
            json!({ "id": "<second:id>" }),
        )
        .via_console(Console::Function("admins_delete", &[("id", "<second>")])),
        // Admin API tokens.
        row(
            "createAdminApiToken",
            "admin_token.create",
            "mutation { createAdminApiToken(input: { name: \"t-new\", role: VIEWER }) { secret } }",
            json!({}),
        )
        .via_console(Console::Function(
            "tokens_create",
            &[("name", "t-new"), ("role", "viewer"), ("expires_in_days", "")],
        )),
        row(
            "revokeAdminApiToken",
            "admin_token.revoke",
            "mutation($id: ID!) { revokeAdminApiToken(id: $id) { revokedAt } }",
            json!({ "id": "<token:id>" }),
        )
        .via_console(Console::Function("tokens_revoke", &[("id", "<token>")])),
    ]
}
