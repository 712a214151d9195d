//! The sign-in page: a plain HTML form that POSTs to `/login`, so it works before (and without)
//! hydration. The server re-renders this page with a [`LoginNotice`] when sign-in fails.

use crate::components::Icon;
use crate::types::LoginNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// What the server knows when it renders the page: why the last attempt failed, and where to
/// go after signing in.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct LoginState {
    notice: Option<LoginNotice>,
    next: String,
    signed_out: bool,
}

#[cfg(feature = "ssr")]
fn login_state() -> LoginState {
    use crate::api::request_extension;
    let parts = use_context::<axum::http::request::Parts>();
    let query: Vec<(String, String)> = parts
        .as_ref()
        .and_then(|p| p.uri.query())
        .map(|q| {
            q.split('&')
                .filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    LoginState {
        notice: request_extension::<LoginNotice>(),
        // Kept percent-encoded: it only travels back to the server, which validates it.
        next: param("next").unwrap_or_default(),
        signed_out: param("signed_out").is_some(),
    }
}

/// The sign-in page.
#[component]
pub fn LoginPage() -> impl IntoView {
    let state = SharedValue::new(|| {
        #[cfg(feature = "ssr")]
        {
            login_state()
        }
        #[cfg(not(feature = "ssr"))]
        {
            LoginState::default()
        }
    })
    .into_inner();
    let email = state.notice.as_ref().map(|n| n.email.clone()).unwrap_or_default();
    let action = if state.next.is_empty() {
        "/login".to_string()
    } else {
        format!("/login?next={}", state.next)
    };

    view! {
        <Title text="Sign in"/>
        <div class="flex min-h-screen items-center justify-center bg-slate-900 px-4 py-12">
            <div class="w-full max-w-sm">
                <div class="mb-8 flex flex-col items-center text-center">
                    <span class="flex h-12 w-12 items-center justify-center rounded-xl bg-indigo-500 text-white">
                        {Icon::Logo.view("h-7 w-7")}
                    </span>
                    <h1 class="mt-4 text-2xl font-semibold text-white">"Sign in to Model Gateway"</h1>
                    <p class="mt-1 text-sm text-slate-400">"Admin console"</p>
                </div>
                <form method="post" action=action class="space-y-5 rounded-2xl bg-white p-6 shadow-xl sm:p-8">
                    {state.notice.map(|n| view! {
                        <div role="alert" class="rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">{n.message}</div>
                    })}
                    {state.signed_out.then(|| view! {
                        <div role="status" class="rounded-lg border border-emerald-200 bg-emerald-50 px-3 py-2 text-sm text-emerald-700">"You have been signed out."</div>
                    })}
                    <div>
                        <label for="email" class="block text-sm font-medium text-slate-700">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="username" required
                            value=email
                            class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-slate-900 shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30"/>
                    </div>
                    <div>
                        <label for="password" class="block text-sm font-medium text-slate-700">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="current-password" required
                            class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-slate-900 shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30"/>
                    </div>
                    <button type="submit"
                        class="w-full rounded-lg bg-indigo-600 px-4 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2">
                        "Sign in"
                    </button>
                </form>
                <p class="mt-6 text-center text-xs text-slate-500">"No account yet? On the server, run"</p>
                <code class="mx-auto mt-2 block w-fit max-w-full overflow-x-auto whitespace-nowrap rounded bg-slate-800 px-2 py-1 text-xs text-slate-300">"model-gateway admin create --email you@example.com"</code>
            </div>
        </div>
    }
}
