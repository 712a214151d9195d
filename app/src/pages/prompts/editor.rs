//! The template editor: a version's messages (role and content with `{{ variable }}`), its
//! default model, its params (a JSON object) and its parameters (name, type, required, default,
//! description), edited as rows added and removed with buttons. The form posts it as one hidden
//! field, `template`: the editor's state as JSON, which the server reads.

use crate::types::{ParameterForm, ParameterType, TemplateForm, TemplateMessage};
use leptos::prelude::*;

const INPUT: &str = "block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";
const SMALL_BUTTON: &str =
    "rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-xs text-slate-700 hover:bg-slate-50";
const ADD_BUTTON: &str = "mt-2 rounded-lg border border-dashed border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50";

/// The roles a message may have here.
const ROLES: [&str; 3] = ["system", "user", "assistant"];

/// Every parameter type, in the picker's order.
const KINDS: [ParameterType; 6] = [
    ParameterType::String,
    ParameterType::Number,
    ParameterType::Integer,
    ParameterType::Boolean,
    ParameterType::Array,
    ParameterType::Object,
];

/// A parameter type from the picker's value (a string for anything unknown).
fn kind_of(text: &str) -> ParameterType {
    KINDS
        .into_iter()
        .find(|kind| kind.as_str() == text)
        .unwrap_or(ParameterType::String)
}

/// Rows with stable keys, so that removing one keeps the others' fields as typed.
type Rows<T> = RwSignal<Vec<(usize, T)>>;

/// Changes the row `key` of `rows`.
fn edit<T: Send + Sync + 'static>(rows: Rows<T>, key: usize, change: impl FnOnce(&mut T)) {
    rows.update(|rows| {
        if let Some((_, row)) = rows.iter_mut().find(|(k, _)| *k == key) {
            change(row);
        }
    });
}

/// The 1-based position of row `key` (for its fields' labels).
fn position<T: Send + Sync + 'static>(rows: Rows<T>, key: usize) -> usize {
    rows.with(|rows| rows.iter().position(|(k, _)| *k == key).map_or(0, |i| i + 1))
}

