//! The inference path. Built so far:
//! 1. [`registry`] — the in-memory snapshot the request path reads (never the database);
//! 2. [`auth`] — the presented gateway key → its key entry and gateway;
//! 3. [`models`] — `GET /v1/models`, the models the key may use;
//! 4. [`error`] — OpenAI-shaped errors.
//!
//! The rest of a request's journey (limits → balancer → failover → providers → usage) is the
//! rest of issue #3.

pub mod auth;
pub mod error;
pub mod models;
pub mod registry;
