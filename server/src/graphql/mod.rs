//! The management API: GraphQL at `/graphql` over the management service (SPEC §6).
//!
//! A request's path, in order:
//! 1. `POST` only, with a JSON body (`application/json`): anything else is 405 or 415, and a
//!    batch (a JSON array) is refused. A `GET` upgrades to a subscription's WebSocket, or shows
//!    the explorer (`explorer.html`, self-contained) to a browser. A browser's cross-site request is refused (403) whatever its
//!    credential: the router's same-origin check for POSTs, `subscribe` for sockets.
//! 2. Authentication: an admin API token as a Bearer token, else the console's session cookie.
//!    Any other `Authorization` (a gateway key, say) is 401. Without either, only a document
//!    holding one `login` mutation runs; anything else is 401. This is decided from the headers,
//!    before the body is read: a caller without credentials may send 8 KiB (more is 401 unread),
//!    one with them 1 MiB (413), and any document's text is at most 64 KiB before it is parsed
//!    (what parsing allocates grows with it). A body has `proxy.body_read_timeout` to arrive.
//! 3. Limits, checked before any resolver runs: 64 aliases and 5,000 selections with every
//!    fragment spread expanded (checked before validation, whose work spreads multiply), then
//!    depth 10, complexity 1,000, and no introspection without a session or token.
//! 4. Execution: resolvers convert their input and call `manage`, whose operations decide
//!    what the caller may do (every mutation but `login`, `logout` and `changePassword` needs
//!    the `admin` role) and write each change to the audit log in its own transaction. Over a socket only subscriptions run, and a
//!    subscription ends when its session or token stops being valid.
//! 5. Errors carry `extensions.code` (`error::code`); internal ones only a reference.
//!
//! Does not: touch the store, or say whether an e-mail address or token exists.

mod access;
mod error;
mod guardrails;
mod identity;
mod mutation;
mod prompts;
mod query;
mod records;
mod rules;
mod subscription;
mod types;

use crate::{body::ReadError, config::Config, manage::Actor, manage::Manage, proxy::registry::Registry, AppState};
use async_graphql::{
    http::ALL_WEBSOCKET_PROTOCOLS, Context, Data, ErrorExtensionValues, Schema, SchemaBuilder, ServerError,
};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRequestParts, Request, State, WebSocketUpgrade},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
};
use axum_extra::extract::cookie::CookieJar;
use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

pub use rules::screen;
use rules::{only_login, out_of_bounds, with_codes, Rules};

pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

/// The management API's schema.
pub type ManagementSchema = Schema<Query, Mutation, Subscription>;

