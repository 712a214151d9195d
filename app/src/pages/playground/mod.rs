//! The playground: one prompt to one to four endpoints or gateway models, the answers streaming
//! side by side with time to first token, total time, tokens and cost; a conversation that
//! goes on turn by turn; an optional judge model that scores the answers; a logged request
//! opened again (`/playground?log=<request id>`); a named prompt's versions compared side by
//! side (`prompt`); and the conversation saved as a named prompt (`save`).
//!
//! Each column's request is a `POST /api/playground/chat` from the browser (the server sends it
//! through the inference path with no key, so it is limited, logged and counted like any
//! other), read as a stream; times are measured in the browser, as the user sees them.

use crate::api::load_playground;
use crate::components::Erase;
use crate::components::{may_change, use_hydrated, PageHeader};
use crate::types::{chat_body, conversation_template, money, target_request, Parameters, PlaygroundSetup, Turn};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use prompt::{Mode, PromptChoice};
use save::SaveAsPrompt;
use serde_json::json;
use stream::{now, start, Answer};

mod prompt;
mod save;
mod stream;

/// The most columns side by side.
const MAX_COLUMNS: usize = 4;

/// One column: where it sends, its conversation before the latest answer, and that answer.
#[derive(Clone, Copy)]
struct Column {
    key: usize,
    target: RwSignal<String>,
    /// In prompt mode, the prompt's version it sends: `@3`, `:staging`, or empty for the
    /// default.
    version: RwSignal<String>,
    history: RwSignal<Vec<Turn>>,
    answer: RwSignal<Answer>,
}

impl Column {
    fn new(key: usize, target: String, history: Vec<Turn>) -> Column {
        Column {
            key,
            target: RwSignal::new(target),
            version: RwSignal::new(String::new()),
            history: RwSignal::new(history),
            answer: RwSignal::new(Answer::default()),
        }
    }
}

/// A duration, short.
fn duration(ms: Option<f64>) -> String {
    match ms {
        Some(ms) if ms >= 1000.0 => format!("{:.2} s", ms / 1000.0),
        Some(ms) => format!("{ms:.0} ms"),
        None => "—".into(),
    }
}

/// The targets picker.
fn target_select(
    setup: &PlaygroundSetup,
    id: String,
    label: &'static str,
    value: RwSignal<String>,
    none: Option<&'static str>,
) -> AnyView {
    let mut groups: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for target in &setup.targets {
        match groups.iter_mut().find(|(group, _)| *group == target.group) {
            Some((_, items)) => items.push((target.value.clone(), target.label.clone())),
            None => groups.push((target.group.clone(), vec![(target.value.clone(), target.label.clone())])),
        }
    }
    view! {
        <label for=id.clone() class="block text-xs font-medium text-slate-600">{label}</label>
        <select id=id class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm shadow-sm"
            on:change=move |ev| value.set(event_target_value(&ev))>
            {none.map(|text| view! { <option value="" selected=move || value.get().is_empty()>{text}</option> })}
            {groups.into_iter().map(|(group, items)| view! {
                <optgroup label=group>
                    {items.into_iter().map(|(v, text)| {
                        let option = v.clone();
                        view! { <option value=v selected=move || value.get() == option>{text}</option> }
                    }).collect_view()}
                </optgroup>
            }).collect_view()}
        </select>
    }
    .erase()
}

/// A conversation's message.
fn bubble(role: &str, text: String) -> impl IntoView {
    let (who, class) = match role {
        "user" => ("You", "bg-indigo-50 text-slate-900"),
        _ => ("Model", "bg-slate-50 text-slate-800"),
    };
    view! {
        <div class=format!("rounded-lg px-3 py-2 text-sm {class}")>
            <div class="text-[11px] font-medium uppercase tracking-wide text-slate-500">{who}</div>
            <div class="whitespace-pre-wrap break-words">{text}</div>
        </div>
    }
}

