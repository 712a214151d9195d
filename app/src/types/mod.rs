//! Shared domain types: the shapes that cross between the server, the console and (later) GraphQL.
//!
//! Invariant: nothing here carries a secret (password hash, token, credential); secret-bearing
//! rows stay private to `server::store`, and inputs that carry one live in `server::manage` —
//! but for `NewEndpointForm`, the console form's fields on their way to the server, which is
//! never serialized and hides the credential from `Debug`, and `ShownOnce`, a new key's one
//! showing (hidden from `Debug` too).

mod admin;
mod dashboard;
mod endpoint;
mod error;
mod gateway;
mod key;
mod limits;
mod log;
mod playground;

pub use admin::*;
pub use dashboard::*;
pub use endpoint::*;
pub use error::*;
pub use gateway::*;
pub use key::*;
pub use limits::*;
pub use log::*;
pub use playground::*;
