//! The logs page's server side beyond its server functions: the page's filters read into a
//! [`LogFilter`] (one place, for the page, the export and the live tail), `GET
//! /api/logs/export` (the filtered rows as CSV or JSON, a download) and `GET /api/logs/live`
//! (new matching rows as server-sent events, for the page's live tail).
//!
//! Invariant: the export and the live tail take the page's query string and read it as the
//! page does ([`LogQuery::from_url`], [`log_filter`]), so what they show is what the page
//! filters.
//! Invariant: any signed-in admin reads (the session gate stands in front); the live tail ends
//! when the session does (checked every [`RECHECK`]).

use crate::{
    manage::{LogFilter, Manage},
    AppState,
};
use app::api::SessionToken;
use app::types::{
    money, parse_utc_minute, utc_time, ConsoleError, EndpointId, GatewayId, KeyId, LogNames, LogQuery, RequestLog,
};
use axum::{
    body::{Body, Bytes},
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Extension,
};
use futures_util::{stream, StreamExt};
use leptos::server_fn::error::FromServerFnError;
use std::{collections::HashMap, convert::Infallible, time::Duration};

/// How often the live tail looks for new rows.
const POLL: Duration = Duration::from_secs(1);
/// The live tail checks the session again this often.
const RECHECK: Duration = Duration::from_secs(5);
/// Rows read per page of an export.
const EXPORT_PAGE: i64 = 500;
/// Most rows one export holds; past it the file ends with the newest this many.
pub const EXPORT_MAX_ROWS: usize = 100_000;

/// The page's filters as a [`LogFilter`], with the names the page shows. A gateway, key or
/// endpoint that does not exist matches nothing; a malformed status or time is refused under
/// its field.
pub async fn log_filter(manage: &Manage, query: &LogQuery) -> Result<(LogFilter, LogNames), ConsoleError> {
    let gateways = manage.gateways().await?;
    let keys = manage.keys(None).await?;
    let endpoints = manage.endpoints().await?;
    let given = |text: &str| Some(text.trim()).filter(|text| !text.is_empty()).map(str::to_string);
    let mut filter = LogFilter {
        model: given(&query.model),
        request_id: given(&query.request_id),
        ..LogFilter::default()
    };
    if let Some(name) = given(&query.gateway) {
        filter.gateway = Some(gateways.iter().find(|g| g.name == name).map_or(GatewayId(-1), |g| g.id));
    }
    if let Some(key) = given(&query.key) {
        let found = keys
            .iter()
            .find(|k| k.public_id == key)
            .or_else(|| keys.iter().find(|k| k.name == key));
        filter.key = Some(found.map_or(KeyId(-1), |k| k.id));
    }
    if let Some(name) = given(&query.endpoint) {
        filter.endpoint = Some(
            endpoints
                .iter()
                .find(|e| e.name == name)
                .map_or(EndpointId(-1), |e| e.id),
        );
    }
    match query.status.trim() {
        "" => {}
        "errors" => filter.errors_only = true,
        code => match code.parse::<i64>() {
            Ok(status) if (100..=599).contains(&status) => filter.status = Some(status),
            _ => {
                return Err(ConsoleError::invalid(
                    "status",
                    format!("“{code}” is not an HTTP status."),
                ))
            }
        },
    }
    let time = |field: &str, text: &str| match given(text) {
        None => Ok(None),
        Some(text) => parse_utc_minute(&text).map(Some).ok_or_else(|| {
            ConsoleError::invalid(
                field,
                format!("“{text}” is not a time; write it as 2026-12-02T09:30 (UTC)."),
            )
        }),
    };
    filter.from = time("from", &query.from)?;
    filter.to = time("to", &query.to)?;
    let names = LogNames {
        gateways: gateways.into_iter().map(|g| (g.id, g.name)).collect(),
        keys: (keys.into_iter())
            .map(|k| {
                let name = if k.name.is_empty() { k.public_id.clone() } else { k.name };
                (k.id, name, k.public_id)
            })
            .collect(),
        endpoints: endpoints.into_iter().map(|e| (e.id, e.name)).collect(),
    };
    Ok((filter, names))
}

