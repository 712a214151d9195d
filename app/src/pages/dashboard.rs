//! The dashboard: what is configured, and how to get started. Traffic charts arrive with the
//! console issue (#6).

use crate::api::dashboard_overview;
use crate::components::{Icon, PageHeader};
use leptos::prelude::*;
use leptos_meta::Title;

/// One figure on the dashboard.
#[component]
fn Stat(label: &'static str, value: i64, href: &'static str, icon: Icon) -> impl IntoView {
    view! {
        <a href=href class="flex items-center gap-4 rounded-xl border border-slate-200 bg-white p-5 shadow-sm transition hover:border-indigo-300 hover:shadow">
            <span class="flex h-10 w-10 items-center justify-center rounded-lg bg-indigo-50 text-indigo-600">{icon.view("h-5 w-5")}</span>
            <span>
                <span class="block text-2xl font-semibold text-slate-900" data-testid=format!("stat-{}", label.to_lowercase().replace(' ', "-"))>{value}</span>
                <span class="block text-sm text-slate-500">{label}</span>
            </span>
        </a>
    }
}

/// The dashboard page.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let counts = Resource::new(|| (), |_| dashboard_overview());
    view! {
        <Title text="Dashboard"/>
        <PageHeader title="Dashboard" description="What this gateway has configured. Traffic, tokens, latency and cost charts arrive with issue #6."/>
        <Suspense fallback=|| view! { <div class="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
            {(0..4).map(|_| view! { <div class="h-24 animate-pulse rounded-xl bg-slate-200"></div> }).collect_view()}
        </div> }>
            {move || counts.get().map(|result| match result {
                Ok(o) => view! {
                    <div class="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
                        <Stat label="Endpoints" value=o.endpoints href="/endpoints" icon=Icon::Endpoints/>
                        <Stat label="Gateways" value=o.gateways href="/gateways" icon=Icon::Gateways/>
                        <Stat label="Active keys" value=o.keys href="/keys" icon=Icon::Keys/>
                        <Stat label="Admins" value=o.admins href="/settings" icon=Icon::Settings/>
                    </div>
                }.into_any(),
                Err(e) => view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not load the overview: " {e.to_string()}</div>
                }.into_any(),
            })}
        </Suspense>
        <section class="mt-8 rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
            <h2 class="text-base font-semibold text-slate-900">"Getting started"</h2>
            <ol class="mt-4 space-y-3 text-sm text-slate-600">
                <li><span class="font-medium text-slate-900">"1. Add an inference endpoint"</span>" — an OpenAI, Azure OpenAI, Anthropic, Ollama or OpenAI-compatible upstream."</li>
                <li><span class="font-medium text-slate-900">"2. Create a gateway"</span>" — an ordered list of endpoints with a routing strategy."</li>
                <li><span class="font-medium text-slate-900">"3. Issue a gateway key"</span>" — applications use it with their usual OpenAI SDK."</li>
                <li><span class="font-medium text-slate-900">"4. Send a request"</span>" — to " <code class="rounded bg-slate-100 px-1">"/v1/chat/completions"</code> " on this server."</li>
            </ol>
            <p class="mt-4 text-xs text-slate-500">"Endpoints, gateways and keys can be managed once issue #3 lands (CLI), then from these pages (issue #6)."</p>
        </section>
    }
}
