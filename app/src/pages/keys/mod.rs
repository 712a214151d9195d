//! Gateway keys: each gateway's keys as a tree, with usage bars against their limits; create
//! (parent, limits, expiry, allowed models) with a show-once dialog and a copy button; edit in
//! place (name, limits, models, expiry, enabled); reset,
//! rotate (the new secret shown once), revoke (its descendants go too, and the page says so).
//!
//! Invariant: a secret is on the page only inside the show-once dialog, until it is closed.

mod usage;

use crate::api::{list_gateways, list_keys, CreateKey, ResetKey, RevokeKey, RotateKey, UpdateKey};
use crate::components::Erase;
use crate::components::{
    count_successes, focus_when_shown, may_change, reset_on_success, use_hydrated, PageHeader, ReadOnlyNotice, Refusal,
    SaveBar, ShowOnce,
};
use crate::types::{utc_time, ConsoleError, GatewayId, GatewayKey, KeyListing, KeyStatus, Limit, ShownOnce};
use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;

/// The actions a key row offers, shared by every row.
#[derive(Clone, Copy)]
struct KeyActions {
    revoke: ServerAction<RevokeKey>,
    reset: ServerAction<ResetKey>,
    rotate: ServerAction<RotateKey>,
    /// Saved edits (each edit form has its own action); the list reloads on each.
    saved: RwSignal<u32>,
    /// Every key's usage, refreshed on its own.
    usage: usage::UsageResource,
}

