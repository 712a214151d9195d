//! The page for paths the console does not know.

use leptos::prelude::*;
use leptos_meta::Title;

/// "Page not found", with a way back.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <div class="flex min-h-screen flex-col items-center justify-center bg-slate-50 px-4 text-center">
            <p class="text-sm font-semibold text-indigo-600">"404"</p>
            <h1 class="mt-2 text-2xl font-semibold text-slate-900">"Page not found"</h1>
            <a href="/" class="mt-6 rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white hover:bg-indigo-500">"Back to the dashboard"</a>
        </div>
    }
}
