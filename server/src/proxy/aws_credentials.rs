//! The standard AWS credential chain, for Bedrock endpoints that store no key (issue #25): the
//! environment's `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, the shared
//! credentials file's profile (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`,
//! `AWS_PROFILE` or `default`), a container's credentials endpoint (ECS's
//! `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, or `…_FULL_URI` with `…_AUTHORIZATION_TOKEN[_FILE]`,
//! as EKS Pod Identity sets), then the instance's metadata service (IMDSv2) — the sources AWS's
//! SDKs read, in their order.
//! Does not: read `~/.aws/config` (SSO, `credential_process`, web identity, assumed roles):
//! store a key on the endpoint there.
//!
//! Invariant: what a source gives is held until five minutes before it expires (a profile's key
//! for five minutes, so a rotated file is seen), one fetch at a time: the others wait for it
//! and share its answer.
//! Invariant: a request waits for a lookup until its own deadline at most; the lookup goes on
//! without it (a task of its own), so a slow metadata service is not asked again and again by
//! requests that gave up.
//! Invariant: the container and instance endpoints are the host's own services, reached over
//! plain HTTP without the upstream policy (which refuses their link-local addresses to
//! endpoints an admin types); a container's full URI is taken only at the addresses AWS's
//! SDKs take (loopback, ECS's and EKS's link-local ones) or over HTTPS. Their addresses are
//! logged, never put in an error a client may see.
//! Invariant: a lookup that found nothing is remembered for [`RETRY_AFTER`]: requests to a
//! keyless endpoint on a host without credentials do not each wait on the metadata service; a
//! renewal that fails keeps the credentials held while they still work.

use super::token::TokenError;
use crate::secrets::Secret;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

/// The environment variables the chain reads.
const VARS: [&str; 12] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "HOME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
];

/// ECS's credentials address, which a relative URI is under.
const ECS_ENDPOINT: &str = "http://169.254.170.2";
/// The instance metadata service.
const IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// The longest one call to a credentials service may take (it is on the host or beside it).
const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Answers are read up to this size.
const ANSWER_LIMIT: usize = 64 * 1024;
/// How long credentials are held before they expire; and how long a profile's key is held.
const MARGIN: Duration = Duration::from_secs(300);
/// How long a failed lookup is remembered.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Credentials from a source: `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`, as an
/// endpoint stores its key, and when to fetch again (`None`: never expire).
struct Found {
    key: Secret,
    renew_at: Option<Instant>,
    /// When the credentials stop working (`None`: never, or unknown for a profile's key).
    expires_at: Option<Instant>,
}

/// What the chain last found: credentials, or why there were none and when.
enum Held {
    Found(Found),
    Failed(TokenError, Instant),
}

/// The chain, with what it last found (shared with its lookups' tasks).
#[derive(Clone)]
pub struct AwsChain(Arc<Chain>);

struct Chain {
    vars: HashMap<&'static str, String>,
    held: tokio::sync::Mutex<Option<Held>>,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for AwsChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AwsChain")
    }
}

impl AwsChain {
    /// The chain over this process's environment (read once, now).
    pub fn from_env() -> AwsChain {
        AwsChain::with_vars(|name| std::env::var(name).ok())
    }

    /// The chain over the variables `var` gives (tests give their own).
    pub fn with_vars(var: impl Fn(&str) -> Option<String>) -> AwsChain {
        let vars = (VARS.iter())
            .filter_map(|name| var(name).filter(|value| !value.is_empty()).map(|value| (*name, value)))
            .collect();
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(1)));
        // https:// URLs (a container's full URI may be one) are handed to the TLS layer.
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        AwsChain(Arc::new(Chain {
            vars,
            held: tokio::sync::Mutex::new(None),
            client: Client::builder(TokioExecutor::new()).build(connector),
        }))
    }

    /// Credentials for a call, as [`Chain::credentials`] finds them.
    pub async fn credentials(&self) -> Result<Secret, TokenError> {
        self.0.credentials().await
    }

    /// Credentials for a call that must start by `deadline`: waited for until then at most,
    /// while the lookup runs as a task of its own (it goes on, and is held, if the call gives
    /// up).
    pub async fn credentials_by(&self, deadline: Instant) -> Result<Secret, TokenError> {
        if let Some(held) = self.0.fresh() {
            return Ok(held);
        }
        let chain = self.0.clone();
        let lookup = tokio::spawn(async move { chain.credentials().await });
        match tokio::time::timeout_at(deadline.into(), lookup).await {
            Ok(Ok(found)) => found,
            Ok(Err(_)) => Err(TokenError::Unreachable("the AWS credentials lookup stopped".into())),
            Err(_) => Err(TokenError::TimedOut),
        }
    }
}

