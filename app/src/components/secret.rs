//! The dialog that shows a new secret (a gateway key, an admin API token) once, with a copy
//! button. Focus starts on the secret and Tab keeps it inside; Escape or Done closes it and
//! focus goes back where it was.

use leptos::prelude::*;

/// Puts `text` on the clipboard; false when this page may not use it (`navigator.clipboard`
/// exists only in secure contexts: HTTPS or localhost), or on the server.
pub fn copy_text(text: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        let clipboard = web_sys::window()
            .map(|window| window.navigator())
            .and_then(|navigator| js_sys::Reflect::get(&navigator, &"clipboard".into()).ok())
            .filter(|clipboard| !clipboard.is_undefined());
        if let (Some(_), Some(window)) = (clipboard, web_sys::window()) {
            let _ = window.navigator().clipboard().write_text(text);
            return true;
        }
        false
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        false
    }
}

/// A Copy button for a text shown on the page (a code snippet), saying whether it worked.
#[component]
pub fn CopyButton(text: String, what: &'static str) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let text = StoredValue::new(text);
    view! {
        <span class="flex items-center gap-2">
            <span class="text-xs text-emerald-700" role="status">{move || match copied.get() {
                Some(true) => "Copied".to_string(),
                Some(false) => format!("Select the {what} and press Ctrl+C to copy it"),
                None => String::new(),
            }}</span>
            <button type="button" on:click=move |_| copied.set(Some(text.with_value(|text| copy_text(text))))
                aria-label=format!("Copy the {what}")
                class="rounded-lg border border-slate-300 bg-white px-2 py-1 text-xs font-medium text-slate-700 hover:bg-slate-50">"Copy"</button>
        </span>
    }
}

/// Shows `shown` (a title and the secret) until Done; `label` names the secret ("Key",
/// "Token"); `hint` says what to do if it is lost. `on_done` must forget the secret wherever
/// the page still holds it.
#[component]
pub fn ShowOnce(
    label: &'static str,
    hint: &'static str,
    shown: Signal<Option<(String, String)>>,
    on_done: Callback<()>,
) -> impl IntoView {
    // `Some(true)`: copied; `Some(false)`: this page may not use the clipboard (plain HTTP).
    let copied = RwSignal::new(None::<bool>);
    let field = NodeRef::<leptos::html::Input>::new();
    let copy = move |_| {
        if let Some((_, secret)) = shown.get_untracked() {
            copied.set(Some(copy_text(&secret)));
        }
    };
    // Where focus was before the dialog opened, to go back to. Browser only: a DOM element
    // is not `Send`, and a local value made on the server would be dropped on another thread.
    #[cfg(feature = "hydrate")]
    let before = StoredValue::new_local(None::<leptos::web_sys::HtmlElement>);
    let done = move || {
        copied.set(None);
        on_done.run(());
        #[cfg(feature = "hydrate")]
        if let Some(element) = before.get_value() {
            let _ = element.focus();
        }
    };
    // Focus the secret when the dialog opens, selected, so Ctrl+C copies it.
    Effect::new(move |_| {
        if shown.with(Option::is_some) {
            if let Some(input) = field.get() {
                #[cfg(feature = "hydrate")]
                before.set_value(
                    document()
                        .active_element()
                        .and_then(|e| leptos::wasm_bindgen::JsCast::dyn_into(e).ok()),
                );
                let _ = input.focus();
                input.select();
            }
        }
    });
    let done_button = NodeRef::<leptos::html::Button>::new();
    // Escape closes; Tab and Shift+Tab go round the dialog's controls (the secret first, Done
    // last), not out of it.
    let keys = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Escape" => done(),
        "Tab" => {
            let (Some(first), Some(last)) = (field.get(), done_button.get()) else {
                return;
            };
            let (first, last): (leptos::web_sys::HtmlElement, leptos::web_sys::HtmlElement) =
                (first.into(), last.into());
            let active = document().active_element();
            let (edge, other) = if ev.shift_key() {
                (&first, &last)
            } else {
                (&last, &first)
            };
            if active.as_ref() == Some(edge.as_ref()) {
                ev.prevent_default();
                let _ = other.focus();
            }
        }
        _ => {}
    };
    let noun = label.to_lowercase();
    view! {
        {move || shown.get().map(|(title, secret)| {
            let noun = noun.clone();
            view! {
                <div class="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/50 p-4" on:keydown=keys>
                    <div role="dialog" aria-modal="true" aria-labelledby="shown-once-title" aria-describedby="shown-once-hint"
                        class="w-full max-w-lg rounded-xl bg-white p-6 shadow-xl">
                        <h2 id="shown-once-title" class="text-base font-semibold text-slate-900">{title}</h2>
                        <p id="shown-once-hint" class="mt-1 text-sm text-slate-600">{format!("This is the only time the {noun} is shown. Store it somewhere safe; {hint}.")}</p>
                        <label for="shown-secret" class="mt-4 block text-sm font-medium text-slate-700">{label}</label>
                        <input id="shown-secret" node_ref=field readonly value=secret
                            class="mt-1 block w-full rounded-lg border border-slate-300 bg-slate-50 px-3 py-2 font-mono text-xs"/>
                        <div class="mt-4 flex items-center justify-end gap-2">
                            <span class="text-xs text-emerald-700" role="status">{move || match copied.get() {
                                Some(true) => "Copied".to_string(),
                                Some(false) => format!("Select the {} and press Ctrl+C to copy it", label.to_lowercase()),
                                None => String::new(),
                            }}</span>
                            <button type="button" on:click=copy
                                class="rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50">"Copy"</button>
                            <button type="button" node_ref=done_button on:click=move |_| done()
                                class="rounded-lg bg-indigo-600 px-3 py-2 text-sm font-medium text-white hover:bg-indigo-500">"Done"</button>
                        </div>
                    </div>
                </div>
            }
        })}
    }
}