/// An answer's figures.
fn figures(answer: RwSignal<Answer>, setup: StoredValue<PlaygroundSetup>) -> impl IntoView {
    move || {
        let a = answer.get();
        let cost = match (&a.endpoint, a.prompt_tokens, a.completion_tokens) {
            (Some(endpoint), Some(p), Some(c)) => setup.with_value(|s| s.cost_micros(endpoint, p, c)).map(money),
            _ => None,
        };
        let tokens = match (a.prompt_tokens, a.completion_tokens) {
            (Some(p), Some(c)) => format!("{p} → {c}"),
            _ => "—".into(),
        };
        view! {
            <dl class="grid grid-cols-2 gap-x-3 gap-y-1 border-t border-slate-100 pt-2 text-xs text-slate-600">
                <div><dt class="text-slate-400">"First token"</dt><dd data-testid="ttft">{duration(a.ttft_ms)}</dd></div>
                <div><dt class="text-slate-400">"Total"</dt><dd data-testid="total">{if a.running { "…".to_string() } else { duration(a.total_ms) }}</dd></div>
                <div><dt class="text-slate-400">"Tokens in → out"</dt><dd data-testid="tokens">{tokens}</dd></div>
                <div><dt class="text-slate-400">"Cost"</dt><dd data-testid="cost">{cost.unwrap_or_else(|| "—".into())}</dd></div>
            </dl>
            <p class="mt-1 flex flex-wrap gap-x-3 text-xs text-slate-500">
                {a.endpoint.map(|e| view! { <span>"Answered by " <span class="font-medium text-slate-700">{e}</span></span> })}
                {a.variant.map(|v| view! { <span data-testid="variant">"Variant " <span class="font-medium text-slate-700">{v}</span></span> })}
                {a.request_id.filter(|_| !a.running).map(|id| view! { <a href=format!("/logs/{id}") class="text-indigo-600 hover:underline">"Log"</a> })}
            </p>
        }
        .erase()
    }
}

/// One column's card.
fn column_card(
    column: Column,
    index: usize,
    setup: StoredValue<PlaygroundSetup>,
    columns: RwSignal<Vec<Column>>,
    choice: PromptChoice,
) -> AnyView {
    let answer = column.answer;
    let picker = setup.with_value(|s| target_select(s, format!("target-{}", column.key), "Model", column.target, None));
    let version = move || (choice.mode.get() == Mode::Prompt).then(|| prompt::version_select(choice, column));
    view! {
        <section class="flex min-w-0 flex-col gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm" data-testid="column"
            aria-label=format!("Column {}", index + 1)>
            <div class="flex flex-wrap items-end gap-2">
                {version}
                <div class="min-w-0 flex-1">{picker}</div>
                <button type="button" class="rounded-lg border border-slate-300 px-2 py-1.5 text-xs text-slate-600 hover:bg-slate-50 disabled:opacity-40"
                    aria-label=format!("Remove column {}", index + 1)
                    disabled=move || columns.with(Vec::len) <= 1 || answer.with(|a| a.running)
                    on:click=move |_| columns.update(|list| list.retain(|c| c.key != column.key))>"Remove"</button>
            </div>
            <div class="flex flex-col gap-2" aria-live="polite">
                {move || column.history.get().into_iter().map(|turn| bubble(&turn.role, turn.content)).collect_view()}
                {move || {
                    let a = answer.get();
                    (a.running || !a.text.is_empty() || a.error.is_some()).then(|| view! {
                        <div class="rounded-lg bg-slate-50 px-3 py-2 text-sm text-slate-800" data-testid="answer">
                            <div class="text-[11px] font-medium uppercase tracking-wide text-slate-500">"Model"</div>
                            <div class="whitespace-pre-wrap break-words">{a.text.clone()}
                                {a.running.then(|| view! { <span class="ml-0.5 inline-block h-3 w-1.5 animate-pulse bg-slate-400 align-middle" aria-hidden="true"></span> })}</div>
                            {a.error.map(|e| view! { <p role="alert" class="mt-1 text-sm text-red-700" data-testid="answer-error">{e}</p> })}
                        </div>
                    })
                }}
            </div>
            <div class="mt-auto">{figures(answer, setup)}</div>
        </section>
    }
    .erase()
}

/// The judge's prompt: the last user message and each answer, to score.
fn judge_prompt(user: &str, answers: &[(String, String)]) -> String {
    let mut prompt = format!(
        "You are judging answers to the same request. Score each answer from 1 to 10 for correctness and \
         helpfulness, one line per answer: `Answer N: score/10 - one-sentence reason`.\n\nThe request:\n{user}\n"
    );
    for (i, (label, text)) in answers.iter().enumerate() {
        prompt.push_str(&format!("\nAnswer {} ({label}):\n{text}\n", i + 1));
    }
    prompt
}