/// A key, its bars and actions, and its children below it.
#[component]
fn KeyNode(listing: KeyListing, family: StoredValue<Vec<KeyListing>>, actions: KeyActions, depth: usize) -> AnyView {
    let key = listing.key.clone();
    let may_change = may_change();
    let public_id = key.public_id.clone();
    let children: Vec<KeyListing> = family.with_value(|all| {
        all.iter()
            .filter(|k| k.key.parent_id == Some(key.id))
            .cloned()
            .collect()
    });
    let descendants = family.with_value(|all| {
        let mut count = 0;
        let mut frontier = vec![key.id];
        while let Some(id) = frontier.pop() {
            for k in all
                .iter()
                .filter(|k| k.key.parent_id == Some(id) && k.key.revoked_at.is_none())
            {
                count += 1;
                frontier.push(k.key.id);
            }
        }
        count
    });
    let status = listing.status;
    let badge = match status {
        KeyStatus::Revoked | KeyStatus::Expired => "bg-red-50 text-red-700 ring-red-600/20",
        KeyStatus::Rotating => "bg-amber-50 text-amber-700 ring-amber-600/20",
        KeyStatus::Disabled => "bg-slate-100 text-slate-600 ring-slate-500/20",
        KeyStatus::Active => "bg-emerald-50 text-emerald-700 ring-emerald-600/20",
    };
    // Revoked and expired keys can do nothing more; a rotated-out one can only be revoked.
    let live = matches!(status, KeyStatus::Active | KeyStatus::Disabled);
    let revocable = live || status == KeyStatus::Rotating;
    let hydrated = use_hydrated();
    let rotating = RwSignal::new(false);
    let rotate_question = StoredValue::new(format!(
        "Rotate {}? You get a new key; the old one keeps working for an hour, then stops.",
        key.name
    ));
    let confirming = RwSignal::new(false);
    let (confirm_rotate, confirm_revoke) = (NodeRef::new(), NodeRef::new());
    focus_when_shown(confirm_rotate);
    focus_when_shown(confirm_revoke);
    let editing = RwSignal::new(false);
    let edited = StoredValue::new(key.clone());
    let warning = StoredValue::new(if descendants > 0 {
        format!(
            "Revoke {}? Its {descendants} descendant key(s) are revoked too.",
            key.name
        )
    } else {
        format!("Revoke {}?", key.name)
    });
    let id = StoredValue::new(public_id.clone());
    let button = "rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50 focus:outline-none focus:ring-2 focus:ring-indigo-500/50";
    view! {
        <li class="py-3" style=format!("padding-left: {}rem", depth as f32 * 1.5) data-testid=format!("key-{}", key.name)>
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <div class="font-medium text-slate-900">{key.name.clone()}
                        <span class=format!("ml-2 inline-flex items-center rounded-md px-2 py-0.5 text-xs font-medium ring-1 ring-inset {badge}")>{status.label()}</span>
                    </div>
                    <div class="text-xs text-slate-500">"ID "
                        <code class="text-slate-700" data-testid="public-id">{key.public_id.clone()}</code>
                        " · " <code>{key.masked.clone()}</code></div>
                    {key.allowed_models.clone().map(|models| view! { <div class="text-xs text-slate-500">"Models: " {models.join(", ")}</div> })}
                    {(status == KeyStatus::Rotating).then_some(key.grace_until).flatten().map(|until| view! {
                        <div class="text-xs text-amber-700" data-testid="rotation-ends">{format!("Replaced by a rotation: stops working at {} UTC", utc_time(until))}</div>
                    })}
                    <usage::KeyUsageView id=key.id usage=actions.usage/>
                </div>
                {(revocable && may_change).then(|| view! {
                    <div class="flex flex-wrap items-center gap-2">
                        {live.then(|| view! {
                            <button type="button" class=button disabled=move || !hydrated.get()
                                on:click=move |_| editing.update(|open| *open = !*open)>"Edit"</button>
                            <ActionForm action=actions.reset>
                                <input type="hidden" name="public_id" value=id.get_value()/>
                                <button type="submit" class=button disabled=move || !hydrated.get()>"Reset usage"</button>
                            </ActionForm>
                            <Show when=move || rotating.get() fallback=move || view! {
                                <button type="button" class=button on:click=move |_| rotating.set(true)>"Rotate"</button>
                            }>
                                <ActionForm action=actions.rotate attr:class="flex flex-wrap items-center gap-2">
                                    <input type="hidden" name="public_id" value=id.get_value()/>
                                    <span class="text-xs text-slate-600">{rotate_question.get_value()}</span>
                                    <button type="submit" node_ref=confirm_rotate class="rounded-lg bg-indigo-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-indigo-500 disabled:opacity-60"
                                        disabled=move || !hydrated.get() || actions.rotate.pending().get()>"Confirm rotate"</button>
                                    <button type="button" on:click=move |_| rotating.set(false) class=button>"Cancel"</button>
                                </ActionForm>
                            </Show>
                        })}
                        <Show when=move || confirming.get() fallback=move || view! {
                            <button type="button" on:click=move |_| confirming.set(true)
                                class="rounded-lg border border-red-200 bg-white px-3 py-1.5 text-xs font-medium text-red-700 hover:bg-red-50">"Revoke"</button>
                        }>
                            <ActionForm action=actions.revoke attr:class="flex flex-wrap items-center gap-2">
                                <input type="hidden" name="public_id" value=id.get_value()/>
                                <span class="text-xs text-slate-600">{warning.get_value()}</span>
                                <button type="submit" node_ref=confirm_revoke class="rounded-lg bg-red-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-red-500 disabled:opacity-60"
                                    disabled=move || !hydrated.get() || actions.revoke.pending().get()>"Confirm revoke"</button>
                                <button type="button" on:click=move |_| confirming.set(false) class=button>"Cancel"</button>
                            </ActionForm>
                        </Show>
                    </div>
                })}
            </div>
            <Show when=move || editing.get()>
                <EditKey key=edited.get_value() saved=actions.saved editing/>
            </Show>
            {(!children.is_empty()).then(|| view! {
                <ul class="divide-y divide-slate-100">
                    {children.into_iter().map(|child| view! { <KeyNode listing=child family actions depth=depth + 1/> }).collect_view()}
                </ul>
            })}
        </li>
    }
    .erase()
}

