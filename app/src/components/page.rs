//! Page furniture: the header every page starts with, and whether the page has hydrated.

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

/// Whether the page has hydrated: false on the server and until the WASM has run. Forms that
/// show their answer in the page (a refusal under a field, a key's one showing) keep their
/// buttons disabled until then, rather than post as plain forms whose answer would be lost.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}