/// Deepest query accepted (B-11).
const MAX_DEPTH: usize = 10;
/// Most complex query accepted: every field counts one (B-11).
const MAX_COMPLEXITY: usize = 1_000;
/// Most aliases in one document (B-11): aliases multiply work without adding depth.
const MAX_ALIASES: usize = 64;
/// Largest body from a caller without credentials: a `login` mutation is a few hundred bytes
/// (its password at most 1 KiB, escaped in JSON up to 6).
/// Refused before it is read, so an anonymous document is never parsed at any size.
const ANONYMOUS_BODY_BYTES: usize = 8 * 1024;
/// Largest body from a signed-in caller (the document and its variables).
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest document text: what parsing allocates grows with it (a few hundred bytes of syntax
/// tree per byte of repeated fields), whoever sends it.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// A subscription socket that answers no ping for this long is closed.
const SOCKET_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(60);

/// What resolvers reach through the schema's data.
pub struct Backend {
    pub manage: Manage,
    pub registry: Arc<Registry>,
    pub config: Arc<Config>,
}

/// Who sent one request, from where.
#[derive(Clone)]
pub struct Caller {
    pub actor: Option<Actor>,
    /// The session token, when a session cookie authenticated the request.
    pub session: Option<String>,
    /// The admin API token, when one authenticated the request.
    pub token: Option<String>,
    pub client: IpAddr,
}

impl Caller {
    /// Whether the credential this caller was authenticated with still holds (a long-lived
    /// subscription asks again: the session may have ended, the token been revoked).
    pub async fn still_valid(&self, manage: &Manage) -> Result<bool, crate::manage::ManageError> {
        Ok(match (&self.token, &self.session) {
            (Some(token), _) => manage.token_actor(token).await?.is_some(),
            (None, Some(session)) => manage.session_user(session).await?.is_some(),
            (None, None) => false,
        })
    }
}

/// Marks an execution that arrived over a subscription socket.
struct OverSocket;

/// The schema and what it counts.
pub struct Graphql {
    schema: ManagementSchema,
    resolver_calls: Arc<AtomicU64>,
}

impl Graphql {
    /// The schema over these services.
    pub fn new(backend: Backend) -> Graphql {
        let resolver_calls = Arc::new(AtomicU64::new(0));
        let schema = builder()
            .data(backend)
            .extension(Rules(resolver_calls.clone()))
            .finish();
        Graphql { schema, resolver_calls }
    }

    /// How many fields have been resolved since start (tests check that refused requests
    /// resolve none).
    pub fn resolver_calls(&self) -> u64 {
        self.resolver_calls.load(Ordering::Relaxed)
    }
}

/// The schema with its limits, before its data.
fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query, Mutation::default(), Subscription)
        // "Did you mean …?" would describe the schema to callers without credentials.
        .disable_suggestions()
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The services, from a resolver's context.
fn backend<'a>(ctx: &Context<'a>) -> &'a Backend {
    // Invariant: `Graphql::new` puts the backend into the only schema that is executed.
    ctx.data_unchecked::<Backend>()
}

/// The request's caller, from a resolver's context.
fn caller<'a>(ctx: &Context<'a>) -> &'a Caller {
    // Invariant: every execution (HTTP and WebSocket) is given its caller.
    ctx.data_unchecked::<Caller>()
}

/// The caller, who must be authenticated (any role reads).
fn reader<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Actor> {
    caller(ctx).actor.as_ref().ok_or_else(error::unauthenticated)
}

/// The acting caller, for a management operation (which decides what it may do).
fn actor<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Actor> {
    reader(ctx)
}

/// The management service, from a resolver's context.
fn manage<'a>(ctx: &Context<'a>) -> &'a Manage {
    &backend(ctx).manage
}

/// A GraphQL-shaped error answer (`{"errors": [...]}`) with an HTTP status.
fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    response
}

/// Whether a content type is JSON (`application/json`, parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Why a request's credential was not accepted.
enum AuthFailure {
    /// Not a valid credential (401).
    Invalid,
    /// The credential could not be checked (500, with the logged reference; 503 when the
    /// database cannot be reached).
    Internal(crate::manage::ManageError),
}

/// Who sent a request: a caller without an actor when it presents no credential at all.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
    client: IpAddr,
) -> Result<Caller, AuthFailure> {
    let mut caller = Caller {
        actor: None,
        session: None,
        token: None,
        client,
    };
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| AuthFailure::Invalid)?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(AuthFailure::Invalid),
        };
        return match state.manage.token_actor(token).await {
            Ok(Some(actor)) => {
                caller.actor = Some(actor);
                caller.token = Some(token.to_string());
                Ok(caller)
            }
            Ok(None) => Err(AuthFailure::Invalid),
            Err(error) => Err(AuthFailure::Internal(error)),
        };
    }
    let Some(cookie) = jar.get(crate::console::cookie_name(&state.config)) else {
        return Ok(caller);
    };
    match state.manage.session_user(cookie.value()).await {
        Ok(Some(user)) => {
            caller.actor = Some(Actor::admin(user, app::types::Via::Graphql));
            caller.session = Some(cookie.value().to_string());
            Ok(caller)
        }
        Ok(None) => Ok(caller),
        Err(error) => Err(AuthFailure::Internal(error)),
    }
}

