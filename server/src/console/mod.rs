//! The console's server side. Here, its HTTP glue: the session gate in front of every page and
//! server function, the sign-in and sign-out form handlers, and the same-origin check on
//! state-changing requests. Beside it: what its server functions call ([`backend`], with the
//! composite models' form and variants in [`composites`], the gateway edit form (with its
//! limits for people) in [`gateways`], the Dashboard's figures (with the busiest end users and
//! groups) in [`dashboard`], the Prompts page's forms, diff and figures in [`prompts`], and the
//! end users' identity provider form and access rule trial in [`identity`]), the one
//! conversion of a management refusal into the console's error ([`error`]), the logs' export
//! and live tail ([`logs`]), and the playground's set-up and route ([`playground`]).
//!
//! Invariant: every console page except `/login`, and every server function, requires a
//! valid session; the gate puts the signed-in `AdminUser` into the request for them.
//! Invariant: a state-changing request that a browser marks as cross-site is refused (CSRF);
//! the session cookie is also `SameSite=Strict`. The key-authenticated inference API is exempt.

mod backend;
mod composites;
mod dashboard;
mod error;
mod gateways;
mod identity;
pub mod logs;
pub mod playground;
mod prompts;

pub use backend::Console;

use crate::{config::Config, manage::ManageError, AppState};
use app::types::{ConsoleError, ErrorKind, LoginNotice};
use axum::{
    body::Body,
    extract::{ConnectInfo, Query, Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use leptos::server_fn::error::FromServerFnError;
use serde::Deserialize;
use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

/// Renders a console page for a request (the Leptos handler), used to answer a failed sign-in
/// with the login page and its error.
pub type Renderer = Arc<dyn Fn(Request<Body>) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> + Send + Sync>;

/// The session cookie's name over plain HTTP.
pub const SESSION_COOKIE: &str = "mgw_session";
/// The session cookie's name over HTTPS: the `__Host-` prefix pins it to this host and path.
pub const SECURE_SESSION_COOKIE: &str = "__Host-mgw_session";

/// The session cookie's name under `config`.
pub(crate) fn cookie_name(config: &Config) -> &'static str {
    if config.serves_https() {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The session cookie for a new session: HttpOnly, SameSite=Strict, Secure over HTTPS, and no
/// longer-lived than the session.
pub(crate) fn session_cookie(config: &Config, token: &str) -> Cookie<'static> {
    // Whole seconds, rounded up: a cookie must not outlive its session by much, nor die first.
    let max_age = i64::try_from(config.sessions.absolute_timeout.as_millis().div_ceil(1000)).unwrap_or(i64::MAX);
    Cookie::build((cookie_name(config), token.to_string()))
        .path("/")
        .http_only(true)
        .secure(config.serves_https())
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

/// The cookie that removes the session cookie.
pub(crate) fn session_cookie_removal(config: &Config) -> Cookie<'static> {
    // Browsers only accept a `__Host-` cookie, even a removal, when it is `Secure`.
    let mut removal = Cookie::build((cookie_name(config), ""))
        .path("/")
        .secure(config.serves_https())
        .build();
    removal.make_removal();
    removal
}

/// Where to go after signing in: only a path on this site, never another host. Browsers
/// drop tabs and newlines from a `Location`, so any whitespace or control character is refused
/// rather than risk `/\t/evil.test` becoming `//evil.test`.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            path
        }
        _ => "/",
    }
}

/// Files under the site root that anyone may fetch: the WASM bundle, its JS and CSS, the icon.
/// Only plain paths qualify: a `.` or `..` segment, an encoded character or a backslash could
/// make the router see another path than this check (`/pkg/../keys` is `/keys`).
fn is_public_asset(path: &str) -> bool {
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_'))
        && !path.split('/').any(|segment| segment == "." || segment == "..");
    plain && (path.starts_with("/pkg/") || path == "/favicon.svg")
}

/// A wait for people: seconds under a minute, else whole minutes rounded up.
fn wait_text(wait: Duration) -> String {
    match wait.as_secs().max(1) {
        1 => "1 second".into(),
        seconds @ 2..=59 => format!("{seconds} seconds"),
        seconds => match seconds.div_ceil(60) {
            1 => "1 minute".into(),
            minutes => format!("{minutes} minutes"),
        },
    }
}

