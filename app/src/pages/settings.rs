//! Settings: your own password; admin users and their roles; admin API tokens (the secret in
//! a show-once dialog); model prices. Every change goes through the same management calls as
//! GraphQL and is audited as the signed-in admin. Viewers see the lists and change only their
//! own password.

use crate::api::{
    list_settings, ChangePassword, CreateAdmin, CreateAdminToken, DeleteAdmin, RemovePrice, RevokeAdminToken, SetPrice,
    UpdateAdmin,
};
use crate::components::Erase;
use crate::components::{reset_on_success, use_hydrated, PageHeader, Refusal, ShowOnce, SignedIn};
use crate::types::{money, utc_time, AdminAccount, AdminRole, AdminToken, ModelPrice, SettingsListing};
use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";
const BUTTON: &str = "rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-60";
const PRIMARY: &str = "rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 disabled:opacity-60";
const DANGER: &str =
    "rounded-lg bg-red-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-red-500 disabled:opacity-60";

/// The page's row actions, shared by its tables.
#[derive(Clone, Copy)]
struct Actions {
    update_admin: ServerAction<UpdateAdmin>,
    delete_admin: ServerAction<DeleteAdmin>,
    revoke_token: ServerAction<RevokeAdminToken>,
    remove_price: ServerAction<RemovePrice>,
}

/// A labelled input with its hint and the server's refusal.
fn field(
    form: &'static str,
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    hint: &'static str,
    refusal: Refusal,
) -> impl IntoView {
    let id = format!("{form}-{name}");
    let error = refusal.of(name);
    let autocomplete = match name {
        "current_password" => "current-password",
        "new_password" | "confirm_password" | "password" => "new-password",
        "email" => "email",
        _ => "off",
    };
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium text-slate-700">{label}</label>
            <input id=id.clone() name=name type=kind autocomplete=autocomplete class=INPUT
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=format!("{id}-hint {id}-error")/>
            <p id=format!("{id}-hint") class="mt-1 text-xs text-slate-500">{hint}</p>
            <p id=format!("{id}-error") class="mt-1 text-xs text-red-600" role="alert">{move || error.get()}</p>
        </div>
    }
}

/// A role picker.
fn role_select(id: &'static str, refusal: Refusal) -> impl IntoView {
    let error = refusal.of("role");
    view! {
        <div>
            <label for=id class="block text-sm font-medium text-slate-700">"Role"</label>
            <select id=id name="role" class=INPUT aria-invalid=move || error.get().is_some().to_string()>
                <option value="viewer">"Viewer (reads only)"</option>
                <option value="admin">"Admin (reads and changes)"</option>
            </select>
            <p class="mt-1 text-xs text-red-600" role="alert">{move || error.get()}</p>
        </div>
    }
}

/// An in-place confirmation: the button, then the question with Confirm and Cancel.
fn confirmed(
    label: &'static str,
    question: String,
    confirm: Callback<()>,
    pending: Signal<bool>,
    hydrated: ReadSignal<bool>,
) -> AnyView {
    let confirming = RwSignal::new(false);
    let question = StoredValue::new(question);
    // Focus follows the question: onto Confirm when it appears, back to the button after.
    let (ask, answer) = (
        NodeRef::<leptos::html::Button>::new(),
        NodeRef::<leptos::html::Button>::new(),
    );
    Effect::new(move |was: Option<bool>| {
        let now = confirming.get();
        let target = if now { answer.get() } else { ask.get() };
        if was.is_some_and(|was| was != now) {
            if let Some(button) = target {
                let _ = button.focus();
            }
        }
        now
    });
    view! {
        <Show when=move || confirming.get() fallback=move || view! {
            <button type="button" node_ref=ask on:click=move |_| confirming.set(true) disabled=move || !hydrated.get()
                class="rounded-lg border border-red-200 bg-white px-3 py-1.5 text-xs font-medium text-red-700 hover:bg-red-50 disabled:opacity-60">{label}</button>
        }>
            <span class="flex flex-wrap items-center justify-end gap-2">
                <span class="text-xs text-slate-600">{question.get_value()}</span>
                <button type="button" node_ref=answer class=DANGER disabled=move || pending.get()
                    on:click=move |_| { confirming.set(false); confirm.run(()); }>{format!("Confirm {}", label.to_lowercase())}</button>
                <button type="button" on:click=move |_| confirming.set(false) class=BUTTON>"Cancel"</button>
            </span>
        </Show>
    }
    .erase()
}

