//! The HTTP client for upstream calls: hyper's pooled HTTP/1.1 client, TLS by rustls with the
//! webpki roots, no redirects (a 3xx is an answer), and the addresses the upstream policy
//! refuses (cloud metadata always, private ranges when `proxy.deny_private_upstreams`) dropped
//! when a host name resolves to one at connect time (DNS rebinding).
//!
//! hyper directly rather than through reqwest: reqwest parses every request's URL again in its
//! redirect layer and converts it once more on the way to hyper — about 5 % of the gateway's
//! CPU per proxied request, with nothing we use in return.
//!
//! Invariant: literal IP hosts were checked when the endpoint was saved, and are checked again
//! before each attempt (`Clients::allows`); names are checked here, every time they are
//! resolved.

use crate::manage::endpoints::UpstreamPolicy;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::{
    client::legacy::{
        connect::{dns::Name, HttpConnector},
        Client,
    },
    rt::TokioExecutor,
};
use std::{
    collections::HashMap,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Mutex,
    task::{Context, Poll},
    time::Duration,
};

/// A request body sent upstream: always whole (bodies are read before they are routed).
pub type Body = Full<Bytes>;

/// The pooled client for one connect timeout.
pub type UpstreamClient = Client<hyper_rustls::HttpsConnector<HttpConnector<GuardedResolver>>, Body>;

/// Resolves with the system resolver and drops the addresses the policy refuses.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    policy: UpstreamPolicy,
}

impl tower::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                tracing::warn!(host = %host, "upstream host resolves only to refused addresses");
                return Err(std::io::Error::other(format!("{host} resolves to a refused address")));
            }
            Ok(allowed.into_iter())
        })
    }
}

/// One pooled client per connect timeout in use (the connector holds the timeout).
pub struct Clients {
    clients: Mutex<HashMap<Duration, UpstreamClient>>,
    policy: UpstreamPolicy,
}

impl Clients {
    pub fn new(policy: UpstreamPolicy) -> Self {
        Clients {
            clients: Mutex::new(HashMap::new()),
            policy,
        }
    }

    /// Whether the policy allows an upstream URI's host, where it is a literal address (names
    /// are checked when resolved).
    pub fn allows(&self, uri: &http::Uri) -> bool {
        if !self.policy.deny_private {
            // Metadata addresses were refused when the endpoint was saved.
            return true;
        }
        let host = uri.host().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        literal
            .parse::<std::net::IpAddr>()
            .map_or(true, |ip| self.policy.allows(ip))
    }

    /// The client for this connect timeout.
    pub fn get(&self, connect_timeout: Duration) -> UpstreamClient {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(connect_timeout)
            .or_insert_with(|| {
                let mut http = HttpConnector::new_with_resolver(GuardedResolver { policy: self.policy });
                http.set_connect_timeout(Some(connect_timeout));
                http.set_nodelay(true);
                // https:// URLs are handed to the TLS layer around it.
                http.enforce_http(false);
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_webpki_roots()
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(http);
                Client::builder(TokioExecutor::new())
                    .pool_idle_timeout(Duration::from_secs(90))
                    .build(https)
            })
            .clone()
    }
}

impl Default for Clients {
    fn default() -> Self {
        Self::new(UpstreamPolicy::default())
    }
}

/// Why a one-off exchange ([`exchange`]) got no answer: its reason, not yet scrubbed of the
/// credential.
#[derive(Debug)]
pub struct NoAnswer(pub String);

/// One request to an upstream outside a client's call (a probe, a moderation check): sent to
/// `url` with `outbound`'s headers and body, the whole answer read up to `limit` bytes within
/// `within`. The answer's status and body, or why there is none.
pub async fn exchange(
    client: UpstreamClient,
    url: http::Uri,
    outbound: crate::proxy::providers::Outbound,
    within: Duration,
    limit: usize,
) -> Result<(u16, Bytes), NoAnswer> {
    use http_body_util::{BodyExt, Limited};
    let mut request = http::Request::post(url);
    // JSON unless the outbound says otherwise (a token request is a form).
    if !outbound
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        request = request.header(http::header::CONTENT_TYPE, "application/json");
    }
    for (name, value) in outbound.headers {
        request = request.header(name, value);
    }
    let Ok(request) = request.body(Body::new(outbound.body.into())) else {
        return Err(NoAnswer("the credential cannot be sent as a header".into()));
    };
    let call = async {
        let response = client.request(request).await?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), limit).collect().await;
        Ok::<_, hyper_util::client::legacy::Error>((status, body.map(|b| b.to_bytes()).unwrap_or_default()))
    };
    match tokio::time::timeout(within, call).await {
        Err(_) => Err(NoAnswer(format!("no answer within {} s", within.as_secs()))),
        Ok(Err(error)) if timed_out(&error) => Err(NoAnswer("connection timed out".into())),
        Ok(Err(error)) => {
            let mut reason = error.to_string();
            let mut cause = std::error::Error::source(&error);
            while let Some(inner) = cause {
                reason = format!("{reason}: {inner}");
                cause = inner.source();
            }
            Err(NoAnswer(reason))
        }
        Ok(Ok(answer)) => Ok(answer),
    }
}

/// Whether a client error was a timeout somewhere down its causes (a connect timeout).
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TLS layer is built (one crypto provider, the webpki roots) and an https:// call goes
    /// through it to the connection attempt, failing as a connect error, not a panic.
    #[tokio::test]
    async fn https_calls_reach_the_connector() {
        let refused = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let client = Clients::default().get(Duration::from_secs(2));
        let request = http::Request::post(format!("https://{refused}/v1/chat/completions"))
            .body(Body::new(Bytes::from_static(b"{}")))
            .unwrap();
        let error = client.request(request).await.unwrap_err();
        assert!(error.is_connect(), "{error:?}");
        assert!(!timed_out(&error));
    }
}
