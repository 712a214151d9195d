//! Inference endpoints: the list with live health, a form to add one or edit one (errors shown
//! next to the field the server refused; the Azure fields only for Azure; the provider's own
//! base URL as the placeholder), "Test connection", and delete with confirmation.
//!
//! Invariant: the credential field is write-only: never filled from the server, never shown.

use crate::api::{list_endpoints, CreateEndpoint, DeleteEndpoint, TestEndpoint, UpdateEndpoint};
use crate::components::Erase;
use crate::components::{
    focus_when_shown, may_change, reset_on_success, use_hydrated, PageHeader, ReadOnlyNotice, Refusal,
};
use crate::types::{
    ConsoleError, EndpointHealth, EndpointId, EndpointListing, EndpointProbe, InferenceEndpoint, ProviderKind,
};
use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;

/// The CSS classes of a health badge.
fn health_class(health: EndpointHealth) -> &'static str {
    match health {
        EndpointHealth::Healthy => "bg-emerald-50 text-emerald-700 ring-emerald-600/20",
        EndpointHealth::CoolingDown => "bg-amber-50 text-amber-700 ring-amber-600/20",
        EndpointHealth::Failing | EndpointHealth::CircuitOpen | EndpointHealth::Misconfigured => {
            "bg-red-50 text-red-700 ring-red-600/20"
        }
        EndpointHealth::Untested | EndpointHealth::Unknown => "bg-slate-100 text-slate-600 ring-slate-500/20",
    }
}

/// One labelled text input, with the server's complaint about it underneath.
#[component]
fn Field(
    name: &'static str,
    #[prop(into)] label: Signal<&'static str>,
    #[prop(optional)] kind: &'static str,
    #[prop(optional, into)] placeholder: Signal<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(optional, into)] hint: Signal<&'static str>,
    /// The value it starts with (editing).
    #[prop(optional, into)]
    value: String,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("endpoint-{name}");
    let error_id = format!("{id}-error");
    let kind = if kind.is_empty() { "text" } else { kind };
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium text-slate-700">{move || label.get()}</label>
            <input id=id name=name type=kind placeholder=move || placeholder.get() required=required value=value
                autocomplete=if kind == "password" { "new-password" } else { "off" }
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=error_id.clone()
                class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30"/>
            {move || {
                let hint = hint.get();
                (!hint.is_empty()).then(|| view! { <p class="mt-1 text-xs text-slate-500">{hint}</p> })
            }}
            <p id=error_id class="mt-1 text-xs text-red-600" role="alert">{move || error.get()}</p>
        </div>
    }
}

/// The fields a form refuses by name.
const FIELDS: &[&str] = &[
    "name",
    "provider",
    "base_url",
    "api_key",
    "model",
    "deployment",
    "api_version",
    "project",
    "region",
    "rpm_limit",
    "tpm_limit",
];