impl Chain {
    /// The credentials held, when fresh and no lookup holds them now (no task needed).
    fn fresh(&self) -> Option<Secret> {
        let held = self.held.try_lock().ok()?;
        match held.as_ref()? {
            Held::Found(found) if found.renew_at.is_none_or(|renew_at| Instant::now() < renew_at) => {
                Some(found.key.clone())
            }
            Held::Found(_) | Held::Failed(..) => None,
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Credentials for a call: those held while fresh, else the first source's that has some
    /// (a renewal that fails keeps the held ones while they still work, and is tried again
    /// after [`RETRY_AFTER`]).
    pub async fn credentials(&self) -> Result<Secret, TokenError> {
        let mut held = self.held.lock().await;
        let now = Instant::now();
        match held.as_ref() {
            Some(Held::Found(found)) if found.renew_at.is_none_or(|renew_at| now < renew_at) => {
                return Ok(found.key.clone())
            }
            Some(Held::Failed(error, at)) if at.elapsed() < RETRY_AFTER => return Err(error.clone()),
            Some(Held::Found(_) | Held::Failed(..)) | None => {}
        }
        match self.find().await {
            Ok(found) => {
                let key = found.key.clone();
                *held = Some(Held::Found(found));
                Ok(key)
            }
            Err(error) => {
                if let Some(Held::Found(found)) = held.as_mut() {
                    if found.expires_at.is_some_and(|expires_at| now < expires_at) {
                        tracing::warn!(
                            reason = error.message(),
                            "AWS credentials not renewed; the held ones are used until they expire"
                        );
                        found.renew_at = Some(now + RETRY_AFTER);
                        return Ok(found.key.clone());
                    }
                }
                tracing::warn!(
                    reason = error.message(),
                    "no AWS credentials for keyless Bedrock endpoints"
                );
                *held = Some(Held::Failed(error.clone(), Instant::now()));
                Err(error)
            }
        }
    }

    async fn find(&self) -> Result<Found, TokenError> {
        if let (Some(id), Some(secret)) = (self.var("AWS_ACCESS_KEY_ID"), self.var("AWS_SECRET_ACCESS_KEY")) {
            return Ok(Found {
                key: joined(id, secret, self.var("AWS_SESSION_TOKEN")),
                renew_at: None,
                expires_at: None,
            });
        }
        if let Some(key) = self.profile()? {
            return Ok(Found {
                key,
                renew_at: Some(Instant::now() + MARGIN),
                expires_at: None,
            });
        }
        if let Some(url) = self.container_url()? {
            let authorization = self.container_authorization()?;
            let headers: Vec<(&str, String)> = authorization
                .into_iter()
                .map(|token| ("authorization", token))
                .collect();
            let service = "the container's credentials endpoint";
            let answer = self.call(http::Method::GET, &url, &headers, service).await?;
            return issued(&answer, service);
        }
        if self
            .var("AWS_EC2_METADATA_DISABLED")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err(missing(
                "the instance metadata service is disabled (AWS_EC2_METADATA_DISABLED)",
            ));
        }
        self.instance().await
    }

    /// The shared credentials file's profile, when the file exists; an error when it names
    /// the profile without both halves of a key.
    fn profile(&self) -> Result<Option<Secret>, TokenError> {
        let path = match (self.var("AWS_SHARED_CREDENTIALS_FILE"), self.var("HOME")) {
            (Some(path), _) => PathBuf::from(path),
            (None, Some(home)) => PathBuf::from(home).join(".aws/credentials"),
            (None, None) => return Ok(None),
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        let profile = self.var("AWS_PROFILE").unwrap_or("default");
        let fields = profile_fields(&text, profile);
        let field = |name: &str| fields.get(name).map(String::as_str);
        match (field("aws_access_key_id"), field("aws_secret_access_key")) {
            (Some(id), Some(secret)) => Ok(Some(joined(id, secret, field("aws_session_token")))),
            _ if fields.is_empty() => Ok(None),
            _ => Err(missing(&format!(
                "the profile {profile} in {} has no aws_access_key_id and aws_secret_access_key",
                path.display()
            ))),
        }
    }

    /// The container's credentials endpoint, when the environment names one it may use.
    fn container_url(&self) -> Result<Option<String>, TokenError> {
        match (
            self.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            self.var("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        ) {
            (Some(relative), _) if relative.starts_with('/') => Ok(Some(format!("{ECS_ENDPOINT}{relative}"))),
            (Some(_), _) => Err(missing("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with /")),
            (None, Some(full)) if container_host_allowed(full) => Ok(Some(full.to_string())),
            (None, Some(_)) => Err(missing(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI must be HTTPS, or HTTP to a loopback address or \
                 ECS's or EKS's credentials address",
            )),
            (None, None) => Ok(None),
        }
    }

    fn container_authorization(&self) -> Result<Option<String>, TokenError> {
        match (
            self.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
            self.var("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        ) {
            (Some(file), _) => std::fs::read_to_string(file)
                .map(|token| Some(token.trim().to_string()))
                .map_err(|error| {
                    missing(&format!(
                        "the container's authorization token file cannot be read: {error}"
                    ))
                }),
            (None, token) => Ok(token.map(str::to_string)),
        }
    }

    /// IMDSv2: a session token, the instance's role, then the role's credentials.
    async fn instance(&self) -> Result<Found, TokenError> {
        let base = self.var("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or(IMDS_ENDPOINT);
        let base = base.trim_end_matches('/');
        let service = "the instance metadata service";
        let not_here = |reason: TokenError| {
            missing(&format!(
                "none in the environment, no profile, no container endpoint, and {}",
                reason.message()
            ))
        };
        let ttl = [("x-aws-ec2-metadata-token-ttl-seconds", "21600".to_string())];
        let session_url = format!("{base}/latest/api/token");
        let token = (self.call(http::Method::PUT, &session_url, &ttl, service).await).map_err(not_here)?;
        let token = String::from_utf8_lossy(&token).trim().to_string();
        let session = [("x-aws-ec2-metadata-token", token)];
        let roles = format!("{base}/latest/meta-data/iam/security-credentials/");
        let listed = self
            .call(http::Method::GET, &roles, &session, service)
            .await
            .map_err(not_here)?;
        let listed = String::from_utf8_lossy(&listed);
        let role = (listed.lines().map(str::trim).find(|line| !line.is_empty()))
            .ok_or_else(|| missing("the instance has no role (attach an instance profile)"))?;
        let answer = self
            .call(http::Method::GET, &format!("{roles}{role}"), &session, service)
            .await?;
        issued(&answer, service)
    }

    /// One call to a credentials service (`service` names it in errors; its URL is only
    /// logged): its 2xx answer's body.
    async fn call(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, String)],
        service: &str,
    ) -> Result<Bytes, TokenError> {
        let mut request = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = (request.body(Full::new(Bytes::new()))).map_err(|_| {
            missing(&format!(
                "the address of {service} is not a URL an HTTP request can go to"
            ))
        })?;
        let call = async {
            let response = self.client.request(request).await.map_err(|error| error.to_string())?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), ANSWER_LIMIT).collect().await;
            Ok::<_, String>((status, body.map(|b| b.to_bytes()).unwrap_or_default()))
        };
        let failed = |reason: String| {
            tracing::warn!(url, reason, "an AWS credentials service did not answer");
            TokenError::Unreachable(format!("{service} did not answer"))
        };
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Err(_) => Err(failed(format!("no answer within {CALL_TIMEOUT:?}"))),
            Ok(Err(reason)) => Err(failed(reason)),
            Ok(Ok((status, body))) if (200..300).contains(&status) => Ok(body),
            Ok(Ok((status, _))) => Err(TokenError::Refused(status, format!("{service} answered {status}"))),
        }
    }
}

