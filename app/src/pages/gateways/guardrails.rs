//! A gateway's guardrails (issue #24), on its card: what it looks for in requests and answers
//! and what it does — each with its detector, action and direction, removed with confirmation
//! — a form that adds one, and a "try it" box that shows what a text becomes. Every change is
//! one management operation; a refusal shows under the field it names.

use crate::api::{AddGuardrail, RemoveGuardrail, TryGuardrails};
use crate::components::{count_successes, focus_when_shown, may_change, use_hydrated, Erase, Refusal, SaveBar};
use crate::types::{GatewayId, GuardAction, GuardDirection, Guardrail};
use leptos::{form::ActionForm, prelude::*};

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";
const BUTTON: &str = "rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-60";

/// The form's fields: a refusal naming one shows under it.
const FIELDS: &[&str] = &["detector", "action", "direction", "logs_only", "fail_closed"];

/// The detectors the form offers: (kind, label).
const DETECTORS: [(&str, &str); 10] = [
    ("email", "E-mail addresses"),
    ("phone", "Phone numbers"),
    ("card", "Payment cards (Luhn-checked)"),
    ("iban", "IBANs (checksum)"),
    ("ssn", "US social security numbers"),
    ("ip", "IP addresses"),
    ("secret", "Secrets (provider and cloud keys, GitHub tokens, JWTs)"),
    ("regex", "A regular expression"),
    ("words", "Words or phrases"),
    ("moderation", "What a moderation endpoint flags"),
];

/// What an action does, in words.
fn action_text(action: GuardAction) -> &'static str {
    match action {
        GuardAction::Redact => "Redact",
        GuardAction::Restore => "Redact, and restore in the answer",
        GuardAction::Block => "Block",
        GuardAction::Flag => "Flag",
    }
}

/// What a guardrail reads, in words.
fn direction_text(direction: GuardDirection, logs_only: bool) -> String {
    let read = match direction {
        GuardDirection::Request => "requests",
        GuardDirection::Response => "answers",
        GuardDirection::Both => "requests and answers",
    };
    if logs_only {
        format!("{read}, in the log only")
    } else {
        read.to_string()
    }
}

/// A refusal's message under its field.
fn error(refusal: Refusal, field: &'static str) -> impl IntoView {
    view! { <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of(field).get()}</p> }
}

/// One guardrail, with Remove.
#[component]
fn GuardrailItem(guardrail: Guardrail, saved: RwSignal<u32>) -> AnyView {
    let may_change = may_change();
    let confirming = RwSignal::new(false);
    let remove = ServerAction::<RemoveGuardrail>::new();
    count_successes(remove.value(), saved);
    let confirm = NodeRef::<leptos::html::Button>::new();
    focus_when_shown(confirm);
    let refused = move || remove.value().get().and_then(Result::err).map(|e| e.message);
    let detector = guardrail.detector.to_string();
    view! {
        <li class="flex flex-wrap items-start justify-between gap-3 py-2" data-testid="guardrail">
            <div class="min-w-0 text-sm">
                <code class="break-all font-mono text-xs text-slate-900">{detector}</code>
                <span class="ml-2 text-slate-700">{action_text(guardrail.action)}</span>
                <span class="ml-1 text-slate-500">{format!("— {}", direction_text(guardrail.direction, guardrail.logs_only))}</span>
                {guardrail.fail_closed.then(|| view! { <span class="ml-1 text-slate-500">"(refuses requests while the endpoint cannot answer)"</span> })}
                <p class="mt-1 text-xs text-red-600" role="alert">{refused}</p>
            </div>
            <Show when=move || may_change>
                <Show when=move || confirming.get() fallback=move || view! {
                    <button type="button" on:click=move |_| confirming.set(true)
                        class="rounded-lg border border-red-200 bg-white px-3 py-1.5 text-xs font-medium text-red-700 hover:bg-red-50">"Remove"</button>
                }>
                    <ActionForm action=remove attr:class="flex flex-wrap items-center gap-2">
                        <input type="hidden" name="id" value=guardrail.id.0/>
                        <span class="text-xs text-slate-600">"Remove this guardrail?"</span>
                        <button type="submit" node_ref=confirm class="rounded-lg bg-red-600 px-3 py-1.5 text-xs font-medium text-white hover:bg-red-500">"Confirm remove"</button>
                        <button type="button" class=BUTTON on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </ActionForm>
                </Show>
            </Show>
        </li>
    }
    .erase()
}