/// A key's edit form, in place under it: name, limits, models, expiry and whether it is
/// enabled. The list reloads once it is saved.
#[component]
fn EditKey(key: GatewayKey, saved: RwSignal<u32>, editing: RwSignal<bool>) -> AnyView {
    // Its own action: a refusal shows under this form's fields, not another key's.
    let update = ServerAction::<UpdateKey>::new();
    count_successes(update.value(), saved);
    let refusal = Refusal::watch(
        update.value(),
        &[
            "name",
            "allowed_models",
            "expires_in_days",
            "limits",
            "enabled",
            "may_assert_users",
        ],
    );
    let general = refusal.general();
    let input = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";
    let limits = key.limits.iter().map(Limit::spelled).collect::<Vec<_>>().join(", ");
    let models = key.allowed_models.clone().unwrap_or_default().join(", ");
    let (label, name, public_id) = (format!("Edit {}", key.name), key.name.clone(), key.public_id.clone());
    let expiry = match key.expires_at {
        Some(at) => format!(
            "Now {} UTC. Empty keeps it; never removes it; a number of days sets it from today.",
            utc_time(at)
        ),
        None => "It never expires. Empty keeps that; a number of days sets an expiry from today.".to_string(),
    };
    // Ids unique per key: several edit forms may be open at once.
    let key_id = key.id.0;
    let field = move |name: &'static str, label: &'static str, value: String, hint: String| {
        let id = format!("edit-key-{key_id}-{name}");
        view! {
            <div>
                <label for=id.clone() class="block text-sm font-medium text-slate-700">{label}</label>
                <input id=id name=name value=value autocomplete="off" class=input/>
                <p class="mt-1 text-xs text-slate-500">{hint}</p>
                <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of(name).get()}</p>
            </div>
        }
    };
    view! {
        <ActionForm action=update attr:class="mt-3 grid gap-4 rounded-lg border border-slate-200 bg-slate-50 p-4 sm:grid-cols-2" attr:aria-label=label>
            <input type="hidden" name="public_id" value=public_id/>
            {field("name", "Name", name, String::new())}
            {field("limits", "Limits", limits, "Comma-separated, as when created; empty removes them all.".into())}
            {field("allowed_models", "Allowed models", models, "Empty allows every model of its gateway.".into())}
            {field("expires_in_days", "Expires in (days)", String::new(), expiry)}
            <label class="flex items-center gap-2 text-sm text-slate-700">
                <input type="checkbox" name="enabled" checked=key.enabled class="h-4 w-4 rounded border-slate-300"/>
                "Enabled"
            </label>
            <label class="flex items-center gap-2 text-sm text-slate-700">
                <input type="checkbox" name="may_assert_users" checked=key.may_assert_users class="h-4 w-4 rounded border-slate-300"/>
                "May assert end users without their tokens (x-mgw-user)"
            </label>
            <SaveBar pending=update.pending().into() editing general/>
        </ActionForm>
    }
    .erase()
}

