//! A composite's variant breakdown, under it on the Gateways page: each variant's requests,
//! errors, p50/p95 latency, tokens, cost, and the feedback clients sent (count and mean score)
//! over a range up to now — what an A/B test is decided by.

use crate::api::composite_variants;
use crate::components::{Erase, RangedFigures};
use crate::types::{CompositeId, ConsoleError, DashboardRange, RequestFigures};
use leptos::prelude::*;

/// Each variant's row of composite `id` over `range`.
async fn variant_figures(
    id: CompositeId,
    range: DashboardRange,
) -> Result<Vec<(String, RequestFigures)>, ConsoleError> {
    let variants = composite_variants(id.0, range).await?;
    Ok(variants
        .into_iter()
        .map(|stats| (stats.variant, stats.figures))
        .collect())
}

/// How each variant of composite `id` did over a range the reader picks (the last 24 hours
/// first).
#[component]
pub fn VariantBreakdown(id: CompositeId, name: String) -> AnyView {
    view! {
        <RangedFigures prefix=format!("variants-{}", id.0) label=format!("Variants of {name}")
            group="Variant" testid="variants" load=move |range| variant_figures(id, range)/>
    }
    .erase()
}
