//! The playground: one prompt to one to four endpoints or gateway models, the answers streaming
//! side by side with time to first token, total time, tokens and cost; a conversation that
//! goes on turn by turn; an optional judge model that scores the answers; and a logged request
//! opened again (`/playground?log=<request id>`).
//!
//! Each column's request is a `POST /api/playground/chat` from the browser (the server sends it
//! through the inference path with no key, so it is limited, logged and counted like any
//! other), read as a stream; times are measured in the browser, as the user sees them.

use crate::api::load_playground;
use crate::components::{use_hydrated, PageHeader};
use crate::types::{chat_body, money, target_request, Parameters, PlaygroundSetup, Turn};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde_json::{json, Value};

/// The most columns side by side.
const MAX_COLUMNS: usize = 4;

/// One answer, as it streams in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    pub text: String,
    /// When it was sent (the browser's clock, milliseconds).
    pub started: f64,
    pub ttft_ms: Option<f64>,
    pub total_ms: Option<f64>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// The gateway's id for the request (its log), and the endpoint that answered.
    pub request_id: Option<String>,
    pub endpoint: Option<String>,
    pub error: Option<String>,
    pub running: bool,
}

// Read by the browser's side (and the tests) only.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl Answer {
    /// Takes one server-sent event's data; `Ok(true)` once the stream says it is done.
    pub fn take_event(&mut self, data: &str, now: f64) -> Result<bool, String> {
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        let event: Value =
            serde_json::from_str(data).map_err(|_| "The stream sent something that is not JSON.".to_string())?;
        if let Some(error) = event.get("error") {
            return Err(error_message(error));
        }
        let delta = event["choices"][0]["delta"]["content"].as_str().unwrap_or_default();
        if !delta.is_empty() {
            self.ttft_ms.get_or_insert(now - self.started);
            self.text.push_str(delta);
        }
        self.take_usage(&event["usage"]);
        Ok(false)
    }

    /// Takes a whole JSON answer (a refusal, or an answer that did not stream).
    pub fn take_json(&mut self, status: u16, body: &str, now: f64) -> Result<(), String> {
        let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        if status >= 400 {
            return Err(match answer.get("error") {
                Some(error) => format!("{status}: {}", error_message(error)),
                None => format!("{status}: {}", body.chars().take(200).collect::<String>()),
            });
        }
        let text = answer["choices"][0]["message"]["content"].as_str().unwrap_or_default();
        self.ttft_ms.get_or_insert(now - self.started);
        self.text.push_str(text);
        self.take_usage(&answer["usage"]);
        Ok(())
    }

    fn take_usage(&mut self, usage: &Value) {
        if usage.is_object() {
            self.prompt_tokens = usage["prompt_tokens"].as_u64();
            self.completion_tokens = usage["completion_tokens"].as_u64();
        }
    }
}

/// An OpenAI-shaped error's message.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn error_message(error: &Value) -> String {
    error["message"]
        .as_str()
        .or_else(|| error.as_str())
        .unwrap_or("The request failed.")
        .to_string()
}

/// Takes the complete events (`…\n\n`) off the front of `buffer`, as their `data` payloads.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn complete_events(buffer: &mut Vec<u8>) -> Vec<String> {
    let mut events = Vec::new();
    while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
        let event: Vec<u8> = buffer.drain(..end + 2).collect();
        let text = String::from_utf8_lossy(&event);
        let data: Vec<&str> = (text.lines())
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|data| data.strip_prefix(' ').unwrap_or(data))
            .collect();
        if !data.is_empty() {
            events.push(data.join("\n"));
        }
    }
    events
}

/// The browser's side: the streamed `fetch`.
#[cfg(feature = "hydrate")]
mod browser {
    use super::Answer;
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    /// The browser's clock, milliseconds.
    pub fn now() -> f64 {
        web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
    }

