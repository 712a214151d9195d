//! What the console's forms share: the server's refusal, shown under the field it names, and
//! emptying a form once its action succeeded.

use crate::types::ConsoleError;
use leptos::prelude::*;

/// A form's refusal from the server, ready to show: under the field it names, or under the
/// submit button when it names none of the form's fields.
#[derive(Clone, Copy)]
pub struct Refusal {
    refused: Memo<Option<ConsoleError>>,
    fields: &'static [&'static str],
}

impl Refusal {
    /// Reads `answer` (a server action's value); `fields` are the form's field names.
    pub fn watch<S, T>(answer: S, fields: &'static [&'static str]) -> Self
    where
        S: With<Value = Option<Result<T, ConsoleError>>> + Send + Sync + 'static,
    {
        let refused = Memo::new(move |_| answer.with(|answer| answer.as_ref().and_then(|a| a.as_ref().err()).cloned()));
        Refusal { refused, fields }
    }

    /// The message for `field`, if the refusal names it.
    pub fn of(self, field: &'static str) -> Signal<Option<String>> {
        Signal::derive(move || self.refused.get().filter(|e| e.field == field).map(|e| e.message))
    }

    /// The message when the refusal names none of the form's fields.
    pub fn general(self) -> Signal<Option<String>> {
        let fields = self.fields;
        Signal::derive(move || {
            (self.refused.get())
                .filter(|e| !fields.contains(&e.field.as_str()))
                .map(|e| e.message)
        })
    }
}

/// An edit form's last row: Save (disabled until the page is interactive and while saving),
/// Cancel (closes the form), and a refusal that names none of its fields.
#[component]
pub fn SaveBar(pending: Signal<bool>, editing: RwSignal<bool>, general: Signal<Option<String>>) -> impl IntoView {
    let hydrated = crate::components::use_hydrated();
    view! {
        <div class="flex items-center gap-3 sm:col-span-2">
            <button type="submit" disabled=move || !hydrated.get() || pending.get()
                class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 disabled:opacity-60">"Save"</button>
            <button type="button" on:click=move |_| editing.set(false)
                class="rounded-lg border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50">"Cancel"</button>
            <p class="text-sm text-red-600" role="alert">{move || general.get()}</p>
        </div>
    }
}

/// Focuses a confirmation's button each time it is shown: a keyboard user lands on the
/// decision the click asked for (Enter confirms, Tab reaches Cancel).
pub fn focus_when_shown(node: NodeRef<leptos::html::Button>) {
    Effect::new(move |_| {
        if let Some(button) = node.get() {
            let _ = button.focus();
        }
    });
}

/// Counts `answer`'s successes into `saved`: a list that reloads on it keeps a refused form
/// open, with its reason under the field.
pub fn count_successes<S, T>(answer: S, saved: RwSignal<u32>)
where
    S: With<Value = Option<Result<T, ConsoleError>>> + 'static,
{
    Effect::new(move |_| {
        if answer.with(|answer| matches!(answer, Some(Ok(_)))) {
            saved.update(|n| *n += 1);
        }
    });
}

/// Empties `form` each time `answer` becomes a success (a credential typed into it must not
/// linger in the page).
pub fn reset_on_success<S, T>(form: NodeRef<leptos::html::Form>, answer: S)
where
    S: With<Value = Option<Result<T, ConsoleError>>> + 'static,
{
    Effect::new(move |_| {
        let succeeded = answer.with(|answer| matches!(answer, Some(Ok(_))));
        if let (true, Some(form)) = (succeeded, form.get()) {
            form.reset();
        }
    });
}