/// The fields after the provider: model, base URL (the provider's own as placeholder), the
/// write-only key, region, and the Azure fields (hidden for other providers, still posted).
fn provider_fields(provider: Signal<ProviderKind>, current: Option<&InferenceEndpoint>, refusal: Refusal) -> AnyView {
    let error_for = move |field: &'static str| refusal.of(field);
    let value = |pick: fn(&InferenceEndpoint) -> Option<String>| current.and_then(pick).unwrap_or_default();
    let base_placeholder = Signal::derive(move || {
        provider
            .get()
            .spec()
            .default_base_url
            .unwrap_or("https://your-server.example/v1")
    });
    let azure = move || provider.get().spec().needs_deployment;
    let cloud = move || provider.get().spec().needs_project;
    let aws = move || provider.get().spec().aws_service.is_some();
    let key_label = Signal::derive(move || match (cloud(), aws()) {
        (true, _) => "Service account key (JSON)",
        (false, true) => "AWS access key",
        (false, false) => "API key",
    });
    let region_placeholder = Signal::derive(move || match (cloud(), aws()) {
        (true, _) => "global",
        (false, true) => "us-east-1",
        (false, false) => "eu-west",
    });
    let stored = current.is_some_and(|e| e.has_credential);
    let key_hint = Signal::derive(move || match (stored, aws()) {
        (true, _) => {
            "Write-only. Leave empty to keep the stored key (it is needed again if the base URL moves to another host)."
        }
        (false, true) => {
            "Write-only: ACCESS_KEY_ID:SECRET_ACCESS_KEY, optionally :SESSION_TOKEN. Empty: the gateway host's \
             AWS credentials (its environment, ~/.aws/credentials, its container's or instance's role)."
        }
        (false, false) => "Write-only.",
    });
    view! {
        <Field name="model" label="Model" placeholder="gpt-4o-mini" required=true value=value(|e| Some(e.model.clone())) error=error_for("model")/>
        <Field name="base_url" label="Base URL" kind="url" placeholder=base_placeholder value=value(|e| Some(e.base_url.clone()))
            hint="Empty: the provider's own." error=error_for("base_url")/>
        <Field name="api_key" label=key_label kind="password" hint=key_hint error=error_for("api_key")/>
        <Field name="region" label="Region" placeholder=region_placeholder value=value(|e| e.region.clone()) error=error_for("region")/>
        <div class=move || if cloud() { "contents" } else { "hidden" } data-testid="project-fields">
            <Field name="project" label="Google Cloud project" placeholder="the service account's" value=value(|e| e.project.clone()) error=error_for("project")/>
        </div>
        <div class=move || if azure() { "contents" } else { "hidden" } data-testid="azure-fields">
            <Field name="deployment" label="Azure deployment" value=value(|e| e.deployment.clone()) error=error_for("deployment")/>
            <Field name="api_version" label="Azure api-version" placeholder="2024-10-21" value=value(|e| e.api_version.clone()) error=error_for("api_version")/>
        </div>
    }
    .erase()
}

/// What the form says about defaults: the providers whose base URL may be left empty.
fn defaults_note() -> String {
    let labels: Vec<&str> = (ProviderKind::ALL.into_iter())
        .filter(|kind| kind.spec().default_base_url.is_some())
        .map(|kind| kind.spec().label)
        .collect();
    format!(
        "The base URL defaults to the provider's own ({}). The API key is stored encrypted and never shown again.",
        labels.join(", ")
    )
}

/// The form that adds an endpoint.
#[component]
fn NewEndpoint(create: ServerAction<CreateEndpoint>) -> AnyView {
    let hydrated = use_hydrated();
    let refusal = Refusal::watch(create.value(), FIELDS);
    let error_for = move |field: &'static str| refusal.of(field);
    let general = refusal.general();
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(form, create.value());
    let provider = RwSignal::new(ProviderKind::OpenAi);
    // The reset form shows the first provider again: its fields must follow.
    Effect::new(move |_| {
        if create.value().with(|answer| matches!(answer, Some(Ok(_)))) {
            provider.set(ProviderKind::OpenAi);
        }
    });
    view! {
        <section class="mt-8 rounded-xl border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="new-endpoint">
            <h2 id="new-endpoint" class="text-base font-semibold text-slate-900">"Add an endpoint"</h2>
            <p class="mt-1 text-sm text-slate-500">{defaults_note()}</p>
            <ActionForm action=create node_ref=form attr:class="mt-5 grid gap-4 sm:grid-cols-2">
                <Field name="name" label="Name" placeholder="openai-primary" required=true error=error_for("name")/>
                <div>
                    <label for="endpoint-provider" class="block text-sm font-medium text-slate-700">"Provider"</label>
                    <select id="endpoint-provider" name="provider"
                        on:change=move |ev| provider.set(ProviderKind::parse(&event_target_value(&ev)).unwrap_or(ProviderKind::OpenAi))
                        class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30">
                        {ProviderKind::ALL.into_iter().map(|kind| view! {
                            <option value=kind.as_str()>{kind.spec().label}</option>
                        }).collect_view()}
                    </select>
                    <p class="mt-1 text-xs text-red-600" role="alert">{move || error_for("provider").get()}</p>
                </div>
                {provider_fields(provider.into(), None, refusal)}
                <div class="sm:col-span-2 flex items-center gap-3">
                    <button type="submit" disabled=move || !hydrated.get() || create.pending().get()
                        class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/50 disabled:opacity-60">
                        {move || if create.pending().get() { "Adding…" } else { "Add endpoint" }}
                    </button>
                    <p class="text-sm text-red-600" role="alert">{move || general.get()}</p>
                </div>
            </ActionForm>
        </section>
    }
    .erase()
}

