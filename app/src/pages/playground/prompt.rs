//! The playground's named prompt mode: a prompt picked, its parameters filled in a form made
//! from the columns' versions (typed inputs, required ones marked, defaults filled in), and a
//! version or label per column, so that versions compare side by side across models. Each
//! column sends `{"prompt": "name@N", "parameters": {…}, "messages": [the turns after it]}`;
//! the inference path renders the prompt, through a gateway (its prompts only) or to an
//! endpoint on its own (any prompt).

use super::Column;
use crate::components::Erase;
use crate::types::{
    parameter_text, parameter_values, prompt_body, prompt_reference, GatewayId, ParameterSpec, ParameterType,
    Parameters, Prompt, PromptVersion, Turn, PRODUCTION_LABEL,
};
use leptos::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm";

/// What the playground sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A system message and the conversation, as written.
    Messages,
    /// A named prompt with its parameters, and the conversation after it.
    Prompt,
}

/// The prompt mode's choices.
#[derive(Clone, Copy)]
pub struct PromptChoice {
    pub mode: RwSignal<Mode>,
    /// The chosen prompt's name; empty: none.
    pub name: RwSignal<String>,
    /// The parameter fields as typed, by name (a field not typed in holds its default).
    typed: RwSignal<BTreeMap<String, String>>,
    /// Every prompt (one saved from the playground is added).
    pub prompts: RwSignal<Vec<Prompt>>,
}

impl PromptChoice {
    pub fn new(prompts: Vec<Prompt>) -> PromptChoice {
        PromptChoice {
            mode: RwSignal::new(Mode::Messages),
            name: RwSignal::new(String::new()),
            typed: RwSignal::new(BTreeMap::new()),
            prompts: RwSignal::new(prompts),
        }
    }

    /// The chosen prompt (tracked).
    fn chosen(self) -> Option<Prompt> {
        let name = self.name.get();
        self.prompts
            .with(|prompts| prompts.iter().find(|p| p.name == name).cloned())
    }

    /// The prompt named `name`.
    fn named(self, name: &str) -> Option<Prompt> {
        self.prompts
            .with_untracked(|prompts| prompts.iter().find(|p| p.name == name).cloned())
    }

    /// The version a column added now starts on: the latest (none without a prompt).
    pub fn new_column_version(self) -> String {
        (self.named(&self.name.get_untracked()))
            .map(|prompt| starting_version(&prompt, 0))
            .unwrap_or_default()
    }

    /// Chooses the prompt `name`: its fields start from their defaults, and column `i` from its
    /// starting version.
    fn choose(self, name: String, columns: RwSignal<Vec<Column>>) {
        let prompt = self.named(&name);
        for (index, column) in columns.get_untracked().into_iter().enumerate() {
            column
                .version
                .set(prompt.as_ref().map(|p| starting_version(p, index)).unwrap_or_default());
        }
        self.typed.set(BTreeMap::new());
        self.name.set(name);
    }

    /// A column's request body (`model`: the target's; `history`: the turns after the prompt),
    /// or why it cannot be sent.
    pub fn body(
        self,
        column: &Column,
        target: &Value,
        model: Option<&str>,
        history: &[Turn],
        tuning: &Parameters,
    ) -> Result<Value, String> {
        let name = self.name.get_untracked();
        let prompt = self.named(&name).ok_or("Choose a prompt.")?;
        if target["gateway"]
            .as_i64()
            .is_some_and(|id| !prompt.serves(GatewayId(id)))
        {
            return Err(format!(
                "The prompt {name} is not for the gateway of a column's model: choose a model of one of its gateways, or an endpoint."
            ));
        }
        let suffix = column.version.get_untracked();
        let version = version_of(&prompt, &suffix).ok_or_else(|| format!("{name} has no version {suffix}."))?;
        let typed = self.typed.get_untracked();
        let specs = &version.template.parameters;
        let values = parameter_values(specs, |field| typed.get(field).cloned())?;
        if let Some((missing, _)) =
            (specs.iter()).find(|(n, s)| s.required && s.default.is_none() && !values.contains_key(*n))
        {
            return Err(format!("The parameter {missing} is required."));
        }
        prompt_body(model, &format!("{name}{suffix}"), values, history, tuning)
    }

    /// What was asked, for the judge, when no user message was added.
    pub fn described(self) -> String {
        let typed = self.typed.get_untracked();
        let given: Vec<String> = typed.iter().map(|(name, value)| format!("{name} = {value}")).collect();
        format!("(the prompt {} with {})", self.name.get_untracked(), given.join(", "))
    }
}

/// The version `suffix` (`@3`, `:staging`, empty for the default) names in `prompt`.
fn version_of<'a>(prompt: &'a Prompt, suffix: &str) -> Option<&'a PromptVersion> {
    let reference = format!("{}{suffix}", prompt.name);
    let (_, version) = prompt_reference(&reference)?;
    prompt.version(&version)
}

