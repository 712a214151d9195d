//! Shared domain types: the shapes that cross between the server, the console and (later) GraphQL.
//!
//! The management inputs are declared here once (`NewEndpoint`, `GatewayUpdate`, `NewKey`, …):
//! the management service takes them, GraphQL derives its input objects from them, and the
//! console and the CLI build them from their forms and arguments.
//!
//! Invariant: no answer carries a secret (password hash, token, credential); secret-bearing
//! rows stay private to `server::store`. A secret on its way in is a `WriteOnly` (hidden from
//! `Debug`), and `ShownOnce`, a new key's one showing, is hidden from `Debug` too.

mod admin;
mod cache;
mod change;
mod codec;
mod composite;
mod dashboard;
mod endpoint;
mod error;
mod gateway;
mod guard;
mod identity;
mod key;
mod limits;
mod log;
mod playground;
mod policy;
mod prompt;
mod prompt_form;

pub use admin::*;
pub use cache::*;
pub use change::*;
pub use codec::*;
pub use composite::*;
pub use dashboard::*;
pub use endpoint::*;
pub use error::*;
pub use gateway::*;
pub use guard::*;
pub use identity::*;
pub use key::*;
pub use limits::*;
pub use log::*;
pub use playground::*;
pub use policy::*;
pub use prompt::*;
pub use prompt_form::*;