/// The playground once its setup is loaded.
#[component]
fn Playground(setup: PlaygroundSetup) -> impl IntoView {
    let hydrated = use_hydrated();
    let replay = setup.replay.clone().unwrap_or_default();
    let first = replay
        .target
        .clone()
        .or_else(|| setup.targets.first().map(|t| t.value.clone()))
        .unwrap_or_default();
    let second = setup.targets.iter().map(|t| t.value.clone()).find(|v| *v != first);
    let mut initial = vec![Column::new(0, first, replay.history.clone())];
    // A replay opens on its own target; a fresh page compares the first two.
    if setup.replay.is_none() {
        if let Some(second) = second {
            initial.push(Column::new(1, second, Vec::new()));
        }
    }
    let next_key = StoredValue::new(initial.len());
    let columns = RwSignal::new(initial);
    let system = RwSignal::new(replay.system.clone());
    let user = RwSignal::new(replay.user.clone());
    let temperature = RwSignal::new(replay.parameters.temperature.clone());
    let max_tokens = RwSignal::new(replay.parameters.max_tokens.clone());
    let judge = RwSignal::new(String::new());
    let verdict = RwSignal::new(Answer::default());
    let problem = RwSignal::new(None::<String>);
    let pending = RwSignal::new(0usize);
    let can_send = setup.can_send;
    let choice = PromptChoice::new(setup.prompts.clone());
    let labels: Vec<(String, String)> = setup
        .targets
        .iter()
        .map(|t| (t.value.clone(), t.label.clone()))
        .collect();
    let setup = StoredValue::new(setup);
    let labels = StoredValue::new(labels);
    let label_of = move |value: &str| {
        labels.with_value(|l| {
            l.iter()
                .find(|(v, _)| v == value)
                .map(|(_, t)| t.clone())
                .unwrap_or_default()
        })
    };

    let run_judge = move |asked: String| {
        let chosen = judge.get_untracked();
        let Some((target, model)) = target_request(&chosen) else {
            return;
        };
        let answers: Vec<(String, String)> = columns
            .get_untracked()
            .iter()
            .map(|c| (label_of(&c.target.get_untracked()), c.answer.get_untracked().text))
            .collect();
        let turns = [Turn {
            role: "user".into(),
            content: judge_prompt(&asked, &answers),
        }];
        match chat_body(model.as_deref(), "", &turns, &Parameters::default()) {
            Ok(body) => {
                verdict.set(Answer {
                    running: true,
                    started: now(),
                    ..Answer::default()
                });
                start(json!({ "target": target, "body": body }).to_string(), verdict, || {});
            }
            Err(error) => problem.set(Some(error)),
        }
    };

    let busy = move || pending.get() > 0 || verdict.with(|v| v.running);
    let send = move || {
        // Ctrl+Enter comes here too: the same rules as the button.
        let busy_now = pending.get_untracked() > 0 || verdict.with_untracked(|v| v.running);
        if !hydrated.get_untracked() || !can_send || busy_now {
            return;
        }
        problem.set(None);
        let asked = user.get_untracked();
        let prompted = choice.mode.get_untracked() == Mode::Prompt;
        // A named prompt's first turn is its own messages; every other turn adds the user's.
        let begun = (columns.get_untracked().iter())
            .any(|c| c.history.with_untracked(|h| !h.is_empty()) || c.answer.with_untracked(|a| !a.text.is_empty()));
        if asked.trim().is_empty() && (!prompted || begun) {
            problem.set(Some("Write a user message.".into()));
            return;
        }
        let parameters = Parameters {
            temperature: temperature.get_untracked(),
            max_tokens: max_tokens.get_untracked(),
        };
        let system = system.get_untracked();
        let mut requests = Vec::new();
        for column in columns.get_untracked() {
            let Some((target, model)) = target_request(&column.target.get_untracked()) else {
                problem.set(Some("Choose a model for every column.".into()));
                return;
            };
            // The last answer joins the conversation, then the new message.
            let mut history = column.history.get_untracked();
            let last = column.answer.get_untracked();
            if last.error.is_none() && !last.text.is_empty() {
                history.push(Turn {
                    role: "assistant".into(),
                    content: last.text,
                });
            } else if history.last().is_some_and(|turn| turn.role == "user") {
                // The last question went unanswered: the new one replaces it (two user
                // messages in a row are refused by some providers).
                history.pop();
            }
            if !asked.trim().is_empty() {
                history.push(Turn {
                    role: "user".into(),
                    content: asked.clone(),
                });
            }
            let body = match prompted {
                true => choice.body(&column, &target, model.as_deref(), &history, &parameters),
                false => chat_body(model.as_deref(), &system, &history, &parameters),
            };
            match body {
                Ok(body) => requests.push((column, history, json!({ "target": target, "body": body }).to_string())),
                Err(error) => {
                    problem.set(Some(error));
                    return;
                }
            }
        }
        user.set(String::new());
        verdict.set(Answer::default());
        pending.set(requests.len());
        let asked = match asked.trim().is_empty() {
            true => choice.described(),
            false => asked,
        };
        for (column, history, request) in requests {
            column.history.set(history);
            column.answer.set(Answer {
                running: true,
                started: now(),
                ..Answer::default()
            });
            let asked = asked.clone();
            start(request, column.answer, move || {
                let left = pending.try_update(|n| {
                    *n = n.saturating_sub(1);
                    *n
                });
                if left == Some(0) {
                    run_judge(asked);
                }
            });
        }
    };

    let add_column = move |_| {
        let key = next_key.get_value();
        next_key.set_value(key + 1);
        let target = setup.with_value(|s| s.targets.first().map(|t| t.value.clone()).unwrap_or_default());
        let column = Column::new(key, target, Vec::new());
        column.version.set(choice.new_column_version());
        columns.update(|list| {
            if list.len() < MAX_COLUMNS {
                list.push(column);
            }
        });
    };
    let reset = move || {
        for column in columns.get_untracked() {
            column.history.set(Vec::new());
            column.answer.set(Answer::default());
        }
        verdict.set(Answer::default());
    };
    let new_conversation = move |_| reset();
    // "Save as prompt": the system message, the first column's conversation with its latest
    // answer, and a user message not sent yet.
    let conversation = Callback::new(move |()| {
        let mut turns = Vec::new();
        if let Some(column) = columns.get_untracked().first() {
            turns = column.history.get_untracked();
            let last = column.answer.get_untracked();
            if last.error.is_none() && !last.text.is_empty() {
                turns.push(Turn {
                    role: "assistant".into(),
                    content: last.text,
                });
            }
        }
        let asked = user.get_untracked();
        if !asked.trim().is_empty() {
            turns.push(Turn {
                role: "user".into(),
                content: asked,
            });
        }
        let tuning = Parameters {
            temperature: temperature.get_untracked(),
            max_tokens: max_tokens.get_untracked(),
        };
        conversation_template(&system.get_untracked(), &turns, &tuning)
    });
    let may_change = may_change();
    let full = move || columns.with(Vec::len) >= MAX_COLUMNS;
    // As many columns across as there are, once the screen is wide enough.
    let grid_class = move || match columns.with(Vec::len) {
        1 => "mt-4 grid gap-4",
        2 => "mt-4 grid gap-4 md:grid-cols-2",
        3 => "mt-4 grid gap-4 md:grid-cols-2 xl:grid-cols-3",
        _ => "mt-4 grid gap-4 md:grid-cols-2 xl:grid-cols-4",
    };
    let each = move || columns.get().into_iter().enumerate().collect::<Vec<_>>();
    let input = "mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm";
    let judge_picker =
        setup.with_value(|s| target_select(s, "judge".into(), "Judge (optional)", judge, Some("No judge")));

    let notices = view! {
        {replay.note.clone().map(|note| view! {
            <p class="mb-4 rounded-lg border border-amber-200 bg-amber-50 p-3 text-sm text-amber-800" role="status">
                "Opened from request " <code>{replay.request_id.clone()}</code> ". " {note}</p>
        })}
        {(!replay.request_id.is_empty() && replay.note.is_none()).then(|| view! {
            <p class="mb-4 rounded-lg border border-indigo-200 bg-indigo-50 p-3 text-sm text-indigo-800" role="status">
                "Opened from request " <code>{replay.request_id.clone()}</code> ": send it again, or change it first."</p>
        })}
        {(!can_send).then(|| view! {
            <p class="mb-4 rounded-lg border border-slate-200 bg-slate-50 p-3 text-sm text-slate-700" role="status">"Viewers can look but not send: requests from the playground cost money."</p>
        })}
    }
    .erase();
    let form = view! {
        <form class="grid gap-4 rounded-xl border border-slate-200 bg-white p-4 shadow-sm lg:grid-cols-3" aria-label="Prompt"
            on:submit=move |ev| { ev.prevent_default(); send(); }>
            {prompt::mode_switch(choice, columns, reset)}
            <div class="lg:col-span-2 grid gap-3">
                <Show when=move || choice.mode.get() == Mode::Messages fallback=move || prompt::prompt_fields(choice, columns)>
                    <div>
                        <label for="system" class="block text-xs font-medium text-slate-600">"System message (optional)"</label>
                        <textarea id="system" rows="2" class=input placeholder="You are a concise assistant."
                            prop:value=move || system.get() on:input=move |ev| system.set(event_target_value(&ev))></textarea>
                    </div>
                </Show>
                <div>
                    <label for="user" class="block text-xs font-medium text-slate-600">
                        "User message"{move || (choice.mode.get() == Mode::Prompt).then_some(" (optional on the first turn: added after the prompt's messages)")}
                    </label>
                    <textarea id="user" rows="3" class=input placeholder="Ask something…" aria-describedby="user-hint"
                        prop:value=move || user.get() on:input=move |ev| user.set(event_target_value(&ev))
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                            if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) { ev.prevent_default(); send(); }
                        }></textarea>
                    <p id="user-hint" class="mt-1 text-xs text-slate-500">"Ctrl+Enter sends. Each column keeps its own conversation."</p>
                </div>
            </div>
            <div class="grid content-start gap-3">
                <div class="grid grid-cols-2 gap-3">
                    <div>
                        <label for="temperature" class="block text-xs font-medium text-slate-600">"Temperature"</label>
                        <input id="temperature" inputmode="decimal" placeholder="default" class=input
                            prop:value=move || temperature.get() on:input=move |ev| temperature.set(event_target_value(&ev))/>
                    </div>
                    <div>
                        <label for="max-tokens" class="block text-xs font-medium text-slate-600">"Max tokens"</label>
                        <input id="max-tokens" inputmode="numeric" placeholder="default" class=input
                            prop:value=move || max_tokens.get() on:input=move |ev| max_tokens.set(event_target_value(&ev))/>
                    </div>
                </div>
                <div>{judge_picker}</div>
                <div class="flex flex-wrap gap-2">
                    <button type="submit" class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-500 disabled:opacity-50"
                        disabled=move || !hydrated.get() || !can_send || busy()>{move || if busy() { "Sending…" } else { "Send" }}</button>
                    <button type="button" class="rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm text-slate-700 hover:bg-slate-50 disabled:opacity-50"
                        disabled=move || !hydrated.get() || busy() || full() on:click=add_column>"Add a column"</button>
                    <button type="button" class="rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm text-slate-700 hover:bg-slate-50 disabled:opacity-50"
                        disabled=move || !hydrated.get() || busy() on:click=new_conversation>"New conversation"</button>
                </div>
                {move || problem.get().map(|p| view! { <p role="alert" class="text-sm text-red-700" data-testid="problem">{p}</p> })}
            </div>
        </form>
    }
    .erase();
    view! {
        {notices}
        {form}
        <div class=grid_class data-testid="columns">
            <For each=each key=|(i, c)| (*i, c.key)
                children=move |(index, column)| column_card(column, index, setup, columns, choice)/>
        </div>
        <Show when=move || may_change && choice.mode.get() == Mode::Messages>
            <SaveAsPrompt prompts=choice.prompts template=conversation/>
        </Show>
        {move || {
            let v = verdict.get();
            (v.running || !v.text.is_empty() || v.error.is_some()).then(|| view! {
                <section class="mt-4 rounded-xl border border-amber-200 bg-amber-50 p-4 text-sm" data-testid="verdict" aria-live="polite">
                    <h2 class="font-semibold text-slate-900">"The judge's scores"</h2>
                    <div class="mt-2 whitespace-pre-wrap break-words text-slate-800">{v.text.clone()}</div>
                    {v.error.map(|e| view! { <p role="alert" class="mt-1 text-red-700">{e}</p> })}
                </section>
            })
        }}
    }
}