/// A refusal as a plain HTTP answer in the console's own JSON.
fn refusal(error: &ConsoleError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        error.ser(),
    )
        .into_response()
}

/// The query string as the page's [`LogQuery`], and the export's `format`.
fn read_query(params: &HashMap<String, String>) -> LogQuery {
    LogQuery::from_url(|name| params.get(name).cloned())
}

/// An export's file format.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

/// `GET /api/logs/export?format=csv|json&<the page's filters>`: every matching row, newest
/// first (at most [`EXPORT_MAX_ROWS`]), as a download. CSV holds one line a request without
/// bodies; JSON an array of the logs as stored (attempts and any stored bodies) with names.
pub async fn export(State(state): State<AppState>, Query(params): Query<HashMap<String, String>>) -> Response {
    let format = match params.get("format").map(String::as_str) {
        None | Some("csv") => Format::Csv,
        Some("json") => Format::Json,
        Some(other) => {
            return refusal(&ConsoleError::invalid(
                "format",
                format!("“{other}” is not an export format; choose csv or json."),
            ))
        }
    };
    let query = read_query(&params);
    let (filter, names) = match log_filter(&state.manage, &query).await {
        Ok(found) => found,
        Err(error) => return refusal(&error),
    };
    let manage = state.manage.clone();
    // Pages are read as the client takes the file, so a large export holds one page at a time.
    let pages = stream::unfold(Some((None::<i64>, 0usize)), move |cursor| {
        let (manage, filter, names) = (manage.clone(), filter.clone(), names.clone());
        async move {
            let (before, written) = cursor?;
            let want = EXPORT_PAGE.min(i64::try_from(EXPORT_MAX_ROWS - written).unwrap_or(EXPORT_PAGE));
            let rows = match manage.request_logs(&filter, before, want).await {
                Ok(rows) => rows,
                Err(error) => {
                    tracing::warn!(%error, "a log export stopped early");
                    return Some((
                        Err(std::io::Error::other("the export could not be read to its end")),
                        None,
                    ));
                }
            };
            let last = rows.last().map(|(id, _)| *id);
            let written_now = written + rows.len();
            let chunk = rows
                .iter()
                .enumerate()
                .map(|(i, (_, log))| export_row(format, &names, log, written + i == 0))
                .collect::<String>();
            let done = rows.len() < usize::try_from(want).unwrap_or(0) || written_now >= EXPORT_MAX_ROWS;
            let next = if done {
                None
            } else {
                last.map(|id| (Some(id), written_now))
            };
            Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), next))
        }
    });
    let (opening, closing, content_type, name) = match format {
        Format::Csv => (csv_header(), "", "text/csv; charset=utf-8", "request-logs.csv"),
        Format::Json => ("[".to_string(), "\n]\n", "application/json", "request-logs.json"),
    };
    let body = stream::iter([Ok(Bytes::from(opening))])
        .chain(pages)
        .chain(stream::iter([Ok(Bytes::from_static(closing.as_bytes()))]));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// The CSV's columns.
const CSV_COLUMNS: [&str; 16] = [
    "time_utc",
    "request_id",
    "status",
    "gateway",
    "key",
    "endpoint",
    "model",
    "api",
    "operation",
    "stream",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "error",
];

/// The CSV's header line.
fn csv_header() -> String {
    csv_line(CSV_COLUMNS.iter().map(|c| c.to_string()))
}

