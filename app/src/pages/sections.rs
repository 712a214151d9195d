//! The console sections that later issues fill. Each says plainly what it will do and which
//! issue builds it.

use crate::components::{ComingSoon, PageHeader};
use leptos::prelude::*;
use leptos_meta::Title;

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
