//! Integration tests: the real server on `127.0.0.1:0` with a temporary database, driven over
//! HTTP the way a browser or script would drive it; the store suite on SQLite and Postgres;
//! the CLI as a user runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// `store` first: it defines the `store_suite!` macro the `manage` suite uses too.
#[macro_use]
mod store;
mod access_rules;
mod audit_parity;
mod bad_input;
mod bedrock;
mod cache;
mod cache_collapse;
mod cache_semantic;
mod cache_settings;
mod cli;
mod cli_models;
mod composites;
mod composites_best;
mod composites_multi;
mod conformance;
mod console;
mod crash;
mod database_outage;
mod docs;
mod end_users;
mod faults;
mod gemini;
mod graphql;
mod guardrails;
mod hardening;
mod health;
mod identity;
mod inference;
mod limits;
mod manage;
mod migrations;
mod mock;
mod moderation;
mod observe;
mod operator;
mod outage;
mod people;
mod playground;
mod prompts;
mod proxy;
mod redis_outage;
mod replicas;
mod responses;
mod rig;
mod sdk;
mod settings;
mod support;
mod vertex;
