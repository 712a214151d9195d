//! A composite's variant breakdown, under it on the Gateways page: each variant's requests,
//! errors, p50/p95 latency, tokens, cost, and the feedback clients sent (count and mean score)
//! over a range up to now — what an A/B test is decided by.

use crate::api::composite_variants;
use crate::components::Erase;
use crate::types::{money, CompositeId, DashboardRange, VariantStats};
use leptos::prelude::*;

/// The table's columns: (heading, right-aligned).
const COLUMNS: [(&str, bool); 9] = [
    ("Variant", false),
    ("Requests", true),
    ("Errors", true),
    ("p50", true),
    ("p95", true),
    ("Tokens in → out", true),
    ("Cost", true),
    ("Feedback", true),
    ("Mean score", true),
];

/// One variant's row, as shown: the cells in [`COLUMNS`]' order.
fn cells(stats: &VariantStats) -> [String; 9] {
    [
        stats.variant.clone(),
        stats.requests.to_string(),
        stats.errors.to_string(),
        format!("{} ms", stats.p50_latency_ms),
        format!("{} ms", stats.p95_latency_ms),
        format!("{} → {}", stats.prompt_tokens, stats.completion_tokens),
        money(stats.cost_micros),
        stats.feedback_count.to_string(),
        stats
            .mean_score
            .map_or_else(|| "—".into(), |score| format!("{score:.2}")),
    ]
}

/// The variants' table, or why there is none.
fn table(name: &str, variants: Vec<VariantStats>) -> AnyView {
    if variants.is_empty() {
        return view! { <p class="mt-2 text-sm text-slate-500">"No requests in this range."</p> }.erase();
    }
    view! {
        <div class="mt-2 overflow-x-auto">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="variants">
                <caption class="sr-only">{format!("Variants of {name}")}</caption>
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr>
                        {COLUMNS.into_iter().map(|(heading, right)| view! {
                            <th scope="col" class=if right { "px-2 py-1.5 text-right" } else { "px-2 py-1.5" }>{heading}</th>
                        }).collect_view()}
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {variants.iter().map(|stats| {
                        let [variant, rest @ ..] = cells(stats);
                        view! {
                            <tr>
                                <th scope="row" class="px-2 py-1.5 text-left font-medium text-slate-900">{variant}</th>
                                {rest.into_iter().map(|cell| view! { <td class="px-2 py-1.5 text-right tabular-nums text-slate-700">{cell}</td> }).collect_view()}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .erase()
}

/// How each variant of composite `id` did over a range the reader picks (the last 24 hours
/// first).
#[component]
pub fn VariantBreakdown(id: CompositeId, name: String) -> AnyView {
    let range = RwSignal::new(DashboardRange::Day);
    let stats = Resource::new(move || range.get(), move |range| composite_variants(id.0, range));
    let select_id = format!("variants-{}-range", id.0);
    let name = StoredValue::new(name);
    view! {
        <section class="mt-3 rounded-lg border border-slate-200 bg-slate-50 p-3" aria-label=format!("Variants of {}", name.get_value())>
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
                {move || stats.get().map(|answer| match answer {
                    Ok(variants) => table(&name.get_value(), variants),
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
    fn a_variant_without_feedback_shows_no_mean_score() {
        let stats = VariantStats {
            variant: "a".into(),
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
        let row = cells(&stats);
        assert_eq!(row[3..6], ["120 ms", "480 ms", "100 → 50"]);
        assert_eq!(row[8], "—");
        let scored = VariantStats {
            feedback_count: 2,
            mean_score: Some(0.75),
            ..stats
        };
        assert_eq!(cells(&scored)[8], "0.75");
    }
}