/// Percent-encodes a path and query for use as the `next` parameter.
fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The session gate for console pages, server functions and the fallback (which serves static
/// assets, and renders the app for any other path).
pub async fn require_session(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    if is_public_asset(request.uri().path()) {
        return next.run(request).await;
    }
    let cookie = jar.get(cookie_name(&state.config));
    let user = match &cookie {
        Some(cookie) => match state.manage.session_user(cookie.value()).await {
            Ok(user) => user,
            Err(error) => return error_response(&error),
        },
        None => None,
    };
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if request.uri().path() == "/login" {
        // Signed-in people have nothing to do on the login page.
        return match user {
            Some(_) if reads => Redirect::to("/").into_response(),
            _ => next.run(request).await,
        };
    }
    match user {
        Some(user) => {
            request.extensions_mut().insert(user);
            // The session just validated, for the one change that keeps it (a new password).
            if let Some(cookie) = &cookie {
                (request.extensions_mut()).insert(app::api::SessionToken::new(cookie.value()));
            }
            let mut response = next.run(request).await;
            // A signed-in page is never kept: Back after signing out must not show its data.
            (response.headers_mut()).insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        None if reads => {
            let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
            let login = if target == "/" {
                "/login".to_string()
            } else {
                format!("/login?next={}", encode_component(target))
            };
            Redirect::to(&login).into_response()
        }
        // A server function (or the playground) called after the session ended: the console's
        // own error, which the page answers by going to sign-in (`ConsoleError::de`).
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            session_ended().ser(),
        )
            .into_response(),
    }
}

/// What a request without a valid session is told.
fn session_ended() -> ConsoleError {
    ConsoleError::new(ErrorKind::Unauthenticated, "Your session has ended. Sign in again.")
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// The login page's query.
#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `POST /login`: checks the form; on success sets the session cookie and redirects (303) to
/// `next`; on failure answers 401 (or 429 with `Retry-After` when throttled) with the login
/// page showing why.
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Query(query): Query<NextQuery>,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Response {
    let notice = |message: String| LoginNotice {
        message,
        email: form.email.trim().to_string(),
    };
    if form.email.trim().is_empty() || form.password.is_empty() {
        let page = notice("Enter your email and password.".into());
        return login_page(&state, page, query.next.as_deref(), StatusCode::BAD_REQUEST).await;
    }
    let password = crate::secrets::Secret::new(form.password.clone());
    match (state.manage)
        .sign_in(&form.email, password, client.ip(), app::types::Via::Console)
        .await
    {
        Ok(signed_in) => {
            let cookie = session_cookie(&state.config, signed_in.token.expose());
            (jar.add(cookie), Redirect::to(safe_next(query.next.as_deref()))).into_response()
        }
        Err(ManageError::Throttled { retry_after }) => {
            let page = notice(format!(
                "Too many failed sign-ins from this address. Try again in {}.",
                wait_text(retry_after)
            ));
            let mut response = login_page(&state, page, query.next.as_deref(), StatusCode::TOO_MANY_REQUESTS).await;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs()));
            response
        }
        Err(ManageError::Unauthorized) => {
            let page = notice("Incorrect email or password.".into());
            login_page(&state, page, query.next.as_deref(), StatusCode::UNAUTHORIZED).await
        }
        Err(error) => {
            let page = notice(format!("Signing in failed: {error}."));
            login_page(&state, page, query.next.as_deref(), StatusCode::INTERNAL_SERVER_ERROR).await
        }
    }
}

/// Renders the login page with a notice, as the answer to a failed sign-in.
async fn login_page(state: &AppState, notice: LoginNotice, next: Option<&str>, status: StatusCode) -> Response {
    let uri = match next {
        Some(next) => format!("/login?next={}", encode_component(safe_next(Some(next)))),
        None => "/login".to_string(),
    };
    let mut request = Request::new(Body::empty());
    *request.uri_mut() = uri.parse().unwrap_or_else(|_| axum::http::Uri::from_static("/login"));
    request.extensions_mut().insert(notice);
    let mut response = (state.render)(request).await;
    *response.status_mut() = status;
    response
}