/// The form that edits an endpoint (its provider stays; a blank key keeps the stored one).
#[component]
fn EditEndpoint(
    update: ServerAction<UpdateEndpoint>,
    endpoint: InferenceEndpoint,
    editing: RwSignal<Option<EndpointId>>,
) -> AnyView {
    let hydrated = use_hydrated();
    let refusal = Refusal::watch(update.value(), FIELDS);
    let error_for = move |field: &'static str| refusal.of(field);
    let general = refusal.general();
    let provider = endpoint.provider;
    let title = format!("Edit {}", endpoint.name);
    let section = NodeRef::<leptos::html::Section>::new();
    // Bring the form into view, its first field focused, when it opens.
    Effect::new(move |_| {
        if let Some(section) = section.get() {
            section.scroll_into_view();
            if let Ok(Some(name)) = section.query_selector("#endpoint-name") {
                if let Ok(name) = leptos::wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::HtmlElement>(name) {
                    let _ = name.focus();
                }
            }
        }
    });
    view! {
        <section node_ref=section class="mt-8 rounded-xl border border-indigo-200 bg-white p-6 shadow-sm" aria-labelledby="edit-endpoint">
            <h2 id="edit-endpoint" class="text-base font-semibold text-slate-900">{title}</h2>
            <p class="mt-1 text-sm text-slate-500">{format!("Provider: {}. Every gateway that routes to it uses the change at once.", provider.spec().label)}</p>
            <ActionForm action=update attr:class="mt-5 grid gap-4 sm:grid-cols-2" attr:aria-label="Edit endpoint">
                <input type="hidden" name="id" value=endpoint.id.0.to_string()/>
                <Field name="name" label="Name" required=true value=endpoint.name.clone() error=error_for("name")/>
                <div></div>
                {provider_fields(Signal::stored(provider), Some(&endpoint), refusal)}
                <Field name="rpm_limit" label="Requests per minute" kind="number" value=endpoint.rpm_limit.map(|n| n.to_string()).unwrap_or_default()
                    hint="The provider's limit for this endpoint; the gateway sends no more. Empty: none." error=error_for("rpm_limit")/>
                <Field name="tpm_limit" label="Tokens per minute" kind="number" value=endpoint.tpm_limit.map(|n| n.to_string()).unwrap_or_default()
                    hint="As above, in tokens. Empty: none." error=error_for("tpm_limit")/>
                <label class="flex items-center gap-2 text-sm text-slate-700 sm:col-span-2">
                    <input type="checkbox" name="enabled" value="true" checked=endpoint.enabled class="h-4 w-4 rounded border-slate-300"/>
                    "Enabled (gateways route to it)"
                </label>
                <div class="sm:col-span-2 flex items-center gap-3">
                    <button type="submit" disabled=move || !hydrated.get() || update.pending().get()
                        class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 disabled:opacity-60">
                        {move || if update.pending().get() { "Saving…" } else { "Save changes" }}
                    </button>
                    <button type="button" on:click=move |_| editing.set(None)
                        class="rounded-lg border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50">"Cancel"</button>
                    <p class="text-sm text-red-600" role="alert">{move || general.get()}</p>
                </div>
            </ActionForm>
        </section>
    }
    .erase()
}

