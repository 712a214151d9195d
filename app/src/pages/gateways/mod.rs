//! Gateways: each with its status, strategy, endpoints (order, weight, priority), retry policy
//! and logging switches, its composite models (`composites`, each with its variants' figures,
//! `variants`), its end users (ways in, access rule and identity providers, `identity`), the
//! URL clients use and copy-paste snippets; a form to add one (its endpoints picked, `form`);
//! edit in place (the ways in and access rule, with a box that tries the rule, `rule`; the
//! limits for people, also read back on the card, `people`); delete with confirmation.

mod composites;
mod form;
mod guardrails;
mod identity;
mod people;
mod rule;
mod variants;

use crate::api::{
    list_endpoints, list_gateways, list_guardrails, list_identity_providers, CreateGateway, DeleteGateway,
};
use crate::components::Erase;
use crate::components::{
    focus_when_shown, may_change, reset_on_success, use_hydrated, CopyButton, PageHeader, ReadOnlyNotice, Refusal,
};
use crate::types::{
    size_text, ttl_text, CacheMode, CacheSettings, CompositeModel, Gateway, Guardrail, IdentityProvider, Strategy,
};
use composites::Composites;
use form::{EditGateway, EndpointPicker};
use guardrails::Guardrails;
use identity::EndUsers;
use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use people::LimitsSummary;

/// How a strategy is described in the form.
fn strategy_label(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Priority => "Priority (ordered failover)",
        Strategy::Weighted => "Weighted",
        Strategy::RoundRobin => "Round robin",
        Strategy::LeastBusy => "Least busy",
        Strategy::LeastLatency => "Least latency",
        Strategy::Random => "Random",
    }
}

/// A gateway's response cache, in words: `Off`, or `Exact, 10m, up to 1MiB` (and collapsing).
fn cache_text(cache: &CacheSettings) -> String {
    match cache.mode {
        CacheMode::Off => "Off".into(),
        CacheMode::Exact | CacheMode::Semantic => format!(
            "{}, {}, up to {}{}",
            match cache.semantic() {
                Some((model, similarity)) => format!("Semantic by {model} at {similarity}"),
                None => "Exact".to_string(),
            },
            ttl_text(cache.ttl_s),
            size_text(cache.max_entry_bytes),
            if cache.collapse { ", misses collapsed" } else { "" }
        ),
    }
}

