//! The logs page's live tail: a switch that, while on, follows `GET /api/logs/live` (server-
//! sent events, with the page's filters) and puts each new request above the page's rows.
//!
//! Invariant: at most [`KEEP`] live rows are kept (the newest); the tail closes when switched
//! off, when the filters change, when the page goes, and when the server ends it.

use crate::types::RequestLog;
use leptos::prelude::*;

/// Most live rows kept on the page.
#[cfg(feature = "hydrate")]
const KEEP: usize = 500;

/// The live tail's state, shared by the switch, the status line and the table.
#[derive(Clone, Copy)]
pub struct Live {
    /// New rows, newest first.
    pub rows: RwSignal<Vec<RequestLog>>,
    pub on: RwSignal<bool>,
    /// What the tail is doing, for people (announced: the page shows it in a `status` role).
    pub status: RwSignal<String>,
    /// The open event source (browser only).
    #[cfg(feature = "hydrate")]
    source: StoredValue<Option<web_sys::EventSource>, LocalStorage>,
}

impl Live {
    pub fn new() -> Live {
        let live = Live {
            rows: RwSignal::new(Vec::new()),
            on: RwSignal::new(false),
            status: RwSignal::new(String::new()),
            #[cfg(feature = "hydrate")]
            source: StoredValue::new_local(None),
        };
        on_cleanup(move || live.stop());
        live
    }

    /// Closes the tail, keeping the rows it added.
    pub fn stop(self) {
        #[cfg(feature = "hydrate")]
        if let Some(Some(source)) = self.source.try_update_value(Option::take) {
            source.close();
        }
        if self.on.try_get_untracked() == Some(true) {
            self.on.set(false);
            self.status.set("Live tail stopped.".into());
        }
    }

    /// Adds one row the server sent.
    #[cfg(feature = "hydrate")]
    fn add(self, log: RequestLog) {
        self.rows.update(|rows| {
            rows.insert(0, log);
            rows.truncate(KEEP);
        });
    }

    /// Opens the tail for these filters (a query string).
    fn start(self, filters: &str) {
        #[cfg(feature = "hydrate")]
        browser::open(self, filters);
        #[cfg(not(feature = "hydrate"))]
        let _ = filters;
    }
}

/// The switch.
pub fn switch(live: Live, filters: String) -> impl IntoView {
    let toggle = move |_| {
        if live.on.get_untracked() {
            live.stop();
        } else {
            live.on.set(true);
            live.status
                .set("Live: new requests appear at the top as they finish.".into());
            live.start(&filters);
        }
    };
    view! {
        <button type="button" on:click=toggle aria-pressed=move || live.on.get().to_string()
            class=move || if live.on.get() {
                "rounded-lg bg-emerald-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-emerald-500"
            } else {
                "rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50"
            }>
            {move || if live.on.get() { "Stop live tail" } else { "Live tail" }}
        </button>
    }
}

/// The browser's side: an `EventSource`.
#[cfg(feature = "hydrate")]
mod browser {
    use super::Live;
    use crate::types::RequestLog;
    use leptos::prelude::*;
    use wasm_bindgen::{closure::Closure, JsCast};

    /// Opens the event source. Its three handlers are leaked (`forget`), a few bytes each time
    /// the tail is switched on: one can close the source from inside itself, and a handler
    /// must not be dropped while it runs.
    pub fn open(live: Live, filters: &str) {
        let url = if filters.is_empty() {
            "/api/logs/live".to_string()
        } else {
            format!("/api/logs/live?{filters}")
        };
        let Ok(source) = web_sys::EventSource::new(&url) else {
            live.on.set(false);
            live.status.set("This browser cannot follow the logs live.".into());
            return;
        };
        let message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let log = (event.data().as_string()).and_then(|data| serde_json::from_str::<RequestLog>(&data).ok());
            if let Some(log) = log {
                live.add(log);
            }
        });
        source.set_onmessage(Some(message.as_ref().unchecked_ref()));
        message.forget();
        // The server ends the tail when the session ends or the logs cannot be read.
        let ended = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let why = event.data().as_string().unwrap_or_default();
            live.stop();
            live.status.set(format!("Live tail stopped: {why}."));
        });
        let _ = source.add_event_listener_with_callback("ended", ended.as_ref().unchecked_ref());
        ended.forget();
        // A dropped connection is retried by the browser; one it gave up on is closed.
        let error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            let closed = live.source.with_value(|source| {
                source
                    .as_ref()
                    .is_some_and(|source| source.ready_state() == web_sys::EventSource::CLOSED)
            });
            if closed {
                live.stop();
                live.status.set(
                    "Live tail stopped: the connection was lost. Reload to sign in again if your session ended.".into(),
                );
            }
        });
        source.set_onerror(Some(error.as_ref().unchecked_ref()));
        error.forget();
        live.source.set_value(Some(source));
    }
}
