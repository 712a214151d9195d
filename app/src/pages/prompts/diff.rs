//! The diff between two versions of a prompt, under it on the Prompts page: pick two version
//! numbers; the server answers the line diff of their templates as the CLI's YAML shows them,
//! added lines marked `+` in green, removed ones `-` in red.

use crate::api::prompt_diff;
use crate::components::Erase;
use crate::types::{ConsoleError, DiffLine, LineChange, PromptId};
use leptos::prelude::*;

/// A line's mark, and its classes.
fn look(change: LineChange) -> (&'static str, &'static str) {
    match change {
        LineChange::Same => (" ", "text-slate-600"),
        LineChange::Added => ("+", "bg-emerald-50 text-emerald-800"),
        LineChange::Removed => ("-", "bg-red-50 text-red-800"),
    }
}

/// A change's name, for the line's `data-change` (what tests and screen readers go by).
fn named(change: LineChange) -> &'static str {
    match change {
        LineChange::Same => "same",
        LineChange::Added => "added",
        LineChange::Removed => "removed",
    }
}

/// The diff's lines, or that there is none.
fn lines(lines: Vec<DiffLine>) -> AnyView {
    if lines.iter().all(|line| line.change == LineChange::Same) {
        return view! { <p class="mt-2 text-sm text-slate-500">"The two versions' templates are the same."</p> }
            .erase();
    }
    view! {
        <pre class="mt-2 overflow-x-auto rounded-lg border border-slate-200 bg-white py-2 text-xs leading-5" data-testid="diff">
            {lines.into_iter().map(|line| {
                let (mark, class) = look(line.change);
                view! {
                    <div class=format!("px-3 {class}") data-change=named(line.change)>
                        <span class="select-none" aria-hidden="true">{mark}" "</span>{line.text}
                    </div>
                }
            }).collect_view()}
        </pre>
    }
    .erase()
}

/// Why there is no diff.
fn refused(error: ConsoleError) -> AnyView {
    view! { <p role="alert" class="mt-2 text-sm text-red-700">{error.message}</p> }.erase()
}

/// The diff of two of prompt `id`'s `versions` (numbers, oldest first): the one before the
/// latest against the latest to begin with.
#[component]
pub fn VersionDiff(id: PromptId, name: String, versions: Vec<i64>) -> AnyView {
    let latest = versions.last().copied().unwrap_or(1);
    let before = versions.iter().rev().nth(1).copied().unwrap_or(latest);
    let (from, to) = (RwSignal::new(before), RwSignal::new(latest));
    let diff = Resource::new(
        move || (from.get(), to.get()),
        move |(from, to)| prompt_diff(id.0, from, to),
    );
    let versions = StoredValue::new(versions);
    let picker = move |label: &'static str, which: RwSignal<i64>| {
        let select_id = format!("prompt-{}-diff-{}", id.0, label.to_lowercase());
        view! {
            <label for=select_id.clone() class="text-xs font-medium text-slate-600">{label}</label>
            <select id=select_id class="rounded-lg border border-slate-300 bg-white px-2 py-1 text-xs"
                on:change=move |ev| which.set(event_target_value(&ev).parse().unwrap_or(1))>
                {versions.get_value().into_iter().map(|n| view! {
                    <option value=n selected=move || which.get() == n>{format!("v{n}")}</option>
                }).collect_view()}
            </select>
        }
    };
    view! {
        <section class="mt-3 rounded-lg border border-slate-200 bg-slate-50 p-3" aria-label=format!("Compare versions of {name}")>
            <div class="flex flex-wrap items-center gap-2">
                {picker("From", from)}
                {picker("To", to)}
            </div>
            <Transition fallback=|| view! { <div class="mt-2 h-24 animate-pulse rounded bg-slate-200"></div> }>
                {move || diff.get().map(|answer| answer.map_or_else(refused, lines))}
            </Transition>
        </section>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_are_marked_plus_and_removed_ones_minus() {
        assert_eq!(look(LineChange::Added).0, "+");
        assert_eq!(look(LineChange::Removed).0, "-");
        assert_eq!(look(LineChange::Same).0, " ");
        assert_eq!(named(LineChange::Removed), "removed");
    }
}