    fn js(error: JsValue) -> String {
        error
            .as_string()
            .or_else(|| {
                js_sys::Reflect::get(&error, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
            })
            .unwrap_or_else(|| "The browser could not send the request.".into())
    }

    /// Sends `request` to the playground route and streams the answer into `answer`.
    pub async fn run(request: String, answer: RwSignal<Answer>) {
        if let Err(error) = send(request, answer).await {
            answer.update(|a| a.error = Some(error));
        }
        let end = now();
        answer.update(|a| {
            a.running = false;
            a.total_ms = Some(end - a.started);
        });
    }

    async fn send(request: String, answer: RwSignal<Answer>) -> Result<(), String> {
        let window = web_sys::window().ok_or("no window")?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&request));
        let headers = web_sys::Headers::new().map_err(js)?;
        headers.set("content-type", "application/json").map_err(js)?;
        init.set_headers(&headers);
        let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init("/api/playground/chat", &init))
            .await
            .map_err(js)?
            .dyn_into()
            .map_err(js)?;
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let (request_id, endpoint) = (header("x-request-id"), header("x-mgw-endpoint"));
        answer.update(|a| {
            a.request_id = request_id;
            a.endpoint = endpoint;
        });
        let streamed = header("content-type").is_some_and(|t| t.starts_with("text/event-stream"));
        if !streamed {
            let text = JsFuture::from(response.text().map_err(js)?).await.map_err(js)?;
            let text = text.as_string().unwrap_or_default();
            let status = response.status();
            let end = now();
            let mut taken = Ok(());
            answer.update(|a| taken = a.take_json(status, &text, end));
            return taken;
        }
        let body = response.body().ok_or("The answer has no body.")?;
        let reader: web_sys::ReadableStreamDefaultReader =
            (body.get_reader().dyn_into()).map_err(|_| "The answer cannot be read as a stream.")?;
        let mut buffer = Vec::new();
        loop {
            let chunk = JsFuture::from(reader.read()).await.map_err(js)?;
            let done = js_sys::Reflect::get(&chunk, &"done".into())
                .map_err(js)?
                .as_bool()
                .unwrap_or(true);
            if done {
                return Ok(());
            }
            let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(js)?;
            buffer.extend(js_sys::Uint8Array::new(&value).to_vec());
            for data in super::complete_events(&mut buffer) {
                let at = now();
                let mut taken = Ok(false);
                answer.update(|a| taken = a.take_event(&data, at));
                if taken? {
                    return Ok(());
                }
            }
        }
    }
}

/// Starts one request (in the browser; nothing on the server, where no click happens).
fn start(request: String, answer: RwSignal<Answer>, then: impl FnOnce() + 'static) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        browser::run(request, answer).await;
        then();
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (request, answer, then);
}

/// The browser's clock, milliseconds (0 on the server).
fn now() -> f64 {
    #[cfg(feature = "hydrate")]
    return browser::now();
    #[cfg(not(feature = "hydrate"))]
    0.0
}

/// One column: where it sends, its conversation before the latest answer, and that answer.
#[derive(Clone, Copy)]
struct Column {
    key: usize,
    target: RwSignal<String>,
    history: RwSignal<Vec<Turn>>,
    answer: RwSignal<Answer>,
}

impl Column {
    fn new(key: usize, target: String, history: Vec<Turn>) -> Column {
        Column {
            key,
            target: RwSignal::new(target),
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
    .into_any()
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
                {a.request_id.filter(|_| !a.running).map(|id| view! { <a href=format!("/logs/{id}") class="text-indigo-600 hover:underline">"Log"</a> })}
            </p>
        }
        .into_any()
    }
}

