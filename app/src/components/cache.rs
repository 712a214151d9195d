//! The fields of a response cache's own settings (issue #24), for the forms of what may have
//! them over its gateway's: a composite model, a prompt.

use super::Refusal;
use crate::types::OwnCacheForm;
use leptos::prelude::*;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";

fn error(refusal: Refusal, field: &'static str) -> impl IntoView {
    view! { <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of(field).get()}</p> }
}

/// A composite model's or a prompt's own response cache: the gateway's, off or exact, with its
/// TTL, largest answer and collapsing. Ids start with `prefix`; a refusal shows under its field.
#[component]
pub fn OwnCacheFields(prefix: String, initial: OwnCacheForm, refusal: Refusal) -> impl IntoView {
    let id = |field: &str| format!("{prefix}-{field}");
    let (mode_id, ttl_id, size_id, collapse_id) = (id("mode"), id("ttl"), id("max-entry"), id("collapse"));
    let option = |value: &'static str, text: &'static str| {
        view! { <option value=value selected=initial.mode == value>{text}</option> }
    };
    view! {
        <fieldset class="grid gap-4 sm:col-span-2 sm:grid-cols-3">
            <legend class="text-sm font-medium text-slate-700">"Response cache"</legend>
            <div>
                <label for=mode_id.clone() class="block text-sm font-medium text-slate-700">"Cache"</label>
                <select id=mode_id name="cache" class=INPUT>
                    {option("", "The gateway's settings")}
                    {option("off", "Off")}
                    {option("exact", "Exact: a repeated request is answered from the cache")}
                </select>
                {error(refusal, "cache")}
            </div>
            <div>
                <label for=ttl_id.clone() class="block text-sm font-medium text-slate-700">"Cache TTL"</label>
                <input id=ttl_id name="cache_ttl" autocomplete="off" value=initial.ttl class=INPUT
                    aria-invalid=move || refusal.of("cache_ttl").get().is_some().to_string()/>
                <p class="mt-1 text-xs text-slate-500">"30s, 10m, 1h or 1d (at most a day)."</p>
                {error(refusal, "cache_ttl")}
            </div>
            <div>
                <label for=size_id.clone() class="block text-sm font-medium text-slate-700">"Largest answer kept"</label>
                <input id=size_id name="cache_max_entry" autocomplete="off" value=initial.max_entry class=INPUT
                    aria-invalid=move || refusal.of("cache_max_entry").get().is_some().to_string()/>
                <p class="mt-1 text-xs text-slate-500">"Bytes, or 512KiB, 1MiB (at most 16MiB)."</p>
                {error(refusal, "cache_max_entry")}
            </div>
            <div class="flex items-start gap-2 sm:col-span-3">
                <input id=collapse_id.clone() name="cache_collapse" type="checkbox" checked=initial.collapse class="mt-1 h-4 w-4 rounded border-slate-300"/>
                <label for=collapse_id class="text-sm text-slate-700">"Collapse identical misses: requests like one being answered wait for its answer"</label>
            </div>
        </fieldset>
    }
}
