//! "Save as prompt": the playground's conversation (the system message, the first column's turns
//! with its latest answer, and a user message not sent yet) saved as a new named prompt or as
//! the next version of one, through the same server functions as the Prompts page.

use crate::api::{AddPromptVersion, CreatePrompt};
use crate::components::{use_hydrated, Erase, Refusal};
use crate::types::{ConsoleError, Prompt, TemplateForm};
use leptos::prelude::*;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm";

/// What a saved prompt's answer says.
fn saved_as(prompt: &Prompt) -> String {
    let version = prompt.versions.last().map_or(1, |v| v.version);
    format!("Saved as {} v{version}.", prompt.name)
}

/// Puts `prompt` into `prompts` (replacing the one of the same id), so the prompt mode offers it.
fn keep(prompts: RwSignal<Vec<Prompt>>, prompt: Prompt) {
    prompts.update(|prompts| match prompts.iter_mut().find(|p| p.id == prompt.id) {
        Some(kept) => *kept = prompt,
        None => {
            prompts.push(prompt);
            prompts.sort_by(|a, b| a.name.cmp(&b.name));
        }
    });
}

/// Follows an action's answers: a saved prompt is kept and said; a refusal is said.
fn follow(
    answer: impl Get<Value = Option<Result<Prompt, ConsoleError>>> + 'static,
    prompts: RwSignal<Vec<Prompt>>,
    said: RwSignal<Option<Result<String, String>>>,
) {
    Effect::new(move |_| match answer.get() {
        Some(Ok(prompt)) => {
            said.set(Some(Ok(saved_as(&prompt))));
            keep(prompts, prompt);
        }
        Some(Err(error)) => said.set(Some(Err(error.message))),
        None => {}
    });
}

/// The "Save as prompt" panel. `template` makes the conversation's template, or says why there
/// is none.
#[component]
pub fn SaveAsPrompt(prompts: RwSignal<Vec<Prompt>>, template: Callback<(), Result<TemplateForm, String>>) -> AnyView {
    let hydrated = use_hydrated();
    let create = ServerAction::<CreatePrompt>::new();
    let add = ServerAction::<AddPromptVersion>::new();
    let refusal = Refusal::watch(create.value(), &["name"]);
    let as_new = RwSignal::new(true);
    let (name, description, existing) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(None::<i64>),
    );
    let said = RwSignal::new(None::<Result<String, String>>);
    follow(create.value(), prompts, said);
    follow(add.value(), prompts, said);
    let pending = move || create.pending().get() || add.pending().get();
    let save = move |_| {
        said.set(None);
        let form = match template.run(()) {
            Ok(form) => form,
            Err(problem) => return said.set(Some(Err(problem))),
        };
        let template = serde_json::to_string(&form).unwrap_or_default();
        if as_new.get_untracked() {
            create.dispatch(CreatePrompt {
                name: name.get_untracked(),
                description: description.get_untracked(),
                gateways: String::new(),
                template,
            });
            return;
        }
        let chosen = existing
            .get_untracked()
            .or_else(|| prompts.with_untracked(|p| p.first().map(|p| p.id.0)));
        match chosen {
            Some(id) => {
                add.dispatch(AddPromptVersion { id, template });
            }
            None => said.set(Some(Err("There is no prompt to add a version to yet.".into()))),
        }
    };
    let choice = move |new: bool, label: &'static str| {
        view! {
            <label class="flex items-center gap-2 text-sm text-slate-700">
                <input type="radio" name="save-as" class="h-4 w-4 border-slate-300"
                    prop:checked=move || as_new.get() == new on:change=move |_| as_new.set(new)/>
                {label}
            </label>
        }
    };
    view! {
        <details class="mt-4 rounded-xl border border-slate-200 bg-white p-4 shadow-sm" data-testid="save-as-prompt">
            <summary class="cursor-pointer text-sm font-medium text-slate-700">"Save as prompt"</summary>
            <p class="mt-2 text-xs text-slate-500">"The system message, the first column's conversation (its latest answer included) and a user message not sent yet become a template; the temperature and max tokens its params."</p>
            <fieldset class="mt-3 flex flex-wrap gap-4">
                <legend class="sr-only">"Save as"</legend>
                {choice(true, "A new prompt")}
                {choice(false, "A new version of a prompt")}
            </fieldset>
            <div class="mt-3 grid gap-3 sm:grid-cols-2">
                <Show when=move || as_new.get() fallback=move || view! {
                    <div>
                        <label for="save-existing" class="block text-xs font-medium text-slate-600">"Existing prompt"</label>
                        <select id="save-existing" class=INPUT on:change=move |ev| existing.set(event_target_value(&ev).parse().ok())>
                            {move || prompts.get().into_iter().map(|p| {
                                let id = p.id.0;
                                view! { <option value=id selected=move || existing.get() == Some(id)>{p.name}</option> }
                            }).collect_view()}
                        </select>
                    </div>
                }>
                    <div>
                        <label for="save-name" class="block text-xs font-medium text-slate-600">"Prompt name"</label>
                        <input id="save-name" autocomplete="off" class=INPUT prop:value=move || name.get()
                            aria-invalid=move || refusal.of("name").get().is_some().to_string()
                            on:input=move |ev| name.set(event_target_value(&ev))/>
                        <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of("name").get()}</p>
                    </div>
                    <div>
                        <label for="save-description" class="block text-xs font-medium text-slate-600">"Prompt description"</label>
                        <input id="save-description" autocomplete="off" class=INPUT prop:value=move || description.get()
                            on:input=move |ev| description.set(event_target_value(&ev))/>
                    </div>
                </Show>
            </div>
            <div class="mt-3 flex flex-wrap items-center gap-3">
                <button type="button" class="rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm text-slate-700 hover:bg-slate-50 disabled:opacity-50"
                    disabled=move || !hydrated.get() || pending() on:click=save>"Save"</button>
                {move || match said.get() {
                    Some(Ok(text)) => view! {
                        <p class="text-sm text-emerald-700" role="status" data-testid="saved-as">{text}" "
                            <a href="/prompts" class="text-indigo-600 hover:underline">"Open Prompts"</a></p>
                    }.erase(),
                    Some(Err(text)) if refusal.of("name").get().as_ref() != Some(&text) => view! {
                        <p class="text-sm text-red-700" role="alert">{text}</p>
                    }.erase(),
                    _ => ().erase(),
                }}
            </div>
        </details>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{prompt_of, PromptTemplate};

    #[test]
    fn a_saved_prompt_is_said_with_its_latest_version() {
        let prompt = prompt_of("news", vec![PromptTemplate::default(); 2]);
        assert_eq!(saved_as(&prompt), "Saved as news v2.");
    }
}