/// The editor, starting from `initial`; `error` is the server's refusal of the template, shown
/// under it. Ids start with `prefix`, unique on the page.
#[component]
pub fn TemplateEditor(prefix: String, initial: TemplateForm, error: Signal<Option<String>>) -> impl IntoView {
    let next = StoredValue::new(initial.messages.len().max(initial.parameters.len()));
    let fresh = move || {
        let key = next.get_value();
        next.set_value(key + 1);
        key
    };
    let messages: Rows<TemplateMessage> = RwSignal::new(initial.messages.into_iter().enumerate().collect());
    let parameters: Rows<ParameterForm> = RwSignal::new(initial.parameters.into_iter().enumerate().collect());
    let model = RwSignal::new(initial.model);
    let params = RwSignal::new(initial.params);
    let state = move || TemplateForm {
        messages: messages.with(|rows| rows.iter().map(|(_, m)| m.clone()).collect()),
        model: model.get(),
        params: params.get(),
        parameters: parameters.with(|rows| rows.iter().map(|(_, p)| p.clone()).collect()),
    };
    let add_message = move |_| {
        let role = if messages.with(Vec::is_empty) { "system" } else { "user" };
        let message = TemplateMessage {
            role: role.into(),
            content: String::new(),
        };
        messages.update(|rows| rows.push((fresh(), message)));
    };
    let add_parameter = move |_| {
        let parameter = ParameterForm {
            name: String::new(),
            kind: ParameterType::String,
            required: false,
            default: String::new(),
            description: String::new(),
        };
        parameters.update(|rows| rows.push((fresh(), parameter)));
    };
    let (model_id, params_id) = (format!("{prefix}-model"), format!("{prefix}-params"));
    let invalid = move || error.get().is_some().to_string();
    view! {
        <fieldset class="grid gap-4 sm:col-span-2" aria-invalid=invalid>
            <legend class="block text-sm font-medium text-slate-700">"Template"</legend>
            <input type="hidden" name="template" prop:value=move || serde_json::to_string(&state()).unwrap_or_default()/>
            <div>
                <p class="text-xs text-slate-500">"Messages, in order. Content may use the parameters as {{ name }} (minijinja: {% if name %}…{% endif %} too)."</p>
                <div class="mt-2 space-y-2">
                    <For each=move || messages.get() key=|(key, _)| *key let:row>
                        {
                            let (key, message) = row;
                            let at = move || position(messages, key);
                            view! {
                                <div class="grid gap-2 sm:grid-cols-[8rem_1fr_auto] sm:items-start" data-testid="template-message">
                                    <select class=INPUT aria-label=move || format!("Role {}", at())
                                        on:change=move |ev| edit(messages, key, |m| m.role = event_target_value(&ev))>
                                        {ROLES.into_iter().map(|role| view! { <option value=role selected=message.role == role>{role}</option> }).collect_view()}
                                    </select>
                                    <textarea rows="3" class=format!("{INPUT} font-mono") aria-label=move || format!("Content {}", at())
                                        on:input=move |ev| edit(messages, key, |m| m.content = event_target_value(&ev))>{message.content.clone()}</textarea>
                                    <button type="button" class=SMALL_BUTTON aria-label=move || format!("Remove message {}", at())
                                        on:click=move |_| messages.update(|rows| rows.retain(|(k, _)| *k != key))>"Remove"</button>
                                </div>
                            }
                        }
                    </For>
                </div>
                <button type="button" class=ADD_BUTTON on:click=add_message>"Add a message"</button>
            </div>
            <div class="grid gap-4 sm:grid-cols-2">
                <div>
                    <label for=model_id.clone() class="block text-sm font-medium text-slate-700">"Default model"</label>
                    <input id=model_id autocomplete="off" placeholder="none: the request's" class=format!("mt-1 {INPUT}")
                        value=model.get_untracked() on:input=move |ev| model.set(event_target_value(&ev))/>
                    <p class="mt-1 text-xs text-slate-500">"Asked for when a request names no model."</p>
                </div>
                <div>
                    <label for=params_id.clone() class="block text-sm font-medium text-slate-700">"Params (JSON)"</label>
                    <textarea id=params_id rows="3" class=format!("mt-1 {INPUT} font-mono") placeholder="{\"temperature\": 0.2, \"max_tokens\": 256}"
                        on:input=move |ev| params.set(event_target_value(&ev))>{params.get_untracked()}</textarea>
                    <p class="mt-1 text-xs text-slate-500">"Body fields sent unless the request sets them."</p>
                </div>
            </div>
            <div>
                <p class="text-sm font-medium text-slate-700">"Parameters"</p>
                <p class="text-xs text-slate-500">"What a request fills in. A default is JSON (\"Sun\", 3, true, [\"a\"]); a string's may be plain text."</p>
                <div class="mt-2 space-y-2">
                    <For each=move || parameters.get() key=|(key, _)| *key let:row>
                        {
                            let (key, parameter) = row;
                            let at = move || position(parameters, key);
                            view! {
                                <div class="grid gap-2 sm:grid-cols-[1fr_7rem_auto_1fr_1fr_auto] sm:items-center" data-testid="template-parameter">
                                    <input class=INPUT autocomplete="off" placeholder="name" value=parameter.name.clone()
                                        aria-label=move || format!("Name of parameter {}", at())
                                        on:input=move |ev| edit(parameters, key, |p| p.name = event_target_value(&ev))/>
                                    <select class=INPUT aria-label=move || format!("Type of parameter {}", at())
                                        on:change=move |ev| edit(parameters, key, |p| p.kind = kind_of(&event_target_value(&ev)))>
                                        {KINDS.into_iter().map(|kind| view! { <option value=kind.as_str() selected=parameter.kind == kind>{kind.as_str()}</option> }).collect_view()}
                                    </select>
                                    <label class="flex items-center gap-1 text-xs text-slate-700">
                                        <input type="checkbox" class="h-4 w-4 rounded border-slate-300" checked=parameter.required
                                            aria-label=move || format!("Parameter {} is required", at())
                                            on:change=move |ev| edit(parameters, key, |p| p.required = event_target_checked(&ev))/>
                                        "Required"
                                    </label>
                                    <input class=format!("{INPUT} font-mono") autocomplete="off" placeholder="default" value=parameter.default.clone()
                                        aria-label=move || format!("Default of parameter {}", at())
                                        on:input=move |ev| edit(parameters, key, |p| p.default = event_target_value(&ev))/>
                                    <input class=INPUT autocomplete="off" placeholder="description" value=parameter.description.clone()
                                        aria-label=move || format!("Description of parameter {}", at())
                                        on:input=move |ev| edit(parameters, key, |p| p.description = event_target_value(&ev))/>
                                    <button type="button" class=SMALL_BUTTON aria-label=move || format!("Remove parameter {}", at())
                                        on:click=move |_| parameters.update(|rows| rows.retain(|(k, _)| *k != key))>"Remove"</button>
                                </div>
                            }
                        }
                    </For>
                </div>
                <button type="button" class=ADD_BUTTON on:click=add_parameter>"Add a parameter"</button>
            </div>
            <p class="text-xs text-red-600" role="alert" data-testid="template-error">{move || error.get()}</p>
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_type_is_offered_and_read_back_from_the_picker() {
        for kind in KINDS {
            assert_eq!(kind_of(kind.as_str()), kind);
        }
        assert_eq!(kind_of("date"), ParameterType::String);
    }
}
