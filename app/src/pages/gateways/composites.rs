//! A gateway's composite models, on its card: each with its kind, members (and their shares)
//! and what its kind adds (sticky, mode, judge); edited in place, removed with confirmation,
//! and its variants' figures (`variants`). A form adds one. Every change is one management
//! operation; a refusal shows under the field it names.

use super::variants::VariantBreakdown;
use crate::api::{CreateComposite, DeleteComposite, UpdateComposite};
use crate::components::Erase;
use crate::components::{count_successes, focus_when_shown, may_change, use_hydrated, CacheFields, Refusal, SaveBar};
use crate::types::{own_cache_text, CompositeForm, CompositeKind, CompositeModel, GatewayId, MultiMode, OwnCacheForm};
use leptos::{form::ActionForm, prelude::*};

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";
const BUTTON: &str = "rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-60";

/// The composite forms' fields: a refusal naming one shows under it.
const FIELDS: &[&str] = &[
    "name",
    "kind",
    "members",
    "sticky",
    "mode",
    "judge",
    "rubric",
    "cache",
    "cache_ttl",
    "cache_max_entry",
    "cache_embedding",
    "cache_similarity",
];

/// How a member's share reads for its kind: a ratio as a percentage, a weight as such.
fn share(kind: CompositeKind, share: f64) -> Option<String> {
    match kind {
        CompositeKind::Ab => Some(format!("{} %", (share * 1000.0).round() / 10.0)),
        CompositeKind::Load => Some(format!("weight {share}")),
        CompositeKind::Multi | CompositeKind::Best => None,
    }
}

/// What a composite's kind adds to its members, in words.
fn settings(composite: &CompositeModel) -> String {
    match composite.kind {
        CompositeKind::Load if composite.sticky => {
            "Sticky: each end user keeps their member while it is healthy.".into()
        }
        CompositeKind::Load => "Not sticky: each request is placed by weight.".into(),
        CompositeKind::Ab => "Sticky per end user; the answer names its variant (x-mgw-variant).".into(),
        CompositeKind::Multi => match composite.mode {
            MultiMode::WaitForAll => "Waits for all: one answer keyed by member (not streamed).".into(),
            MultiMode::First => "First answer wins; the others are cancelled.".into(),
        },
        CompositeKind::Best => format!(
            "Judged by {}, with {}.",
            composite.judge.as_deref().unwrap_or("—"),
            if composite.rubric.is_some() {
                "its own rubric"
            } else {
                "the default rubric"
            }
        ),
    }
}

/// A composite as its edit form starts.
fn form_of(composite: &CompositeModel) -> CompositeForm {
    CompositeForm {
        name: composite.name.clone(),
        members: (composite.members.iter())
            .map(|member| member.spelled())
            .collect::<Vec<_>>()
            .join("\n"),
        sticky: composite.sticky,
        mode: composite.mode,
        judge: composite.judge.clone().unwrap_or_default(),
        rubric: composite.rubric.clone().unwrap_or_default(),
        cache: OwnCacheForm::of(composite.cache.as_ref()),
    }
}

/// A refusal's message under its field.
fn error(refusal: Refusal, field: &'static str) -> impl IntoView {
    view! { <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of(field).get()}</p> }
}

