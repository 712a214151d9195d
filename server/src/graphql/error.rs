//! Management errors as GraphQL errors: a message for people and a stable
//! `extensions.code` for programs (with `extensions.field` naming a bad input).
//!
//! Invariant: internal failures reach clients only as `INTERNAL_SERVER_ERROR` with a
//! reference; the details were logged once, where they happened.

use crate::manage::ManageError;
use async_graphql::{Error, ErrorExtensions};

/// The codes clients can rely on.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const CONFLICT: &str = "CONFLICT";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const INTERNAL: &str = "INTERNAL_SERVER_ERROR";
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const FORBIDDEN_ORIGIN: &str = "FORBIDDEN_ORIGIN";
}

/// A management error for a GraphQL client.
pub fn manage(error: ManageError) -> Error {
    let message = error.to_string();
    match error {
        ManageError::NotFound => Error::new(message).extend_with(|_, e| e.set("code", code::NOT_FOUND)),
        ManageError::Invalid { field, message } => {
            let field = camel_case(field);
            Error::new(format!("{field}: {message}")).extend_with(|_, e| {
                e.set("code", code::BAD_USER_INPUT);
                e.set("field", field.as_str());
            })
        }
        ManageError::Conflict { field, .. } => Error::new(message).extend_with(|_, e| {
            e.set("code", code::CONFLICT);
            if let Some(field) = field {
                e.set("field", camel_case(field));
            }
        }),
        ManageError::Forbidden => Error::new(message).extend_with(|_, e| e.set("code", code::FORBIDDEN)),
        ManageError::Unauthorized => {
            Error::new("incorrect e-mail address or password").extend_with(|_, e| e.set("code", code::UNAUTHENTICATED))
        }
        ManageError::Throttled { retry_after } => Error::new(message).extend_with(|_, e| {
            e.set("code", code::RATE_LIMITED);
            e.set("retryAfter", retry_after.as_secs());
        }),
        ManageError::Internal { ref_id } => Error::new(message).extend_with(|_, e| {
            e.set("code", code::INTERNAL);
            e.set("ref", ref_id.as_str());
        }),
        ManageError::Unavailable => Error::new(message).extend_with(|_, e| e.set("code", code::UNAVAILABLE)),
    }
}

/// The management service names fields as Rust does (`retry.max_attempts`); GraphQL clients
/// know them as the schema does (`retry.maxAttempts`).
fn camel_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// A bad argument, named.
pub fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    manage(ManageError::Invalid {
        field,
        message: message.into(),
    })
}

/// No one is signed in.
pub fn unauthenticated() -> Error {
    Error::new("sign in, or send an admin API token as a Bearer token")
        .extend_with(|_, e| e.set("code", code::UNAUTHENTICATED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_as_the_schema_names_them() {
        assert_eq!(camel_case("base_url"), "baseUrl");
        assert_eq!(camel_case("retry.max_attempts"), "retry.maxAttempts");
        assert_eq!(camel_case("filter.gatewayId"), "filter.gatewayId");
        assert_eq!(camel_case("name"), "name");
    }
}
