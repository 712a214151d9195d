//! A gateway's end users (issue #23), on its card: how clients get in (keys, end users'
//! tokens, both) and the access rule every request must pass, the identity providers whose
//! tokens it accepts — each with its issuer, audiences, algorithms, key source, clock skew and
//! required claims, removed with confirmation — and a form that adds one. Every change is one
//! management operation; a refusal shows under the field it names.

use super::rule::ways_in_label;
use crate::api::{AddIdentityProvider, RemoveIdentityProvider};
use crate::components::{count_successes, focus_when_shown, may_change, use_hydrated, Erase, Refusal, SaveBar};
use crate::types::{AuthMode, GatewayId, IdentityProvider, JwtAlgorithm, KeySource, DEFAULT_LEEWAY_S};
use leptos::{form::ActionForm, prelude::*};

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";
const BUTTON: &str = "rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-60";

/// The provider form's fields: a refusal naming one shows under it.
const FIELDS: &[&str] = &[
    "issuer",
    "audiences",
    "algorithms",
    "key_source",
    "jwks_url",
    "key",
    "secret_env",
    "leeway_s",
    "required_claims",
];

/// The key sources the form offers: (value, label).
const SOURCES: [(&str, &str); 4] = [
    ("jwks_url", "A JWKS URL"),
    ("discovery", "OpenID discovery from the issuer"),
    ("pem", "A PEM public key"),
    ("secret_env", "An HS256 secret in an environment variable"),
];

const JWKS_EXAMPLE: &str = "https://id.example.com/.well-known/jwks.json";
const JWKS_HINT: &str = "Fetched, cached, and fetched again when a token names a key id it does not hold.";
const SECRET_HINT: &str = "The server's variable holding the shared secret; only its name is stored.";
const DISCOVERY_HINT: &str = "The key set that {issuer}/.well-known/openid-configuration names.";

/// Where a provider's keys come from, in words.
fn keys_text(keys: &KeySource) -> String {
    match keys {
        KeySource::JwksUrl { url } => format!("JWKS at {url}"),
        KeySource::Discovery => "OpenID discovery from the issuer".into(),
        KeySource::Pem { .. } => "A PEM public key".into(),
        KeySource::SecretEnv { var } => format!("HS256 secret from ${var}"),
    }
}

/// A list for people: comma-separated, or a dash when empty.
fn listed(items: &[String]) -> String {
    if items.is_empty() {
        "—".into()
    } else {
        items.join(", ")
    }
}

/// The algorithms ticked, as the form posts them: comma-separated, in the form's order.
fn ticked_in_order(ticked: &[JwtAlgorithm]) -> String {
    (JwtAlgorithm::ALL.into_iter())
        .filter(|alg| ticked.contains(alg))
        .map(JwtAlgorithm::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// A refusal's message under its field.
fn error(refusal: Refusal, field: &'static str) -> impl IntoView {
    view! { <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of(field).get()}</p> }
}

/// One identity provider, with Remove.
#[component]
fn ProviderItem(provider: IdentityProvider, saved: RwSignal<u32>) -> AnyView {
    let may_change = may_change();
    let confirming = RwSignal::new(false);
    let remove = ServerAction::<RemoveIdentityProvider>::new();
    count_successes(remove.value(), saved);
    let confirm = NodeRef::<leptos::html::Button>::new();
    focus_when_shown(confirm);
    let refused = move || remove.value().get().and_then(Result::err).map(|e| e.message);
    let question = StoredValue::new(format!("Remove {}? Its tokens are refused at once.", provider.issuer));
    let algorithms = (provider.algorithms.iter().map(|alg| alg.as_str().to_string())).collect::<Vec<_>>();
    let detail = |term: &'static str, value: String| {
        view! {
            <div class="min-w-0"><dt class="text-xs text-slate-500">{term}</dt><dd class="break-words text-slate-900">{value}</dd></div>
        }
    };
    view! {
        <li class="py-3" data-testid="identity-provider">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <p class="min-w-0 break-all text-sm font-medium text-slate-900">{provider.issuer.clone()}</p>
                <Show when=move || may_change>
                    <Show when=move || confirming.get() fallback=move || view! {
                        <button type="button" on:click=move |_| confirming.set(true)
                            class="rounded-lg border border-red-200 bg-white px-3 py-1.5 text-xs font-medium text-red-700 hover:bg-red-50">"Remove"</button>
                    }>
                        <ActionForm action=remove attr:class="flex flex-wrap items-center gap-2">
                            <input type="hidden" name="id" value=provider.id.0/>
                            <span class="text-xs text-slate-600">{question.get_value()}</span>
                            <button type="submit" node_ref=confirm class="rounded-lg bg-red-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-red-500">"Confirm remove"</button>
                            <button type="button" class=BUTTON on:click=move |_| confirming.set(false)>"Cancel"</button>
                        </ActionForm>
                    </Show>
                </Show>
            </div>
            <dl class="mt-1 grid gap-2 text-sm sm:grid-cols-3">
                {detail("Audiences", listed(&provider.audiences))}
                {detail("Algorithms", listed(&algorithms))}
                {detail("Keys", keys_text(&provider.keys))}
                {detail("Clock skew", format!("{} s", provider.leeway_s))}
                {detail("Required claims", listed(&provider.required_claims))}
            </dl>
            <p class="mt-1 text-xs text-red-600" role="alert">{refused}</p>
        </li>
    }
    .erase()
}