/// The form that adds a guardrail to a gateway.
#[component]
fn NewGuardrailForm(gateway: GatewayId, gateway_name: String, saved: RwSignal<u32>, adding: RwSignal<bool>) -> AnyView {
    let create = ServerAction::<AddGuardrail>::new();
    count_successes(create.value(), saved);
    let refusal = Refusal::watch(create.value(), FIELDS);
    let kind = RwSignal::new(DETECTORS[0].0.to_string());
    let id = move |field: &str| format!("new-guardrail-{}-{field}", gateway.0);
    let label = format!("Add a guardrail to {gateway_name}");
    let (detector_id, pattern_id, action_id, direction_id, logs_id, closed_id) = (
        id("detector"),
        id("pattern"),
        id("action"),
        id("direction"),
        id("logs_only"),
        id("fail_closed"),
    );
    let pattern = move || {
        let (name, placeholder, hint) = match kind.get().as_str() {
            "regex" => (
                "Pattern",
                r"PRJ-\d{4}",
                "No look-around or back-references: patterns run in linear time.",
            ),
            "words" => ("Words", "falcon, blue moon", "Comma-separated; whole words, any case."),
            "moderation" => (
                "Endpoint",
                "omni-moderation",
                "An OpenAI or OpenAI-compatible endpoint's name: each request's text is sent to its /moderations before the provider sees it. Block or flag what it flags.",
            ),
            _ => return ().erase(),
        };
        view! {
            <div>
                <label for=pattern_id.clone() class="block text-sm font-medium text-slate-700">{name}</label>
                <input id=pattern_id.clone() name="pattern" autocomplete="off" spellcheck="false" placeholder=placeholder
                    class=format!("{INPUT} font-mono")/>
                <p class="mt-1 text-xs text-slate-500">{hint}</p>
            </div>
        }
        .erase()
    };
    view! {
        <ActionForm action=create attr:class="mt-3 grid gap-4 rounded-lg border border-slate-200 bg-slate-50 p-4 sm:grid-cols-2" attr:aria-label=label>
            <input type="hidden" name="gateway_id" value=gateway.0/>
            <div>
                <label for=detector_id.clone() class="block text-sm font-medium text-slate-700">"Look for"</label>
                <select id=detector_id name="detector" class=INPUT on:change=move |ev| kind.set(event_target_value(&ev))
                    aria-invalid=move || refusal.of("detector").get().is_some().to_string()>
                    {DETECTORS.into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                </select>
                {error(refusal, "detector")}
            </div>
            {pattern}
            <div>
                <label for=action_id.clone() class="block text-sm font-medium text-slate-700">"Action"</label>
                <select id=action_id name="action" class=INPUT>
                    {GuardAction::ALL.into_iter().map(|action| view! { <option value=action.as_str()>{action_text(action)}</option> }).collect_view()}
                </select>
                {error(refusal, "action")}
            </div>
            <div>
                <label for=direction_id.clone() class="block text-sm font-medium text-slate-700">"Reads"</label>
                <select id=direction_id name="direction" class=INPUT aria-invalid=move || refusal.of("direction").get().is_some().to_string()>
                    <option value="">"Requests and answers (requests for restore and moderation)"</option>
                    {GuardDirection::ALL.into_iter().map(|direction| view! {
                        <option value=direction.as_str()>{direction_text(direction, false)}</option>
                    }).collect_view()}
                </select>
                {error(refusal, "direction")}
            </div>
            <div class="sm:col-span-2">
                <label for=logs_id.clone() class="flex items-center gap-2 text-sm text-slate-700">
                    <input id=logs_id.clone() name="logs_only" type="checkbox" class="h-4 w-4 rounded border-slate-300"/>
                    "Only in the request log (the provider and the client see the text as it was; redact only)"
                </label>
                {error(refusal, "logs_only")}
            </div>
            <Show when=move || kind.get() == "moderation">
                <div class="sm:col-span-2">
                    <label for=closed_id.clone() class="flex items-center gap-2 text-sm text-slate-700">
                        <input id=closed_id.clone() name="fail_closed" type="checkbox" class="h-4 w-4 rounded border-slate-300"/>
                        "Fail closed: refuse requests while the moderation endpoint cannot answer (otherwise they pass unmoderated)"
                    </label>
                    {error(refusal, "fail_closed")}
                </div>
            </Show>
            <SaveBar pending=create.pending().into() editing=adding general=refusal.general()/>
        </ActionForm>
    }
    .erase()
}

/// "Try it": what a text becomes when a request of the gateway sends it.
#[component]
fn TryIt(gateway: GatewayId) -> AnyView {
    let trial = ServerAction::<TryGuardrails>::new();
    let text_id = format!("try-guardrails-{}", gateway.0);
    let answer = move || {
        trial.value().get().map(|answer| match answer {
            Ok(trial) => match trial.blocked_by {
                Some(detector) => view! {
                    <p class="text-sm text-red-700" data-testid="guard-trial">{format!("Blocked by the {detector} guardrail.")}</p>
                }
                .erase(),
                None => view! {
                    <div data-testid="guard-trial">
                        <pre class="whitespace-pre-wrap break-words rounded-lg bg-white p-2 font-mono text-xs text-slate-900">{trial.text}</pre>
                        <p class="mt-1 text-xs text-slate-500">{if trial.findings.is_empty() {
                            "Nothing found.".to_string()
                        } else {
                            format!("Found: {}", trial.findings.join(", "))
                        }}</p>
                    </div>
                }
                .erase(),
            },
            Err(error) => view! { <p class="text-sm text-red-700" role="alert">{error.message}</p> }.erase(),
        })
    };
    view! {
        <ActionForm action=trial attr:class="mt-3 space-y-2 rounded-lg border border-slate-200 p-3" attr:aria-label="Try the guardrails">
            <input type="hidden" name="gateway_id" value=gateway.0/>
            <label for=text_id.clone() class="block text-sm font-medium text-slate-700">"Try it: a text as a request would send it"</label>
            <textarea id=text_id name="text" rows="2" class=INPUT placeholder="Mail ada@example.com about card 4111 1111 1111 1111"></textarea>
            <button type="submit" class=BUTTON disabled=move || trial.pending().get()>"Try"</button>
            {answer}
        </ActionForm>
    }
    .erase()
}

/// A gateway's guardrails, the "try it" box, and (for admins) the form that adds one.
#[component]
pub fn Guardrails(
    gateway: GatewayId,
    gateway_name: String,
    guardrails: Vec<Guardrail>,
    saved: RwSignal<u32>,
) -> AnyView {
    let may_change = may_change();
    let hydrated = use_hydrated();
    let adding = RwSignal::new(false);
    let empty = guardrails.is_empty();
    let gateway_name = StoredValue::new(gateway_name);
    view! {
        <section class="mt-4" aria-label=format!("Guardrails of {}", gateway_name.get_value())>
            <div class="flex flex-wrap items-center justify-between gap-2">
                <h3 class="text-xs font-medium uppercase tracking-wide text-slate-500">"Guardrails"</h3>
                <Show when=move || may_change>
                    <button type="button" class=BUTTON disabled=move || !hydrated.get() on:click=move |_| adding.update(|open| *open = !*open)>
                        "Add a guardrail"
                    </button>
                </Show>
            </div>
            {empty.then(|| view! {
                <p class="mt-2 text-sm text-slate-500">"None: requests and answers pass as they are."</p>
            })}
            <ul class="divide-y divide-slate-100" aria-label=format!("Guardrails of {}", gateway_name.get_value())>
                {guardrails.into_iter().map(|guardrail| view! { <GuardrailItem guardrail saved/> }).collect_view()}
            </ul>
            <Show when=move || adding.get()>
                <NewGuardrailForm gateway gateway_name=gateway_name.get_value() saved adding/>
            </Show>
            {(!empty).then(|| view! { <TryIt gateway/> })}
        </section>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Detector;

    #[test]
    fn every_detector_kind_is_offered_and_guardrails_read_in_words() {
        for detector in Detector::BUILT_IN {
            assert!(DETECTORS.iter().any(|(kind, _)| *kind == detector.kind()), "{detector}");
        }
        for kind in ["regex", "words", "moderation"] {
            assert!(DETECTORS.iter().any(|(offered, _)| *offered == kind), "{kind}");
        }
        assert_eq!(
            direction_text(GuardDirection::Both, true),
            "requests and answers, in the log only"
        );
        assert_eq!(action_text(GuardAction::Restore), "Redact, and restore in the answer");
    }
}
