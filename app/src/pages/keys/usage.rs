//! What each key has used: a bar per limit (its current window) and this month's requests,
//! tokens and spend in the prices' currency, for keys with limits and without. The figures
//! refresh on their own every [`REFRESH`], without reloading the list (an open edit form
//! stays as it is).

use crate::api::keys_usage;
use crate::types::{money, ConsoleError, KeyId, LimitUsage, Metric, UsageOfKeys};
use leptos::prelude::*;
use std::time::Duration;

/// How often the figures are asked for again while the page is open.
const REFRESH: Duration = Duration::from_secs(5);

/// Every key's usage.
pub type UsageResource = Resource<Result<UsageOfKeys, ConsoleError>>;

/// The usage, asked for again every [`REFRESH`] and whenever `changed` changes.
pub fn refreshed<T: PartialEq + Clone + Send + Sync + 'static>(
    changed: impl Fn() -> T + Send + Sync + 'static,
) -> UsageResource {
    let tick = RwSignal::new(0u64);
    // Effects run in the browser only: the server renders the figures once. A hidden tab asks
    // nothing (each request would also keep the session from idling out).
    Effect::new(move |_| {
        let ask = move || {
            if !document().hidden() {
                tick.update(|n| *n += 1);
            }
        };
        if let Ok(handle) = set_interval_with_handle(ask, REFRESH) {
            on_cleanup(move || handle.clear());
        }
    });
    Resource::new(move || (tick.get(), changed()), |_| keys_usage())
}

/// A limit's figure as people read it (cost in the currency, to the cent).
fn amount(metric: Metric, value: i64, currency: &str) -> String {
    match metric {
        Metric::CostMicros => format!("{:.2} {currency}", value as f64 / 1_000_000.0),
        Metric::Requests | Metric::Tokens | Metric::Concurrency => value.to_string(),
    }
}

/// One limit's bar: how much of it the current window has used.
fn usage_bar(usage: &LimitUsage, currency: &str) -> impl IntoView {
    let limit = usage.limit;
    let share = if limit.max_value > 0 {
        (usage.used as f64 / limit.max_value as f64).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let colour = if share >= 0.9 {
        "bg-red-500"
    } else if share >= 0.7 {
        "bg-amber-500"
    } else {
        "bg-indigo-500"
    };
    let what = match limit.metric {
        Metric::Concurrency => "concurrency".to_string(),
        Metric::CostMicros => format!("cost/{}", limit.period.as_str()),
        metric @ (Metric::Requests | Metric::Tokens) => format!("{}/{}", metric.as_str(), limit.period.as_str()),
    };
    let label = format!(
        "{what}: {} of {}",
        amount(limit.metric, usage.used, currency),
        amount(limit.metric, limit.max_value, currency)
    );
    view! {
        <div class="w-full max-w-xs" data-testid="usage">
            <div class="flex justify-between text-xs text-slate-600"><span>{label.clone()}</span></div>
            <div class="mt-1 h-1.5 w-full rounded-full bg-slate-200" role="meter" aria-label=label
                aria-valuemin="0" aria-valuemax=limit.max_value aria-valuenow=usage.used.min(limit.max_value)>
                <div class=format!("h-1.5 rounded-full {colour}") style=format!("width: {:.0}%", share * 100.0)></div>
            </div>
        </div>
    }
}

/// Key `id`'s bars and this month's figures.
#[component]
pub fn KeyUsageView(id: KeyId, usage: UsageResource) -> impl IntoView {
    view! {
        // Transition: a refresh keeps the figures shown until the new ones arrive.
        <Transition fallback=|| ()>
            {move || usage.get().and_then(Result::ok).and_then(|all| {
                let currency = all.currency;
                all.keys.into_iter().find(|k| k.id == id).map(|key| {
                    let month = key.month;
                    let tokens = month.prompt_tokens.saturating_add(month.completion_tokens);
                    view! {
                        <div class="mt-2 space-y-2">
                            {key.limits.iter().map(|limit| usage_bar(limit, &currency)).collect_view()}
                            <p class="text-xs text-slate-600" data-testid="month-usage">
                                {format!(
                                    "This month: {} request{} · {tokens} tokens · {} {currency}",
                                    month.requests,
                                    if month.requests == 1 { "" } else { "s" },
                                    money(month.cost_micros),
                                )}
                            </p>
                        </div>
                    }
                })
            })}
        </Transition>
    }
}
