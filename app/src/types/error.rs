//! The console's one error type: what a server function answers when it does not succeed —
//! from the management service's refusal (converted once, on the server), a missing session,
//! or the request itself failing.

use super::JsonText;
use leptos::server_fn::{
    error::{FromServerFnError, ServerFnErrorErr},
    Bytes, Decodes,
};
use serde::{Deserialize, Serialize};

/// Why a console request did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// A value was refused; the error names its field.
    Invalid,
    /// It clashes with what is stored: a name in use (named), or something that still depends
    /// on what it would remove.
    Conflict,
    /// What it names does not exist (any more).
    NotFound,
    /// The signed-in admin may not do this (the viewer role only reads).
    Forbidden,
    /// There is no valid session (it ended, or was never there).
    Unauthenticated,
    /// Too many attempts; try again later.
    Throttled,
    /// The server failed; the message carries a reference to its log.
    Internal,
    /// The request or its answer did not get through.
    Transport,
    /// The server cannot reach its database now; nothing was changed.
    Unavailable,
}

/// A console request that did not succeed: what kind, the form field at fault (empty when no
/// one field is), and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleError {
    pub kind: ErrorKind,
    pub field: String,
    pub message: String,
}

impl ConsoleError {
    /// An error of `kind` that names no field.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ConsoleError {
            kind,
            field: String::new(),
            message: message.into(),
        }
    }

    /// A refused value of `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ConsoleError {
            kind: ErrorKind::Invalid,
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The HTTP status a server function answers with: a refusal is a 4xx, never a 500.
    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::Invalid => 400,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Throttled => 429,
            ErrorKind::Internal | ErrorKind::Transport => 500,
            ErrorKind::Unavailable => 503,
        }
    }
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConsoleError {}

impl FromServerFnError for ConsoleError {
    type Encoder = JsonText;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ConsoleError::new(ErrorKind::Transport, value.to_string())
    }

    /// Reads a server function's error answer. In the browser, one that says the session has
    /// ended takes the page to sign-in (coming back here after): every server function's error
    /// passes through here, so no page has to remember to.
    fn de(data: Bytes) -> Self {
        let error = <JsonText as Decodes<ConsoleError>>::decode(data)
            .unwrap_or_else(|e| Self::from_server_fn_error(ServerFnErrorErr::Deserialization(e.to_string())));
        if error.kind == ErrorKind::Unauthenticated {
            to_sign_in();
        }
        error
    }
}

/// Goes to the sign-in page, which comes back to where the browser is now.
#[cfg(feature = "hydrate")]
pub fn to_sign_in() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    if location.pathname().is_ok_and(|path| path == "/login") {
        return;
    }
    let next = String::from(js_sys::encode_uri_component(&here));
    let _ = location.assign(&format!("/login?next={next}"));
}

/// On the server there is no page to move.
#[cfg(not(feature = "hydrate"))]
pub fn to_sign_in() {}
