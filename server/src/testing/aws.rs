//! The host's AWS credential services as the mock plays them (issue #25): the instance
//! metadata service (IMDSv2 — a session token, then the instance's role, then its
//! credentials) and a container's credentials endpoint (any path under `/v2/credentials/`).
//! Each issue of credentials is new (`ASIAMOCK{n}`), counted with the access tokens, and lives
//! as long as they do; none of these calls is counted or recorded as a provider call.

use super::Shared;
use axum::{
    http::{HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
};
use std::{
    sync::atomic::Ordering,
    time::{Duration, SystemTime},
};

/// The role the mock's instance has.
pub const ROLE: &str = "mock-role";
/// The IMDSv2 session token it gives.
const SESSION: &str = "mock-imds-session";
const ROLES_PATH: &str = "/latest/meta-data/iam/security-credentials/";

/// The answer to a call to one of the services; `None` for any other path.
pub(super) fn answer(shared: &Shared, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let imds = path.starts_with("/latest/");
    if imds && *method == Method::PUT && path == "/latest/api/token" {
        return Some(match header("x-aws-ec2-metadata-token-ttl-seconds") {
            Some(_) => SESSION.into_response(),
            None => (StatusCode::BAD_REQUEST, "missing the token's TTL").into_response(),
        });
    }
    if imds && header("x-aws-ec2-metadata-token") != Some(SESSION) {
        // IMDSv2 only: without the session token, every read is refused.
        return Some(StatusCode::UNAUTHORIZED.into_response());
    }
    if path == ROLES_PATH {
        return Some(format!("{ROLE}\n").into_response());
    }
    if path.strip_prefix(ROLES_PATH) == Some(ROLE) || path.starts_with("/v2/credentials/") {
        if let Some(authorization) = header("authorization") {
            *super::lock(&shared.last_assertion) = Some(authorization.to_string());
        }
        return Some(credentials(shared));
    }
    imds.then(|| StatusCode::NOT_FOUND.into_response())
}

/// New temporary credentials, expiring after the mock's token lifetime.
fn credentials(shared: &Shared) -> Response {
    let issued = shared.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    let lifetime_ms = match shared.token_lifetime_ms.load(Ordering::Relaxed) {
        0 => 3_600_000,
        ms => ms,
    };
    let expires = SystemTime::now() + Duration::from_millis(lifetime_ms);
    let body = serde_json::json!({
        "Code": "Success", "Type": "AWS-HMAC",
        "AccessKeyId": format!("ASIAMOCK{issued}"),
        "SecretAccessKey": format!("mock-secret-{issued}"),
        "Token": format!("mock-session-{issued}"),
        "Expiration": humantime::format_rfc3339_seconds(expires).to_string(),
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}
