//! One request's detail: its attempts (with the endpoint that served each) and timings, and
//! the request and response bodies when its gateway logs them.

use crate::api::log_detail;
use crate::components::PageHeader;
use crate::types::{money, utc_time, RequestDetail};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

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
                Some(text) => Either::Left(view! { <pre class="mt-2 max-h-96 overflow-auto rounded-lg bg-slate-900 p-3 text-xs text-slate-100"><code>{text}</code></pre> }),
                None => Either::Right(view! { <p class="mt-1 text-sm text-slate-500">"Not stored: this gateway does not log bodies."</p> }),
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
                Ok(Some(RequestDetail { log, names })) => EitherOf3::A(view! {
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
                            {figure("Gateway", names.gateway(log.gateway_id))}
                            {figure("Key", names.key(log.key_id))}
                            {figure("Answered by", names.endpoint(log.endpoint_id))}
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
                                <tr><th scope="col" class="py-2 pr-4">"#"</th><th scope="col" class="py-2 pr-4">"Endpoint"</th><th scope="col" class="py-2 pr-4">"Status"</th>
                                    <th scope="col" class="py-2 pr-4">"Latency"</th><th scope="col" class="py-2 pr-4">"TTFT"</th><th scope="col" class="py-2">"Error"</th></tr>
                            </thead>
                            <tbody class="divide-y divide-slate-100" data-testid="attempts">
                                {log.attempts.iter().map(|a| view! {
                                    <tr><td class="py-2 pr-4">{a.attempt}</td>
                                        <td class="py-2 pr-4" data-testid="attempt-endpoint">{names.endpoint(a.endpoint_id)}</td>
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
                }),
                Ok(None) => EitherOf3::B(view! {
                    <div class="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-600">"No request with this id (logs are kept for the retention period)."</div>
                }),
                Err(error) => EitherOf3::C(view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">{error.to_string()}</div>
                }),
            })}
        </Suspense>
    }
}