/// The answer for a credential that was not accepted.
fn auth_failure(failure: AuthFailure) -> Response {
    match failure {
        AuthFailure::Invalid => refuse(
            StatusCode::UNAUTHORIZED,
            error::code::UNAUTHENTICATED,
            "the credential is not valid",
        ),
        AuthFailure::Internal(failure @ crate::manage::ManageError::Unavailable) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            error::code::UNAVAILABLE,
            &failure.to_string(),
        ),
        AuthFailure::Internal(failure) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            error::code::INTERNAL,
            &format!("the credential could not be checked: {failure}"),
        ),
    }
}

/// Reads a body of at most `limit` bytes within `timeout`: `content-length` is checked first,
/// so a body too large is refused before any of it is read.
async fn read_body(
    body: axum::body::Body,
    headers: &HeaderMap,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, Response> {
    crate::body::read_limited(body, headers, limit, timeout)
        .await
        .map_err(|error| match error {
            ReadError::TooLarge => refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                error::code::BAD_REQUEST,
                &format!("the body is larger than {limit} bytes"),
            ),
            ReadError::TimedOut => refuse(
                StatusCode::REQUEST_TIMEOUT,
                error::code::BAD_REQUEST,
                "the body did not arrive in time",
            ),
            ReadError::Failed => refuse(
                StatusCode::BAD_REQUEST,
                error::code::BAD_REQUEST,
                "the body could not be read",
            ),
        })
}

/// `POST /graphql`: one operation, as JSON. The caller is authenticated from the headers
/// before the body is read, and a body is read only up to what the caller may send.
pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    if !is_json(headers) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            error::code::BAD_REQUEST,
            "send the operation as JSON, with `Content-Type: application/json`",
        );
    }
    let caller = match authenticate(&state, headers, &jar, peer.ip()).await {
        Ok(caller) => caller,
        Err(failure) => return auth_failure(failure),
    };
    let limit = if caller.actor.is_some() {
        MAX_BODY_BYTES
    } else {
        ANONYMOUS_BODY_BYTES
    };
    let body = match read_body(body, headers, limit, state.config.proxy.body_read_timeout).await {
        Ok(body) => body,
        Err(refused) if caller.actor.is_none() && refused.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            // Without credentials only a `login` runs, and no `login` is this long.
            return unauthenticated();
        }
        Err(refused) => return refused,
    };
    let document: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(document) => document,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                error::code::BAD_REQUEST,
                "the body is not valid JSON",
            )
        }
    };
    if document.is_array() {
        return refuse(
            StatusCode::BAD_REQUEST,
            error::code::BAD_REQUEST,
            "batched operations are not supported; send one at a time",
        );
    }
    let mut request: async_graphql::Request = match serde_json::from_value(document) {
        Ok(request) => request,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                error::code::BAD_REQUEST,
                "the body must be {\"query\": …, \"variables\": …, \"operationName\": …}",
            )
        }
    };
    if request.query.len() > MAX_DOCUMENT_BYTES {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            error::code::BAD_REQUEST,
            &format!("the document is longer than {MAX_DOCUMENT_BYTES} bytes"),
        );
    }
    let actor = caller.actor.clone();
    let parsed = request
        .parsed_query()
        .map(|document| (only_login(document), out_of_bounds(document)));
    match parsed {
        Err(_) if actor.is_none() => return unauthenticated(),
        Err(parse_error) => {
            let mut error = parse_error;
            error
                .extensions
                .get_or_insert_with(ErrorExtensionValues::default)
                .set("code", error::code::PARSE_FAILED);
            return GraphQLResponse::from(async_graphql::Response::from_errors(vec![error])).into_response();
        }
        Ok((login_only, _)) if actor.is_none() && !login_only => return unauthenticated(),
        Ok((_, Some(reason))) => {
            let mut error = ServerError::new(reason, None);
            error
                .extensions
                .get_or_insert_with(ErrorExtensionValues::default)
                .set("code", error::code::VALIDATION_FAILED);
            return GraphQLResponse::from(async_graphql::Response::from_errors(vec![error])).into_response();
        }
        Ok(_) => {}
    }
    if actor.is_none() {
        request = request.disable_introspection();
    }
    let response = state.graphql.schema.execute(request.data(caller)).await;
    GraphQLResponse::from(with_codes(response)).into_response()
}