/// The playground page.
#[component]
pub fn PlaygroundPage() -> impl IntoView {
    let query = use_query_map();
    let log = move || query.with(|q| q.get("log"));
    let setup = Resource::new(log, load_playground);
    view! {
        <Title text="Playground"/>
        <PageHeader title="Playground" description="Send one prompt (or a named prompt's versions) to up to four endpoints or gateway models and compare the answers as they stream."/>
        <Suspense fallback=|| view! { <div class="h-48 animate-pulse rounded-xl bg-slate-200"></div> }>
            {move || setup.get().map(|result| match result {
                Ok(setup) if setup.targets.is_empty() => view! {
                    <div class="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-600">
                        "Nothing to compare yet: " <a href="/endpoints" class="text-indigo-600 hover:underline">"add an inference endpoint"</a> " first."
                    </div>
                }.erase(),
                Ok(setup) => view! { <Playground setup/> }.erase(),
                Err(e) => view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not open the playground: " {e.to_string()}</div>
                }.erase(),
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_judge_sees_every_answer_by_its_label() {
        let prompt = judge_prompt("2+2?", &[("a via g".into(), "4".into()), ("b".into(), "5".into())]);
        assert!(prompt.contains("The request:\n2+2?"));
        assert!(prompt.contains("Answer 1 (a via g):\n4"));
        assert!(prompt.contains("Answer 2 (b):\n5"));
    }
}