/// The version column `index` starts on: the latest for the first, one older for each next.
fn starting_version(prompt: &Prompt, index: usize) -> String {
    let numbers: Vec<i64> = prompt.versions.iter().rev().map(|v| v.version).collect();
    numbers
        .get(index)
        .or(numbers.last())
        .map(|n| format!("@{n}"))
        .unwrap_or_default()
}

/// A column's choices of version for `prompt`: (suffix, label) — the default, each version
/// newest first, each label with the version it points at.
fn version_options(prompt: &Prompt) -> Vec<(String, String)> {
    let default = match prompt.labels.get(PRODUCTION_LABEL) {
        Some(at) => format!("Default ({PRODUCTION_LABEL}: v{at})"),
        None => "Default (the latest)".to_string(),
    };
    let latest = prompt.versions.last().map(|v| v.version);
    std::iter::once((String::new(), default))
        .chain(prompt.versions.iter().rev().map(|v| {
            let label = match Some(v.version) == latest {
                true => format!("v{} (latest)", v.version),
                false => format!("v{}", v.version),
            };
            (format!("@{}", v.version), label)
        }))
        .chain((prompt.labels.iter()).map(|(label, at)| (format!(":{label}"), format!("{label} (v{at})"))))
        .collect()
}

/// The parameters of the versions `suffixes` name, each once (as the first of them declares it).
fn parameters_of(prompt: &Prompt, suffixes: &[String]) -> BTreeMap<String, ParameterSpec> {
    let mut parameters = BTreeMap::new();
    for version in suffixes.iter().filter_map(|suffix| version_of(prompt, suffix)) {
        for (name, spec) in &version.template.parameters {
            parameters.entry(name.clone()).or_insert_with(|| spec.clone());
        }
    }
    parameters
}

/// The switch between writing the messages and sending a named prompt; switching starts a new
/// conversation (`reset`).
pub fn mode_switch(choice: PromptChoice, columns: RwSignal<Vec<Column>>, reset: impl Fn() + Copy + 'static) -> AnyView {
    let switch = move |mode: Mode| {
        reset();
        if mode == Mode::Prompt && choice.name.get_untracked().is_empty() {
            let first = choice
                .prompts
                .with_untracked(|prompts| prompts.first().map(|p| p.name.clone()));
            if let Some(first) = first {
                choice.choose(first, columns);
            }
        }
        choice.mode.set(mode);
    };
    let option = move |mode: Mode, label: &'static str| {
        view! {
            <label class="flex items-center gap-2 text-sm text-slate-700">
                <input type="radio" name="playground-mode" class="h-4 w-4 border-slate-300"
                    prop:checked=move || choice.mode.get() == mode on:change=move |_| switch(mode)/>
                {label}
            </label>
        }
    };
    view! {
        <fieldset class="flex flex-wrap items-center gap-4 lg:col-span-3">
            <legend class="sr-only">"What to send"</legend>
            {option(Mode::Messages, "Messages")}
            {option(Mode::Prompt, "A named prompt")}
        </fieldset>
    }
    .erase()
}

/// One parameter's field: typed by its type, its default filled in, required ones marked.
fn parameter_field(choice: PromptChoice, name: String, spec: ParameterSpec) -> AnyView {
    let id = format!("parameter-{name}");
    let start = parameter_text(&spec);
    let key = StoredValue::new(name.clone());
    let value = move || {
        choice
            .typed
            .with(|typed| key.with_value(|k| typed.get(k).cloned()))
            .unwrap_or_else(|| start.clone())
    };
    let set = move |text: String| {
        choice.typed.update(|typed| {
            typed.insert(key.get_value(), text);
        })
    };
    let required = spec.required && spec.default.is_none();
    let label = view! {
        <label for=id.clone() class="block text-xs font-medium text-slate-600">{name.clone()}
            {required.then(|| view! { <span class="text-red-600" aria-hidden="true">" *"</span><span class="sr-only">" (required)"</span> })}
            <span class="ml-1 font-normal text-slate-400">{spec.kind.as_str()}</span>
        </label>
    };
    let hint = spec
        .description
        .clone()
        .map(|d| view! { <p class="mt-1 text-xs text-slate-500">{d}</p> });
    let field = match spec.kind {
        ParameterType::Boolean => view! {
            <input id=id type="checkbox" class="mt-2 h-4 w-4 rounded border-slate-300"
                prop:checked=move || value() == "true" on:change=move |ev| set(event_target_checked(&ev).to_string())/>
        }
        .erase(),
        ParameterType::Array | ParameterType::Object => view! {
            <textarea id=id rows="2" class=format!("{INPUT} font-mono") aria-required=required.to_string()
                prop:value=value on:input=move |ev| set(event_target_value(&ev))></textarea>
        }
        .erase(),
        ParameterType::Integer | ParameterType::Number => view! {
            <input id=id inputmode="decimal" class=INPUT aria-required=required.to_string()
                prop:value=value on:input=move |ev| set(event_target_value(&ev))/>
        }
        .erase(),
        ParameterType::String => view! {
            <input id=id class=INPUT aria-required=required.to_string()
                prop:value=value on:input=move |ev| set(event_target_value(&ev))/>
        }
        .erase(),
    };
    view! { <div>{label}{field}{hint}</div> }.erase()
}

