//! The gateway forms' parts: the endpoint picker (rows of endpoint, weight and priority, instead
//! of a typed `name:weight:priority` list) and the edit form shown in place under a gateway
//! (its ways in and access rule from `rule`, its limits for people from `people`).

use super::people::PeopleFields;
use super::rule::{AccessRuleField, WaysIn};
use super::strategy_label;
use crate::api::UpdateGateway;
use crate::components::Erase;
use crate::components::{count_successes, CacheFields, Refusal, SaveBar};
use crate::types::{Gateway, OwnCacheForm, Strategy};
use leptos::{form::ActionForm, prelude::*};

/// One picked endpoint, as its row's fields hold it.
#[derive(Clone, Debug, PartialEq)]
struct Pick {
    key: usize,
    name: String,
    weight: String,
    priority: String,
}

/// The picks in the server's notation: `name:weight[:priority]`, comma-separated, in order.
fn notation(picks: &[Pick]) -> String {
    (picks.iter())
        .filter(|pick| !pick.name.is_empty())
        .map(|pick| match pick.priority.trim() {
            "" => format!("{}:{}", pick.name, pick.weight.trim()),
            priority => format!("{}:{}:{priority}", pick.name, pick.weight.trim()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

const INPUT: &str = "block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";

/// The endpoints a gateway routes to, in order: a row per endpoint with its weight and
/// priority, added and removed with buttons. Posts them as the hidden field `endpoints`.
#[component]
pub fn EndpointPicker(
    /// The endpoints one may pick, by name.
    names: Vec<String>,
    /// The rows to start with: (name, weight, priority).
    #[prop(optional)]
    initial: Vec<(String, i64, Option<i64>)>,
    /// The server's complaint about the list.
    error: Signal<Option<String>>,
) -> impl IntoView {
    let next = StoredValue::new(initial.len());
    let picks = RwSignal::new(
        (initial.into_iter().enumerate())
            .map(|(key, (name, weight, priority))| Pick {
                key,
                name,
                weight: weight.to_string(),
                priority: priority.map(|p| p.to_string()).unwrap_or_default(),
            })
            .collect::<Vec<_>>(),
    );
    let names = StoredValue::new(names);
    let add = move |_| {
        let key = next.get_value();
        next.set_value(key + 1);
        let name = names.with_value(|names| names.first().cloned().unwrap_or_default());
        picks.update(|picks| {
            picks.push(Pick {
                key,
                name,
                weight: "1".into(),
                priority: String::new(),
            })
        });
    };
    let set = move |key: usize, change: fn(&mut Pick, String), value: String| {
        picks.update(|picks| {
            if let Some(pick) = picks.iter_mut().find(|pick| pick.key == key) {
                change(pick, value);
            }
        })
    };
    let position =
        move |key: usize| picks.with(|picks| picks.iter().position(|pick| pick.key == key).map_or(0, |i| i + 1));
    view! {
        <fieldset class="sm:col-span-2" aria-describedby="picker-hint">
            <legend class="block text-sm font-medium text-slate-700">"Endpoints"</legend>
            <p id="picker-hint" class="mt-1 text-xs text-slate-500">"In order. Weight shares traffic under the weighted strategy; a higher priority is tried first (empty: earlier ranks higher)."</p>
            <input type="hidden" name="endpoints" prop:value=move || picks.with(|picks| notation(picks))/>
            <div class="mt-2 space-y-2">
                <For each=move || picks.get() key=|pick| pick.key let:pick>
                    {
                        let key = pick.key;
                        view! {
                            <div class="grid grid-cols-[1fr_5rem_5rem_auto] items-center gap-2" data-testid="picked-endpoint">
                                <select class=INPUT aria-label=move || format!("Endpoint {}", position(key))
                                    on:change=move |ev| set(key, |pick, value| pick.name = value, event_target_value(&ev))>
                                    {names.get_value().into_iter().map(|name| {
                                        let selected = name == pick.name;
                                        view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                                    }).collect_view()}
                                </select>
                                <input class=INPUT type="number" min="0" value=pick.weight.clone() aria-label=move || format!("Weight {}", position(key))
                                    on:input=move |ev| set(key, |pick, value| pick.weight = value, event_target_value(&ev))/>
                                <input class=INPUT type="number" placeholder="auto" value=pick.priority.clone() aria-label=move || format!("Priority {}", position(key))
                                    on:input=move |ev| set(key, |pick, value| pick.priority = value, event_target_value(&ev))/>
                                <button type="button" aria-label=move || format!("Remove endpoint {}", position(key))
                                    on:click=move |_| picks.update(|picks| picks.retain(|pick| pick.key != key))
                                    class="rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-xs text-slate-700 hover:bg-slate-50">"Remove"</button>
                            </div>
                        }
                    }
                </For>
            </div>
            <button type="button" on:click=add
                class="mt-2 rounded-lg border border-dashed border-slate-300 bg-white px-3 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-50">
                "Add an endpoint to the list"
            </button>
            <p class="mt-1 text-xs text-red-600" role="alert">{move || error.get()}</p>
        </fieldset>
    }
}

/// A gateway's edit form, in place under it.
#[component]
pub fn EditGateway(gateway: Gateway, names: Vec<String>, saved: RwSignal<u32>, editing: RwSignal<bool>) -> AnyView {
    // Its own action: a refusal shows under this form's fields, not another gateway's.
    let update = ServerAction::<UpdateGateway>::new();
    count_successes(update.value(), saved);
    let refusal = Refusal::watch(
        update.value(),
        &[
            "name",
            "strategy",
            "endpoints",
            "max_attempts",
            "backoff_base_ms",
            "backoff_cap_ms",
            "deadline_ms",
            "limits",
            "model_aliases",
            "param_policy",
            "access",
            "user_limits",
            "group_rule",
            "group_limits",
            "max_tokens_per_prompt",
            "over_cap",
            "cache",
            "cache_ttl",
            "cache_max_entry",
            "cache_embedding",
            "cache_similarity",
        ],
    );
    let general = refusal.general();
    let initial = (gateway.endpoints.iter())
        .map(|e| (e.endpoint_name.clone(), e.weight, Some(e.priority)))
        .collect();
    // Ids unique per gateway: several edit forms may be open at once.
    let gateway_id = gateway.id.0;
    let field = move |name: &'static str, label: &'static str, value: String, hint: &'static str| {
        let id = format!("edit-gateway-{gateway_id}-{name}");
        view! {
            <div>
                <label for=id.clone() class="block text-sm font-medium text-slate-700">{label}</label>
                <input id=id name=name value=value autocomplete="off" class=format!("mt-1 {INPUT}")/>
                <p class="mt-1 text-xs text-slate-500">{hint}</p>
                <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of(name).get()}</p>
            </div>
        }
    };
    let check = |name: &'static str, label: &'static str, checked: bool| {
        view! {
            <label class="flex items-center gap-2 text-sm text-slate-700">
                <input type="checkbox" name=name checked=checked class="h-4 w-4 rounded border-slate-300"/>{label}
            </label>
        }
    };
    let limits = super::people::spelled(&gateway.limits);
    let aliases = (gateway.model_aliases.iter())
        .map(|(alias, model)| format!("{alias}={model}"))
        .collect::<Vec<_>>()
        .join(", ");
    let policy = gateway.param_policy.lines();
    let retry = gateway.retry;
    let strategy = gateway.strategy;
    let label = format!("Edit {}", gateway.name);
    let deadline = gateway.deadline_ms.map(|ms| ms.to_string()).unwrap_or_default();
    let (name, description, id) = (gateway.name.clone(), gateway.description.clone(), gateway.id.0);
    let (auth_mode, access_rule) = (gateway.auth_mode, gateway.access_rule.clone().unwrap_or_default());
    let gateway_name = gateway.name.clone();
    let people = gateway.people.clone();
    let prefix = format!("edit-gateway-{gateway_id}");
    let cache = gateway.cache.clone();
    view! {
        <ActionForm action=update attr:class="mt-4 grid gap-4 rounded-lg border border-slate-200 bg-slate-50 p-4 sm:grid-cols-2" attr:aria-label=label>
            <input type="hidden" name="id" value=id/>
            {field("name", "Name", name, "")}
            <div>
                <label for=format!("edit-gateway-{gateway_id}-strategy") class="block text-sm font-medium text-slate-700">"Strategy"</label>
                <select id=format!("edit-gateway-{gateway_id}-strategy") name="strategy" class=format!("mt-1 {INPUT}")>
                    {Strategy::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=s == strategy>{strategy_label(s)}</option> }).collect_view()}
                </select>
            </div>
            <EndpointPicker names initial error=refusal.of("endpoints")/>
            {field("description", "Description", description, "")}
            {field("limits", "Limits", limits, "Comma-separated, as for keys (requests/minute=100, cost/month=50); empty removes them all.")}
            {field("model_aliases", "Model aliases", aliases, "Comma-separated alias=model (fast=gpt-4o-mini): clients may send the alias as the model.")}
            {field("max_attempts", "Attempts", retry.max_attempts.to_string(), "In all, the first included.")}
            {field("deadline_ms", "Deadline (ms)", deadline, "For the whole request, retries included; empty for the server's default.")}
            {field("backoff_base_ms", "Back-off base (ms)", retry.base_ms.to_string(), "")}
            {field("backoff_cap_ms", "Back-off cap (ms)", retry.cap_ms.to_string(), "")}
            <div class="sm:col-span-2">
                <label for=format!("edit-gateway-{gateway_id}-param_policy") class="block text-sm font-medium text-slate-700">"Parameter policy"</label>
                <textarea id=format!("edit-gateway-{gateway_id}-param_policy") name="param_policy" rows="4" spellcheck="false"
                    class=format!("mt-1 font-mono {INPUT}") aria-describedby=format!("edit-gateway-{gateway_id}-param_policy-hint")>{policy}</textarea>
                <p id=format!("edit-gateway-{gateway_id}-param_policy-hint") class="mt-1 text-xs text-slate-500">
                    "One rule a line, applied to every request before it is admitted: "
                    <code>"default temperature=0.2"</code>" (when left out), "<code>"override tool_choice=\"auto\""</code>" (always), "
                    <code>"max max_tokens=1024"</code>", "<code>"min temperature=0"</code>" (bounds), "<code>"deny logit_bias"</code>" (refused). Values are JSON."
                </p>
                <p class="mt-1 text-xs text-red-600" role="alert">{move || refusal.of("param_policy").get()}</p>
            </div>
            <WaysIn prefix=prefix.clone() current=auth_mode/>
            <AccessRuleField prefix=prefix.clone() gateway=gateway_name initial=access_rule error=refusal.of("access")/>
            <PeopleFields prefix initial=people refusal/>
            <CacheFields prefix=format!("edit-gateway-{gateway_id}-cache") initial=OwnCacheForm::of(Some(&cache)) own=false refusal/>
            <div class="flex flex-wrap gap-4 sm:col-span-2">
                {check("enabled", "Enabled", gateway.enabled)}
                {check("log_metadata", "Log metadata", gateway.log_metadata)}
                {check("log_payloads", "Log request and response bodies", gateway.log_payloads)}
            </div>
            <SaveBar pending=update.pending().into() editing general/>
        </ActionForm>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_are_written_in_the_servers_notation_in_order() {
        let pick = |key, name: &str, weight: &str, priority: &str| Pick {
            key,
            name: name.into(),
            weight: weight.into(),
            priority: priority.into(),
        };
        let picks = [pick(3, "b", "2", ""), pick(1, "a", "1", "5"), pick(2, "", "1", "")];
        assert_eq!(notation(&picks), "b:2, a:1:5");
    }
}
