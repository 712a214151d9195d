//! Page furniture: the header every page starts with and the notice for pages not built yet.

use super::Icon;
use leptos::prelude::*;

/// A page title with a one-line description.
#[component]
pub fn PageHeader(title: &'static str, description: &'static str) -> impl IntoView {
    view! {
        <header class="mb-6">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">{title}</h1>
            <p class="mt-1 text-sm text-slate-500">{description}</p>
        </header>
    }
}

/// Says plainly that a page is not built yet, what it will do, and which issue builds it.
#[component]
pub fn ComingSoon(issue: u32, features: &'static [&'static str]) -> impl IntoView {
    view! {
        <section class="rounded-xl border border-dashed border-slate-300 bg-white p-6 sm:p-8" aria-label="Not built yet">
            <div class="flex items-start gap-3">
                {Icon::Info.view("mt-0.5 h-5 w-5 flex-none text-indigo-500")}
                <div>
                    <h2 class="text-base font-medium text-slate-900">"This page is not built yet"</h2>
                    <p class="mt-1 text-sm text-slate-600">
                        "It arrives with issue #" {issue} ". When it does, you will be able to:"
                    </p>
                    <ul class="mt-3 list-disc space-y-1 pl-5 text-sm text-slate-600">
                        {features.iter().map(|f| view! { <li>{*f}</li> }).collect_view()}
                    </ul>
                </div>
            </div>
        </section>
    }
}

/// Whether the page has hydrated: false on the server and until the WASM has run. Forms that
/// show their answer in the page (a refusal under a field, a key's one showing) keep their
/// buttons disabled until then, rather than post as plain forms whose answer would be lost.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}