/// The form that creates a key.
#[component]
fn NewKey(
    create: ServerAction<CreateKey>,
    gateways: Vec<(GatewayId, String)>,
    keys: Resource<Result<Vec<KeyListing>, ConsoleError>>,
) -> AnyView {
    let hydrated = use_hydrated();
    // The parent picker offers the chosen gateway's keys that still work.
    let first = gateways.first().map(|(id, _)| *id);
    let gateway = RwSignal::new(first);
    // A created key resets the form, its gateway too.
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            gateway.set(first);
        }
    });
    let parents = move || {
        let keys = keys.get().and_then(Result::ok).unwrap_or_default();
        (keys.into_iter())
            .filter(|k| Some(k.key.gateway_id) == gateway.get())
            .filter(|k| matches!(k.status, KeyStatus::Active | KeyStatus::Disabled | KeyStatus::Rotating))
            .map(|k| {
                let label = format!("{} ({})", k.key.name, k.key.public_id);
                view! { <option value=k.key.public_id>{label}</option> }
            })
            .collect_view()
    };
    let refusal = Refusal::watch(
        create.value(),
        &[
            "gateway_id",
            "name",
            "parent",
            "allowed_models",
            "expires_in_days",
            "limits",
        ],
    );
    let error_for = move |field: &'static str| move || refusal.of(field).get();
    let general = refusal.general();
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(form, create.value());
    let input = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";
    let field = move |name: &'static str, label: &'static str, placeholder: &'static str, hint: &'static str| {
        let id = format!("key-{name}");
        view! {
            <div>
                <label for=id.clone() class="block text-sm font-medium text-slate-700">{label}</label>
                <input id=id name=name autocomplete="off" placeholder=placeholder class=input
                    aria-invalid=move || error_for(name)().is_some().to_string()/>
                <p class="mt-1 text-xs text-slate-500">{hint}</p>
                <p id=format!("key-{name}-error") class="mt-1 text-xs text-red-600" role="alert">{error_for(name)}</p>
            </div>
        }
    };
    view! {
        <section class="mt-8 rounded-xl border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="new-key">
            <h2 id="new-key" class="text-base font-semibold text-slate-900">"Create a key"</h2>
            <ActionForm action=create node_ref=form attr:class="mt-5 grid gap-4 sm:grid-cols-2">
                <div>
                    <label for="key-gateway" class="block text-sm font-medium text-slate-700">"Gateway"</label>
                    <select id="key-gateway" name="gateway_id" class=input
                        on:change=move |ev| gateway.set(event_target_value(&ev).parse().ok().map(GatewayId))>
                        {gateways.into_iter().map(|(id, name)| view! { <option value=id.0.to_string()>{name}</option> }).collect_view()}
                    </select>
                    <p class="mt-1 text-xs text-red-600" role="alert">{error_for("gateway_id")}</p>
                </div>
                {field("name", "Name", "billing-service", "")}
                <div>
                    <label for="key-parent" class="block text-sm font-medium text-slate-700">"Parent key"</label>
                    <select id="key-parent" name="parent" class=input aria-invalid=move || error_for("parent")().is_some().to_string()>
                        <option value="">"None: a key of its own"</option>
                        {parents}
                    </select>
                    <p class="mt-1 text-xs text-slate-500">"Optional. The new key's limits cannot exceed its parent's; revoking the parent revokes it."</p>
                    <p id="key-parent-error" class="mt-1 text-xs text-red-600" role="alert">{error_for("parent")}</p>
                </div>
                {field("limits", "Limits", "requests/minute=100, tokens/day=1000000", "Optional, comma-separated: requests, tokens or cost per minute/hour/day/month/total, or concurrency=N.")}
                {field("allowed_models", "Allowed models", "gpt-4o-mini, claude-3-5-haiku", "Optional; empty allows every model of the gateway.")}
                {field("expires_in_days", "Expires in (days)", "30", "Optional; empty never expires.")}
                <label class="sm:col-span-2 flex items-center gap-2 text-sm text-slate-700">
                    <input type="checkbox" name="may_assert_users" class="h-4 w-4 rounded border-slate-300"/>
                    "May assert end users without their tokens: a server-side app sends x-mgw-user (or the body’s user)"
                </label>
                <div class="sm:col-span-2 flex items-center gap-3">
                    <button type="submit" disabled=move || !hydrated.get() || create.pending().get()
                        class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 disabled:opacity-60">
                        {move || if create.pending().get() { "Creating…" } else { "Create key" }}
                    </button>
                    <p class="text-sm text-red-600" role="alert">{general}</p>
                </div>
            </ActionForm>
        </section>
    }
    .erase()
}

