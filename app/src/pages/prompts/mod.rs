//! Prompts (issue #22): named prompts with immutable numbered versions and movable labels,
//! each with its gateways, versions and labels (`versions`), the diff between two versions
//! (`diff`) and each version's figures, its own response cache (`cache`); a form to create one
//! with its first version's template (`editor`). Viewers read; every change is one management
//! operation, and a refusal shows under the field it names (a template's under the editor).

mod cache;
mod diff;
mod editor;
mod versions;

use crate::api::{list_gateways, list_prompts, CreatePrompt};
use crate::components::{count_successes, may_change, use_hydrated, Erase, PageHeader, ReadOnlyNotice, Refusal};
use crate::types::{ConsoleError, GatewayId, TemplateForm};
use editor::TemplateEditor;
use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use versions::PromptCard;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";

/// The new prompt form's fields: a refusal naming one shows under it.
const FIELDS: &[&str] = &["name", "description", "gateways", "template"];

/// The picked gateways as the form posts them: ids, comma-separated.
fn picked_ids(picked: &[i64]) -> String {
    picked.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The gateways a new prompt is for: a checkbox each (none ticked: every gateway), posted as
/// the hidden field `gateways`.
#[component]
fn GatewayPicker(gateways: Vec<(GatewayId, String)>, error: Signal<Option<String>>) -> impl IntoView {
    let picked = RwSignal::new(Vec::<i64>::new());
    let toggle = move |id: i64, on: bool| {
        picked.update(|picked| {
            picked.retain(|p| *p != id);
            if on {
                picked.push(id);
            }
        })
    };
    view! {
        <fieldset class="sm:col-span-2">
            <legend class="block text-sm font-medium text-slate-700">"Gateways"</legend>
            <p class="mt-1 text-xs text-slate-500">"Whose keys may use it. None ticked: every gateway."</p>
            <input type="hidden" name="gateways" prop:value=move || picked.with(|p| picked_ids(p))/>
            <div class="mt-2 flex flex-wrap gap-4">
                {gateways.is_empty().then(|| view! { <span class="text-sm text-slate-500">"No gateways yet."</span> })}
                {gateways.into_iter().map(|(id, name)| view! {
                    <label class="flex items-center gap-2 text-sm text-slate-700">
                        <input type="checkbox" class="h-4 w-4 rounded border-slate-300"
                            on:change=move |ev| toggle(id.0, event_target_checked(&ev))/>
                        {name}
                    </label>
                }).collect_view()}
            </div>
            <p class="mt-1 text-xs text-red-600" role="alert">{move || error.get()}</p>
        </fieldset>
    }
}

/// The form that creates a prompt with its first version; made again, empty, after each prompt
/// it creates.
#[component]
fn NewPrompt(gateways: Vec<(GatewayId, String)>, saved: RwSignal<u32>) -> AnyView {
    let hydrated = use_hydrated();
    let create = ServerAction::<CreatePrompt>::new();
    let created = RwSignal::new(0_u32);
    count_successes(create.value(), created);
    count_successes(create.value(), saved);
    let refusal = Refusal::watch(create.value(), FIELDS);
    let error_for = move |field: &'static str| move || refusal.of(field).get();
    let gateways = StoredValue::new(gateways);
    let form = move || {
        view! {
            <ActionForm action=create attr:class="mt-5 grid gap-4 sm:grid-cols-2" attr:aria-label="New prompt">
                <div>
                    <label for="prompt-name" class="block text-sm font-medium text-slate-700">"Name"</label>
                    <input id="prompt-name" name="name" required autocomplete="off" placeholder="welcome-mail" class=INPUT
                        aria-invalid=move || error_for("name")().is_some().to_string()/>
                    <p class="mt-1 text-xs text-slate-500">"What requests send as \"prompt\" (name, name@3 or name:production)."</p>
                    <p class="mt-1 text-xs text-red-600" role="alert">{error_for("name")}</p>
                </div>
                <div>
                    <label for="prompt-description" class="block text-sm font-medium text-slate-700">"Description"</label>
                    <input id="prompt-description" name="description" autocomplete="off" class=INPUT/>
                    <p class="mt-1 text-xs text-red-600" role="alert">{error_for("description")}</p>
                </div>
                <GatewayPicker gateways=gateways.get_value() error=refusal.of("gateways")/>
                <TemplateEditor prefix="new-prompt".into() initial=TemplateForm::blank() error=refusal.of("template")/>
                <div class="flex items-center gap-3 sm:col-span-2">
                    <button type="submit" disabled=move || !hydrated.get() || create.pending().get()
                        class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 disabled:opacity-60">
                        {move || if create.pending().get() { "Creating…" } else { "Create prompt" }}
                    </button>
                    <p class="text-sm text-red-600" role="alert">{move || refusal.general().get()}</p>
                </div>
            </ActionForm>
        }
    };
    view! {
        <section class="mt-8 rounded-xl border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="new-prompt">
            <h2 id="new-prompt" class="text-base font-semibold text-slate-900">"Create a prompt"</h2>
            // Keyed by the prompts created: each one's form is a new one (a re-rendered form
            // would keep its fields' elements, and what was typed in them).
            <For each=move || [created.get()] key=|created| *created let:_created>{form()}</For>
        </section>
    }
    .erase()
}

/// The Prompts page.
#[component]
pub fn PromptsPage() -> impl IntoView {
    // Saved changes (each form has its own action); the list reloads on each.
    let saved = RwSignal::new(0_u32);
    let listing = Resource::new(move || saved.get(), |_| list_prompts());
    // The gateways a new prompt may be for, by name (read once: the form keeps what is typed
    // while the list reloads).
    let gateways = Resource::new(
        || (),
        |_| async {
            let listing = list_gateways().await?;
            Ok::<_, ConsoleError>(listing.gateways.into_iter().map(|g| (g.id, g.name)).collect::<Vec<_>>())
        },
    );
    view! {
        <Title text="Prompts"/>
        <PageHeader title="Prompts" description="Named prompts with numbered versions and movable labels: applications send the name and its parameters instead of the prompt's text."/>
        <Suspense fallback=|| view! { <div class="h-32 animate-pulse rounded-xl bg-slate-200"></div> }>
            {move || listing.get().map(|result| match result {
                Ok(listing) if listing.prompts.is_empty() => view! {
                    <div class="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-600">
                        {if may_change() { "No prompts yet. Create one below, or save a playground conversation as one." } else { "No prompts yet." }}
                    </div>
                }.erase(),
                Ok(listing) => {
                    let names = listing.gateways;
                    view! {
                        <div class="space-y-4">
                            {listing.prompts.into_iter().map(|prompt| view! {
                                <PromptCard prompt gateways=names.clone() saved/>
                            }).collect_view()}
                        </div>
                    }.erase()
                }
                Err(error) => view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not load the prompts: " {error.to_string()}</div>
                }.erase(),
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || match (may_change(), gateways.get()) {
                (false, _) => view! { <ReadOnlyNotice/> }.erase(),
                (true, Some(Ok(gateways))) => view! { <NewPrompt gateways saved/> }.erase(),
                (true, Some(Err(error))) => view! { <p role="alert" class="mt-8 text-sm text-red-700">{error.to_string()}</p> }.erase(),
                (true, None) => ().erase(),
            }}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picked_gateways_are_posted_as_ids_comma_separated() {
        assert_eq!(picked_ids(&[3, 1]), "3,1");
        assert_eq!(picked_ids(&[]), "", "none picked: every gateway");
    }
}
