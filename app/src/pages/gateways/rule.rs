//! A gateway's ways in and access rule, in its edit form (issue #23): the ways in picked, the
//! CEL rule the form posts as `access`, and beside the rule a box that tries it, as typed,
//! against a token's claims and a model — without saving anything.

use crate::components::{use_hydrated, Refusal};
use crate::types::AuthMode;
use crate::{api::TestAccessRule, types::RuleVerdict};
use leptos::prelude::*;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";

/// How a way in is described in the form and on the card.
pub fn ways_in_label(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::Key => "Gateway keys only",
        AuthMode::Jwt => "End users' tokens only",
        AuthMode::Both => "Gateway keys or end users' tokens",
    }
}

/// What a tried rule made of the request, in words.
fn verdict_text(verdict: &RuleVerdict) -> String {
    match (verdict.allowed, &verdict.error) {
        (true, _) => "Allowed".into(),
        (false, None) => "Denied".into(),
        (false, Some(error)) => format!("Denied: the rule could not be evaluated ({error})"),
    }
}

/// The ways-in picker, posted as `auth_mode`. Ids start with `prefix`.
#[component]
pub fn WaysIn(prefix: String, current: AuthMode) -> impl IntoView {
    let id = format!("{prefix}-auth_mode");
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium text-slate-700">"Ways in"</label>
            <select id=id name="auth_mode" class=INPUT>
                {AuthMode::ALL.into_iter().map(|mode| view! {
                    <option value=mode.as_str() selected=mode == current>{ways_in_label(mode)}</option>
                }).collect_view()}
            </select>
            <p class="mt-1 text-xs text-slate-500">"End users' tokens are JWTs from this gateway's identity providers, sent alone to /g/<gateway>/v1/… or with a key as x-mgw-user-token."</p>
        </div>
    }
}

/// The access rule, posted as `access` (empty removes it), with the box that tries it. `error`
/// is the form's refusal of the rule; `gateway` the gateway's name (the rule's `gateway.name`).
#[component]
pub fn AccessRuleField(
    prefix: String,
    gateway: String,
    initial: String,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let hydrated = use_hydrated();
    let rule = RwSignal::new(initial);
    let claims = RwSignal::new(String::new());
    let model = RwSignal::new(String::new());
    let test = ServerAction::<TestAccessRule>::new();
    let refusal = Refusal::watch(test.value(), &["claims"]);
    let gateway = StoredValue::new(gateway);
    let run = move |_| {
        test.dispatch(TestAccessRule {
            gateway: gateway.get_value(),
            access: rule.get_untracked(),
            claims: claims.get_untracked(),
            model: model.get_untracked(),
        });
    };
    let verdict = move || test.value().get().and_then(Result::ok);
    let (rule_id, claims_id, model_id) = (
        format!("{prefix}-access"),
        format!("{prefix}-claims"),
        format!("{prefix}-model"),
    );
    let hint_id = format!("{rule_id}-hint");
    view! {
        <div class="grid gap-4 sm:col-span-2 sm:grid-cols-2">
            <div class="min-w-0">
                <label for=rule_id.clone() class="block text-sm font-medium text-slate-700">"Access rule"</label>
                <textarea id=rule_id name="access" rows="5" spellcheck="false" class=format!("{INPUT} font-mono")
                    placeholder="'llm' in user.groups" aria-describedby=hint_id.clone()
                    aria-invalid=move || error.get().is_some().to_string()
                    on:input=move |ev| rule.set(event_target_value(&ev))>{rule.get_untracked()}</textarea>
                <p id=hint_id class="mt-1 text-xs text-slate-500">
                    "A CEL expression every request must make true, over "<code>"user"</code>" (the token's claims), "
                    <code>"request"</code>" (model, path, stream, max_tokens, prompt), "<code>"gateway.name"</code>" and "
                    <code>"now"</code>". Empty: no rule."
                </p>
                <p class="mt-1 text-xs text-red-600" role="alert">{move || error.get()}</p>
            </div>
            <fieldset class="min-w-0 rounded-lg border border-slate-200 bg-white p-3">
                <legend class="px-1 text-sm font-medium text-slate-700">"Test this rule against these claims"</legend>
                <div>
                    <label for=claims_id.clone() class="block text-xs font-medium text-slate-700">"Claims (JSON)"</label>
                    <textarea id=claims_id rows="3" spellcheck="false" class=format!("{INPUT} font-mono")
                        placeholder="{\"sub\": \"ada\", \"groups\": [\"llm\"]}"
                        aria-invalid=move || refusal.of("claims").get().is_some().to_string()
                        on:input=move |ev| claims.set(event_target_value(&ev))></textarea>
                    <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of("claims").get()}</p>
                </div>
                <div class="mt-2">
                    <label for=model_id.clone() class="block text-xs font-medium text-slate-700">"Model asked for"</label>
                    <input id=model_id autocomplete="off" placeholder="none" class=INPUT
                        on:input=move |ev| model.set(event_target_value(&ev))/>
                </div>
                <div class="mt-3 flex flex-wrap items-center gap-3">
                    <button type="button" on:click=run disabled=move || !hydrated.get() || test.pending().get()
                        class="rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-60">
                        {move || if test.pending().get() { "Testing…" } else { "Test" }}
                    </button>
                    <p role="status" data-testid="rule-verdict"
                        class=move || match verdict() {
                            Some(RuleVerdict { allowed: true, .. }) => "text-sm font-medium text-emerald-700",
                            Some(_) => "text-sm font-medium text-red-700",
                            None => "text-sm",
                        }>
                        {move || verdict().map(|verdict| verdict_text(&verdict))}
                    </p>
                </div>
                <p class="mt-1 text-xs text-red-600" role="alert" data-testid="rule-test-error">{move || refusal.general().get()}</p>
                <p class="mt-1 text-xs text-slate-500">"Tried as a chat request to this gateway, now. Nothing is saved."</p>
            </fieldset>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_reads_allowed_denied_or_why_it_could_not_be_evaluated() {
        let verdict = |allowed, error: Option<&str>| RuleVerdict {
            allowed,
            error: error.map(str::to_string),
        };
        assert_eq!(verdict_text(&verdict(true, None)), "Allowed");
        assert_eq!(verdict_text(&verdict(false, None)), "Denied");
        assert_eq!(
            verdict_text(&verdict(false, Some("no such key: groups"))),
            "Denied: the rule could not be evaluated (no such key: groups)"
        );
    }
}