/// What a connection test found, as a short line.
fn probe_line(result: &Result<EndpointProbe, ConsoleError>) -> (bool, String) {
    match result {
        Ok(EndpointProbe {
            error: None,
            status,
            latency_ms,
            ..
        }) => (true, format!("OK · {} · {latency_ms} ms", status.unwrap_or(200))),
        Ok(EndpointProbe {
            error: Some(error),
            latency_ms,
            ..
        }) => (false, format!("Failed · {error} · {latency_ms} ms")),
        Err(error) => (false, format!("Failed · {error}")),
    }
}

/// One endpoint's row: its figures, "Test connection" and delete with confirmation.
#[component]
fn EndpointRow(
    listing: EndpointListing,
    delete: ServerAction<DeleteEndpoint>,
    editing: RwSignal<Option<EndpointId>>,
) -> AnyView {
    let hydrated = use_hydrated();
    let may_change = may_change();
    let endpoint = listing.endpoint;
    let id = endpoint.id.0;
    let question = StoredValue::new(format!("Delete {}?", endpoint.name));
    let test = ServerAction::<TestEndpoint>::new();
    let confirming = RwSignal::new(false);
    let confirm = NodeRef::<leptos::html::Button>::new();
    focus_when_shown(confirm);
    let base = endpoint.base_url.clone();
    let endpoint_id = endpoint.id;
    // The listing's health, until a test here says what it is now.
    let listed = listing.health;
    let health = move || match test.value().get() {
        Some(Ok(probe)) => probe.health,
        Some(Err(_)) | None => listed,
    };
    view! {
        <tr class="align-top" data-testid=format!("endpoint-{}", endpoint.name)>
            <td class="px-4 py-3 font-medium text-slate-900">{endpoint.name.clone()}
                <div class="text-xs font-normal text-slate-500 sm:hidden">{endpoint.provider.as_str()} " · " {endpoint.model.clone()}</div>
            </td>
            <td class="hidden px-4 py-3 text-slate-600 sm:table-cell">{endpoint.provider.as_str()}</td>
            <td class="hidden px-4 py-3 text-slate-600 sm:table-cell">{endpoint.model.clone()}</td>
            <td class="hidden max-w-xs truncate px-4 py-3 text-slate-600 lg:table-cell" title=base.clone()>{base.clone()}</td>
            <td class="px-4 py-3">
                <span data-testid="health" class=move || format!("inline-flex items-center rounded-md px-2 py-1 text-xs font-medium ring-1 ring-inset {}", health_class(health()))>
                    {move || health().label()}
                </span>
                {(!endpoint.has_credential).then(|| view! { <div class="mt-1 text-xs text-slate-500">"No API key"</div> })}
            </td>
            <td class="px-4 py-3">
                <Show when=move || may_change>
                <div class="flex flex-wrap items-center justify-end gap-2">
                    <ActionForm action=test>
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" disabled=move || !hydrated.get() || test.pending().get()
                            class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50 focus:outline-none focus:ring-2 focus:ring-indigo-500/50">
                            {move || if test.pending().get() { "Testing…" } else { "Test connection" }}
                        </button>
                    </ActionForm>
                    <button type="button" on:click=move |_| editing.set(Some(endpoint_id)) disabled=move || !hydrated.get()
                        class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-60">"Edit"</button>
                    <Show when=move || confirming.get() fallback=move || view! {
                        <button type="button" on:click=move |_| confirming.set(true)
                            class="rounded-lg border border-red-200 bg-white px-3 py-1.5 text-xs font-medium text-red-700 hover:bg-red-50 focus:outline-none focus:ring-2 focus:ring-red-500/50">
                            "Delete"
                        </button>
                    }>
                        <ActionForm action=delete attr:class="flex items-center gap-2">
                            <input type="hidden" name="id" value=id/>
                            <span class="text-xs text-slate-600">{question.get_value()}</span>
                            <button type="submit" node_ref=confirm class="rounded-lg bg-red-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-red-500 focus:outline-none focus:ring-2 focus:ring-red-500/50">
                                "Confirm delete"
                            </button>
                            <button type="button" on:click=move |_| confirming.set(false)
                                class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50">
                                "Cancel"
                            </button>
                        </ActionForm>
                    </Show>
                </div>
                </Show>
                {move || test.value().get().map(|result| {
                    let (ok, line) = probe_line(&result);
                    let class = if ok { "mt-2 text-right text-xs text-emerald-700" } else { "mt-2 text-right text-xs text-red-700" };
                    view! { <p class=class role="status" data-testid="probe">{line}</p> }
                })}
            </td>
        </tr>
    }
    // Erased: the row's nested type is too deep for the WASM build's type layout.
    .erase()
}