/// The keys page.
#[component]
pub fn KeysPage() -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let (revoke, reset) = (ServerAction::<RevokeKey>::new(), ServerAction::<ResetKey>::new());
    let actions = KeyActions {
        saved: RwSignal::new(0),
        revoke,
        reset,
        rotate: ServerAction::<RotateKey>::new(),
        // A reset or revocation shows at once; new traffic within the refresh.
        usage: usage::refreshed(move || (reset.version().get(), revoke.version().get(), create.version().get())),
    };
    let shown = RwSignal::new(None::<ShownOnce>);
    let show_revoked = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(once)) = create.value().get() {
            shown.set(Some(once));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(once)) = actions.rotate.value().get() {
            shown.set(Some(once));
        }
    });
    let keys = Resource::new(
        move || {
            (
                create.version().get(),
                actions.saved.get(),
                actions.revoke.version().get(),
                actions.reset.version().get(),
                actions.rotate.version().get(),
            )
        },
        |_| list_keys(),
    );
    let gateways = Resource::new(|| (), |_| list_gateways());
    let failure = move || {
        let revoke = actions.revoke.value().get().and_then(|r| r.err());
        let reset = actions.reset.value().get().and_then(|r| r.err());
        let rotate = actions.rotate.value().get().and_then(|r| r.err());
        revoke.or(reset).or(rotate).map(|e| e.to_string())
    };
    view! {
        <Title text="Keys"/>
        <PageHeader title="Keys" description="The credentials applications send, in a tree with limits."/>
        {move || failure().map(|error| view! {
            <div role="alert" class="mb-4 rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-700">{error}</div>
        })}
        // Done forgets the secret everywhere it was held: the dialog and the actions' answers.
        <ShowOnce label="Key" hint="if it is lost, rotate the key"
            shown=Signal::derive(move || shown.get().map(|once| (format!("Key {} — copy it now", once.key.name), once.secret)))
            on_done=Callback::new(move |()| {
                shown.set(None);
                create.value().set(None);
                actions.rotate.value().set(None);
            })/>
        <Suspense fallback=|| view! { <div class="h-32 animate-pulse rounded-xl bg-slate-200"></div> }>
            {move || keys.get().map(|result| match result {
                Ok(list) if list.is_empty() => view! {
                    <div class="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-600">
                        {if may_change() { "No keys yet. Create one below for an application to call a gateway with." } else { "No keys yet." }}
                    </div>
                }.erase(),
                Ok(list) => {
                    // Revoked keys can do nothing more: out of the way unless asked for.
                    let revoked = list.iter().filter(|k| k.status == KeyStatus::Revoked).count();
                    let list: Vec<KeyListing> = (list.into_iter())
                        .filter(|k| show_revoked.get() || k.status != KeyStatus::Revoked)
                        .collect();
                    let toggle = (revoked > 0).then(|| view! {
                        <label class="mb-3 flex items-center gap-2 text-sm text-slate-700">
                            <input type="checkbox" prop:checked=move || show_revoked.get()
                                on:change=move |ev| show_revoked.set(event_target_checked(&ev)) class="h-4 w-4 rounded border-slate-300"/>
                            {format!("Show revoked keys ({revoked})")}
                        </label>
                    });
                    let mut names: Vec<String> = list.iter().map(|k| k.gateway.clone()).collect();
                    names.sort();
                    names.dedup();
                    let family = StoredValue::new(list);
                    view! {
                        {toggle}
                        <div class="space-y-4">
                            {names.into_iter().map(|gateway| {
                                let roots: Vec<KeyListing> = family.with_value(|all| {
                                    all.iter().filter(|k| k.gateway == gateway && k.key.parent_id.is_none()).cloned().collect()
                                });
                                view! {
                                    <section class="rounded-xl border border-slate-200 bg-white px-5 py-2 shadow-sm" aria-label=format!("Keys of {gateway}")>
                                        <h2 class="pt-3 text-sm font-semibold text-slate-900">{format!("Gateway {gateway}")}</h2>
                                        <ul class="divide-y divide-slate-100">
                                            {roots.into_iter().map(|listing| view! { <KeyNode listing family actions depth=0/> }).collect_view()}
                                        </ul>
                                    </section>
                                }
                            }).collect_view()}
                        </div>
                    }.erase()
                }
                Err(error) => view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not load the keys: " {error.to_string()}</div>
                }.erase(),
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || gateways.get().map(|result| match result {
                Ok(_) if !may_change() => view! { <ReadOnlyNotice/> }.erase(),
                Ok(listing) if listing.gateways.is_empty() => view! {
                    <p class="mt-8 text-sm text-slate-600">"Create a gateway first; keys belong to a gateway."</p>
                }.erase(),
                Ok(listing) => view! { <NewKey create keys gateways=listing.gateways.into_iter().map(|g| (g.id, g.name)).collect()/> }.erase(),
                Err(error) => view! { <p role="alert" class="mt-8 text-sm text-red-700">{error.to_string()}</p> }.erase(),
            })}
        </Suspense>
    }
}
