//! Inline SVG icons (24×24 outline), so the console needs no icon font or extra request.

use leptos::prelude::*;

/// The icons the console uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icon {
    Dashboard,
    Endpoints,
    Gateways,
    Keys,
    Logs,
    Audit,
    Playground,
    Prompts,
    Settings,
    Logo,
    Menu,
}

impl Icon {
    /// The SVG path data.
    fn path(self) -> &'static str {
        match self {
            Icon::Dashboard => "M4 13h6V4H4v9Zm10 7h6V11h-6v9ZM4 20h6v-4H4v4Zm10-16v4h6V4h-6Z",
            Icon::Endpoints => "M5 7h14M5 12h14M5 17h14M8 7v0M8 12v0M8 17v0M3 4h18v16H3z",
            Icon::Gateways => "M12 3v6m0 6v6M5 12H3m18 0h-2M7 7l-1.5-1.5M17 7l1.5-1.5M7 17l-1.5 1.5M17 17l1.5 1.5M9 12a3 3 0 1 0 6 0 3 3 0 0 0-6 0Z",
            Icon::Keys => "M15 7a4 4 0 1 1-3.87 5H9l-2 2-2-2-2 2v-3l5-5h3.13A4 4 0 0 1 15 7Zm1 3h.01",
            Icon::Logs => "M7 4h10l3 3v13H4V4h3Zm1 6h8M8 14h8M8 18h5",
            Icon::Audit => "M9 5h6M9 3h6v4H9V3ZM7 5H5v16h14V5h-2M8.5 14l2.5 2.5 4.5-5",
            Icon::Playground => "M8 5v14l11-7L8 5Z",
            Icon::Prompts => "M7 3h7l5 5v13H7V3Zm7 0v5h5M10 12h6M10 16h6",
            Icon::Settings => "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6Zm7.4-3a7.4 7.4 0 0 0-.1-1.2l2-1.6-2-3.4-2.4 1a7.3 7.3 0 0 0-2-1.2L14.5 3h-4l-.4 2.6a7.3 7.3 0 0 0-2 1.2l-2.4-1-2 3.4 2 1.6a7.4 7.4 0 0 0 0 2.4l-2 1.6 2 3.4 2.4-1a7.3 7.3 0 0 0 2 1.2l.4 2.6h4l.4-2.6a7.3 7.3 0 0 0 2-1.2l2.4 1 2-3.4-2-1.6c.1-.4.1-.8.1-1.2Z",
            Icon::Logo => "M4 12h4l2-6 4 12 2-6h4",
            Icon::Menu => "M4 6h16M4 12h16M4 18h16",
        }
    }

    /// Renders the icon with the given Tailwind classes (size and colour).
    pub fn view(self, class: &'static str) -> impl IntoView {
        view! {
            <svg class=class viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8"
                stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
                <path d=self.path()></path>
            </svg>
        }
    }
}