/// One column's card.
fn column_card(
    column: Column,
    index: usize,
    setup: StoredValue<PlaygroundSetup>,
    columns: RwSignal<Vec<Column>>,
) -> AnyView {
    let answer = column.answer;
    let picker = setup.with_value(|s| target_select(s, format!("target-{}", column.key), "Model", column.target, None));
    view! {
        <section class="flex min-w-0 flex-col gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm" data-testid="column"
            aria-label=format!("Column {}", index + 1)>
            <div class="flex items-end gap-2">
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
    .into_any()
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

    let send = move || {
        problem.set(None);
        let asked = user.get_untracked();
        if asked.trim().is_empty() {
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
            }
            history.push(Turn {
                role: "user".into(),
                content: asked.clone(),
            });
            match chat_body(model.as_deref(), &system, &history, &parameters) {
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
        for (column, history, request) in requests {
            column.history.set(history);
            column.answer.set(Answer {
                running: true,
                started: now(),
                ..Answer::default()
            });
            let asked = asked.clone();
            start(request, column.answer, move || {
                pending.update(|n| *n = n.saturating_sub(1));
                if pending.get_untracked() == 0 {
                    run_judge(asked);
                }
            });
        }
    };

    let add_column = move |_| {
        let key = next_key.get_value();
        next_key.set_value(key + 1);
        let target = setup.with_value(|s| s.targets.first().map(|t| t.value.clone()).unwrap_or_default());
        columns.update(|list| {
            if list.len() < MAX_COLUMNS {
                list.push(Column::new(key, target, Vec::new()));
            }
        });
    };
    let new_conversation = move |_| {
        for column in columns.get_untracked() {
            column.history.set(Vec::new());
            column.answer.set(Answer::default());
        }
        verdict.set(Answer::default());
    };
    let busy = move || pending.get() > 0 || verdict.with(|v| v.running);
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
    .into_any();
    let form = view! {
        <form class="grid gap-4 rounded-xl border border-slate-200 bg-white p-4 shadow-sm lg:grid-cols-3" aria-label="Prompt"
            on:submit=move |ev| { ev.prevent_default(); send(); }>
            <div class="lg:col-span-2 grid gap-3">
                <div>
                    <label for="system" class="block text-xs font-medium text-slate-600">"System message (optional)"</label>
                    <textarea id="system" rows="2" class=input placeholder="You are a concise assistant."
                        prop:value=move || system.get() on:input=move |ev| system.set(event_target_value(&ev))></textarea>
                </div>
                <div>
                    <label for="user" class="block text-xs font-medium text-slate-600">"User message"</label>
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
    .into_any();
    view! {
        {notices}
        {form}
        <div class=grid_class data-testid="columns">
            <For each=each key=|(i, c)| (*i, c.key)
                children=move |(index, column)| column_card(column, index, setup, columns)/>
        </div>
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
        <PageHeader title="Playground" description="Send one prompt to up to four endpoints or gateway models and compare the answers as they stream."/>
        <Suspense fallback=|| view! { <div class="h-48 animate-pulse rounded-xl bg-slate-200"></div> }>
            {move || setup.get().map(|result| match result {
                Ok(setup) if setup.targets.is_empty() => view! {
                    <div class="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-600">
                        "Nothing to compare yet: " <a href="/endpoints" class="text-indigo-600 hover:underline">"add an inference endpoint"</a> " first."
                    </div>
                }.into_any(),
                Ok(setup) => view! { <Playground setup/> }.into_any(),
                Err(e) => view! {
                    <div role="alert" class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-700">"Could not open the playground: " {e.to_string()}</div>
                }.into_any(),
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_whole_and_split_ones_wait() {
        let mut buffer = b"data: {\"a\":1}\n\ndata: [DONE]\n\ndata: {\"b\"".to_vec();
        assert_eq!(complete_events(&mut buffer), ["{\"a\":1}", "[DONE]"]);
        assert_eq!(buffer, b"data: {\"b\"");
        buffer.extend(b":2}\n\n");
        assert_eq!(complete_events(&mut buffer), ["{\"b\":2}"]);
        assert!(buffer.is_empty());
    }

    #[test]
    fn an_answer_streams_with_its_first_token_time_and_usage() {
        let mut answer = Answer {
            started: 100.0,
            ..Answer::default()
        };
        let chunk = |text: &str| json!({"choices": [{"delta": {"content": text}}]}).to_string();
        assert_eq!(
            answer.take_event(
                &json!({"choices": [{"delta": {"role": "assistant"}}]}).to_string(),
                110.0
            ),
            Ok(false)
        );
        assert_eq!(answer.ttft_ms, None);
        assert_eq!(answer.take_event(&chunk("Hel"), 150.0), Ok(false));
        assert_eq!(answer.take_event(&chunk("lo"), 170.0), Ok(false));
        let usage = json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}).to_string();
        assert_eq!(answer.take_event(&usage, 180.0), Ok(false));
        assert_eq!(answer.take_event("[DONE]", 181.0), Ok(true));
        assert_eq!((answer.text.as_str(), answer.ttft_ms), ("Hello", Some(50.0)));
        assert_eq!((answer.prompt_tokens, answer.completion_tokens), (Some(7), Some(2)));
        let error = json!({"error": {"message": "upstream went away"}}).to_string();
        assert_eq!(answer.take_event(&error, 190.0), Err("upstream went away".into()));
    }

    #[test]
    fn a_refusal_reads_as_its_status_and_message() {
        let mut answer = Answer::default();
        let body = json!({"error": {"message": "Rate limit reached"}}).to_string();
        assert_eq!(answer.take_json(429, &body, 1.0), Err("429: Rate limit reached".into()));
        let ok =
            json!({"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}});
        assert_eq!(answer.take_json(200, &ok.to_string(), 1.0), Ok(()));
        assert_eq!(answer.text, "hi");
    }

    #[test]
    fn the_judge_sees_every_answer_by_its_label() {
        let prompt = judge_prompt("2+2?", &[("a via g".into(), "4".into()), ("b".into(), "5".into())]);
        assert!(prompt.contains("The request:\n2+2?"));
        assert!(prompt.contains("Answer 1 (a via g):\n4"));
        assert!(prompt.contains("Answer 2 (b):\n5"));
    }
}
