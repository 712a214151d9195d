//! `pipe`: the byte pipe, issue #26's floor. A bare hyper server and hyper's pooled client that
//! forward every request to the upstream as it came (method, path, headers but `Host` and
//! `Authorization`, body) and the answer back as it comes, frame by frame — no parsing, no
//! copies beyond hyper's own. What any proxy on this stack pays to move the bytes; the gateway's
//! stream and JSON throughput are reported against it.
//!
//! Usage: `pipe --listen 127.0.0.1:PORT --upstream http://127.0.0.1:PORT`
//! (port 0 picks a free port; the first line on stdout says which). Loopback only, both ways.

use axum::http::{header, uri::PathAndQuery, HeaderValue, Request, Response, StatusCode, Uri};
use clap::Parser;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::{TokioExecutor, TokioIo},
};
use std::{net::SocketAddr, process::ExitCode, sync::Arc};

/// A bare hyper byte pipe: the floor streams are measured against.
#[derive(Parser)]
#[command(name = "pipe")]
struct Args {
    /// Loopback address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// Upstream base URL on loopback, without /v1 (the request path is appended).
    #[arg(long, value_name = "URL")]
    upstream: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Answer = Response<BoxBody<Bytes, hyper::Error>>;

struct Upstream {
    client: Client<HttpConnector, Incoming>,
    /// `http://host:port`, without a trailing slash.
    authority: axum::http::uri::Authority,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pipe: {error}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run(args: Args) -> Result<(), BoxError> {
    if !args.listen.ip().is_loopback() {
        return Err(format!("--listen {}: loopback addresses only", args.listen).into());
    }
    let base: Uri = args.upstream.trim_end_matches('/').parse()?;
    let authority = base.authority().cloned().ok_or("--upstream: no host")?;
    let loopback = authority.host() == "localhost"
        || (authority.host().trim_matches(['[', ']']))
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if base.scheme_str() != Some("http") || !loopback {
        return Err(format!("--upstream {base}: an http:// URL on loopback only").into());
    }
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let upstream = Arc::new(Upstream { client, authority });

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("pipe listening on http://{} -> {base}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        // Best effort, as a latency-minded server sets it.
        let _ = tcp.set_nodelay(true);
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| forward(upstream.clone(), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

/// Sends one request on as it came; the answer comes back as it arrives.
async fn forward(upstream: Arc<Upstream>, mut request: Request<Incoming>) -> Result<Answer, hyper::Error> {
    let path = (request.uri().path_and_query().cloned()).unwrap_or_else(|| PathAndQuery::from_static("/"));
    let uri = Uri::builder()
        .scheme("http")
        .authority(upstream.authority.clone())
        .path_and_query(path)
        .build();
    let Ok(uri) = uri else {
        return Ok(refused(StatusCode::BAD_REQUEST, "a bad path"));
    };
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.remove(header::AUTHORIZATION);
    match HeaderValue::from_str(upstream.authority.as_str()) {
        Ok(host) => headers.insert(header::HOST, host),
        Err(_) => return Ok(refused(StatusCode::BAD_REQUEST, "a bad host")),
    };
    match upstream.client.request(request).await {
        Ok(answer) => Ok(answer.map(BodyExt::boxed)),
        Err(_) => Ok(refused(StatusCode::BAD_GATEWAY, "the upstream did not answer")),
    }
}

fn refused(status: StatusCode, message: &'static str) -> Answer {
    let body = Full::new(Bytes::from_static(message.as_bytes())).map_err(|never| match never {});
    let mut answer = Response::new(body.boxed());
    *answer.status_mut() = status;
    answer
}
