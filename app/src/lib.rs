//! Model Gateway's admin console: the HTML shell, the router and every page. Compiled natively
//! with `ssr` (inside the server) and to WASM with `hydrate` (in the browser); never both.

pub mod api;
pub mod components;
pub mod pages;
pub mod types;

use components::ConsoleLayout;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path,
};
use pages::*;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased">
                <App/>
            </body>
        </html>
    }
}

/// The console: the login page, and every other page inside the signed-in layout.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: mark the page as interactive (the
    // browser tests wait for this instead of sleeping).
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/admin.css"/>
        <Title formatter=|title| format!("{title} · Model Gateway")/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/login") view=LoginPage/>
                <ParentRoute path=path!("") view=ConsoleLayout>
                    <Route path=path!("") view=DashboardPage/>
                    <Route path=path!("endpoints") view=EndpointsPage/>
                    <Route path=path!("gateways") view=GatewaysPage/>
                    <Route path=path!("keys") view=KeysPage/>
                    <Route path=path!("logs") view=LogsPage/>
                    <Route path=path!("logs/:id") view=LogDetailPage/>
                    <Route path=path!("playground") view=PlaygroundPage/>
                    <Route path=path!("settings") view=SettingsPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