/// One-click change of an admin (role, enabled).
fn admin_change(
    id: i64,
    change: &'static str,
    label: &'static str,
    actions: Actions,
    hydrated: ReadSignal<bool>,
) -> impl IntoView {
    view! {
        <ActionForm action=actions.update_admin>
            <input type="hidden" name="id" value=id.to_string()/>
            <input type="hidden" name="change" value=change/>
            <button type="submit" class=BUTTON disabled=move || !hydrated.get() || actions.update_admin.pending().get()>{label}</button>
        </ActionForm>
    }
}

/// A form's submit button, with the refusal that names none of its fields.
fn submit_row(
    label: &'static str,
    pending: Signal<bool>,
    hydrated: ReadSignal<bool>,
    refusal: Refusal,
) -> impl IntoView {
    view! {
        <div class="sm:col-span-3 flex items-center gap-3">
            <button type="submit" class=PRIMARY disabled=move || !hydrated.get() || pending.get()>{label}</button>
            <p class="text-sm text-red-600" role="alert">{move || refusal.general().get()}</p>
        </div>
    }
}

/// Your account: who you are, and a new password.
fn account(me: Option<crate::types::AdminUser>, hydrated: ReadSignal<bool>) -> AnyView {
    let change = ServerAction::<ChangePassword>::new();
    let refusal = Refusal::watch(
        change.value(),
        &["current_password", "new_password", "confirm_password"],
    );
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(form, change.value());
    let changed = move || matches!(change.value().get(), Some(Ok(())));
    let (email, role) = me.map(|u| (u.email, u.role.as_str())).unwrap_or_default();
    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="account">
            <h2 id="account" class="text-base font-semibold text-slate-900">"Your account"</h2>
            <p class="mt-1 text-sm text-slate-600">{email} " · " {role}</p>
            <ActionForm action=change node_ref=form attr:class="mt-4 grid gap-4 sm:grid-cols-3" attr:aria-label="Change password">
                {field("password", "current_password", "Current password", "password", "", refusal)}
                {field("password", "new_password", "New password", "password", "At least 12 characters.", refusal)}
                {field("password", "confirm_password", "New password again", "password", "", refusal)}
                <div class="sm:col-span-3 flex flex-wrap items-center gap-3">
                    <button type="submit" class=PRIMARY disabled=move || !hydrated.get() || change.pending().get()>"Change password"</button>
                    <p class="text-sm text-red-600" role="alert">{move || refusal.general().get()}</p>
                    {move || changed().then(|| view! {
                        <p class="text-sm text-emerald-700" role="status">"Password changed. Your other sessions were signed out."</p>
                    })}
                </div>
            </ActionForm>
        </section>
    }
    .erase()
}

