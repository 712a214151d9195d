//! The console over HTTP: the session gate, signing in and out, cookies, throttling,
//! replayed cookies and cross-origin requests (CSRF).
//!
//! Here: the console's paths and `location`, which the area modules share; `gate` (what opens
//! without a session, CSRF), `session` (signing in and out, cookies, throttling, expiry) and
//! `functions` (the endpoints, gateways (with their composite models) and keys pages' server
//! functions), `prompts` (the Prompts page's server functions and the playground's prompt
//! mode), `logs` (the logs' export and live tail), `people` (the gateway form's limits for
//! people and the Dashboard's busiest end users and groups).

mod assets;
mod functions;
mod gate;
mod logs;
mod people;
mod prompts;
mod session;

const PAGES: [&str; 10] = [
    "/",
    "/endpoints",
    "/gateways",
    "/keys",
    "/logs",
    "/audit",
    "/docs",
    "/prompts",
    "/playground",
    "/settings",
];
const OVERVIEW_FN: &str = "/api/dashboard_overview";

fn location(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}