fn unauthenticated() -> Response {
    refuse(
        StatusCode::UNAUTHORIZED,
        error::code::UNAUTHENTICATED,
        "sign in (the `login` mutation or the console), or send an admin API token as a Bearer token",
    )
}

/// The explorer a browser gets at `GET /graphql`: one self-contained page (queries, mutations
/// and subscriptions, a schema browser from introspection), nothing fetched from elsewhere.
const EXPLORER: &str = include_str!("explorer.html");

/// `GET /graphql`: a subscription's WebSocket, the explorer for a browser, else 405
/// (operations are POSTed).
pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let wants_socket = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if wants_socket {
        return subscribe(state, peer, parts).await;
    }
    let browser = (parts.headers.get(header::ACCEPT))
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if browser {
        return Html(EXPLORER).into_response();
    }
    refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        error::code::BAD_REQUEST,
        "send operations with POST and a JSON body",
    )
}

/// Opens a subscription socket, for this site's pages only (a cross-site page could
/// otherwise open one with the admin's cookie). A session cookie authenticates it, or a token
/// in the `connection_init` payload as `{"Authorization": "Bearer …"}`.
async fn subscribe(state: AppState, peer: SocketAddr, mut parts: axum::http::request::Parts) -> Response {
    if !crate::console::same_origin(&state.config, &parts.headers) {
        return refuse(
            StatusCode::FORBIDDEN,
            error::code::FORBIDDEN_ORIGIN,
            "cross-origin request refused",
        );
    }
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(rejection) => return rejection.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let jar = CookieJar::from_headers(&parts.headers);
    let caller = match authenticate(&state, &parts.headers, &jar, peer.ip()).await {
        Ok(caller) => caller,
        Err(failure) => return auth_failure(failure),
    };
    let schema = state.graphql.schema.clone();
    let manage = state.manage.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // A subscription message is a small document and its variables: no more than a POST.
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| async move {
            let authenticated = caller.actor.is_some();
            let mut data = Data::default();
            data.insert(caller);
            data.insert(OverSocket);
            GraphQLWebSocket::new(socket, schema, protocol)
                .with_data(data)
                // Pings keep a socket open; one that stops answering is closed.
                .keepalive_timeout(SOCKET_KEEPALIVE)
                .on_connection_init(move |payload| async move {
                    if authenticated {
                        return Ok(Data::default());
                    }
                    let token = ["Authorization", "authorization"]
                        .iter()
                        .find_map(|name| payload.get(*name).and_then(|v| v.as_str()))
                        .and_then(|value| value.split_once(' '))
                        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                        .map(|(_, token)| token.trim().to_string());
                    let Some(token) = token else {
                        return Err(async_graphql::Error::new("not authenticated"));
                    };
                    let actor = manage.token_actor(&token).await.map_err(error::manage)?;
                    let Some(actor) = actor else {
                        return Err(async_graphql::Error::new("not authenticated"));
                    };
                    let mut data = Data::default();
                    data.insert(Caller {
                        actor: Some(actor),
                        session: None,
                        token: Some(token),
                        client: peer.ip(),
                    });
                    data.insert(OverSocket);
                    Ok(data)
                })
                .serve()
                .await;
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognised() {
        let mut headers = HeaderMap::new();
        for (value, json) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&headers), json, "{value}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
