//! The audit log: every management change (and sign-in, and connection test), newest first, a
//! page at a time — who, what, to what, which way it came, and its details. Any signed-in
//! admin reads it; nothing here changes anything.

use crate::api::list_audit;
use crate::components::PageHeader;
use crate::types::{utc_time, ActorKind, AuditEntry, AuditPage};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Who did it, for people.
fn who(entry: &AuditEntry) -> String {
    let kind = match entry.actor_kind {
        ActorKind::Admin => "",
        ActorKind::ApiToken => " (API token)",
        ActorKind::Cli => " (command line)",
        ActorKind::System => " (the gateway)",
    };
    let label = if entry.actor_label.is_empty() {
        "—"
    } else {
        &entry.actor_label
    };
    format!("{label}{kind}")
}

/// The details' JSON object as `name: value` pairs, by name (the same order in the server's
/// rendering and the browser's, whatever the JSON map keeps); the text itself when it is not
/// an object.
fn details(text: &str) -> String {
    match serde_json::from_str::<std::collections::BTreeMap<String, serde_json::Value>>(text) {
        Ok(object) => (object.iter())
            .map(|(name, value)| match value {
                serde_json::Value::String(text) => format!("{name}: {text}"),
                value => format!("{name}: {value}"),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        Err(_) => text.to_string(),
    }
}

/// One page's table.
fn table(page: AuditPage) -> impl IntoView {
    if page.entries.is_empty() {
        return Either::Left(view! {
            <div class="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-600">
                "Nothing recorded yet. Every change made in the console, over GraphQL or from the command line appears here."
            </div>
        });
    }
    let older = page.next.map(|before| format!("/audit?before={before}"));
    Either::Right(view! {
        <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm">
                <caption class="sr-only">"Audit log, newest first"</caption>
                <thead class="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="px-4 py-3">"Time (UTC)"</th>
                        <th scope="col" class="px-4 py-3">"Who"</th>
                        <th scope="col" class="px-4 py-3">"Action"</th>
                        <th scope="col" class="hidden px-4 py-3 md:table-cell">"Target"</th>
                        <th scope="col" class="hidden px-4 py-3 md:table-cell">"Via"</th>
                        <th scope="col" class="hidden px-4 py-3 lg:table-cell">"Details"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {page.entries.iter().map(|entry| view! {
                        <tr data-testid="audit-row">
                            <td class="whitespace-nowrap px-4 py-3 text-slate-600">{utc_time(entry.created_at)}</td>
                            <td class="px-4 py-3 text-slate-900">{who(entry)}</td>
                            <td class="px-4 py-3"><code class="text-xs text-slate-800">{entry.action.clone()}</code></td>
                            <td class="hidden px-4 py-3 text-slate-600 md:table-cell">
                                {entry.target_kind.clone().map(|kind| format!("{kind}{}", entry.target_id.map(|id| format!(" #{id}")).unwrap_or_default()))}
                            </td>
                            <td class="hidden px-4 py-3 text-slate-600 md:table-cell">{entry.via.map(|via| via.as_str())}</td>
                            <td class="hidden max-w-md break-words px-4 py-3 text-xs text-slate-600 lg:table-cell">{details(&entry.details)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {older.map(|href| view! {
            <div class="mt-4 text-right"><a href=href class="rounded-lg border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50">"Older →"</a></div>
        })}
    })
}

/// The audit log page.
#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    let before = move || params.with(|q| q.get("before").and_then(|b| b.parse::<i64>().ok()));
    let page = Resource::new(before, list_audit);
    view! {
        <Title text="Audit log"/>
        <PageHeader title="Audit log" description="Every change to the gateway: who made it, when, and which way it came."/>
        <Suspense fallback=|| view! { <div class="h-32 animate-pulse rounded-xl bg-slate-200"></div> }>
            {move || page.get().map(|result| match result {
                Ok(page) => Either::Left(table(page)),
                Err(error) => Either::Right(view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not load the audit log: " {error.to_string()}</div>
                }),
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_read_as_pairs() {
        assert_eq!(
            details(r#"{"name":"prod","strategy":"priority","ok":true}"#),
            "name: prod · ok: true · strategy: priority"
        );
        assert_eq!(details("{}"), "");
        assert_eq!(details("not json"), "not json");
    }
}
