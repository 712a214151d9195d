//! A gateway's limits for people (issue #23): in its edit form, each end user's limits, the
//! group rule and each group's limits (in the CLI's notation), and the cap on one prompt's
//! tokens with what happens over it; on its card, the same read back beside the gateway's own
//! limits (the total of all its users).

use crate::components::Refusal;
use crate::types::{Limit, PeopleLimits, PromptCap};
use leptos::prelude::*;

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";

/// Limits as the form and the card write them: the CLI's notation, comma-separated.
pub fn spelled(limits: &[Limit]) -> String {
    limits.iter().map(Limit::spelled).collect::<Vec<_>>().join(", ")
}

/// What happens over the cap, as the form offers it.
fn over_cap_label(cap: PromptCap) -> &'static str {
    match cap {
        PromptCap::Refuse => "Refuse the request (400)",
        PromptCap::Clamp => "Lower its max_tokens to fit",
    }
}

/// The card's lines: (term, value, test id), each limit list or a word for none.
fn summary(limits: &[Limit], people: &PeopleLimits) -> [(&'static str, String, &'static str); 4] {
    let or_none = |text: String| if text.is_empty() { "None".to_string() } else { text };
    let groups = match (&people.group_rule, people.per_group.is_empty()) {
        (None, _) => "No groups".to_string(),
        (Some(rule), true) => format!("By {rule}, without limits"),
        (Some(rule), false) => format!("By {rule}: {}", spelled(&people.per_group)),
    };
    let cap = match (people.max_tokens_per_prompt, people.over_cap) {
        (None, _) => "None".to_string(),
        (Some(cap), PromptCap::Refuse) => format!("{cap} tokens; over it, refused"),
        (Some(cap), PromptCap::Clamp) => format!("{cap} tokens; over it, max_tokens lowered"),
    };
    [
        ("All its traffic", or_none(spelled(limits)), "limits-total"),
        ("Each end user", or_none(spelled(&people.per_user)), "limits-user"),
        ("Each group", groups, "limits-group"),
        ("Cap per prompt", cap, "limits-prompt"),
    ]
}

/// The edit form's limits for people, posted as `user_limits`, `group_rule`, `group_limits`,
/// `max_tokens_per_prompt` and `over_cap`. Ids start with `prefix`.
#[component]
pub fn PeopleFields(prefix: String, initial: PeopleLimits, refusal: Refusal) -> impl IntoView {
    let over_id = format!("{prefix}-over_cap");
    let id = move |field: &str| format!("{prefix}-{field}");
    let field = move |name: &'static str, label: &'static str, value: String, placeholder: &'static str, hint| {
        let id = id(name);
        let hint_id = format!("{id}-hint");
        view! {
            <div class="min-w-0">
                <label for=id.clone() class="block text-sm font-medium text-slate-700">{label}</label>
                <input id=id name=name value=value autocomplete="off" spellcheck="false" placeholder=placeholder
                    class=format!("{INPUT} font-mono") aria-describedby=hint_id.clone()
                    aria-invalid=move || refusal.of(name).get().is_some().to_string()/>
                <p id=hint_id class="mt-1 text-xs text-slate-500">{hint}</p>
                <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of(name).get()}</p>
            </div>
        }
    };
    let cap = initial
        .max_tokens_per_prompt
        .map(|cap| cap.to_string())
        .unwrap_or_default();
    view! {
        <fieldset class="grid min-w-0 gap-4 sm:col-span-2 sm:grid-cols-2">
            <legend class="mb-2 block text-sm font-semibold text-slate-900">"Limits for people"</legend>
            {field("user_limits", "Per-user limits", spelled(&initial.per_user), "prompts/hour=60, tokens/day=100000",
                "Comma-separated, for each end user on their own; prompts are requests. Empty: none.")}
            {field("group_rule", "Group rule", initial.group_rule.clone().unwrap_or_default(), "user.department",
                "A CEL expression over user (the token's claims) whose value is the user's group. Empty: no groups.")}
            {field("group_limits", "Per-group limits", spelled(&initial.per_group), "prompts/hour=600",
                "Comma-separated, shared by the users of each group; they need a group rule. Empty: none.")}
            {field("max_tokens_per_prompt", "Max tokens per prompt", cap, "none",
                "The prompt's tokens plus max_tokens, for every request to this gateway. Empty: no cap.")}
            <div class="min-w-0">
                <label for=over_id.clone() class="block text-sm font-medium text-slate-700">"Over the cap"</label>
                <select id=over_id name="over_cap" class=INPUT>
                    {PromptCap::ALL.into_iter().map(|cap| view! {
                        <option value=cap.as_str() selected=cap == initial.over_cap>{over_cap_label(cap)}</option>
                    }).collect_view()}
                </select>
                <p class="mt-1 text-xs text-slate-500">"A request without max_tokens is given what the cap leaves."</p>
                <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of("over_cap").get()}</p>
            </div>
            <p class="text-xs text-slate-500 sm:col-span-2">"The gateway's own limits above are the total of all its users."</p>
        </fieldset>
    }
}

/// A gateway's limits on its card, read-only: its own (the total) and its people's.
#[component]
pub fn LimitsSummary(gateway_name: String, limits: Vec<Limit>, people: PeopleLimits) -> impl IntoView {
    view! {
        <section class="mt-4" aria-label=format!("Limits of {gateway_name}")>
            <h3 class="text-xs font-medium uppercase tracking-wide text-slate-500">"Limits"</h3>
            <dl class="mt-1 grid gap-2 text-sm sm:grid-cols-2">
                {summary(&limits, &people).into_iter().map(|(term, value, testid)| view! {
                    <div class="min-w-0"><dt class="text-xs text-slate-500">{term}</dt>
                        <dd class="break-words text-slate-900" data-testid=testid>{value}</dd></div>
                }).collect_view()}
            </dl>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Metric, Period};

    fn limit(metric: Metric, period: Period, max_value: i64) -> Limit {
        Limit {
            metric,
            period,
            max_value,
        }
    }

    #[test]
    fn no_limits_read_as_none_and_no_groups() {
        let lines = summary(&[], &PeopleLimits::default());
        let values: Vec<&str> = lines.iter().map(|(_, value, _)| value.as_str()).collect();
        assert_eq!(values, ["None", "None", "No groups", "None"]);
    }

    #[test]
    fn people_limits_read_back_in_the_clis_notation() {
        let people = PeopleLimits {
            per_user: vec![limit(Metric::Requests, Period::Minute, 2)],
            group_rule: Some("user.department".into()),
            per_group: vec![
                limit(Metric::Requests, Period::Hour, 100),
                limit(Metric::Tokens, Period::Day, 5000),
            ],
            max_tokens_per_prompt: Some(300),
            over_cap: PromptCap::Clamp,
        };
        let total = [limit(Metric::Requests, Period::Hour, 1000)];
        let lines = summary(&total, &people);
        let values: Vec<&str> = lines.iter().map(|(_, value, _)| value.as_str()).collect();
        assert_eq!(
            values,
            [
                "requests/hour=1000",
                "requests/minute=2",
                "By user.department: requests/hour=100, tokens/day=5000",
                "300 tokens; over it, max_tokens lowered",
            ]
        );
        let refused = PeopleLimits {
            over_cap: PromptCap::Refuse,
            per_group: Vec::new(),
            ..people
        };
        let lines = summary(&[], &refused);
        assert_eq!(lines[2].1, "By user.department, without limits");
        assert_eq!(lines[3].1, "300 tokens; over it, refused");
    }
}
