//! The dashboard: requests, errors, tokens, latency (p50 and p95) and cost over a range, as
//! charts drawn on the server (so they show before hydration), for every gateway, one gateway
//! or one endpoint (from the URL, through a plain GET form), with each gateway's and endpoint's
//! sums, and the busiest end users and groups of every gateway or one. Once hydrated it reads
//! the figures again every 30 seconds.

use crate::api::{dashboard_overview, load_dashboard};
use crate::components::chart::{chart, Kind, Series};
use crate::components::Erase;
use crate::components::{figures_table, Icon, PageHeader};
use crate::types::{
    money, utc_time, DashboardQuery, DashboardRange, DashboardStats, PersonStats, ScopeSums, UsageSums, TOP_PEOPLE,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// How often the hydrated page reads the figures again.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(30);

/// A count, short: 950, 12.3k, 4.5M.
fn compact(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e9 {
        format!("{:.1}G", value / 1e9)
    } else if magnitude >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if magnitude >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Milliseconds, short.
fn millis(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.1} s", value / 1000.0)
    } else {
        format!("{value:.0} ms")
    }
}

/// A cost axis value (the axis holds currency units).
fn currency(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    // Two significant digits at least, two decimals at least.
    let decimals = (1 - value.abs().log10().floor() as i32).max(2);
    format!("{value:.*}", usize::try_from(decimals).unwrap_or(2))
}

/// One bar's label on the time axis, for the range.
fn hour_label(range: DashboardRange, ms: i64) -> String {
    let time = utc_time(ms);
    match range {
        DashboardRange::Hour | DashboardRange::SixHours | DashboardRange::Day => time[11..16].to_string(),
        DashboardRange::Week => time[5..16].to_string(),
        DashboardRange::Month => time[5..10].to_string(),
    }
}

/// A figure over the range.
fn total(label: &'static str, value: String, detail: String) -> impl IntoView {
    let testid = format!("total-{}", label.to_lowercase().replace(' ', "-"));
    view! {
        <div class="rounded-xl border border-slate-200 bg-white p-4 shadow-sm">
            <div class="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</div>
            <div class="mt-1 text-2xl font-semibold text-slate-900" data-testid=testid>{value}</div>
            <div class="mt-0.5 text-xs text-slate-500">{detail}</div>
        </div>
    }
}