/// The admin users table.
fn admins_table(
    admins: Vec<AdminAccount>,
    me: Option<i64>,
    writer: bool,
    actions: Actions,
    hydrated: ReadSignal<bool>,
) -> AnyView {
    view! {
        <div class="overflow-x-auto">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="admins">
                <caption class="sr-only">"Admin users"</caption>
                <thead class="text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="py-2 pr-4">"E-mail"</th>
                        <th scope="col" class="py-2 pr-4">"Role"</th>
                        <th scope="col" class="hidden py-2 pr-4 sm:table-cell">"Last sign-in (UTC)"</th>
                        <th scope="col" class="py-2"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {admins.into_iter().map(|account| {
                        let id = account.user.id.0;
                        let email = account.user.email.clone();
                        let mine = me == Some(id);
                        let role = account.user.role;
                        view! {
                            <tr data-testid=format!("admin-{email}")>
                                <td class="py-2 pr-4 font-medium text-slate-900">{email.clone()}{mine.then_some(" (you)")}</td>
                                <td class="py-2 pr-4">{role.as_str()}{account.disabled.then(|| view! {
                                    <span class="ml-2 rounded-full bg-slate-100 px-2 py-0.5 text-xs text-slate-600">"disabled"</span> })}</td>
                                <td class="hidden py-2 pr-4 text-slate-600 sm:table-cell">{account.last_login_at.map(utc_time).unwrap_or_else(|| "never".into())}</td>
                                <td class="py-2">
                                    {(writer && !mine).then(|| view! {
                                        <div class="flex flex-wrap justify-end gap-2">
                                            {match role {
                                                AdminRole::Admin => admin_change(id, "viewer", "Make viewer", actions, hydrated).erase(),
                                                AdminRole::Viewer => admin_change(id, "admin", "Make admin", actions, hydrated).erase(),
                                            }}
                                            {if account.disabled {
                                                admin_change(id, "enable", "Enable", actions, hydrated).erase()
                                            } else {
                                                admin_change(id, "disable", "Disable", actions, hydrated).erase()
                                            }}
                                            {confirmed("Delete", format!("Delete {email}? Their sessions and tokens end."),
                                                Callback::new(move |()| { actions.delete_admin.dispatch(DeleteAdmin { id }); }),
                                                actions.delete_admin.pending().into(), hydrated)}
                                        </div>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .erase()
}

/// The form that adds an admin.
fn new_admin(create: ServerAction<CreateAdmin>, hydrated: ReadSignal<bool>) -> AnyView {
    let refusal = Refusal::watch(create.value(), &["email", "password", "role"]);
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(form, create.value());
    view! {
        <ActionForm action=create node_ref=form attr:class="mt-5 grid gap-4 border-t border-slate-100 pt-5 sm:grid-cols-3" attr:aria-label="Add an admin">
            {field("admin", "email", "E-mail", "email", "", refusal)}
            {field("admin", "password", "Password", "password", "At least 12 characters; they can change it.", refusal)}
            {role_select("admin-role", refusal)}
            {submit_row("Add admin", create.pending().into(), hydrated, refusal)}
        </ActionForm>
    }
    .erase()
}

/// A token's state, for people.
fn token_state(token: &AdminToken, now: i64) -> (&'static str, &'static str) {
    if token.revoked_at.is_some() {
        ("Revoked", "bg-slate-100 text-slate-600")
    } else if token.expires_at.is_some_and(|at| at <= now) {
        ("Expired", "bg-amber-50 text-amber-700")
    } else {
        ("Active", "bg-emerald-50 text-emerald-700")
    }
}

/// The admin API tokens table.
fn tokens_table(
    tokens: Vec<AdminToken>,
    now: i64,
    writer: bool,
    actions: Actions,
    hydrated: ReadSignal<bool>,
) -> AnyView {
    if tokens.is_empty() {
        return view! { <p class="text-sm text-slate-600">"No tokens yet. Scripts and CI use one with the GraphQL API."</p> }.erase();
    }
    view! {
        <div class="overflow-x-auto">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="tokens">
                <caption class="sr-only">"Admin API tokens"</caption>
                <thead class="text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="py-2 pr-4">"Name"</th>
                        <th scope="col" class="hidden py-2 pr-4 sm:table-cell">"Token"</th>
                        <th scope="col" class="py-2 pr-4">"Role"</th>
                        <th scope="col" class="hidden py-2 pr-4 md:table-cell">"Last used (UTC)"</th>
                        <th scope="col" class="hidden py-2 pr-4 md:table-cell">"Expires (UTC)"</th>
                        <th scope="col" class="py-2 pr-4">"State"</th>
                        <th scope="col" class="py-2"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {tokens.into_iter().map(|token| {
                        let (state, class) = token_state(&token, now);
                        let live = state == "Active";
                        view! {
                            <tr data-testid=format!("token-{}", token.name)>
                                <td class="py-2 pr-4 font-medium text-slate-900">{token.name.clone()}</td>
                                <td class="hidden py-2 pr-4 font-mono text-xs text-slate-600 sm:table-cell">{format!("mgwa_{}_…", token.public_id)}</td>
                                <td class="py-2 pr-4">{token.role.as_str()}</td>
                                <td class="hidden py-2 pr-4 text-slate-600 md:table-cell">{token.last_used_at.map(utc_time).unwrap_or_else(|| "never".into())}</td>
                                <td class="hidden py-2 pr-4 text-slate-600 md:table-cell">{token.expires_at.map(utc_time).unwrap_or_else(|| "never".into())}</td>
                                <td class="py-2 pr-4"><span class=format!("rounded-full px-2 py-0.5 text-xs font-medium {class}")>{state}</span></td>
                                <td class="py-2 text-right">
                                    {(writer && live).then(|| {
                                        let id = token.id.0;
                                        confirmed("Revoke", format!("Revoke {}? It stops working at once.", token.name),
                                            Callback::new(move |()| { actions.revoke_token.dispatch(RevokeAdminToken { id }); }),
                                            actions.revoke_token.pending().into(), hydrated)
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .erase()
}

/// The form that creates a token.
fn new_token(create: ServerAction<CreateAdminToken>, hydrated: ReadSignal<bool>) -> AnyView {
    let refusal = Refusal::watch(create.value(), &["name", "role", "expires_in_days"]);
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(form, create.value());
    view! {
        <ActionForm action=create node_ref=form attr:class="mt-5 grid gap-4 border-t border-slate-100 pt-5 sm:grid-cols-3" attr:aria-label="Create a token">
            {field("token", "name", "Name", "text", "What uses it, e.g. ci-deploy.", refusal)}
            {role_select("token-role", refusal)}
            {field("token", "expires_in_days", "Expires in (days)", "text", "Optional; empty never expires.", refusal)}
            {submit_row("Create token", create.pending().into(), hydrated, refusal)}
        </ActionForm>
    }
    .erase()
}

/// The prices table.
fn prices_table(list: Vec<ModelPrice>, writer: bool, actions: Actions, hydrated: ReadSignal<bool>) -> AnyView {
    view! {
        {if list.is_empty() {
            view! { <p class="text-sm text-slate-600">"No prices: requests cost nothing until their model has one."</p> }.erase()
        } else {
            view! {
                <div class="overflow-x-auto">
                    <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="prices">
                        <caption class="sr-only">"Model prices per million tokens"</caption>
                        <thead class="text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                            <tr>
                                <th scope="col" class="py-2 pr-4">"Model"</th>
                                <th scope="col" class="py-2 pr-4 text-right">"Input / 1M"</th>
                                <th scope="col" class="py-2 pr-4 text-right">"Output / 1M"</th>
                                <th scope="col" class="py-2"><span class="sr-only">"Actions"</span></th>
                            </tr>
                        </thead>
                        <tbody class="divide-y divide-slate-100">
                            {list.into_iter().map(|price| view! {
                                <tr data-testid=format!("price-{}", price.model)>
                                    <td class="py-2 pr-4 font-medium text-slate-900">{price.model.clone()}</td>
                                    <td class="py-2 pr-4 text-right tabular-nums">{money(price.input_per_mtok_micros)}</td>
                                    <td class="py-2 pr-4 text-right tabular-nums">{money(price.output_per_mtok_micros)}</td>
                                    <td class="py-2 text-right">{writer.then(|| {
                                        let model = price.model.clone();
                                        confirmed("Remove", format!("Remove the price of {model}?"),
                                            Callback::new(move |()| { actions.remove_price.dispatch(RemovePrice { model: model.clone() }); }),
                                            actions.remove_price.pending().into(), hydrated)
                                    })}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.erase()
        }}
    }
    .erase()
}

/// The form that sets a price.
fn new_price(set: ServerAction<SetPrice>, hydrated: ReadSignal<bool>) -> AnyView {
    let refusal = Refusal::watch(set.value(), &["model", "input", "output"]);
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(form, set.value());
    view! {
        <ActionForm action=set node_ref=form attr:class="mt-5 grid gap-4 border-t border-slate-100 pt-5 sm:grid-cols-3" attr:aria-label="Set a price">
            {field("price", "model", "Model", "text", "As the endpoints name it; setting it again replaces it.", refusal)}
            {field("price", "input", "Input per 1M tokens", "text", "In your currency, e.g. 0.15.", refusal)}
            {field("price", "output", "Output per 1M tokens", "text", "e.g. 0.60.", refusal)}
            {submit_row("Set price", set.pending().into(), hydrated, refusal)}
        </ActionForm>
    }
    .erase()
}

/// A section card.
fn card(id: &'static str, title: &'static str, description: &'static str, body: AnyView) -> impl IntoView {
    view! {
        // `min-w-0`: a grid item otherwise grows to its widest table, past a phone's width.
        <section class="min-w-0 rounded-xl border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby=id>
            <h2 id=id class="text-base font-semibold text-slate-900">{title}</h2>
            <p class="mb-4 mt-1 text-sm text-slate-600">{description}</p>
            {body}
        </section>
    }
}

/// Shows each failure of a row action in `banner`, and clears it on the next success: the
/// banner says how the latest action went.
fn report<S, T, E>(answer: S, banner: RwSignal<Option<String>>)
where
    S: With<Value = Option<Result<T, E>>> + Send + Sync + 'static,
    E: std::fmt::Display,
{
    Effect::new(move |_| {
        let outcome = answer.with(|answer| match answer {
            Some(Err(error)) => Some(Some(error.to_string())),
            Some(Ok(_)) => Some(None),
            None => None,
        });
        if let Some(message) = outcome {
            banner.set(message);
        }
    });
}

/// The settings page.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let hydrated = use_hydrated();
    let me = use_context::<SignedIn>().and_then(|signed_in| signed_in.0);
    let writer = me.as_ref().is_some_and(|u| u.role == AdminRole::Admin);
    let my_id = me.as_ref().map(|u| u.id.0);
    let create_admin = ServerAction::<CreateAdmin>::new();
    let create_token = ServerAction::<CreateAdminToken>::new();
    let set_price = ServerAction::<SetPrice>::new();
    let actions = Actions {
        update_admin: ServerAction::<UpdateAdmin>::new(),
        delete_admin: ServerAction::<DeleteAdmin>::new(),
        revoke_token: ServerAction::<RevokeAdminToken>::new(),
        remove_price: ServerAction::<RemovePrice>::new(),
    };
    let listing = Resource::new(
        move || {
            (
                create_admin.version().get(),
                create_token.version().get(),
                set_price.version().get(),
                actions.update_admin.version().get(),
                actions.delete_admin.version().get(),
                actions.revoke_token.version().get(),
                actions.remove_price.version().get(),
            )
        },
        |_| list_settings(),
    );
    let banner = RwSignal::new(None::<String>);
    report(actions.update_admin.value(), banner);
    report(actions.delete_admin.value(), banner);
    report(actions.revoke_token.value(), banner);
    report(actions.remove_price.value(), banner);
    let shown = Signal::derive(move || match create_token.value().get() {
        Some(Ok(created)) => Some((format!("Token {} — copy it now", created.token.name), created.secret)),
        _ => None,
    });
    // Each table reloads in place (the old rows stay until the new ones arrive); the forms
    // stay outside, so a refused form keeps what was typed.
    let table = move |draw: fn(SettingsListing, Option<i64>, bool, Actions, ReadSignal<bool>) -> AnyView| {
        view! {
            <Transition fallback=|| view! { <div class="h-16 animate-pulse rounded-lg bg-slate-100"></div> }>
                {move || listing.get().map(|result| match result {
                    Ok(listing) => draw(listing, my_id, writer, actions, hydrated),
                    Err(error) => view! { <p role="alert" class="text-sm text-red-700">"Could not load: " {error.to_string()}</p> }.erase(),
                })}
            </Transition>
        }
        .erase()
    };
    view! {
        <Title text="Settings"/>
        <PageHeader title="Settings" description="Your password, admin users, API tokens and prices."/>
        {(!writer).then(|| view! {
            <p class="mb-4 rounded-lg border border-slate-200 bg-slate-50 p-3 text-sm text-slate-700" role="status">"You are a viewer: you can read these settings and change your own password."</p>
        })}
        {move || banner.get().map(|error| view! {
            <div role="alert" class="mb-4 rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-700">{error}</div>
        })}
        <ShowOnce label="Token" hint="if it is lost, revoke it and create another" shown on_done=Callback::new(move |()| create_token.value().set(None))/>
        {account(me.clone(), hydrated)}
        <div class="mt-6 grid gap-6">
            {card("admins", "Admin users", "Who can sign in to this console and the management API.", view! {
                {table(|l, me, writer, actions, hydrated| admins_table(l.admins, me, writer, actions, hydrated))}
                {writer.then(|| new_admin(create_admin, hydrated))}
            }.erase())}
            {card("tokens", "Admin API tokens", "For scripts and automation: send one as a Bearer token to /graphql. It acts as you, with at most your role.", view! {
                {table(|l, _, writer, actions, hydrated| tokens_table(l.tokens, l.read_at, writer, actions, hydrated))}
                {writer.then(|| new_token(create_token, hydrated))}
            }.erase())}
            {card("prices", "Prices", "What a million tokens cost per model, in one currency; usage, budgets and the dashboard's cost use them.", view! {
                {table(|l, _, writer, actions, hydrated| prices_table(l.prices, writer, actions, hydrated))}
                {writer.then(|| new_price(set_price, hydrated))}
            }.erase())}
        </div>
    }
}
