//! `passthrough`: the benchmark's floor. A bare axum + reqwest proxy that does the least work
//! any gateway on this stack must do, so that `bench/run.sh` can say how much the real gateway
//! adds on top of it:
//!
//! - `POST /v1/chat/completions` and `POST /v1/embeddings` only;
//! - the body is buffered and parsed with `serde_json` (a gateway must read `model` and
//!   `stream`), then re-serialised and sent to `<upstream><same path>`;
//! - the client's `Authorization` (and every other request header) is not forwarded;
//! - the upstream's status, `content-type` and `cache-control` come back, and its body is
//!   streamed through chunk by chunk as it arrives (SSE included), never buffered.
//!
//! No authentication, routing, retries, limits, logging or usage accounting: those are what the
//! gateway is measured for. Accepted connections get `TCP_NODELAY`, as a latency-minded server
//! sets it. Loopback only, both ways.
//!
//! Usage: `passthrough --listen 127.0.0.1:PORT --upstream http://127.0.0.1:PORT`
//! (port 0 picks a free port; the first line on stdout says which).

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{header, HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::post,
    serve::ListenerExt,
    Router,
};
use clap::Parser;
use serde_json::{json, Value};
use std::{net::SocketAddr, process::ExitCode, sync::Arc, time::Duration};

/// A bare axum + reqwest pass-through: the floor the gateway is benchmarked against.
#[derive(Parser)]
#[command(name = "passthrough")]
struct Args {
    /// Loopback address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// Upstream base URL on loopback, without /v1 (the request path is appended).
    #[arg(long, value_name = "URL")]
    upstream: String,
}

/// Where requests go, and the pooled client that takes them there.
struct Upstream {
    client: reqwest::Client,
    /// The base URL without a trailing slash.
    base: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("passthrough: {error}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run(args: Args) -> Result<(), BoxError> {
    if !args.listen.ip().is_loopback() {
        return Err(format!("--listen {}: loopback addresses only", args.listen).into());
    }
    let base = args.upstream.trim_end_matches('/').to_string();
    let url = reqwest::Url::parse(&base).map_err(|e| format!("--upstream {base}: {e}"))?;
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if url.scheme() != "http" || !loopback {
        return Err(format!("--upstream {base}: an http:// URL on loopback only").into());
    }

    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()?;
    let state = Arc::new(Upstream { client, base });
    let app = Router::new()
        .route("/v1/chat/completions", post(forward))
        .route("/v1/embeddings", post(forward))
        .with_state(state.clone());

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let local = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        // Best effort: a socket that refuses it still works, only slower for small writes.
        let _ = tcp.set_nodelay(true);
    });
    println!("passthrough listening on http://{local} -> {}", state.base);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Parses, re-serialises and forwards one request; streams the answer back.
async fn forward(State(upstream): State<Arc<Upstream>>, uri: Uri, body: Bytes) -> Response {
    // The minimum a gateway does with the body: parse it and read what routing needs.
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value @ Value::Object(_)) => value,
        _ => return error(StatusCode::BAD_REQUEST, "the request body must be a JSON object"),
    };
    if request.get("model").and_then(Value::as_str).is_none() {
        return error(StatusCode::BAD_REQUEST, "`model` is required");
    }
    let streamed = request.get("stream").and_then(Value::as_bool) == Some(true);
    let payload = match serde_json::to_vec(&request) {
        Ok(payload) => payload,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };

    let mut outgoing = upstream
        .client
        .post(format!("{}{}", upstream.base, uri.path()))
        .header(header::CONTENT_TYPE, "application/json")
        .body(payload);
    if streamed {
        outgoing = outgoing.header(header::ACCEPT, "text/event-stream");
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(e) => return error(StatusCode::BAD_GATEWAY, &format!("upstream request failed: {e}")),
    };

    let mut headers = HeaderMap::new();
    for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
        if let Some(value) = answer.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    let status = answer.status();
    let mut response = Response::new(Body::from_stream(answer.bytes_stream()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// An OpenAI-shaped error.
fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "error": { "message": message, "type": "passthrough_error", "param": null, "code": null } });
    (status, axum::Json(body)).into_response()
}