/// The form that adds an identity provider to a gateway.
#[component]
fn NewProvider(gateway: GatewayId, gateway_name: String, saved: RwSignal<u32>, adding: RwSignal<bool>) -> AnyView {
    let create = ServerAction::<AddIdentityProvider>::new();
    count_successes(create.value(), saved);
    let refusal = Refusal::watch(create.value(), FIELDS);
    let source = RwSignal::new(SOURCES[0].0.to_string());
    let algorithms = RwSignal::new(Vec::<JwtAlgorithm>::new());
    let toggle = move |alg: JwtAlgorithm, on: bool| {
        algorithms.update(|ticked| {
            ticked.retain(|a| *a != alg);
            if on {
                ticked.push(alg);
            }
        })
    };
    // Ids unique per gateway: several cards' forms may be open at once.
    let id = move |field: &str| format!("new-identity-{}-{field}", gateway.0);
    let label = format!("Add an identity provider to {gateway_name}");
    let text = move |field: &'static str, label: &'static str, placeholder: &'static str, hint: &'static str| {
        let id = id(field);
        view! {
            <div>
                <label for=id.clone() class="block text-sm font-medium text-slate-700">{label}</label>
                <input id=id name=field autocomplete="off" placeholder=placeholder class=INPUT
                    aria-invalid=move || refusal.of(field).get().is_some().to_string()/>
                <p class="mt-1 text-xs text-slate-500">{hint}</p>
                {error(refusal, field)}
            </div>
        }
    };
    let (source_id, key_id, leeway_id) = (id("key_source"), id("key"), id("leeway_s"));
    let pem = move || {
        view! {
            <div class="sm:col-span-2">
                <label for=key_id.clone() class="block text-sm font-medium text-slate-700">"Public key (PEM)"</label>
                <textarea id=key_id.clone() name="key" rows="5" spellcheck="false" class=format!("{INPUT} font-mono")
                    placeholder="-----BEGIN PUBLIC KEY-----" aria-invalid=move || refusal.of("key").get().is_some().to_string()></textarea>
                <p class="mt-1 text-xs text-slate-500">"RSA, EC P-256 or Ed25519; the public half only."</p>
                {error(refusal, "key")}
            </div>
        }
    };
    // The one field the key source picked reads.
    let key_field = move || match source.get().as_str() {
        "jwks_url" => text("jwks_url", "JWKS URL", JWKS_EXAMPLE, JWKS_HINT).erase(),
        "pem" => pem().erase(),
        "secret_env" => text("secret_env", "Environment variable", "MGW_JWT_SECRET", SECRET_HINT).erase(),
        _ => view! { <p class="self-end text-xs text-slate-500">{DISCOVERY_HINT}</p> }.erase(),
    };
    view! {
        <ActionForm action=create attr:class="mt-3 grid gap-4 rounded-lg border border-slate-200 bg-slate-50 p-4 sm:grid-cols-2" attr:aria-label=label>
            <input type="hidden" name="gateway_id" value=gateway.0/>
            {text("issuer", "Issuer", "https://id.example.com", "The iss its tokens carry, exactly.")}
            {text("audiences", "Audiences", "my-gateway", "Comma-separated: a token must name one of them in aud.")}
            <div>
                <label for=source_id.clone() class="block text-sm font-medium text-slate-700">"Keys"</label>
                <select id=source_id name="key_source" class=INPUT on:change=move |ev| source.set(event_target_value(&ev))>
                    {SOURCES.into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                </select>
                {error(refusal, "key_source")}
            </div>
            {key_field}
            <fieldset class="sm:col-span-2">
                <legend class="block text-sm font-medium text-slate-700">"Algorithms"</legend>
                <input type="hidden" name="algorithms" prop:value=move || algorithms.with(|ticked| ticked_in_order(ticked))/>
                <div class="mt-1 flex flex-wrap gap-4">
                    {JwtAlgorithm::ALL.into_iter().map(|alg| view! {
                        <label class="flex items-center gap-2 text-sm text-slate-700">
                            <input type="checkbox" class="h-4 w-4 rounded border-slate-300"
                                on:change=move |ev| toggle(alg, event_target_checked(&ev))/>
                            {alg.as_str()}
                        </label>
                    }).collect_view()}
                </div>
                <p class="mt-1 text-xs text-slate-500">"None ticked: RS256, or HS256 with a secret. Any other algorithm is refused."</p>
                {error(refusal, "algorithms")}
            </fieldset>
            <div>
                <label for=leeway_id.clone() class="block text-sm font-medium text-slate-700">"Clock skew (seconds)"</label>
                <input id=leeway_id name="leeway_s" inputmode="numeric" autocomplete="off" value=DEFAULT_LEEWAY_S.to_string() class=INPUT
                    aria-invalid=move || refusal.of("leeway_s").get().is_some().to_string()/>
                <p class="mt-1 text-xs text-slate-500">"Allowed on exp and nbf."</p>
                {error(refusal, "leeway_s")}
            </div>
            {text("required_claims", "Required claims", "email, groups", "Comma-separated, besides sub, exp, iss and aud.")}
            <SaveBar pending=create.pending().into() editing=adding general=refusal.general()/>
        </ActionForm>
    }
    .erase()
}

/// A gateway's end users: its ways in, its access rule, its identity providers, and (for
/// admins) the form that adds one.
#[component]
pub fn EndUsers(
    gateway: GatewayId,
    gateway_name: String,
    auth_mode: AuthMode,
    access_rule: Option<String>,
    /// The URL its end users' tokens alone reach it at.
    token_url: String,
    providers: Vec<IdentityProvider>,
    saved: RwSignal<u32>,
) -> AnyView {
    let may_change = may_change();
    let hydrated = use_hydrated();
    let adding = RwSignal::new(false);
    let empty = providers.is_empty();
    let gateway_name = StoredValue::new(gateway_name);
    view! {
        <section class="mt-4" aria-label=format!("End users of {}", gateway_name.get_value())>
            <div class="flex flex-wrap items-center justify-between gap-2">
                <h3 class="text-xs font-medium uppercase tracking-wide text-slate-500">"End users"</h3>
                <Show when=move || may_change>
                    <button type="button" class=BUTTON disabled=move || !hydrated.get() on:click=move |_| adding.update(|open| *open = !*open)>
                        "Add an identity provider"
                    </button>
                </Show>
            </div>
            <dl class="mt-1 grid gap-2 text-sm sm:grid-cols-2">
                <div><dt class="text-xs text-slate-500">"Ways in"</dt><dd class="text-slate-900" data-testid="ways-in">{ways_in_label(auth_mode)}</dd></div>
                <div class="min-w-0"><dt class="text-xs text-slate-500">"Access rule"</dt>
                    <dd class="text-slate-900" data-testid="access-rule">{match access_rule {
                        Some(rule) => view! { <code class="break-all font-mono text-xs">{rule}</code> }.erase(),
                        None => "None: every authenticated request passes".erase(),
                    }}</dd></div>
                {auth_mode.takes_tokens().then(|| view! {
                    <div class="min-w-0 sm:col-span-2"><dt class="text-xs text-slate-500">"Tokens alone, at"</dt>
                        <dd><code class="break-all font-mono text-xs text-slate-900">{token_url}</code></dd></div>
                })}
            </dl>
            {empty.then(|| view! {
                <p class="mt-2 text-sm text-slate-500">"No identity providers: no end user's token is accepted."</p>
            })}
            <ul class="divide-y divide-slate-100" aria-label=format!("Identity providers of {}", gateway_name.get_value())>
                {providers.into_iter().map(|provider| view! { <ProviderItem provider saved/> }).collect_view()}
            </ul>
            <Show when=move || adding.get()>
                <NewProvider gateway gateway_name=gateway_name.get_value() saved adding/>
            </Show>
        </section>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_algorithms_ticked_are_posted_in_the_forms_order() {
        assert_eq!(
            ticked_in_order(&[JwtAlgorithm::EdDSA, JwtAlgorithm::RS256]),
            "RS256,EdDSA"
        );
        assert_eq!(ticked_in_order(&[]), "", "none ticked: the key source's usual one");
    }

    #[test]
    fn a_provider_reads_with_its_key_source_and_lists_or_a_dash() {
        let url = KeySource::JwksUrl {
            url: "https://id.example.com/jwks".into(),
        };
        assert_eq!(keys_text(&url), "JWKS at https://id.example.com/jwks");
        let secret = KeySource::SecretEnv { var: "JWT".into() };
        assert_eq!(keys_text(&secret), "HS256 secret from $JWT");
        assert_eq!(listed(&[]), "—");
        assert_eq!(listed(&["a".into(), "b".into()]), "a, b");
    }
}