/// The range and scope picker: a GET form, so it works before hydration.
fn picker(stats: &DashboardStats) -> impl IntoView {
    let input = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm";
    let range = stats.range;
    let scope = stats.scope.clone();
    let option = move |value: String, label: String| {
        let selected = value == scope;
        view! { <option value=value selected=selected>{label}</option> }
    };
    // Once hydrated, a choice applies at once (the 30-second refresh would redraw the form
    // and lose a choice not yet sent).
    let apply = |ev: leptos::ev::Event| {
        if let Some(form) = event_target::<leptos::web_sys::HtmlSelectElement>(&ev).form() {
            let _ = form.request_submit();
        }
    };
    // A choice made before the page became interactive had no handler to apply it: once
    // hydrated, a select that no longer shows what the server rendered is applied.
    let form = NodeRef::<leptos::html::Form>::new();
    let rendered = StoredValue::new((range.as_str().to_string(), stats.scope.clone()));
    Effect::new(move |_| {
        let Some(form) = form.get() else {
            return;
        };
        let value = |id: &str| {
            use leptos::wasm_bindgen::JsCast;
            (document().get_element_by_id(id))
                .and_then(|element| element.dyn_into::<leptos::web_sys::HtmlSelectElement>().ok())
                .map(|select| select.value())
        };
        let (range, scope) = rendered.get_value();
        let changed = |id, shown: &str| value(id).is_some_and(|now| now != shown);
        if changed("dashboard-range", &range) || changed("dashboard-scope", &scope) {
            let _ = form.request_submit();
        }
    });
    view! {
        <form method="get" action="/" aria-label="Range and scope" node_ref=form class="mb-6 grid gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:grid-cols-[1fr_2fr_auto]">
            <div>
                <label for="dashboard-range" class="block text-xs font-medium text-slate-600">"Range"</label>
                <select id="dashboard-range" name="range" class=input on:change=apply>
                    {DashboardRange::ALL.into_iter().map(|r| view! {
                        <option value=r.as_str() selected=r == range>{r.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div>
                <label for="dashboard-scope" class="block text-xs font-medium text-slate-600">"Traffic of"</label>
                <select id="dashboard-scope" name="scope" class=input on:change=apply>
                    {option(String::new(), "Every gateway".into())}
                    <optgroup label="Gateway">
                        {stats.gateway_names.iter().map(|name| option(format!("gateway:{name}"), name.clone())).collect_view()}
                    </optgroup>
                    <optgroup label="Endpoint (with the playground's requests)">
                        {stats.endpoint_names.iter().map(|name| option(format!("endpoint:{name}"), name.clone())).collect_view()}
                    </optgroup>
                </select>
            </div>
            <div class="flex items-end">
                <button type="submit" class="w-full rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-500 sm:w-auto">"Show"</button>
            </div>
        </form>
    }
}

/// The figures over the range.
fn totals(sums: &UsageSums) -> impl IntoView {
    let error_rate = if sums.requests > 0 {
        format!("{:.1}% of requests", sums.errors as f64 * 100.0 / sums.requests as f64)
    } else {
        "no requests".into()
    };
    // The response cache's tile, when any request of the range looked in it.
    let cache = sums.cache_hit_percent().map(|percent| {
        let lookups = sums.cache_hits + sums.cache_misses;
        total(
            "Cache hits",
            format!("{percent:.0}%"),
            format!(
                "{} of {lookups} lookups · {} saved",
                sums.cache_hits,
                money(sums.saved_micros)
            ),
        )
    });
    let columns = if cache.is_some() {
        "lg:grid-cols-6"
    } else {
        "lg:grid-cols-5"
    };
    view! {
        <div class=format!("grid grid-cols-2 gap-4 {columns}")>
            {total("Requests", sums.requests.to_string(), "in the range".into())}
            {total("Errors", sums.errors.to_string(), error_rate)}
            {total("Tokens", compact((sums.prompt_tokens + sums.completion_tokens) as f64),
                format!("{} prompt · {} completion", compact(sums.prompt_tokens as f64), compact(sums.completion_tokens as f64)))}
            {total("Cost", money(sums.cost_micros), "at the configured prices".into())}
            {total("Latency", millis(sums.latency_mean_ms as f64), "mean over the range".into())}
            {cache}
        </div>
    }
}

/// The four charts.
fn charts(stats: &DashboardStats) -> impl IntoView {
    let hours: Vec<String> = stats
        .series
        .iter()
        .map(|h| hour_label(stats.range, h.hour_start))
        .collect();
    let values = |f: fn(&crate::types::HourlyUsage) -> Option<f64>| stats.series.iter().map(f).collect::<Vec<_>>();
    let sums = &stats.totals;
    let slowest_p95 = stats.series.iter().filter_map(|h| h.latency_p95_ms).max();
    view! {
        <div class="mt-6 grid gap-4 lg:grid-cols-2">
            {chart("Requests", Kind::StackedBars, vec![
                Series { label: "Answered", mark: "fill-indigo-500", swatch: "bg-indigo-500", values: values(|h| Some((h.requests - h.errors) as f64)) },
                Series { label: "Errors", mark: "fill-red-500", swatch: "bg-red-500", values: values(|h| Some(h.errors as f64)) },
            ], &hours, (compact, true), format!("{} requests, {} errors, {}", sums.requests, sums.errors, stats.range.per()))}
            {chart("Tokens", Kind::StackedBars, vec![
                Series { label: "Prompt", mark: "fill-sky-500", swatch: "bg-sky-500", values: values(|h| Some(h.prompt_tokens as f64)) },
                Series { label: "Completion", mark: "fill-violet-500", swatch: "bg-violet-500", values: values(|h| Some(h.completion_tokens as f64)) },
            ], &hours, (compact, true), format!("{} prompt and {} completion tokens, {}", sums.prompt_tokens, sums.completion_tokens, stats.range.per()))}
            {chart("Latency", Kind::Lines, vec![
                Series { label: "p50", mark: "stroke-emerald-500", swatch: "bg-emerald-500", values: values(|h| (h.requests > 0).then_some(h.latency_p50_ms).flatten().map(|v| v as f64)) },
                Series { label: "p95", mark: "stroke-amber-500", swatch: "bg-amber-500", values: values(|h| (h.requests > 0).then_some(h.latency_p95_ms).flatten().map(|v| v as f64)) },
            ], &hours, (millis, false), match slowest_p95 {
                Some(ms) => format!("median and 95th percentile {}, estimated within latency buckets; the slowest p95 is about {ms} ms", stats.range.per()),
                None => "no requests in the range".into(),
            })}
            {chart("Cost", Kind::StackedBars, vec![
                Series { label: "Cost", mark: "fill-emerald-600", swatch: "bg-emerald-600", values: values(|h| Some(h.cost_micros as f64 / 1e6)) },
            ], &hours, (currency, false), format!("{} in the range, {}", money(sums.cost_micros), stats.range.per()))}
        </div>
    }
}

/// A breakdown table (gateways or endpoints).
fn breakdown(title: &'static str, rows: &[ScopeSums], kind: &'static str) -> AnyView {
    if rows.is_empty() {
        return ().erase();
    }
    view! {
        <section class="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid=format!("by-{kind}")>
                <caption class="px-4 pt-4 text-left text-sm font-semibold text-slate-900">{title}</caption>
                <thead class="text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="px-4 py-2">"Name"</th>
                        <th scope="col" class="px-4 py-2 text-right">"Requests"</th>
                        <th scope="col" class="px-4 py-2 text-right">"Errors"</th>
                        <th scope="col" class="hidden px-4 py-2 text-right sm:table-cell">"Tokens"</th>
                        <th scope="col" class="px-4 py-2 text-right">"Cost"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {rows.iter().map(|row| {
                        let href = format!("/?scope={kind}:{}", row.name);
                        view! {
                            <tr>
                                <td class="px-4 py-2"><a href=href class="font-medium text-indigo-600 hover:underline">{row.name.clone()}</a></td>
                                <td class="px-4 py-2 text-right tabular-nums">{row.sums.requests}</td>
                                <td class="px-4 py-2 text-right tabular-nums">{row.sums.errors}</td>
                                <td class="hidden px-4 py-2 text-right tabular-nums sm:table-cell">{compact((row.sums.prompt_tokens + row.sums.completion_tokens) as f64)}</td>
                                <td class="px-4 py-2 text-right tabular-nums">{money(row.sums.cost_micros)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .erase()
}

/// Whether the scope has people of its own: every gateway or one, not an endpoint.
fn has_people(scope: &str) -> bool {
    !scope.starts_with("endpoint:")
}

/// A table of the busiest end users or groups, or why it is empty.
fn top_people(
    title: &'static str,
    group: &'static str,
    testid: &'static str,
    rows: &[PersonStats],
    none: &'static str,
) -> AnyView {
    let rows: Vec<_> = rows
        .iter()
        .map(|person| (person.name.clone(), person.figures.clone()))
        .collect();
    let empty = rows.is_empty();
    view! {
        <section class="min-w-0 rounded-xl border border-slate-200 bg-white p-4 shadow-sm" aria-label=title>
            <h2 class="text-sm font-semibold text-slate-900">{title}</h2>
            {if empty {
                view! { <p class="mt-2 text-sm text-slate-500" data-testid=format!("{testid}-empty")>{none}</p> }.erase()
            } else {
                figures_table(format!("{title}, busiest first"), group, testid, rows)
            }}
        </section>
    }
    .erase()
}

/// The busiest end users and groups over the range (for every gateway or one).
fn people(stats: &DashboardStats) -> AnyView {
    if !has_people(&stats.scope) {
        return ().erase();
    }
    view! {
        <div class="mt-6 grid min-w-0 gap-4">
            {top_people("Top end users", "End user", "top-users", &stats.top_users,
                "No end user's requests in this range: requests name one with a token or, from a key that may assert users, x-mgw-user.")}
            {top_people("Top groups", "Group", "top-groups", &stats.top_groups,
                "No group's requests in this range: a gateway's group rule puts its end users in groups.")}
            <p class="text-xs text-slate-500">{format!("The {TOP_PEOPLE} busiest of each over the range, from the request log.")}</p>
        </div>
    }
    .erase()
}

/// One figure of what is configured.
#[component]
fn Stat(label: &'static str, value: i64, href: &'static str, icon: Icon) -> impl IntoView {
    view! {
        <a href=href class="flex items-center gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm transition hover:border-indigo-300 hover:shadow">
            <span class="flex h-9 w-9 items-center justify-center rounded-lg bg-indigo-50 text-indigo-600">{icon.view("h-5 w-5")}</span>
            <span>
                <span class="block text-xl font-semibold text-slate-900" data-testid=format!("stat-{}", label.to_lowercase().replace(' ', "-"))>{value}</span>
                <span class="block text-sm text-slate-500">{label}</span>
            </span>
        </a>
    }
}

/// What is configured, and the first steps while nothing is.
fn configured() -> impl IntoView {
    let counts = Resource::new(|| (), |_| dashboard_overview());
    view! {
        <Suspense fallback=|| view! { <div class="mt-8 h-20 animate-pulse rounded-xl bg-slate-200"></div> }>
            {move || counts.get().map(|result| match result {
                Ok(o) => view! {
                    <h2 class="mb-3 mt-8 text-sm font-semibold text-slate-900">"Configured"</h2>
                    <div class="grid grid-cols-2 gap-4 lg:grid-cols-4">
                        <Stat label="Endpoints" value=o.endpoints href="/endpoints" icon=Icon::Endpoints/>
                        <Stat label="Gateways" value=o.gateways href="/gateways" icon=Icon::Gateways/>
                        <Stat label="Active keys" value=o.keys href="/keys" icon=Icon::Keys/>
                        <Stat label="Admins" value=o.admins href="/settings" icon=Icon::Settings/>
                    </div>
                    {(o.endpoints == 0).then(|| view! {
                        <section class="mt-6 rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
                            <h2 class="text-base font-semibold text-slate-900">"Getting started"</h2>
                            <ol class="mt-4 space-y-3 text-sm text-slate-600">
                                <li><a href="/endpoints" class="font-medium text-indigo-600 hover:underline">"1. Add an inference endpoint"</a>" — an OpenAI, Azure OpenAI, Anthropic, Ollama or OpenAI-compatible upstream."</li>
                                <li><a href="/gateways" class="font-medium text-indigo-600 hover:underline">"2. Create a gateway"</a>" — an ordered list of endpoints with a routing strategy."</li>
                                <li><a href="/keys" class="font-medium text-indigo-600 hover:underline">"3. Issue a gateway key"</a>" — applications use it with their usual OpenAI SDK."</li>
                                <li><span class="font-medium text-slate-900">"4. Send a request"</span>" — to " <code class="rounded bg-slate-100 px-1">"/v1/chat/completions"</code> " on this server, or try a model in the " <a href="/playground" class="text-indigo-600 hover:underline">"playground"</a> "."</li>
                            </ol>
                        </section>
                    })}
                }.erase(),
                Err(e) => view! {
                    <div role="alert" class="mt-8 rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not load the overview: " {e.to_string()}</div>
                }.erase(),
            })}
        </Suspense>
    }
}

/// The dashboard page.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let query = use_query_map();
    let asked = move || {
        query.with(|q| DashboardQuery {
            range: q.get("range").unwrap_or_default(),
            scope: q.get("scope").unwrap_or_default(),
        })
    };
    let stats = Resource::new(asked, load_dashboard);
    // Live refresh, in the browser only (effects do not run on the server).
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || stats.refetch(), REFRESH) {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <Title text="Dashboard"/>
        <PageHeader title="Dashboard" description="Traffic, tokens, errors, latency and cost, hour by hour (UTC)."/>
        <Transition fallback=|| view! {
            <div class="mb-6 h-20 animate-pulse rounded-xl bg-slate-200"></div>
            <div class="grid grid-cols-2 gap-4 lg:grid-cols-5">{(0..5).map(|_| view! { <div class="h-24 animate-pulse rounded-xl bg-slate-200"></div> }).collect_view()}</div>
        }>
            {move || stats.get().map(|result| match result {
                Ok(stats) => view! {
                    {picker(&stats)}
                    {totals(&stats.totals)}
                    <p class="mt-2 text-xs text-slate-500" data-testid="read-at">"Read at " {utc_time(stats.read_at)} " UTC · refreshes every 30 seconds"</p>
                    {charts(&stats)}
                    {(!stats.gateways.is_empty() || !stats.endpoints.is_empty()).then(|| view! {
                        <div class="mt-6 grid gap-4 lg:grid-cols-2">
                            {breakdown("By gateway", &stats.gateways, "gateway")}
                            {breakdown("By endpoint", &stats.endpoints, "endpoint")}
                        </div>
                    })}
                    {people(&stats)}
                }.erase(),
                Err(e) => view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not load the figures: " {e.to_string()}
                        " " <a href="/" class="font-medium underline">"Show every gateway"</a></div>
                }.erase(),
            })}
        </Transition>
        {configured()}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gateway_and_one_gateway_have_people_and_an_endpoint_has_none() {
        assert!(has_people(""));
        assert!(has_people("gateway:prod"));
        assert!(!has_people("endpoint:openai"));
    }
}
