//! One prompt's card on the Prompts page: its gateways, versions (number, created, the labels
//! that point at it) and labels; for admins a new version (the editor starting from the latest),
//! a label moved to a version, and delete with confirmation; for everyone the diff between two
//! versions (`diff`) and each version's figures over a range (`RangedFigures`).

use super::cache::PromptCache;
use super::diff::VersionDiff;
use super::editor::TemplateEditor;
use crate::api::{prompt_version_stats, AddPromptVersion, DeletePrompt, SetPromptLabel};
use crate::components::{
    count_successes, focus_when_shown, may_change, use_hydrated, Erase, RangedFigures, Refusal, SaveBar,
};
use crate::types::{
    own_cache_text, utc_time, ConsoleError, DashboardRange, GatewayId, Prompt, PromptId, RequestFigures, TemplateForm,
    PRODUCTION_LABEL,
};
use leptos::{form::ActionForm, prelude::*};

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";
const BUTTON: &str = "rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-60";

/// The labels that point at `version`, as `production, staging`.
fn labels_at(prompt: &Prompt, version: i64) -> String {
    (prompt.labels.iter())
        .filter(|(_, at)| **at == version)
        .map(|(label, _)| label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The gateways whose keys may use `prompt`, by name.
fn gateways_of(prompt: &Prompt, names: &[(GatewayId, String)]) -> String {
    if prompt.gateways.is_empty() {
        return "Every gateway".into();
    }
    (prompt.gateways.iter())
        .map(|id| {
            (names.iter())
                .find(|(g, _)| g == id)
                .map_or_else(|| format!("#{}", id.0), |(_, n)| n.clone())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The form that adds the next version, starting from the latest one's template.
#[component]
fn NewVersion(prompt: Prompt, saved: RwSignal<u32>, editing: RwSignal<bool>) -> AnyView {
    let add = ServerAction::<AddPromptVersion>::new();
    count_successes(add.value(), saved);
    let refusal = Refusal::watch(add.value(), &["template"]);
    let initial = prompt
        .versions
        .last()
        .map(|v| TemplateForm::of(&v.template))
        .unwrap_or_default();
    let label = format!("New version of {}", prompt.name);
    view! {
        <ActionForm action=add attr:class="mt-3 grid gap-4 rounded-lg border border-slate-200 bg-slate-50 p-4 sm:grid-cols-2" attr:aria-label=label>
            <input type="hidden" name="id" value=prompt.id.0/>
            <TemplateEditor prefix=format!("prompt-{}-version", prompt.id.0) initial error=refusal.of("template")/>
            <SaveBar pending=add.pending().into() editing general=refusal.general()/>
        </ActionForm>
    }
    .erase()
}

/// The form that points a label (`production` first) at one of the versions.
#[component]
fn MoveLabel(prompt: Prompt, saved: RwSignal<u32>) -> AnyView {
    let hydrated = use_hydrated();
    let set = ServerAction::<SetPromptLabel>::new();
    count_successes(set.value(), saved);
    let refusal = Refusal::watch(set.value(), &["label", "version"]);
    let (label_id, version_id) = (
        format!("prompt-{}-label", prompt.id.0),
        format!("prompt-{}-label-version", prompt.id.0),
    );
    let current = prompt.labels.get(PRODUCTION_LABEL).copied();
    let latest = prompt.versions.last().map_or(1, |v| v.version);
    view! {
        <ActionForm action=set attr:class="mt-3 flex flex-wrap items-end gap-3" attr:aria-label=format!("Move a label of {}", prompt.name)>
            <input type="hidden" name="id" value=prompt.id.0/>
            <div>
                <label for=label_id.clone() class="block text-xs font-medium text-slate-600">"Label"</label>
                <input id=label_id name="label" required autocomplete="off" value=PRODUCTION_LABEL class=INPUT
                    aria-invalid=move || refusal.of("label").get().is_some().to_string()/>
            </div>
            <div>
                <label for=version_id.clone() class="block text-xs font-medium text-slate-600">"Version"</label>
                <select id=version_id name="version" class=INPUT>
                    {prompt.versions.iter().rev().map(|v| {
                        let selected = current.map_or(v.version == latest, |at| at == v.version);
                        view! { <option value=v.version selected=selected>{format!("v{}", v.version)}</option> }
                    }).collect_view()}
                </select>
            </div>
            <button type="submit" class=BUTTON disabled=move || !hydrated.get() || set.pending().get()>"Move label"</button>
            <p class="basis-full text-xs text-red-600" role="alert">
                {move || refusal.of("label").get().or_else(|| refusal.of("version").get()).or_else(|| refusal.general().get())}
            </p>
        </ActionForm>
    }
    .erase()
}

/// How each version of prompt `id` did over `range`: a row a version, `v1` first.
async fn version_figures(id: PromptId, range: DashboardRange) -> Result<Vec<(String, RequestFigures)>, ConsoleError> {
    let versions = prompt_version_stats(id.0, range).await?;
    Ok(versions
        .into_iter()
        .map(|stats| (format!("v{}", stats.version), stats.figures))
        .collect())
}

/// One prompt's card.
#[component]
pub fn PromptCard(prompt: Prompt, gateways: Vec<(GatewayId, String)>, saved: RwSignal<u32>) -> AnyView {
    let may_change = may_change();
    let hydrated = use_hydrated();
    let (editing, comparing, figures, confirming, caching) = (
        RwSignal::new(false),
        RwSignal::new(false),
        RwSignal::new(false),
        RwSignal::new(false),
        RwSignal::new(false),
    );
    let delete = ServerAction::<DeletePrompt>::new();
    count_successes(delete.value(), saved);
    let confirm = NodeRef::<leptos::html::Button>::new();
    focus_when_shown(confirm);
    let refused = move || delete.value().get().and_then(Result::err).map(|e| e.message);
    let (id, name) = (prompt.id, prompt.name.clone());
    let count = prompt.versions.len();
    let numbers: Vec<i64> = prompt.versions.iter().map(|v| v.version).collect();
    let kept = StoredValue::new(prompt.clone());
    let question = StoredValue::new(format!("Delete {name} and its {count} versions?"));
    let toggle = |open: RwSignal<bool>| move |_: leptos::ev::MouseEvent| open.update(|open| *open = !*open);
    let shown = StoredValue::new((name.clone(), numbers));
    view! {
        <article class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" data-testid=format!("prompt-{name}") aria-label=name.clone()>
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <h2 class="text-base font-semibold text-slate-900">{name.clone()}</h2>
                    <p class="mt-1 text-sm text-slate-500">{prompt.description.clone()}</p>
                </div>
                <div class="flex flex-wrap items-center gap-2">
                    <button type="button" class=BUTTON disabled=move || !hydrated.get() || count < 2
                        aria-expanded=move || comparing.get().to_string() on:click=toggle(comparing)>"Compare versions"</button>
                    <button type="button" class=BUTTON disabled=move || !hydrated.get()
                        aria-expanded=move || figures.get().to_string() on:click=toggle(figures)>"Figures"</button>
                    <Show when=move || may_change>
                        <button type="button" class=BUTTON disabled=move || !hydrated.get() on:click=toggle(editing)>"New version"</button>
                        <button type="button" class=BUTTON disabled=move || !hydrated.get()
                            aria-expanded=move || caching.get().to_string() on:click=toggle(caching)>"Response cache"</button>
                        <Show when=move || confirming.get() fallback=move || view! {
                            <button type="button" on:click=move |_| confirming.set(true)
                                class="rounded-lg border border-red-200 bg-white px-3 py-1.5 text-xs font-medium text-red-700 hover:bg-red-50">"Delete"</button>
                        }>
                            <ActionForm action=delete attr:class="flex flex-wrap items-center gap-2">
                                <input type="hidden" name="id" value=id.0/>
                                <span class="text-xs text-slate-600">{question.get_value()}</span>
                                <button type="submit" node_ref=confirm class="rounded-lg bg-red-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-red-500">"Confirm delete"</button>
                                <button type="button" class=BUTTON on:click=move |_| confirming.set(false)>"Cancel"</button>
                            </ActionForm>
                        </Show>
                    </Show>
                </div>
            </div>
            <p class="mt-1 text-xs text-red-600" role="alert">{refused}</p>
            <dl class="mt-4 grid gap-3 text-sm sm:grid-cols-3">
                <div><dt class="text-xs uppercase tracking-wide text-slate-500">"Gateways"</dt><dd class="mt-0.5 text-slate-900">{gateways_of(&prompt, &gateways)}</dd></div>
                <div><dt class="text-xs uppercase tracking-wide text-slate-500">"Versions"</dt><dd class="mt-0.5 text-slate-900" data-testid="version-count">{count}</dd></div>
                <div><dt class="text-xs uppercase tracking-wide text-slate-500">"Labels"</dt>
                    <dd class="mt-0.5 flex flex-wrap gap-1" data-testid="labels">
                        {prompt.labels.is_empty().then(|| view! { <span class="text-slate-500">"None"</span> })}
                        {prompt.labels.iter().map(|(label, version)| view! {
                            <span class="inline-flex items-center rounded-md bg-indigo-50 px-2 py-0.5 text-xs font-medium text-indigo-700 ring-1 ring-inset ring-indigo-600/20">{format!("{label} → v{version}")}</span>
                        }).collect_view()}
                    </dd></div>
            </dl>
            <p class="mt-3 text-xs text-slate-500" data-testid="prompt-cache">{own_cache_text(prompt.cache.as_ref())}</p>
            <table class="mt-4 min-w-full divide-y divide-slate-200 text-sm" data-testid="versions">
                <caption class="sr-only">{format!("Versions of {name}")}</caption>
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr><th scope="col" class="py-2 pr-4">"Version"</th><th scope="col" class="py-2 pr-4">"Created (UTC)"</th>
                        <th scope="col" class="py-2 pr-4">"Parameters"</th><th scope="col" class="py-2">"Labels"</th></tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {prompt.versions.iter().rev().map(|version| {
                        let parameters = version.template.parameters.keys().cloned().collect::<Vec<_>>().join(", ");
                        view! {
                            <tr>
                                <th scope="row" class="py-2 pr-4 text-left font-medium text-slate-900">{format!("v{}", version.version)}</th>
                                <td class="py-2 pr-4 text-slate-700">{utc_time(version.created_at)}</td>
                                <td class="py-2 pr-4 font-mono text-xs text-slate-700">{parameters}</td>
                                <td class="py-2 text-slate-700">{labels_at(&prompt, version.version)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <Show when=move || may_change>
                {move || view! { <MoveLabel prompt=kept.get_value() saved/> }}
            </Show>
            <Show when=move || editing.get()>
                {move || view! { <NewVersion prompt=kept.get_value() saved editing/> }}
            </Show>
            <Show when=move || caching.get()>
                {move || view! { <PromptCache prompt=kept.get_value() saved editing=caching/> }}
            </Show>
            <Show when=move || comparing.get()>
                {move || {
                    let (name, versions) = shown.get_value();
                    view! { <VersionDiff id name versions/> }
                }}
            </Show>
            <Show when=move || figures.get()>
                <RangedFigures prefix=format!("prompt-{}", id.0) label=format!("Versions of {}", shown.get_value().0)
                    group="Version" testid="version-stats" load=move |range| version_figures(id, range)/>
            </Show>
        </article>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{prompt_of, PromptTemplate};

    #[test]
    fn a_card_names_its_gateways_and_the_labels_at_each_version() {
        let mut prompt = prompt_of("mail", vec![PromptTemplate::default(); 2]);
        prompt.labels = [
            ("production".to_string(), 2),
            ("staging".to_string(), 2),
            ("old".to_string(), 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(labels_at(&prompt, 2), "production, staging");
        assert_eq!(labels_at(&prompt, 1), "old");
        let names = [(GatewayId(1), "main".to_string())];
        assert_eq!(gateways_of(&prompt, &names), "Every gateway");
        prompt.gateways = vec![GatewayId(1), GatewayId(7)];
        assert_eq!(gateways_of(&prompt, &names), "main, #7");
    }
}