/// One CSV line (RFC 4180: fields quoted when they hold a comma, quote or line break). A field
/// a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) is written after a `'`.
fn csv_line(fields: impl Iterator<Item = String>) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let fields: Vec<String> = fields
        .map(|field| {
            let numeric = field.parse::<f64>().is_ok();
            if !numeric && field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{field}")
            } else {
                field
            }
        })
        .collect();
    // Writing to memory cannot fail.
    let _ = writer.write_record(&fields);
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// One exported row (`first`: the first row of the file, which a JSON array does not precede
/// with a comma).
fn export_row(format: Format, names: &LogNames, log: &RequestLog, first: bool) -> String {
    match format {
        Format::Csv => csv_line(
            [
                utc_time(log.created_at),
                log.request_id.clone(),
                log.status.to_string(),
                names.gateway(log.gateway_id),
                names.key(log.key_id),
                names.endpoint(log.endpoint_shown()),
                log.model.clone().unwrap_or_default(),
                log.api.clone(),
                log.operation.clone(),
                log.stream.to_string(),
                log.latency_ms.to_string(),
                log.ttft_ms.map(|ms| ms.to_string()).unwrap_or_default(),
                log.prompt_tokens.to_string(),
                log.completion_tokens.to_string(),
                money(log.cost_micros),
                log.error_class.clone().unwrap_or_default(),
            ]
            .into_iter(),
        ),
        Format::Json => {
            let mut value = serde_json::to_value(log).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.insert("time_utc".into(), utc_time(log.created_at).into());
                object.insert("gateway".into(), names.gateway(log.gateway_id).into());
                object.insert("key".into(), names.key(log.key_id).into());
                object.insert("endpoint".into(), names.endpoint(log.endpoint_shown()).into());
            }
            format!("{}\n{value}", if first { "" } else { "," })
        }
    }
}

/// `GET /api/logs/live?<the page's filters>`: each new matching request log, as it is stored,
/// as a server-sent event (`id:` the log's id, `data:` its JSON), until the client leaves or
/// the session ends (then one `event: ended`). A browser that reconnects sends the last id it
/// saw (`Last-Event-ID`): the logs stored after it come first.
pub async fn live(
    State(state): State<AppState>,
    session: Option<Extension<SessionToken>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let query = read_query(&params);
    let (filter, _) = match log_filter(&state.manage, &query).await {
        Ok(found) => found,
        Err(error) => return refusal(&error),
    };
    let after = (headers.get("last-event-id"))
        .and_then(|id| id.to_str().ok())
        .and_then(|id| id.trim().parse::<i64>().ok());
    let tail = match state.manage.resume_logs(filter, after).await {
        Ok(tail) => tail,
        Err(error) => return refusal(&ConsoleError::from(error)),
    };
    let manage = state.manage.clone();
    let token = session.map(|Extension(token)| token);
    let mut every = tokio::time::interval(POLL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let checked = tokio::time::Instant::now();
    let events = stream::unfold(
        Some((
            tail,
            every,
            checked,
            Vec::<(i64, RequestLog)>::new(),
            after.unwrap_or(0),
        )),
        move |state| {
            let (manage, token) = (manage.clone(), token.clone());
            async move {
                let (mut tail, mut every, mut checked, mut ready, mut highest) = state?;
                loop {
                    if let Some((id, log)) = ready.pop() {
                        // The highest id sent so far: on Postgres a late commit can come with a
                        // smaller one, and a reconnecting browser must not go back for it.
                        highest = highest.max(id);
                        let event = Event::default()
                            .id(highest.to_string())
                            .json_data(&log)
                            .unwrap_or_default();
                        let state = (tail, every, checked, ready, highest);
                        return Some((Ok::<_, Infallible>(event), Some(state)));
                    }
                    every.tick().await;
                    if checked.elapsed() >= RECHECK {
                        checked = tokio::time::Instant::now();
                        let valid = match &token {
                            Some(token) => matches!(manage.session_user(token.expose()).await, Ok(Some(_))),
                            None => false,
                        };
                        if !valid {
                            return Some((Ok(Event::default().event("ended").data("session ended")), None));
                        }
                    }
                    match tail.look_ids().await {
                        // Oldest first out of `pop`, so the newest is sent last.
                        Ok(mut logs) => {
                            logs.reverse();
                            ready = logs;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "a live log tail stopped");
                            return Some((
                                Ok(Event::default().event("ended").data("the logs could not be read")),
                                None,
                            ));
                        }
                    }
                }
            }
        },
    );
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_what_a_spreadsheet_would_run() {
        let line = csv_line(
            ["a,b", "say \"hi\"", "=HYPERLINK(\"x\")", "-12.5", "@sum", "plain"]
                .map(String::from)
                .into_iter(),
        );
        assert_eq!(
            line,
            "\"a,b\",\"say \"\"hi\"\"\",\"'=HYPERLINK(\"\"x\"\")\",-12.5,'@sum,plain\r\n"
        );
    }
}
