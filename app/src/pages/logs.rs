//! Request logs: filters in the URL (a plain GET form, so they work before hydration), a page
//! at a time (newest first; "Older" follows the cursor), and each request's detail — its
//! attempts with their timings, and the request and response bodies when its gateway logs them.

use crate::api::{list_logs, log_detail};
use crate::components::PageHeader;
use crate::types::{money, utc_time, LogPage, LogQuery, RequestLog};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// A status's badge classes.
fn status_class(status: i64) -> &'static str {
    match status {
        200..=299 => "bg-emerald-50 text-emerald-700 ring-emerald-600/20",
        400..=499 => "bg-amber-50 text-amber-700 ring-amber-600/20",
        _ => "bg-red-50 text-red-700 ring-red-600/20",
    }
}

/// The query string for `query` (without `before` unless given).
fn query_string(query: &LogQuery, before: Option<i64>) -> String {
    let mut parts = Vec::new();
    for (name, value) in [
        ("gateway", &query.gateway),
        ("model", &query.model),
        ("status", &query.status),
    ] {
        if !value.is_empty() {
            parts.push(format!("{name}={}", encode(value)));
        }
    }
    if let Some(before) = before {
        parts.push(format!("before={before}"));
    }
    parts.join("&")
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The filters form.
fn filters(query: &LogQuery, page: &LogPage) -> impl IntoView {
    let input = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm";
    let gateway = query.gateway.clone();
    let status = query.status.clone();
    view! {
        <form method="get" action="/logs" class="mb-4 grid gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:grid-cols-4" aria-label="Filters">
            <div>
                <label for="logs-gateway" class="block text-xs font-medium text-slate-600">"Gateway"</label>
                <select id="logs-gateway" name="gateway" class=input>
                    <option value="">"All gateways"</option>
                    {page.gateways.iter().map(|(_, name)| view! {
                        <option value=name.clone() selected=*name == gateway>{name.clone()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div>
                <label for="logs-model" class="block text-xs font-medium text-slate-600">"Model"</label>
                <input id="logs-model" name="model" value=query.model.clone() placeholder="gpt-4o-mini" class=input/>
            </div>
            <div>
                <label for="logs-status" class="block text-xs font-medium text-slate-600">"Status"</label>
                <select id="logs-status" name="status" class=input>
                    {[("", "Any"), ("errors", "Errors (400+)"), ("200", "200"), ("429", "429"), ("499", "499 (client left)"), ("502", "502"), ("504", "504")]
                        .into_iter().map(|(value, label)| view! { <option value=value selected=value == status>{label}</option> }).collect_view()}
                </select>
            </div>
            <div class="flex items-end gap-2">
                <button type="submit" class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-500">"Filter"</button>
                <a href="/logs" class="rounded-lg border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50">"Clear"</a>
            </div>
        </form>
    }
}

/// The table of one page.
fn table(page: LogPage, query: &LogQuery) -> AnyView {
    if page.logs.is_empty() {
        return view! {
            <div class="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-600">
                "No requests match. Requests appear here about a second after they finish."
            </div>
        }
        .into_any();
    }
    let gateway_name = |log: &RequestLog| {
        log.gateway_id
            .and_then(|id| {
                page.gateways
                    .iter()
                    .find(|(g, _)| *g == id)
                    .map(|(_, name)| name.clone())
            })
            .unwrap_or_default()
    };
    let older = page
        .next
        .map(|before| format!("/logs?{}", query_string(query, Some(before))));
    view! {
        <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm">
                <caption class="sr-only">"Request logs, newest first"</caption>
                <thead class="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="px-4 py-3">"Time (UTC)"</th>
                        <th scope="col" class="px-4 py-3">"Status"</th>
                        <th scope="col" class="hidden px-4 py-3 sm:table-cell">"Model"</th>
                        <th scope="col" class="hidden px-4 py-3 md:table-cell">"Gateway"</th>
                        <th scope="col" class="hidden px-4 py-3 text-right md:table-cell">"Latency"</th>
                        <th scope="col" class="hidden px-4 py-3 text-right lg:table-cell">"Tokens"</th>
                        <th scope="col" class="hidden px-4 py-3 text-right lg:table-cell">"Cost"</th>
                        <th scope="col" class="px-4 py-3"><span class="sr-only">"Details"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {page.logs.iter().map(|log| view! {
                        <tr data-testid="log-row">
                            <td class="whitespace-nowrap px-4 py-3 text-slate-600">{utc_time(log.created_at)}</td>
                            <td class="px-4 py-3"><span class=format!("inline-flex rounded-md px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}", status_class(log.status))>{log.status}</span></td>
                            <td class="hidden px-4 py-3 text-slate-900 sm:table-cell">{log.model.clone().unwrap_or_default()} {log.stream.then_some(" · stream")}</td>
                            <td class="hidden px-4 py-3 text-slate-600 md:table-cell">{gateway_name(log)}</td>
                            <td class="hidden px-4 py-3 text-right text-slate-600 md:table-cell">{format!("{} ms", log.latency_ms)}</td>
                            <td class="hidden px-4 py-3 text-right text-slate-600 lg:table-cell">{format!("{} / {}", log.prompt_tokens, log.completion_tokens)}</td>
                            <td class="hidden px-4 py-3 text-right text-slate-600 lg:table-cell">{money(log.cost_micros)}</td>
                            <td class="px-4 py-3 text-right"><a href=format!("/logs/{}", log.request_id) class="text-indigo-600 hover:underline">"Details"</a></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {older.map(|href| view! {
            <div class="mt-4 text-right"><a href=href class="rounded-lg border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50">"Older →"</a></div>
        })}
    }
    .into_any()
}

/// The logs page.
#[component]
pub fn LogsPage() -> impl IntoView {
    let params = use_query_map();
    let query = move || {
        params.with(|q| LogQuery {
            gateway: q.get("gateway").unwrap_or_default(),
            model: q.get("model").unwrap_or_default(),
            status: q.get("status").unwrap_or_default(),
            before: q.get("before").and_then(|b| b.parse().ok()),
        })
    };
    let page = Resource::new(query, list_logs);
    view! {
        <Title text="Logs"/>
        <PageHeader title="Logs" description="Every request the gateway served, with its attempts."/>
        <Suspense fallback=|| view! { <div class="h-32 animate-pulse rounded-xl bg-slate-200"></div> }>
            {move || page.get().map(|result| match result {
                Ok(page) => {
                    let query = query();
                    view! { {filters(&query, &page)} {table(page, &query)} }.into_any()
                }
                Err(error) => view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not load the logs: " {error.to_string()}</div>
                }.into_any(),
            })}
        </Suspense>
    }
}

/// One figure of the detail view.
fn figure(label: &'static str, value: String) -> impl IntoView {
    view! {
        <div><dt class="text-xs uppercase tracking-wide text-slate-500">{label}</dt><dd class="mt-0.5 text-slate-900">{value}</dd></div>
    }
}

/// A body, or why there is none.
fn body(title: &'static str, text: Option<String>) -> impl IntoView {
    view! {
        <section class="mt-4">
            <h2 class="text-sm font-semibold text-slate-900">{title}</h2>
            {match text {
                Some(text) => view! { <pre class="mt-2 max-h-96 overflow-auto rounded-lg bg-slate-900 p-3 text-xs text-slate-100"><code>{text}</code></pre> }.into_any(),
                None => view! { <p class="mt-1 text-sm text-slate-500">"Not stored: this gateway does not log bodies."</p> }.into_any(),
            }}
        </section>
    }
}

/// One request's detail.
#[component]
pub fn LogDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let log = Resource::new(id, log_detail);
    view! {
        <Title text="Request"/>
        <PageHeader title="Request" description="One request: its attempts, timings, usage and bodies."/>
        <p class="-mt-4 mb-4 text-sm"><a href="/logs" class="text-indigo-600 hover:underline">"← All logs"</a></p>
        <Suspense fallback=|| view! { <div class="h-32 animate-pulse rounded-xl bg-slate-200"></div> }>
            {move || log.get().map(|result| match result {
                Ok(Some(log)) => view! {
                    <article class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" data-testid="log-detail">
                        <div class="flex flex-wrap items-center justify-between gap-2">
                            <code class="text-xs text-slate-500">{log.request_id.clone()}</code>
                            {(log.operation == "chat").then(|| view! {
                                <a href=format!("/playground?log={}", log.request_id) class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50">"Open in playground"</a>
                            })}
                        </div>
                        <dl class="mt-3 grid gap-3 text-sm sm:grid-cols-4">
                            {figure("Time (UTC)", utc_time(log.created_at))}
                            {figure("Status", log.status.to_string())}
                            {figure("Model", log.model.clone().unwrap_or_default())}
                            {figure("API", format!("{} · {}{}", log.api, log.operation, if log.stream { " · stream" } else { "" }))}
                            {figure("Latency", format!("{} ms", log.latency_ms))}
                            {figure("Time to first token", log.ttft_ms.map_or_else(|| "—".into(), |ms| format!("{ms} ms")))}
                            {figure("Tokens (prompt / completion)", format!("{} / {}", log.prompt_tokens, log.completion_tokens))}
                            {figure("Cost", money(log.cost_micros))}
                        </dl>
                        {log.error_class.clone().map(|error| view! { <p class="mt-3 text-sm text-red-700">"Error: " {error}</p> })}
                        <h2 class="mt-5 text-sm font-semibold text-slate-900">"Attempts"</h2>
                        <table class="mt-2 min-w-full divide-y divide-slate-200 text-sm">
                            <caption class="sr-only">"Upstream attempts"</caption>
                            <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                                <tr><th scope="col" class="py-2 pr-4">"#"</th><th scope="col" class="py-2 pr-4">"Status"</th>
                                    <th scope="col" class="py-2 pr-4">"Latency"</th><th scope="col" class="py-2 pr-4">"TTFT"</th><th scope="col" class="py-2">"Error"</th></tr>
                            </thead>
                            <tbody class="divide-y divide-slate-100" data-testid="attempts">
                                {log.attempts.iter().map(|a| view! {
                                    <tr><td class="py-2 pr-4">{a.attempt}</td>
                                        <td class="py-2 pr-4">{a.status.map_or_else(|| "—".into(), |s| s.to_string())}</td>
                                        <td class="py-2 pr-4">{format!("{} ms", a.latency_ms)}</td>
                                        <td class="py-2 pr-4">{a.ttft_ms.map_or_else(|| "—".into(), |ms| format!("{ms} ms"))}</td>
                                        <td class="py-2 text-red-700">{a.error_class.clone().unwrap_or_default()}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        {body("Request body", log.request_body.clone())}
                        {body("Response body", log.response_body.clone())}
                    </article>
                }.into_any(),
                Ok(None) => view! {
                    <div class="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-600">"No request with this id (logs are kept for the retention period)."</div>
                }.into_any(),
                Err(error) => view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">{error.to_string()}</div>
                }.into_any(),
            })}
        </Suspense>
    }
}