/// The copy-paste snippets for a gateway: (label, code).
fn snippets(base: &str, model: &str) -> [(&'static str, String); 4] {
    [
        (
            "curl",
            format!(
                "curl {base}/v1/chat/completions \\\n  -H \"Authorization: Bearer $MGW_KEY\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{{\"model\": \"{model}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello\"}}]}}'"
            ),
        ),
        (
            "OpenAI Python",
            format!(
                "import os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url=\"{base}/v1\", api_key=os.environ[\"MGW_KEY\"])\nanswer = client.chat.completions.create(\n    model=\"{model}\",\n    messages=[{{\"role\": \"user\", \"content\": \"Hello\"}}],\n)\nprint(answer.choices[0].message.content)"
            ),
        ),
        (
            "OpenAI Node",
            format!(
                "import OpenAI from \"openai\";\n\nconst client = new OpenAI({{ baseURL: \"{base}/v1\", apiKey: process.env.MGW_KEY }});\nconst answer = await client.chat.completions.create({{\n  model: \"{model}\",\n  messages: [{{ role: \"user\", content: \"Hello\" }}],\n}});\nconsole.log(answer.choices[0].message.content);"
            ),
        ),
        (
            "Azure SDK",
            format!(
                "import os\nfrom openai import AzureOpenAI\n\nclient = AzureOpenAI(\n    azure_endpoint=\"{base}\",\n    api_key=os.environ[\"MGW_KEY\"],\n    api_version=\"2024-10-21\",\n)\nanswer = client.chat.completions.create(\n    model=\"{model}\",  # the deployment name; the gateway routes by model\n    messages=[{{\"role\": \"user\", \"content\": \"Hello\"}}],\n)\nprint(answer.choices[0].message.content)"
            ),
        ),
    ]
}

/// One gateway's card.
#[component]
fn GatewayCard(
    gateway: Gateway,
    base: String,
    model: String,
    delete: ServerAction<DeleteGateway>,
    saved: RwSignal<u32>,
    names: Vec<String>,
    composites: Vec<CompositeModel>,
    providers: Vec<IdentityProvider>,
    guardrails: Vec<Guardrail>,
) -> AnyView {
    let id = gateway.id.0;
    let token_url = format!("{base}/g/{}/v1", gateway.name);
    let may_change = may_change();
    let hydrated = use_hydrated();
    let confirming = RwSignal::new(false);
    let confirm = NodeRef::<leptos::html::Button>::new();
    focus_when_shown(confirm);
    let editing = RwSignal::new(false);
    let edited = StoredValue::new((gateway.clone(), names));
    let question = StoredValue::new(format!("Delete {} and all its keys?", gateway.name));
    let status = if gateway.enabled {
        ("Enabled", "bg-emerald-50 text-emerald-700 ring-emerald-600/20")
    } else {
        ("Disabled", "bg-slate-100 text-slate-600 ring-slate-500/20")
    };
    let logging = match (gateway.log_metadata, gateway.log_payloads) {
        (true, true) => "Logs metadata and bodies (request and response JSON)",
        (true, false) => "Logs metadata (model, status, tokens, timings); not bodies",
        (false, _) => "Logs nothing about requests",
    };
    let retry = gateway.retry;
    view! {
        <article class="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" data-testid=format!("gateway-{}", gateway.name)>
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div>
                    <h2 class="text-base font-semibold text-slate-900">{gateway.name.clone()}
                        <span class=format!("ml-2 inline-flex items-center rounded-md px-2 py-0.5 align-middle text-xs font-medium ring-1 ring-inset {}", status.1)>{status.0}</span>
                    </h2>
                    <p class="mt-1 text-sm text-slate-500">{gateway.description.clone()}</p>
                </div>
                <Show when=move || may_change>
                <div class="flex flex-wrap items-center gap-2">
                <button type="button" disabled=move || !hydrated.get() on:click=move |_| editing.update(|open| *open = !*open)
                    class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-60">"Edit"</button>
                <Show when=move || confirming.get() fallback=move || view! {
                    <button type="button" on:click=move |_| confirming.set(true)
                        class="rounded-lg border border-red-200 bg-white px-3 py-1.5 text-xs font-medium text-red-700 hover:bg-red-50 focus:outline-none focus:ring-2 focus:ring-red-500/50">
                        "Delete"
                    </button>
                }>
                    <ActionForm action=delete attr:class="flex flex-wrap items-center gap-2">
                        <input type="hidden" name="id" value=id/>
                        <span class="text-xs text-slate-600">{question.get_value()}</span>
                        <button type="submit" node_ref=confirm class="rounded-lg bg-red-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-red-500">"Confirm delete"</button>
                        <button type="button" on:click=move |_| confirming.set(false)
                            class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50">"Cancel"</button>
                    </ActionForm>
                </Show>
                </div>
                </Show>
            </div>
            <Show when=move || editing.get()>
                {move || {
                    let (gateway, names) = edited.get_value();
                    view! { <EditGateway gateway names saved editing/> }
                }}
            </Show>
            <dl class="mt-4 grid gap-3 text-sm sm:grid-cols-4">
                <div><dt class="text-xs uppercase tracking-wide text-slate-500">"Strategy"</dt><dd class="mt-0.5 text-slate-900">{strategy_label(gateway.strategy)}</dd></div>
                <div><dt class="text-xs uppercase tracking-wide text-slate-500">"Retries"</dt>
                    <dd class="mt-0.5 text-slate-900">{format!("{} attempts, back-off {}–{} ms", retry.max_attempts, retry.base_ms, retry.cap_ms)}</dd></div>
                <div><dt class="text-xs uppercase tracking-wide text-slate-500">"Logging"</dt><dd class="mt-0.5 text-slate-900">{logging}</dd></div>
                <div><dt class="text-xs uppercase tracking-wide text-slate-500">"Response cache"</dt>
                    <dd class="mt-0.5 text-slate-900" data-testid="gateway-cache">{cache_text(&gateway.cache)}</dd></div>
            </dl>
            <table class="mt-4 min-w-full divide-y divide-slate-200 text-sm">
                <caption class="sr-only">{format!("Endpoints of {}", gateway.name)}</caption>
                <thead class="text-left text-xs uppercase tracking-wide text-slate-500">
                    <tr><th scope="col" class="py-2 pr-4">"#"</th><th scope="col" class="py-2 pr-4">"Endpoint"</th>
                        <th scope="col" class="py-2 pr-4">"Weight"</th><th scope="col" class="py-2">"Priority"</th></tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {gateway.endpoints.iter().map(|e| view! {
                        <tr><td class="py-2 pr-4 text-slate-500">{e.position + 1}</td><td class="py-2 pr-4 font-medium text-slate-900">{e.endpoint_name.clone()}</td>
                            <td class="py-2 pr-4 text-slate-700">{e.weight}</td><td class="py-2 text-slate-700">{e.priority}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <Composites gateway=gateway.id gateway_name=gateway.name.clone() composites saved/>
            <EndUsers gateway=gateway.id gateway_name=gateway.name.clone() auth_mode=gateway.auth_mode
                access_rule=gateway.access_rule.clone() token_url providers saved/>
            <Guardrails gateway=gateway.id gateway_name=gateway.name.clone() guardrails saved/>
            <LimitsSummary gateway_name=gateway.name.clone() limits=gateway.limits.clone() people=gateway.people.clone()/>
            <div class="mt-4 rounded-lg bg-slate-50 p-3 text-sm">
                <span class="text-slate-500">"URL: "</span>
                <code class="font-mono text-slate-900" data-testid="gateway-url">{format!("{base}/v1")}</code>
                <span class="text-slate-500">" — with any of this gateway's keys as the Bearer token."</span>
            </div>
            <div class="mt-3 space-y-2">
                {snippets(&base, &model).into_iter().map(|(label, code)| view! {
                    <details class="rounded-lg border border-slate-200">
                        <summary class="cursor-pointer px-3 py-2 text-sm font-medium text-slate-700">{label}</summary>
                        <div class="flex justify-end border-t border-slate-200 px-3 py-1.5"><CopyButton text=code.clone() what="snippet"/></div>
                        <pre class="overflow-x-auto bg-slate-900 p-3 text-xs text-slate-100"><code>{code}</code></pre>
                    </details>
                }).collect_view()}
            </div>
        </article>
    }
    .erase()
}

/// The form that adds a gateway.
#[component]
fn NewGateway(create: ServerAction<CreateGateway>, names: Vec<String>) -> AnyView {
    let hydrated = use_hydrated();
    let refusal = Refusal::watch(create.value(), &["name", "strategy", "endpoints"]);
    let error_for = move |field: &'static str| move || refusal.of(field).get();
    let general = refusal.general();
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(form, create.value());
    let input = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";
    view! {
        <section class="mt-8 rounded-xl border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="new-gateway">
            <h2 id="new-gateway" class="text-base font-semibold text-slate-900">"Add a gateway"</h2>
            <ActionForm action=create node_ref=form attr:class="mt-5 grid gap-4 sm:grid-cols-2">
                <div>
                    <label for="gateway-name" class="block text-sm font-medium text-slate-700">"Name"</label>
                    <input id="gateway-name" name="name" required autocomplete="off" placeholder="production" class=input
                        aria-invalid=move || error_for("name")().is_some().to_string() aria-describedby="gateway-name-error"/>
                    <p id="gateway-name-error" class="mt-1 text-xs text-red-600" role="alert">{error_for("name")}</p>
                </div>
                <div>
                    <label for="gateway-strategy" class="block text-sm font-medium text-slate-700">"Strategy"</label>
                    <select id="gateway-strategy" name="strategy" class=input>
                        {Strategy::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{strategy_label(s)}</option> }).collect_view()}
                    </select>
                    <p class="mt-1 text-xs text-red-600" role="alert">{error_for("strategy")}</p>
                </div>
                <EndpointPicker names error=refusal.of("endpoints")/>
                <div class="sm:col-span-2">
                    <label for="gateway-description" class="block text-sm font-medium text-slate-700">"Description"</label>
                    <input id="gateway-description" name="description" autocomplete="off" class=input/>
                </div>
                <div class="sm:col-span-2 flex items-start gap-2">
                    <input id="gateway-log-payloads" name="log_payloads" type="checkbox" class="mt-1 h-4 w-4 rounded border-slate-300"/>
                    <label for="gateway-log-payloads" class="text-sm text-slate-700">"Log request and response bodies"
                        <span class="block text-xs text-slate-500">"Off by default. Metadata (model, status, tokens, timings) is always logged."</span></label>
                </div>
                <div class="sm:col-span-2 flex items-center gap-3">
                    <button type="submit" disabled=move || !hydrated.get() || create.pending().get()
                        class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/50 disabled:opacity-60">
                        {move || if create.pending().get() { "Adding…" } else { "Add gateway" }}
                    </button>
                    <p class="text-sm text-red-600" role="alert">{general}</p>
                </div>
            </ActionForm>
        </section>
    }
    .erase()
}

/// The gateways page.
#[component]
pub fn GatewaysPage() -> impl IntoView {
    let create = ServerAction::<CreateGateway>::new();
    let delete = ServerAction::<DeleteGateway>::new();
    // Saved edits (each edit form has its own action); the list reloads on each.
    let saved = RwSignal::new(0_u32);
    let listing = Resource::new(
        move || (create.version().get(), delete.version().get(), saved.get()),
        |_| list_gateways(),
    );
    // The endpoints one may pick, by name.
    let endpoints = Resource::new(
        || (),
        |_| async {
            list_endpoints()
                .await
                .map(|list| list.into_iter().map(|e| e.endpoint.name).collect::<Vec<_>>())
        },
    );
    let names = move || endpoints.get().and_then(Result::ok).unwrap_or_default();
    // Every gateway's identity providers, reloaded with the list.
    let providers = Resource::new(move || saved.get(), |_| list_identity_providers());
    // And their guardrails.
    let guardrails = Resource::new(move || saved.get(), |_| list_guardrails());
    view! {
        <Title text="Gateways"/>
        <PageHeader title="Gateways" description="Named proxies over an ordered list of endpoints, and the composite models each serves."/>
        {move || delete.value().get().and_then(|r| r.err()).map(|error| view! {
            <div role="alert" class="mb-4 rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-700">{error.to_string()}</div>
        })}
        <Suspense fallback=|| view! { <div class="h-32 animate-pulse rounded-xl bg-slate-200"></div> }>
            {move || providers.get().zip(guardrails.get()).zip(listing.get()).map(|((providers, guardrails), result)| match result {
                Ok(listing) if listing.gateways.is_empty() => view! {
                    <div class="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-600">
                        {if may_change() { "No gateways yet. Add an endpoint first, then a gateway over it below." } else { "No gateways yet." }}
                    </div>
                }.erase(),
                Ok(listing) => {
                    let base = listing.base_url.clone();
                    let providers = providers.unwrap_or_default();
                    let guardrails = guardrails.unwrap_or_default();
                    view! {
                        <div class="space-y-4">
                            {listing.gateways.into_iter().map(|gateway| {
                                let model = (listing.models.iter())
                                    .find(|(id, _)| *id == gateway.id)
                                    .map_or_else(|| "gpt-4o-mini".to_string(), |(_, model)| model.clone());
                                let composites = (listing.composites.iter())
                                    .filter(|c| c.gateway_id == gateway.id)
                                    .cloned()
                                    .collect();
                                let providers = (providers.iter())
                                    .filter(|p| p.gateway_id == gateway.id)
                                    .cloned()
                                    .collect();
                                let guardrails = (guardrails.iter())
                                    .filter(|g| g.gateway_id == gateway.id)
                                    .cloned()
                                    .collect();
                                view! { <GatewayCard gateway base=base.clone() model delete saved names=names() composites providers guardrails/> }
                            }).collect_view()}
                        </div>
                    }.erase()
                }
                Err(error) => view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not load the gateways: " {error.to_string()}</div>
                }.erase(),
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || match (may_change(), endpoints.get()) {
                (false, _) => view! { <ReadOnlyNotice/> }.erase(),
                (true, Some(Ok(names))) => view! { <NewGateway create names/> }.erase(),
                (true, Some(Err(error))) => view! { <p role="alert" class="mt-8 text-sm text-red-700">{error.to_string()}</p> }.erase(),
                (true, None) => ().erase(),
            }}
        </Suspense>
    }
}