/// The fields after the name and kind: the members, and what `kind` adds (sticky for load,
/// the mode for multi, the judge and rubric for best). Ids start with `prefix`, unique on the
/// page.
#[component]
fn KindFields(prefix: String, kind: Signal<CompositeKind>, initial: CompositeForm, refusal: Refusal) -> impl IntoView {
    let id = move |field: &str| format!("{prefix}-{field}");
    let (members_id, sticky_id, mode_id, judge_id, rubric_id) =
        (id("members"), id("sticky"), id("mode"), id("judge"), id("rubric"));
    let cache_prefix = id("cache");
    let initial = StoredValue::new(initial);
    let members_invalid = move || refusal.of("members").get().is_some().to_string();
    let sticky = move || {
        let sticky_id = sticky_id.clone();
        (kind.get() == CompositeKind::Load).then(|| {
            view! {
                <div class="flex items-start gap-2 sm:col-span-2">
                    <input id=sticky_id.clone() name="sticky" type="checkbox" checked=initial.with_value(|f| f.sticky)
                        class="mt-1 h-4 w-4 rounded border-slate-300"/>
                    <label for=sticky_id class="text-sm text-slate-700">"Sticky"
                        <span class="block text-xs text-slate-500">"The same end user (the body's user, else x-mgw-session, else the key) keeps the same member while it is healthy."</span></label>
                    {error(refusal, "sticky")}
                </div>
            }
        })
    };
    let mode = move || {
        let mode_id = mode_id.clone();
        (kind.get() == CompositeKind::Multi).then(|| {
            let current = initial.with_value(|f| f.mode);
            view! {
                <div>
                    <label for=mode_id.clone() class="block text-sm font-medium text-slate-700">"Mode"</label>
                    <select id=mode_id name="mode" class=INPUT>
                        <option value=MultiMode::WaitForAll.as_str() selected=current == MultiMode::WaitForAll>"Wait for all: every answer, keyed by member"</option>
                        <option value=MultiMode::First.as_str() selected=current == MultiMode::First>"First: the fastest answer; the others are cancelled"</option>
                    </select>
                    {error(refusal, "mode")}
                </div>
            }
        })
    };
    let judge = move || {
        let (judge_id, rubric_id) = (judge_id.clone(), rubric_id.clone());
        (kind.get() == CompositeKind::Best).then(|| {
            view! {
                <div>
                    <label for=judge_id.clone() class="block text-sm font-medium text-slate-700">"Judge"</label>
                    <input id=judge_id name="judge" autocomplete="off" placeholder="gpt-4o" value=initial.with_value(|f| f.judge.clone()) class=INPUT/>
                    <p class="mt-1 text-xs text-slate-500">"An endpoint, model or composite of this gateway, as a member is named."</p>
                    {error(refusal, "judge")}
                </div>
                <div class="sm:col-span-2">
                    <label for=rubric_id.clone() class="block text-sm font-medium text-slate-700">"Rubric"</label>
                    <textarea id=rubric_id name="rubric" rows="3" class=INPUT placeholder="Empty for the default rubric.">{initial.with_value(|f| f.rubric.clone())}</textarea>
                    {error(refusal, "rubric")}
                </div>
            }
        })
    };
    let cache = move || {
        let answers_one = matches!(kind.get(), CompositeKind::Load | CompositeKind::Ab);
        answers_one.then(|| view! { <CacheFields prefix=cache_prefix.clone() initial=initial.with_value(|f| f.cache.clone()) own=true refusal/> })
    };
    view! {
        <div class="sm:col-span-2">
            <label for=members_id.clone() class="block text-sm font-medium text-slate-700">"Members"</label>
            <textarea id=members_id name="members" rows="3" required class=format!("{INPUT} font-mono") placeholder="a:gpt-4o=0.8\nb:llama3=0.2"
                aria-invalid=members_invalid>{initial.with_value(|f| f.members.clone())}</textarea>
            <p class="mt-1 text-xs text-slate-500">"One a line: [category:]target[=share]. A target is an endpoint of this gateway, a model or alias it serves, or another composite. The share is a ratio for an A/B test (they add up to 1) or a weight for load; a category names an A/B variant."</p>
            {error(refusal, "members")}
        </div>
        {sticky}
        {mode}
        {judge}
        {cache}
    }
}

/// The form that adds a composite model to a gateway.
#[component]
fn NewComposite(gateway: GatewayId, gateway_name: String, saved: RwSignal<u32>, adding: RwSignal<bool>) -> AnyView {
    let create = ServerAction::<CreateComposite>::new();
    count_successes(create.value(), saved);
    let refusal = Refusal::watch(create.value(), FIELDS);
    let kind = RwSignal::new(CompositeKind::Load);
    let prefix = format!("new-composite-{}", gateway.0);
    let (name_id, kind_id) = (format!("{prefix}-name"), format!("{prefix}-kind"));
    let label = format!("Add a composite model to {gateway_name}");
    view! {
        <ActionForm action=create attr:class="mt-3 grid gap-4 rounded-lg border border-slate-200 bg-slate-50 p-4 sm:grid-cols-2" attr:aria-label=label>
            <input type="hidden" name="gateway_id" value=gateway.0/>
            <div>
                <label for=name_id.clone() class="block text-sm font-medium text-slate-700">"Name"</label>
                <input id=name_id name="name" required autocomplete="off" placeholder="a-80-b-20" class=INPUT
                    aria-invalid=move || refusal.of("name").get().is_some().to_string()/>
                <p class="mt-1 text-xs text-slate-500">"What clients send as the model."</p>
                {error(refusal, "name")}
            </div>
            <div>
                <label for=kind_id.clone() class="block text-sm font-medium text-slate-700">"Kind"</label>
                <select id=kind_id name="kind" class=INPUT
                    on:change=move |ev| kind.set(CompositeKind::parse(&event_target_value(&ev)).unwrap_or(CompositeKind::Load))>
                    {CompositeKind::ALL.into_iter().map(|k| view! { <option value=k.as_str()>{k.label()}</option> }).collect_view()}
                </select>
                {error(refusal, "kind")}
            </div>
            <KindFields prefix kind=kind.into() initial=CompositeForm::default() refusal/>
            <SaveBar pending=create.pending().into() editing=adding general=refusal.general()/>
        </ActionForm>
    }
    .erase()
}

