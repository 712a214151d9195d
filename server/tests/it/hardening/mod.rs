//! Issue 18's attacks, each reproduced against the real server: what an adversary and a broken
//! upstream did to the gateway, and what it must do instead.

mod answers;
mod connections;
mod console;
mod decisions;
mod early;
mod events;
mod files;
mod fragments;
mod graphql;
mod private;
mod readiness;
mod secrets;
mod stalled;
mod uploads;
mod usage;
