//! A prompt's own response cache on its card (issue #24): what it goes by — its own settings or
//! its gateway's — and, for admins, the form that sets them (a blank mode goes back to the
//! gateway's). The settings are checked as a gateway's; a refusal shows under its field.

use crate::api::SetPromptCache;
use crate::components::{count_successes, CacheFields, Erase, Refusal, SaveBar, CACHE_FIELDS};
use crate::types::{OwnCacheForm, Prompt};
use leptos::{form::ActionForm, prelude::*};

/// The form that sets a prompt's own response cache, in place on its card.
#[component]
pub fn PromptCache(prompt: Prompt, saved: RwSignal<u32>, editing: RwSignal<bool>) -> AnyView {
    let set = ServerAction::<SetPromptCache>::new();
    count_successes(set.value(), saved);
    let refusal = Refusal::watch(set.value(), &CACHE_FIELDS);
    let label = format!("Response cache of {}", prompt.name);
    view! {
        <ActionForm action=set attr:class="mt-3 grid gap-4 rounded-lg border border-slate-200 bg-slate-50 p-4 sm:grid-cols-2" attr:aria-label=label>
            <input type="hidden" name="id" value=prompt.id.0/>
            <CacheFields prefix=format!("prompt-{}-cache", prompt.id.0) initial=OwnCacheForm::of(prompt.cache.as_ref()) own=true refusal/>
            <SaveBar pending=set.pending().into() editing general=refusal.general()/>
        </ActionForm>
    }
    .erase()
}
