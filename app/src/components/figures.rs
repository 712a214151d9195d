//! The table a change is judged by: a row per group of requests (a composite's variant, a
//! prompt's version) with its requests, errors, p50/p95 latency, tokens, cost and feedback;
//! and that table over a range the reader picks ([`RangedFigures`]).

use super::Erase;
use crate::types::{money, ConsoleError, DashboardRange, RequestFigures};
use leptos::prelude::*;
use std::future::Future;

/// The figures' columns after the group's: (heading, right-aligned).
const COLUMNS: [(&str, bool); 8] = [
    ("Requests", true),
    ("Errors", true),
    ("p50", true),
    ("p95", true),
    ("Tokens in → out", true),
    ("Cost", true),
    ("Feedback", true),
    ("Mean score", true),
];

/// One group's figures, as shown: the cells in [`COLUMNS`]' order.
fn cells(figures: &RequestFigures) -> [String; 8] {
    [
        figures.requests.to_string(),
        figures.errors.to_string(),
        format!("{} ms", figures.p50_latency_ms),
        format!("{} ms", figures.p95_latency_ms),
        format!("{} → {}", figures.prompt_tokens, figures.completion_tokens),
        money(figures.cost_micros),
        figures.feedback_count.to_string(),
        (figures.mean_score).map_or_else(|| "—".into(), |score| format!("{score:.2}")),
    ]
}

/// The table of `rows` (group name, figures) under `caption` (for screen readers), its first
/// column headed `group`; or, without rows, why there is none.
pub fn figures_table(
    caption: String,
    group: &'static str,
    testid: &'static str,
    rows: Vec<(String, RequestFigures)>,
) -> AnyView {
    if rows.is_empty() {
        return view! { <p class="mt-2 text-sm text-slate-500">"No requests in this range."</p> }.erase();
    }
    view! {
        <div class="mt-2 overflow-x-auto">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid=testid>
                <caption class="sr-only">{caption}</caption>
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="px-2 py-1.5">{group}</th>
                        {COLUMNS.into_iter().map(|(heading, right)| view! {
                            <th scope="col" class=if right { "px-2 py-1.5 text-right" } else { "px-2 py-1.5" }>{heading}</th>
                        }).collect_view()}
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {rows.into_iter().map(|(name, figures)| view! {
                        <tr>
                            <th scope="row" class="px-2 py-1.5 text-left font-medium text-slate-900">{name}</th>
                            {cells(&figures).into_iter().map(|cell| view! { <td class="px-2 py-1.5 text-right tabular-nums text-slate-700">{cell}</td> }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .erase()
}

/// A [`figures_table`] over a range the reader picks (the last 24 hours first), under
/// `label`: `load` reads the rows (group name, figures) for a range. Ids start with `prefix`.
#[component]
pub fn RangedFigures<F, Fut>(
    prefix: String,
    label: String,
    group: &'static str,
    testid: &'static str,
    load: F,
) -> AnyView
where
    F: Fn(DashboardRange) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<(String, RequestFigures)>, ConsoleError>> + Send + 'static,
{
    let range = RwSignal::new(DashboardRange::Day);
    let rows = Resource::new(move || range.get(), load);
    let select_id = format!("{prefix}-range");
    let label = StoredValue::new(label);
    view! {
        <section class="mt-3 rounded-lg border border-slate-200 bg-slate-50 p-3" aria-label=label.get_value()>
            <div class="flex flex-wrap items-center gap-2">
                <label for=select_id.clone() class="text-xs font-medium text-slate-600">"Range"</label>
                <select id=select_id class="rounded-lg border border-slate-300 bg-white px-2 py-1 text-xs"
                    on:change=move |ev| range.set(DashboardRange::parse(&event_target_value(&ev)))>
                    {DashboardRange::ALL.into_iter().map(|r| view! {
                        <option value=r.as_str() selected=r == DashboardRange::Day>{r.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <Transition fallback=|| view! { <div class="mt-2 h-10 animate-pulse rounded bg-slate-200"></div> }>
                {move || rows.get().map(|answer| match answer {
                    Ok(rows) => figures_table(label.get_value(), group, testid, rows),
                    Err(error) => view! { <p role="alert" class="mt-2 text-sm text-red-700">{error.to_string()}</p> }.erase(),
                })}
            </Transition>
        </section>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_without_feedback_shows_no_mean_score() {
        let figures = RequestFigures {
            requests: 10,
            errors: 1,
            p50_latency_ms: 120,
            p95_latency_ms: 480,
            prompt_tokens: 100,
            completion_tokens: 50,
            cost_micros: 1_500,
            feedback_count: 0,
            mean_score: None,
        };
        let row = cells(&figures);
        assert_eq!(row[2..5], ["120 ms", "480 ms", "100 → 50"]);
        assert_eq!(row[7], "—");
        let scored = RequestFigures {
            feedback_count: 2,
            mean_score: Some(0.75),
            ..figures
        };
        assert_eq!(cells(&scored)[7], "0.75");
    }
}