/// `POST /logout`: ends the session, clears the cookie and goes to the login page.
pub async fn sign_out(State(state): State<AppState>, jar: CookieJar) -> Response {
    if let Some(cookie) = jar.get(cookie_name(&state.config)) {
        if let Err(error) = state.manage.sign_out(cookie.value(), app::types::Via::Console).await {
            return error_response(&error);
        }
    }
    (
        jar.add(session_cookie_removal(&state.config)),
        Redirect::to("/login?signed_out=1"),
    )
        .into_response()
}

/// Refuses state-changing requests that a browser marks as coming from another site
/// (`Sec-Fetch-Site`) or another origin (`Origin`). Requests with neither header do not come
/// from a browser, so they carry no ambient cookie risk and pass.
pub async fn same_origin_only(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // The inference API authenticates with keys, never cookies: cross-origin callers with a
    // key are legitimate there. Its routes are merged in outside this middleware; only
    // unknown paths under its prefixes (answered by the fallback) still arrive here.
    let key_authenticated = path.starts_with("/v1/") || path.starts_with("/openai/");
    if key_authenticated || matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    if same_origin(&state.config, request.headers()) {
        next.run(request).await
    } else {
        tracing::warn!(path = %request.uri().path(), "cross-origin request refused");
        (StatusCode::FORBIDDEN, "cross-origin request refused").into_response()
    }
}

/// Whether a request comes from this site: a browser says so with `Sec-Fetch-Site` and
/// `Origin`; a request with neither does not come from a browser and passes.
pub(crate) fn same_origin(config: &Config, headers: &axum::http::HeaderMap) -> bool {
    let header_text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    match (header_text("sec-fetch-site"), header_text(header::ORIGIN.as_str())) {
        (Some(site), _) if site != "same-origin" && site != "none" => false,
        (_, Some(origin)) => {
            let scheme = if config.serves_https() { "https" } else { "http" };
            let origin = normalized_origin(origin);
            let own = header_text(header::HOST.as_str()).map(|host| normalized_origin(&format!("{scheme}://{host}")));
            let public = config.public_url.as_deref().map(normalized_origin);
            Some(&origin) == own.as_ref() || Some(&origin) == public.as_ref()
        }
        _ => true,
    }
}

/// `scheme://host[:port]` of a URL, lower-cased, without a default port or a path.
fn normalized_origin(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url.as_str()));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = match scheme {
        "https" => authority.strip_suffix(":443").unwrap_or(authority),
        "http" => authority.strip_suffix(":80").unwrap_or(authority),
        _ => authority,
    };
    format!("{scheme}://{authority}")
}

/// A management error as a plain HTTP answer (console glue only).
fn error_response(error: &ManageError) -> Response {
    let status = match error {
        ManageError::NotFound => StatusCode::NOT_FOUND,
        ManageError::Invalid { .. } => StatusCode::BAD_REQUEST,
        ManageError::Conflict { .. } => StatusCode::CONFLICT,
        ManageError::Forbidden => StatusCode::FORBIDDEN,
        ManageError::Unauthorized => StatusCode::UNAUTHORIZED,
        ManageError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        ManageError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        ManageError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, error.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_only_allows_local_paths() {
        assert_eq!(safe_next(Some("/keys?x=1")), "/keys?x=1");
        for bad in ["https://evil.test/", "//evil.test", "/\\evil.test", "keys", ""] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn next_refuses_whitespace_and_control_characters() {
        for bad in [
            "/\t/evil.test",
            "/\n/evil.test",
            "/ /evil.test",
            "/\u{7f}x",
            "/\u{2028}x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
    }

    #[test]
    fn origins_compare_without_case_default_ports_or_paths() {
        assert_eq!(
            normalized_origin("HTTPS://Gateway.Example.com:443/console/"),
            "https://gateway.example.com"
        );
        assert_eq!(normalized_origin("http://127.0.0.1:80"), "http://127.0.0.1");
        assert_eq!(normalized_origin("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
        assert_ne!(
            normalized_origin("https://gateway.example.com"),
            normalized_origin("http://gateway.example.com")
        );
    }

    #[test]
    fn next_is_percent_encoded() {
        assert_eq!(
            encode_component("/logs?gateway=a b&x=1"),
            "/logs%3Fgateway%3Da%20b%26x%3D1"
        );
    }
}
