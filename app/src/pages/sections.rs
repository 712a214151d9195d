//! The console sections that later issues fill. Each says plainly what it will do and which
//! issue builds it.

use crate::components::{ComingSoon, PageHeader};
use leptos::prelude::*;
use leptos_meta::Title;

/// Request logs.
#[component]
pub fn LogsPage() -> impl IntoView {
    view! {
        <Title text="Logs"/>
        <PageHeader title="Logs" description="Every request the gateway served, with its attempts."/>
        <ComingSoon issue=6 features=&[
            "Filter by time, gateway, key, endpoint, model and status",
            "Inspect request and response bodies and per-attempt timings",
            "Open any request in the playground",
        ]/>
    }
}

/// The side-by-side playground.
#[component]
pub fn PlaygroundPage() -> impl IntoView {
    view! {
        <Title text="Playground"/>
        <PageHeader title="Playground" description="Compare models side by side."/>
        <ComingSoon issue=6 features=&[
            "Send one prompt to up to four endpoints or models",
            "Watch the answers stream side by side with latency, tokens and cost",
            "Let a judge model score the answers",
        ]/>
    }
}

/// Settings.
#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Settings"/>
        <PageHeader title="Settings" description="Admin users, API tokens and prices."/>
        <ComingSoon issue=6 features=&[
            "Invite admin users and choose their roles",
            "Create admin API tokens for automation",
            "Change your password",
            "Edit model prices",
        ]/>
    }
}
