//! The signed-in console layout: sidebar navigation (a menu on phones), the user menu, and the
//! outlet where each page renders.
//!
//! Invariant: the layout is only rendered for requests the server's session middleware let
//! through, which put the signed-in [`AdminUser`] into the request.

use super::Icon;
use crate::components::Erase;
use crate::types::AdminUser;
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

/// The console's sections, in navigation order.
const SECTIONS: [(&str, &str, Icon); 9] = [
    ("/", "Dashboard", Icon::Dashboard),
    ("/endpoints", "Endpoints", Icon::Endpoints),
    ("/gateways", "Gateways", Icon::Gateways),
    ("/keys", "Keys", Icon::Keys),
    ("/logs", "Logs", Icon::Logs),
    ("/audit", "Audit log", Icon::Audit),
    ("/prompts", "Prompts", Icon::Prompts),
    ("/playground", "Playground", Icon::Playground),
    ("/settings", "Settings", Icon::Settings),
];

/// The navigation links; `<A>` marks the current one with `aria-current="page"`.
#[component]
fn NavLinks() -> impl IntoView {
    SECTIONS
        .iter()
        .map(|&(href, label, icon)| {
            view! {
                <A href=href exact=true
                    attr:class="group flex items-center gap-3 rounded-lg px-3 py-2 text-sm font-medium text-slate-300 hover:bg-slate-800 hover:text-white aria-[current=page]:bg-slate-800 aria-[current=page]:text-white">
                    {icon.view("h-5 w-5 flex-none text-slate-400 group-hover:text-white group-aria-[current=page]:text-indigo-400")}
                    {label}
                </A>
            }
        })
        .collect_view()
}

/// The signed-in user's menu: who is signed in, and sign out (a plain form POST, so it works
/// before hydration too).
#[component]
fn UserMenu(user: Option<AdminUser>) -> impl IntoView {
    let (email, role) = user.map(|u| (u.email, u.role.as_str())).unwrap_or_default();
    let initial = email.chars().next().unwrap_or('?').to_ascii_uppercase();
    view! {
        <details class="relative">
            <summary class="flex cursor-pointer list-none items-center gap-2 rounded-full p-1 pr-3 text-sm text-slate-700 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
                aria-label="Account menu">
                <span class="flex h-8 w-8 items-center justify-center rounded-full bg-indigo-600 text-sm font-semibold text-white">{initial}</span>
                <span class="hidden max-w-48 truncate sm:inline" data-testid="user-email">{email.clone()}</span>
            </summary>
            <div class="absolute right-0 z-20 mt-2 w-64 rounded-xl border border-slate-200 bg-white p-2 shadow-lg">
                <div class="border-b border-slate-100 px-3 py-2">
                    <p class="truncate text-sm font-medium text-slate-900">{email}</p>
                    <p class="text-xs text-slate-500">"Role: " {role}</p>
                </div>
                <a href="/docs" class="mt-1 block rounded-lg px-3 py-2 text-sm text-slate-700 hover:bg-slate-100">"API documentation"</a>
                <form method="post" action="/logout" class="mt-1">
                    <button type="submit" class="w-full rounded-lg px-3 py-2 text-left text-sm text-slate-700 hover:bg-slate-100">
                        "Sign out"
                    </button>
                </form>
            </div>
        </details>
    }
}

/// The signed-in admin, for the pages inside the layout (the same on server and browser).
#[derive(Clone, Debug)]
pub struct SignedIn(pub Option<AdminUser>);

/// Whether the signed-in admin may change things: a viewer's console is read-only, its write
/// controls absent (the server refuses a viewer's change with a 403 either way).
pub fn may_change() -> bool {
    use_context::<SignedIn>()
        .is_some_and(|signed_in| (signed_in.0).is_some_and(|user| user.role == crate::types::AdminRole::Admin))
}