/// The endpoints page.
#[component]
pub fn EndpointsPage() -> impl IntoView {
    let create = ServerAction::<CreateEndpoint>::new();
    let update = ServerAction::<UpdateEndpoint>::new();
    let delete = ServerAction::<DeleteEndpoint>::new();
    let editing = RwSignal::new(None::<EndpointId>);
    // A saved edit closes the form.
    Effect::new(move |_| {
        if matches!(update.value().get(), Some(Ok(_))) {
            editing.set(None);
        }
    });
    let endpoints = Resource::new(
        move || (create.version().get(), update.version().get(), delete.version().get()),
        |_| list_endpoints(),
    );
    // The endpoint being edited as the list last read it: opened before the list is read again
    // after a save, the form shows what was saved as soon as it arrives. Gone, the form closes.
    let edited = Memo::new(move |_| {
        let id = editing.get()?;
        let list = endpoints.get()?.ok()?;
        list.into_iter()
            .map(|listing| listing.endpoint)
            .find(|endpoint| endpoint.id == id)
    });
    view! {
        <Title text="Endpoints"/>
        <PageHeader title="Endpoints" description="The upstream providers your gateways route to."/>
        {move || delete.value().get().and_then(|r| r.err()).map(|error| view! {
            <div role="alert" class="mb-4 rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-700">{error.to_string()}</div>
        })}
        <Suspense fallback=|| view! { <div class="h-32 animate-pulse rounded-xl bg-slate-200"></div> }>
            {move || endpoints.get().map(|result| match result {
                Ok(list) if list.is_empty() => view! {
                    <div class="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-600">
                        {if may_change() { "No endpoints yet. Add the first one below." } else { "No endpoints yet." }}
                    </div>
                }.erase(),
                Ok(list) => view! {
                    <div class="overflow-hidden rounded-xl border border-slate-200 bg-white shadow-sm">
                        <table class="min-w-full divide-y divide-slate-200 text-sm">
                            <caption class="sr-only">"Inference endpoints"</caption>
                            <thead class="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                                <tr>
                                    <th scope="col" class="px-4 py-3">"Name"</th>
                                    <th scope="col" class="hidden px-4 py-3 sm:table-cell">"Provider"</th>
                                    <th scope="col" class="hidden px-4 py-3 sm:table-cell">"Model"</th>
                                    <th scope="col" class="hidden px-4 py-3 lg:table-cell">"Base URL"</th>
                                    <th scope="col" class="px-4 py-3">"Health"</th>
                                    <th scope="col" class="px-4 py-3 text-right">"Actions"</th>
                                </tr>
                            </thead>
                            <tbody class="divide-y divide-slate-100">
                                {list.into_iter().map(|listing| view! { <EndpointRow listing delete editing/> }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.erase(),
                Err(error) => view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not load the endpoints: " {error.to_string()}</div>
                }.erase(),
            })}
        </Suspense>
        {move || match edited.get() {
            _ if !may_change() => view! { <ReadOnlyNotice/> }.erase(),
            Some(endpoint) => view! { <EditEndpoint update endpoint editing/> }.erase(),
            None => view! { <NewEndpoint create/> }.erase(),
        }}
    }
}