/// A composite's edit form, in place under it (its kind stays).
#[component]
fn EditComposite(composite: CompositeModel, saved: RwSignal<u32>, editing: RwSignal<bool>) -> AnyView {
    let update = ServerAction::<UpdateComposite>::new();
    count_successes(update.value(), saved);
    let refusal = Refusal::watch(update.value(), FIELDS);
    let prefix = format!("composite-{}", composite.id.0);
    let name_id = format!("{prefix}-name");
    let initial = form_of(&composite);
    let label = format!("Edit {}", composite.name);
    view! {
        <ActionForm action=update attr:class="mt-3 grid gap-4 rounded-lg border border-slate-200 bg-slate-50 p-4 sm:grid-cols-2" attr:aria-label=label>
            <input type="hidden" name="id" value=composite.id.0/>
            <div>
                <label for=name_id.clone() class="block text-sm font-medium text-slate-700">"Name"</label>
                <input id=name_id name="name" required autocomplete="off" value=composite.name.clone() class=INPUT
                    aria-invalid=move || refusal.of("name").get().is_some().to_string()/>
                {error(refusal, "name")}
            </div>
            <div>
                <p class="block text-sm font-medium text-slate-700">"Kind"</p>
                <p class="mt-2 text-sm text-slate-900">{composite.kind.label()}</p>
                <p class="mt-1 text-xs text-slate-500">"A composite keeps its kind; add another for a different one."</p>
            </div>
            <KindFields prefix kind=Signal::stored(composite.kind) initial refusal/>
            <SaveBar pending=update.pending().into() editing general=refusal.general()/>
        </ActionForm>
    }
    .erase()
}

/// One composite: its members and settings, with Edit, Variants and Delete.
#[component]
fn CompositeItem(composite: CompositeModel, saved: RwSignal<u32>) -> AnyView {
    let may_change = may_change();
    let hydrated = use_hydrated();
    let (editing, showing, confirming) = (RwSignal::new(false), RwSignal::new(false), RwSignal::new(false));
    let delete = ServerAction::<DeleteComposite>::new();
    count_successes(delete.value(), saved);
    let confirm = NodeRef::<leptos::html::Button>::new();
    focus_when_shown(confirm);
    let refused = move || delete.value().get().and_then(Result::err).map(|e| e.message);
    let (id, name, kind) = (composite.id, composite.name.clone(), composite.kind);
    let question = StoredValue::new(format!("Remove {name}?"));
    let edited = StoredValue::new(composite.clone());
    let shown = StoredValue::new(name.clone());
    view! {
        <li class="py-3" data-testid=format!("composite-{name}")>
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <p class="text-sm">
                        <span class="font-medium text-slate-900">{name.clone()}</span>
                        <span class="ml-2 inline-flex items-center rounded-md bg-indigo-50 px-2 py-0.5 text-xs font-medium text-indigo-700 ring-1 ring-inset ring-indigo-600/20">{kind.as_str()}</span>
                    </p>
                    <ul class="mt-1 flex flex-wrap gap-x-4 gap-y-1 text-sm text-slate-700" aria-label=format!("Members of {name}")>
                        {composite.members.iter().map(|member| view! {
                            <li>
                                {(member.category != member.target).then(|| view! { <span class="font-medium">{member.category.clone()}</span>" → " })}
                                {member.target.clone()}
                                {share(kind, member.share).map(|share| view! { <span class="text-slate-500">" · "{share}</span> })}
                            </li>
                        }).collect_view()}
                    </ul>
                    <p class="mt-1 text-xs text-slate-500">{settings(&composite)}</p>
                    {matches!(kind, CompositeKind::Load | CompositeKind::Ab).then(|| view! {
                        <p class="mt-1 text-xs text-slate-500">{own_cache_text(composite.cache.as_ref())}</p>
                    })}
                </div>
                <div class="flex flex-wrap items-center gap-2">
                    <button type="button" class=BUTTON disabled=move || !hydrated.get() aria-expanded=move || showing.get().to_string()
                        on:click=move |_| showing.update(|open| *open = !*open)>"Variants"</button>
                    <Show when=move || may_change>
                        <button type="button" class=BUTTON disabled=move || !hydrated.get() on:click=move |_| editing.update(|open| *open = !*open)>"Edit"</button>
                        <Show when=move || confirming.get() fallback=move || view! {
                            <button type="button" on:click=move |_| confirming.set(true)
                                class="rounded-lg border border-red-200 bg-white px-3 py-1.5 text-xs font-medium text-red-700 hover:bg-red-50">"Remove"</button>
                        }>
                            <ActionForm action=delete attr:class="flex flex-wrap items-center gap-2">
                                <input type="hidden" name="id" value=id.0/>
                                <span class="text-xs text-slate-600">{question.get_value()}</span>
                                <button type="submit" node_ref=confirm class="rounded-lg bg-red-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-red-500">"Confirm remove"</button>
                                <button type="button" class=BUTTON on:click=move |_| confirming.set(false)>"Cancel"</button>
                            </ActionForm>
                        </Show>
                    </Show>
                </div>
            </div>
            <p class="mt-1 text-xs text-red-600" role="alert">{refused}</p>
            <Show when=move || editing.get()>
                {move || view! { <EditComposite composite=edited.get_value() saved editing/> }}
            </Show>
            <Show when=move || showing.get()>
                <VariantBreakdown id name=shown.get_value()/>
            </Show>
        </li>
    }
    .erase()
}

