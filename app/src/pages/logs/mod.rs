//! Request logs: filters in the URL (a plain GET form, so they work before hydration), a page
//! at a time (newest first; "Older" follows the cursor), each row's key and the endpoint that
//! answered, a live tail of new rows ([`live`]), the filtered rows exported as CSV or JSON, and
//! each request's detail ([`detail`]).

mod detail;
mod live;

pub use detail::LogDetailPage;

use crate::api::list_logs;
use crate::components::Erase;
use crate::components::PageHeader;
use crate::types::{money, utc_time, LogNames, LogPage, LogQuery, RequestLog};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// A status's badge classes.
fn status_class(status: i64) -> &'static str {
    match status {
        200..=299 => "bg-emerald-50 text-emerald-700 ring-emerald-600/20",
        400..=499 => "bg-amber-50 text-amber-700 ring-amber-600/20",
        _ => "bg-red-50 text-red-700 ring-red-600/20",
    }
}

/// The filters form.
fn filters(query: &LogQuery, names: &LogNames) -> impl IntoView {
    let input = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm";
    let label = "block text-xs font-medium text-slate-600";
    let (gateway, status, key, endpoint) = (
        query.gateway.clone(),
        query.status.clone(),
        query.key.clone(),
        query.endpoint.clone(),
    );
    view! {
        <form method="get" action="/logs" class="mb-4 grid gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:grid-cols-2 lg:grid-cols-4" aria-label="Filters">
            <div>
                <label for="logs-gateway" class=label>"Gateway"</label>
                <select id="logs-gateway" name="gateway" class=input>
                    <option value="">"All gateways"</option>
                    {names.gateways.iter().map(|(_, name)| view! {
                        <option value=name.clone() selected=*name == gateway>{name.clone()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div>
                <label for="logs-key" class=label>"Key"</label>
                <select id="logs-key" name="key" class=input>
                    <option value="">"All keys"</option>
                    {names.keys.iter().map(|(_, name, public_id)| view! {
                        <option value=public_id.clone() selected=*public_id == key>{format!("{name} ({public_id})")}</option>
                    }).collect_view()}
                </select>
            </div>
            <div>
                <label for="logs-endpoint" class=label>"Endpoint"</label>
                <select id="logs-endpoint" name="endpoint" class=input>
                    <option value="">"All endpoints"</option>
                    {names.endpoints.iter().map(|(_, name)| view! {
                        <option value=name.clone() selected=*name == endpoint>{name.clone()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div>
                <label for="logs-model" class=label>"Model"</label>
                <input id="logs-model" name="model" value=query.model.clone() placeholder="gpt-4o-mini" class=input/>
            </div>
            <div>
                <label for="logs-status" class=label>"Status"</label>
                <select id="logs-status" name="status" class=input>
                    {[("", "Any"), ("errors", "Errors (400+)"), ("200", "200"), ("429", "429"), ("499", "499 (client left)"), ("502", "502"), ("504", "504")]
                        .into_iter().map(|(value, label)| view! { <option value=value selected=value == status>{label}</option> }).collect_view()}
                </select>
            </div>
            <div>
                <label for="logs-from" class=label>"From (UTC)"</label>
                <input id="logs-from" name="from" type="datetime-local" value=query.from.clone() class=input/>
            </div>
            <div>
                <label for="logs-to" class=label>"Until (UTC)"</label>
                <input id="logs-to" name="to" type="datetime-local" value=query.to.clone() class=input/>
            </div>
            <div>
                <label for="logs-request" class=label>"Request id"</label>
                <input id="logs-request" name="request_id" value=query.request_id.clone() placeholder="x-request-id" class=input/>
            </div>
            <div class="flex items-end gap-2 sm:col-span-2 lg:col-span-4">
                <button type="submit" class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-500">"Filter"</button>
                <a href="/logs" class="rounded-lg border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50">"Clear"</a>
            </div>
        </form>
    }
}

/// One row of the table.
fn row(log: &RequestLog, names: &LogNames) -> impl IntoView {
    let cell = "hidden px-4 py-3 text-slate-600";
    view! {
        <tr data-testid="log-row">
            <td class="whitespace-nowrap px-4 py-3 text-slate-600">{utc_time(log.created_at)}</td>
            <td class="px-4 py-3"><span class=format!("inline-flex rounded-md px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}", status_class(log.status))>{log.status}</span></td>
            <td class="hidden px-4 py-3 text-slate-900 sm:table-cell">{log.model.clone().unwrap_or_default()} {log.stream.then_some(" · stream")}</td>
            <td class=format!("{cell} md:table-cell")>{names.gateway(log.gateway_id)}</td>
            <td class=format!("{cell} md:table-cell") data-testid="log-key">{names.key(log.key_id)}</td>
            <td class=format!("{cell} lg:table-cell") data-testid="log-endpoint">{names.endpoint(log.endpoint_shown())}</td>
            <td class=format!("{cell} text-right md:table-cell")>{format!("{} ms", log.latency_ms)}</td>
            <td class=format!("{cell} text-right lg:table-cell")>{format!("{} / {}", log.prompt_tokens, log.completion_tokens)}</td>
            <td class=format!("{cell} text-right lg:table-cell")>{money(log.cost_micros)}</td>
            <td class="px-4 py-3 text-right"><a href=format!("/logs/{}", log.request_id) class="text-indigo-600 hover:underline">"Details"</a></td>
        </tr>
    }
}

/// The export links and the live tail's switch, above the table.
fn toolbar(query: &LogQuery, live: live::Live) -> impl IntoView {
    let filters = query.to_url(None);
    let export = |format: &str| {
        let rest = if filters.is_empty() {
            String::new()
        } else {
            format!("&{filters}")
        };
        format!("/api/logs/export?format={format}{rest}")
    };
    let button =
        "rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50";
    view! {
        <div class="mb-3 flex flex-wrap items-center justify-end gap-2">
            <span role="status" data-testid="live-status" class="mr-auto text-sm text-slate-600">{move || live.status.get()}</span>
            {live::switch(live, filters.clone())}
            <a href=export("csv") download="request-logs.csv" class=button>"Export CSV"</a>
            <a href=export("json") download="request-logs.json" class=button>"Export JSON"</a>
        </div>
    }
}

/// The table of one page, under the rows the live tail added.
fn table(page: LogPage, query: &LogQuery, live: live::Live) -> AnyView {
    let names = StoredValue::new(page.names.clone());
    let older = page.next.map(|before| format!("/logs?{}", query.to_url(Some(before))));
    let empty = page.logs.is_empty();
    view! {
        {toolbar(query, live)}
        <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm">
                <caption class="sr-only">"Request logs, newest first"</caption>
                <thead class="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="px-4 py-3">"Time (UTC)"</th>
                        <th scope="col" class="px-4 py-3">"Status"</th>
                        <th scope="col" class="hidden px-4 py-3 sm:table-cell">"Model"</th>
                        <th scope="col" class="hidden px-4 py-3 md:table-cell">"Gateway"</th>
                        <th scope="col" class="hidden px-4 py-3 md:table-cell">"Key"</th>
                        <th scope="col" class="hidden px-4 py-3 lg:table-cell">"Endpoint"</th>
                        <th scope="col" class="hidden px-4 py-3 text-right md:table-cell">"Latency"</th>
                        <th scope="col" class="hidden px-4 py-3 text-right lg:table-cell">"Tokens"</th>
                        <th scope="col" class="hidden px-4 py-3 text-right lg:table-cell">"Cost"</th>
                        <th scope="col" class="px-4 py-3"><span class="sr-only">"Details"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {move || names.with_value(|names| live.rows.get().iter().map(|log| row(log, names)).collect_view())}
                    {names.with_value(|names| page.logs.iter().map(|log| row(log, names)).collect_view())}
                </tbody>
            </table>
            {move || (empty && live.rows.with(Vec::is_empty)).then(|| view! {
                <p class="p-8 text-center text-sm text-slate-600">
                    "No requests match. Requests appear here about a second after they finish."
                </p>
            })}
        </div>
        {older.map(|href| view! {
            <div class="mt-4 text-right"><a href=href class="rounded-lg border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50">"Older →"</a></div>
        })}
    }
    .erase()
}

/// The logs page.
#[component]
pub fn LogsPage() -> impl IntoView {
    let params = use_query_map();
    let query = move || params.with(|q| LogQuery::from_url(|name| q.get(name)));
    let page = Resource::new(query, list_logs);
    let live = live::Live::new();
    // New filters (or another page) start afresh: the tail's rows were of the old ones.
    Effect::watch(
        query,
        move |_, _, _| {
            live.stop();
            live.rows.set(Vec::new());
        },
        false,
    );
    view! {
        <Title text="Logs"/>
        <PageHeader title="Logs" description="Every request the gateway served, with its attempts."/>
        <Suspense fallback=|| view! { <div class="h-32 animate-pulse rounded-xl bg-slate-200"></div> }>
            {move || page.get().map(|result| match result {
                Ok(page) => {
                    let query = query();
                    Either::Left(view! { {filters(&query, &page.names)} {table(page, &query, live)} })
                }
                Err(error) => Either::Right(view! {
                    {filters(&query(), &LogNames::default())}
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not load the logs: " {error.to_string()}</div>
                }),
            })}
        </Suspense>
    }
}
