//! A composite's variant breakdown, under it on the Gateways page: each variant's requests,
//! errors, p50/p95 latency, tokens, cost, and the feedback clients sent (count and mean score)
//! over a range up to now — what an A/B test is decided by.

use crate::api::composite_variants;
use crate::components::{figures_table, Erase};
use crate::types::{CompositeId, DashboardRange};
use leptos::prelude::*;

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
                    Ok(variants) => figures_table(
                        format!("Variants of {}", name.get_value()),
                        "Variant",
                        "variants",
                        variants.into_iter().map(|stats| (stats.variant, stats.figures)).collect(),
                    ),
                    Err(error) => view! { <p role="alert" class="mt-2 text-sm text-red-700">{error.to_string()}</p> }.erase(),
                })}
            </Transition>
        </section>
    }
    .erase()
}