/// Where a page's write controls would be, for a viewer.
#[component]
pub fn ReadOnlyNotice() -> impl IntoView {
    view! {
        <p class="mt-8 rounded-lg border border-slate-200 bg-slate-50 p-3 text-sm text-slate-700" role="note" data-testid="read-only">
            "You have read-only access (the viewer role). An admin can make changes here."
        </p>
    }
}

/// The frame around every signed-in page.
#[component]
pub fn ConsoleLayout() -> impl IntoView {
    // Computed on the server from the request and read back from the page during hydration,
    // so server and browser render the same menu.
    let user = SharedValue::new(|| {
        #[cfg(feature = "ssr")]
        {
            crate::api::request_extension::<AdminUser>()
        }
        #[cfg(not(feature = "ssr"))]
        {
            None::<AdminUser>
        }
    })
    .into_inner();
    provide_context(SignedIn(user.clone()));

    // The phone menu is a <details> (it opens without JavaScript); once hydrated, a click on
    // one of its links also closes it.
    let close_menu = |event: leptos::ev::MouseEvent| {
        let menu = event_target::<leptos::web_sys::Element>(&event)
            .closest("details")
            .ok()
            .flatten();
        if let Some(menu) = menu {
            let _ = menu.remove_attribute("open");
        }
    };

    // The link first in the tab order; `rel="external"` keeps the router from taking the
    // click, so the browser moves focus to `#main` itself.
    let skip = view! {
        <a href="#main" rel="external" class="sr-only rounded-lg bg-white px-3 py-2 text-sm font-medium text-indigo-700 shadow focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50">
            "Skip to content"
        </a>
    };
    let frame = view! {
        <div class="min-h-screen bg-slate-50 lg:flex">
            <aside class="hidden w-64 flex-none flex-col bg-slate-900 px-4 py-6 lg:flex">
                <Brand/>
                <nav class="mt-8 flex flex-col gap-1" aria-label="Main">
                    <NavLinks/>
                </nav>
                <A href="/docs" exact=true attr:class="mt-auto rounded-lg px-3 py-2 text-sm text-slate-300 hover:bg-slate-800 hover:text-white aria-[current=page]:text-white">
                    "API documentation"
                </A>
                <p class="px-3 text-xs text-slate-500">"Model Gateway " {env!("CARGO_PKG_VERSION")}</p>
            </aside>
            <div class="flex min-w-0 flex-1 flex-col">
                <header class="sticky top-0 z-10 flex h-16 items-center justify-between gap-4 border-b border-slate-200 bg-white/90 px-4 backdrop-blur sm:px-6">
                    <details class="lg:hidden">
                        <summary class="flex cursor-pointer list-none items-center rounded-lg p-2 text-slate-700 hover:bg-slate-100" aria-label="Open navigation">
                            {Icon::Menu.view("h-6 w-6")}
                        </summary>
                        <nav class="absolute left-0 right-0 top-16 z-20 flex flex-col gap-1 bg-slate-900 p-4 shadow-lg" aria-label="Main (mobile)" on:click=close_menu>
                            <NavLinks/>
                        </nav>
                    </details>
                    <div class="lg:hidden"><span class="font-semibold text-slate-900">"Model Gateway"</span></div>
                    <div class="hidden text-sm text-slate-500 lg:block">"Admin console"</div>
                    <UserMenu user=user/>
                </header>
                <main id="main" tabindex="-1" class="mx-auto w-full max-w-6xl flex-1 px-4 py-8 focus:outline-none sm:px-6 lg:px-8">
                    <Outlet/>
                </main>
            </div>
        </div>
    }
    // Erased: with the link beside it, the frame's nested type is too deep for the release
    // build's type layout.
    .erase();
    view! { {skip} {frame} }
}

/// The product mark and name.
#[component]
pub fn Brand() -> impl IntoView {
    view! {
        <div class="flex items-center gap-2 px-3">
            <span class="flex h-8 w-8 items-center justify-center rounded-lg bg-indigo-500 text-white">
                {Icon::Logo.view("h-5 w-5")}
            </span>
            <span class="text-lg font-semibold text-white">"Model Gateway"</span>
        </div>
    }
}
