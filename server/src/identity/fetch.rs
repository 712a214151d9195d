//! The GETs of identity providers' key sets and discovery documents: the [`KeyFetcher`] seam,
//! and [`UpstreamFetcher`], its implementation over the gateway's guarded upstream client.
//!
//! Invariant: fetches go where the upstream policy lets endpoints go (metadata addresses never,
//! private ones not when `proxy.deny_private_upstreams`), follow no redirect, end within
//! [`FETCH_TIMEOUT`], and read at most [`MAX_BODY_BYTES`].

use crate::{
    manage::endpoints::UpstreamPolicy,
    proxy::upstream::{Body, Clients, UpstreamClient},
};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Limited};
use std::{net::IpAddr, time::Duration};

/// The longest a fetch may take, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The most of an answer read: key sets are a few kilobytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A successful answer.
#[derive(Clone, Debug, Default)]
pub struct Fetched {
    pub body: Bytes,
    /// Its `Cache-Control: max-age`, if it has one.
    pub max_age: Option<Duration>,
}

/// GETs identity providers' documents; the verifier's only way out.
pub trait KeyFetcher: Send + Sync {
    /// GETs `url`; a non-2xx answer is an error. Errors are sentences for the log.
    fn get(&self, url: &str) -> BoxFuture<'_, Result<Fetched, String>>;
}

/// Fetches through a pooled upstream client of its own, under the upstream policy.
pub struct UpstreamFetcher {
    client: UpstreamClient,
    policy: UpstreamPolicy,
}

impl UpstreamFetcher {
    pub fn new(policy: UpstreamPolicy) -> Self {
        UpstreamFetcher {
            client: Clients::new(policy).get(CONNECT_TIMEOUT),
            policy,
        }
    }

    async fn fetch(&self, url: &str) -> Result<Fetched, String> {
        let uri: http::Uri = url.parse().map_err(|_| format!("{url} is not a URL"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(format!("{url} is not an http(s) URL"));
        }
        // Names are checked when the resolver resolves them; a literal address never is.
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.parse::<IpAddr>().is_ok_and(|ip| !self.policy.allows(ip)) {
            return Err(format!("{url} is an address the upstream policy refuses"));
        }
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .body(Body::new(Bytes::new()))
            .map_err(|e| format!("{url}: {e}"))?;
        let call = async {
            let response = self.client.request(request).await.map_err(|e| causes(url, &e))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("{url} answered {status}"));
            }
            let max_age = max_age(response.headers());
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| format!("{url}: {e}"))?
                .to_bytes();
            Ok(Fetched { body, max_age })
        };
        tokio::time::timeout(FETCH_TIMEOUT, call)
            .await
            .map_err(|_| format!("{url} did not answer within {} s", FETCH_TIMEOUT.as_secs()))?
    }
}

impl KeyFetcher for UpstreamFetcher {
    fn get(&self, url: &str) -> BoxFuture<'_, Result<Fetched, String>> {
        let url = url.to_string();
        Box::pin(async move { self.fetch(&url).await })
    }
}

/// An error and its causes, in one line (hyper's own says only "client error (Connect)").
fn causes(url: &str, error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = format!("{url}: {error}");
    let mut cause = error.source();
    while let Some(inner) = cause {
        line = format!("{line}: {inner}");
        cause = inner.source();
    }
    line
}

/// A `Cache-Control` header's `max-age`.
fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::CACHE_CONTROL)?.to_str().ok()?;
    value
        .split(',')
        .find_map(|directive| directive.trim().strip_prefix("max-age="))
        .and_then(|seconds| seconds.trim_matches('"').parse().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        let headers = |value: &'static str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static(value));
            headers
        };
        assert_eq!(
            max_age(&headers("public, max-age=3600")),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            max_age(&headers("max-age=\"60\", must-revalidate")),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age(&headers("no-cache")), None);
        assert_eq!(max_age(&headers("max-age=soon")), None);
        assert_eq!(max_age(&http::HeaderMap::new()), None);
    }

    #[tokio::test]
    async fn refused_and_foreign_addresses_are_not_fetched() {
        let fetcher = UpstreamFetcher::new(UpstreamPolicy { deny_private: true });
        for url in [
            "http://169.254.169.254/jwks",
            "http://127.0.0.1:1/jwks",
            "http://[::1]:1/jwks",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(fetcher.get(url).await.is_err(), "{url}");
        }
        let open = UpstreamFetcher::new(UpstreamPolicy::default());
        let error = open.get("http://169.254.169.254/jwks").await.unwrap_err();
        assert!(error.contains("refuses"), "metadata addresses stay refused: {error}");
    }
}
