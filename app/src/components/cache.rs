//! The fields of a response cache's settings (issue #24): a gateway's, and the own settings of
//! what may have them over its gateway's (a composite model, a prompt).

use super::Refusal;
use crate::types::OwnCacheForm;
use leptos::prelude::*;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";

/// The fields a refusal of the cache's settings may name.
pub const CACHE_FIELDS: [&str; 5] = [
    "cache",
    "cache_ttl",
    "cache_max_entry",
    "cache_embedding",
    "cache_similarity",
];

fn error(refusal: Refusal, field: &'static str) -> impl IntoView {
    view! { <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of(field).get()}</p> }
}

/// A response cache's settings: off, exact or semantic, with its TTL, largest answer,
/// collapsing, and a semantic cache's embedding model and similarity; for `own` settings
/// (a composite's, a prompt's) also "The gateway's settings". Ids start with `prefix`; a
/// refusal shows under its field.
#[component]
pub fn CacheFields(prefix: String, initial: OwnCacheForm, own: bool, refusal: Refusal) -> impl IntoView {
    let id = |field: &str| format!("{prefix}-{field}");
    let (mode_id, ttl_id, size_id, collapse_id) = (id("mode"), id("ttl"), id("max-entry"), id("collapse"));
    let (embedding_id, similarity_id) = (id("embedding"), id("similarity"));
    let option = |value: &'static str, text: &'static str| {
        view! { <option value=value selected=initial.mode == value>{text}</option> }
    };
    let text = move |id: String, name: &'static str, label: &'static str, value: String, hint: &'static str| {
        view! {
            <div>
                <label for=id.clone() class="block text-sm font-medium text-slate-700">{label}</label>
                <input id=id name=name autocomplete="off" value=value class=INPUT
                    aria-invalid=move || refusal.of(name).get().is_some().to_string()/>
                <p class="mt-1 text-xs text-slate-500">{hint}</p>
                {error(refusal, name)}
            </div>
        }
    };
    view! {
        <fieldset class="grid gap-4 sm:col-span-2 sm:grid-cols-3">
            <legend class="text-sm font-medium text-slate-700">"Response cache"</legend>
            <div>
                <label for=mode_id.clone() class="block text-sm font-medium text-slate-700">"Cache"</label>
                <select id=mode_id name="cache" class=INPUT>
                    {own.then(|| option("", "The gateway's settings"))}
                    {option("off", "Off")}
                    {option("exact", "Exact: a repeated request is answered from the cache")}
                    {option("semantic", "Semantic: also a request whose last message means nearly the same")}
                </select>
                {error(refusal, "cache")}
            </div>
            {text(ttl_id, "cache_ttl", "Cache TTL", initial.ttl, "30s, 10m, 1h or 1d (at most a day).")}
            {text(size_id, "cache_max_entry", "Largest answer kept", initial.max_entry, "Bytes, or 512KiB, 1MiB (at most 16MiB).")}
            {text(embedding_id, "cache_embedding", "Embedding model", initial.embedding,
                "Semantic: a model the gateway serves embeddings by (text-embedding-3-small).")}
            {text(similarity_id, "cache_similarity", "Similarity", initial.similarity,
                "Semantic: how close a request must be to a kept one, above 0 up to 1 (0.95).")}
            <div class="flex items-start gap-2 sm:col-span-3">
                <input id=collapse_id.clone() name="cache_collapse" type="checkbox" checked=initial.collapse class="mt-1 h-4 w-4 rounded border-slate-300"/>
                <label for=collapse_id class="text-sm text-slate-700">"Collapse identical misses: requests like one being answered wait for its answer"</label>
            </div>
        </fieldset>
    }
}
