//! The console sections that later issues fill. Each says plainly what it will do and which
//! issue builds it.

use crate::components::{ComingSoon, PageHeader};
use leptos::prelude::*;
use leptos_meta::Title;

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
