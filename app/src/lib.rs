//! Model Gateway's admin console: the HTML shell, the router and every page. Compiled natively
//! with `ssr` (inside the server) and to WASM with `hydrate` (in the browser); never both.
// The console layout's view type is deep; wrapped for erasure (`components::erase`), its SSR
// future's layout needs more than the default 128 levels.
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod pages;
pub mod types;

use components::{ConsoleLayout, Erase};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
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
                <link rel="stylesheet" id="leptos" href=stylesheet_href(&options)/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased">
                <App/>
            </body>
        </html>
    }
}

/// The stylesheet's path: `/pkg/admin.<hash>.css` when the build wrote its assets' hashes
/// beside the server's binary (`scripts/build.sh`; the server then sets `hash_files`, and
/// Leptos names the JS and WASM the same way), else `/pkg/admin.css`.
fn stylesheet_href(options: &LeptosOptions) -> String {
    static HREF: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HREF.get_or_init(|| {
        let hashes = (options.hash_files)
            .then(|| {
                std::env::current_exe()
                    .ok()?
                    .parent()?
                    .join(options.hash_file.as_ref())
                    .into()
            })
            .flatten()
            .and_then(|path: std::path::PathBuf| std::fs::read_to_string(path).ok())
            .unwrap_or_default();
        let hash = (hashes.lines()).find_map(|line| line.trim().strip_prefix("css:").map(str::trim));
        match hash {
            Some(hash) => format!("/{}/{}.{hash}.css", options.site_pkg_dir, options.output_name),
            None => format!("/{}/{}.css", options.site_pkg_dir, options.output_name),
        }
    })
    .clone()
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
        <Title formatter=|title| format!("{title} · Model Gateway")/>
        <Router>
            <Routes fallback=|| NotFound().erase()>
                <Route path=path!("/login") view=|| LoginPage().erase()/>
                <ParentRoute path=path!("") view=|| ConsoleLayout().erase()>
                    <Route path=path!("") view=|| DashboardPage().erase()/>
                    <Route path=path!("endpoints") view=|| EndpointsPage().erase()/>
                    <Route path=path!("gateways") view=|| GatewaysPage().erase()/>
                    <Route path=path!("keys") view=|| KeysPage().erase()/>
                    <Route path=path!("logs") view=|| LogsPage().erase()/>
                    <Route path=path!("logs/:id") view=|| LogDetailPage().erase()/>
                    <Route path=path!("audit") view=|| AuditPage().erase()/>
                    <Route path=path!("docs") view=|| DocsPage().erase()/>
                    <Route path=path!("prompts") view=|| PromptsPage().erase()/>
                    <Route path=path!("playground") view=|| PlaygroundPage().erase()/>
                    <Route path=path!("settings") view=|| SettingsPage().erase()/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