/// Whether a container's full credentials URI is one AWS's SDKs would ask: HTTPS anywhere, or
/// HTTP to a loopback address or to ECS's (169.254.170.2) or EKS Pod Identity's
/// (169.254.170.23, fd00:ec2::23) credentials address.
fn container_host_allowed(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Ipv4(ip))) => {
            ip.is_loopback() || [[169, 254, 170, 2], [169, 254, 170, 23]].contains(&ip.octets())
        }
        ("http", Some(url::Host::Ipv6(ip))) => {
            ip.is_loopback() || ip.segments() == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x23]
        }
        ("http", Some(url::Host::Domain(name))) => name == "localhost",
        _ => false,
    }
}

/// An endpoint's stored form of a key.
fn joined(id: &str, secret: &str, token: Option<&str>) -> Secret {
    Secret::new(match token {
        Some(token) => format!("{id}:{secret}:{token}"),
        None => format!("{id}:{secret}"),
    })
}

fn missing(reason: &str) -> TokenError {
    TokenError::Missing(reason.to_string())
}

/// The `key = value` lines of `[profile]` in a credentials file (names lower-case).
fn profile_fields(text: &str, profile: &str) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            inside = section.trim() == profile;
            continue;
        }
        if let (true, Some((name, value))) = (inside, line.split_once('=')) {
            fields.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    fields
}

/// Temporary credentials as ECS and IMDS give them.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Issued {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    expiration: Option<String>,
}

/// Credentials from a service's answer, held until five minutes before they expire (an hour
/// when the answer says nothing; at once renewed when they expire sooner than the margin).
fn issued(answer: &[u8], source: &str) -> Result<Found, TokenError> {
    let issued: Issued = serde_json::from_slice(answer)
        .map_err(|_| TokenError::Unreachable(format!("{source} answered without AccessKeyId and SecretAccessKey")))?;
    let now = SystemTime::now();
    let expires = (issued.expiration.as_deref())
        .and_then(|at| humantime::parse_rfc3339_weak(at).ok())
        .unwrap_or(now + Duration::from_secs(3600));
    let left = expires.duration_since(now).unwrap_or_default();
    Ok(Found {
        key: joined(
            &issued.access_key_id,
            &issued.secret_access_key,
            issued.token.as_deref(),
        ),
        renew_at: Some(Instant::now() + left.saturating_sub(MARGIN)),
        expires_at: Some(Instant::now() + left),
    })
}

#[cfg(test)]
mod tests;
