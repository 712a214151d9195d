//! Server functions: the console's calls to the server. Thin: each checks there is a session
//! and calls the management service through [`ConsoleBackend`], which the server provides as
//! context; the management service decides what the signed-in admin may do. Every one answers
//! `Result<T, ConsoleError>`: a refusal is its 4xx, with the field it names.
//!
//! Does not: touch the database, decide any business rule, check a role, or parse a form
//! value into its type by hand.

// A server function's arguments are its form's fields, one each; the generated code repeats
// them, so the lint cannot be silenced on the function alone.
#![allow(clippy::too_many_arguments)]

mod access;
#[cfg(feature = "ssr")]
mod backend;
mod composites;
mod config;
mod guardrails;
mod identity;
mod prompts;
mod reads;

pub use access::*;
#[cfg(feature = "ssr")]
pub use backend::*;
pub use composites::*;
pub use config::*;
pub use guardrails::*;
pub use identity::*;
pub use prompts::*;
pub use reads::*;