/// A gateway's composite models, and (for admins) the form that adds one.
#[component]
pub fn Composites(
    gateway: GatewayId,
    gateway_name: String,
    composites: Vec<CompositeModel>,
    saved: RwSignal<u32>,
) -> AnyView {
    let may_change = may_change();
    let hydrated = use_hydrated();
    let adding = RwSignal::new(false);
    let empty = composites.is_empty();
    let gateway_name = StoredValue::new(gateway_name);
    view! {
        <section class="mt-4" aria-label=format!("Composite models of {}", gateway_name.get_value())>
            <div class="flex flex-wrap items-center justify-between gap-2">
                <h3 class="text-xs font-medium uppercase tracking-wide text-slate-500">"Composite models"</h3>
                <Show when=move || may_change>
                    <button type="button" class=BUTTON disabled=move || !hydrated.get() on:click=move |_| adding.update(|open| *open = !*open)>
                        "Add a composite model"
                    </button>
                </Show>
            </div>
            {empty.then(|| view! {
                <p class="mt-1 text-sm text-slate-500">"None. A composite model is one model name for several: split by weight, an A/B test, every member at once, or the best answer by a judge."</p>
            })}
            <ul class="divide-y divide-slate-100">
                {composites.into_iter().map(|composite| view! { <CompositeItem composite saved/> }).collect_view()}
            </ul>
            <Show when=move || adding.get()>
                <NewComposite gateway gateway_name=gateway_name.get_value() saved adding/>
            </Show>
        </section>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{CompositeId, CompositeMember};

    #[test]
    fn shares_read_as_percentages_for_ab_and_weights_for_load() {
        assert_eq!(share(CompositeKind::Ab, 0.8).as_deref(), Some("80 %"));
        assert_eq!(share(CompositeKind::Ab, 1.0 / 3.0).as_deref(), Some("33.3 %"));
        assert_eq!(share(CompositeKind::Load, 2.0).as_deref(), Some("weight 2"));
        assert_eq!(share(CompositeKind::Multi, 1.0), None);
    }

    #[test]
    fn the_edit_form_starts_with_the_members_one_a_line_in_the_cli_notation() {
        let member = |category: &str, target: &str, share: f64| CompositeMember {
            category: category.into(),
            target: target.into(),
            share,
        };
        let composite = CompositeModel {
            id: CompositeId(1),
            gateway_id: GatewayId(1),
            name: "split".into(),
            kind: CompositeKind::Ab,
            members: vec![member("a", "gpt-4o", 0.8), member("llama3", "llama3", 0.2)],
            sticky: false,
            mode: MultiMode::WaitForAll,
            judge: None,
            rubric: None,
            cache: None,
            created_at: 0,
            updated_at: 0,
        };
        let form = form_of(&composite);
        assert_eq!(form.members, "a:gpt-4o=0.8\nllama3=0.2");
        assert_eq!((form.judge.as_str(), form.rubric.as_str()), ("", ""));
    }
}