/// The prompt picker and its parameters' form (the parameters of every column's version).
pub fn prompt_fields(choice: PromptChoice, columns: RwSignal<Vec<Column>>) -> AnyView {
    let names = move || {
        choice
            .prompts
            .with(|prompts| prompts.iter().map(|p| p.name.clone()).collect::<Vec<_>>())
    };
    let parameters = move || {
        let prompt = choice.chosen()?;
        let suffixes: Vec<String> = columns.with(|columns| columns.iter().map(|c| c.version.get()).collect());
        Some(parameters_of(&prompt, &suffixes))
    };
    view! {
        <div class="grid gap-3">
            <div>
                <label for="prompt" class="block text-xs font-medium text-slate-600">"Named prompt"</label>
                <select id="prompt" class=INPUT on:change=move |ev| choice.choose(event_target_value(&ev), columns)>
                    {move || names().into_iter().map(|name| {
                        let (option, value) = (name.clone(), name.clone());
                        view! { <option value=value selected=move || choice.name.get() == option>{name}</option> }
                    }).collect_view()}
                </select>
                {move || names().is_empty().then(|| view! {
                    <p class="mt-1 text-xs text-slate-500">"No prompts yet: create one on the " <a href="/prompts" class="text-indigo-600 hover:underline">"Prompts"</a> " page, or save a conversation as one."</p>
                })}
            </div>
            <div class="grid gap-3 sm:grid-cols-2" aria-label="Parameters" role="group" data-testid="parameters">
                {move || parameters().map(|parameters| {
                    parameters.into_iter().map(|(name, spec)| parameter_field(choice, name, spec)).collect_view()
                })}
            </div>
        </div>
    }
    .erase()
}

/// A column's version picker, in prompt mode.
pub fn version_select(choice: PromptChoice, column: Column) -> AnyView {
    let id = format!("version-{}", column.key);
    let options = move || {
        choice
            .chosen()
            .map(|prompt| version_options(&prompt))
            .unwrap_or_default()
    };
    view! {
        <div class="min-w-0 flex-1">
            <label for=id.clone() class="block text-xs font-medium text-slate-600">"Version"</label>
            <select id=id class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm"
                on:change=move |ev| column.version.set(event_target_value(&ev))>
                {move || options().into_iter().map(|(suffix, label)| {
                    let option = suffix.clone();
                    view! { <option value=suffix selected=move || column.version.get() == option>{label}</option> }
                }).collect_view()}
            </select>
        </div>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{prompt_of, PromptTemplate};
    use serde_json::json;

    fn prompt() -> Prompt {
        let template = |parameters: &[(&str, ParameterType)]| PromptTemplate {
            parameters: (parameters.iter())
                .map(|(name, kind)| {
                    let spec = ParameterSpec {
                        kind: *kind,
                        required: true,
                        default: None,
                        description: None,
                    };
                    (name.to_string(), spec)
                })
                .collect(),
            ..PromptTemplate::default()
        };
        let mut prompt = prompt_of(
            "greeting",
            vec![
                template(&[("who", ParameterType::String)]),
                template(&[("who", ParameterType::String), ("times", ParameterType::Integer)]),
            ],
        );
        prompt.labels = [(PRODUCTION_LABEL.to_string(), 1)].into_iter().collect();
        prompt
    }

    #[test]
    fn columns_start_on_the_latest_version_then_older_ones() {
        let prompt = prompt();
        let starts: Vec<String> = (0..3).map(|i| starting_version(&prompt, i)).collect();
        assert_eq!(starts, ["@2", "@1", "@1"]);
    }

    #[test]
    fn a_column_may_pick_the_default_a_version_or_a_label() {
        let options = version_options(&prompt());
        let suffixes: Vec<&str> = options.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(suffixes, ["", "@2", "@1", ":production"]);
        assert_eq!(options[0].1, "Default (production: v1)");
        assert_eq!(options[1].1, "v2 (latest)");
        assert_eq!(version_of(&prompt(), ":production").map(|v| v.version), Some(1));
        assert_eq!(
            version_of(&prompt(), "").map(|v| v.version),
            Some(1),
            "the default is production"
        );
        assert_eq!(version_of(&prompt(), "@9"), None);
    }

    #[test]
    fn the_form_asks_for_every_parameter_of_the_columns_versions_once() {
        let both = parameters_of(&prompt(), &["@1".into(), "@2".into(), "@2".into()]);
        assert_eq!(both.keys().collect::<Vec<_>>(), ["times", "who"]);
        let first = parameters_of(&prompt(), &["@1".into()]);
        assert_eq!(first.keys().collect::<Vec<_>>(), ["who"]);
        assert_eq!(json!(first["who"].kind.as_str()), json!("string"));
    }
}
