//! Inference endpoints: validate, seal the credential, store.
//!
//! Invariant: a credential goes in sealed and never comes out of this service (only
//! `has_credential`); error messages never quote it.
//! Invariant: cloud metadata addresses are refused as upstreams, in any spelling
//! (RELIABILITY B-14, as amended: private addresses are allowed).

use super::{already_exists, audit::record, validate::name, Actor, AuditEvent, Manage, ManageError};
use crate::{
    crypto,
    secrets::Secret,
    service_account::ServiceAccount,
    store::{now_ms, CredentialChange, EndpointFields},
};
use app::types::{
    EndpointHealth, EndpointId, EndpointProbe, EndpointUpdate, InferenceEndpoint, NewEndpoint, ProviderKind, Timeouts,
    WriteOnly,
};
use std::net::{IpAddr, Ipv4Addr};

/// Whether an address is (or may be) a cloud metadata or instance credentials service:
/// link-local IPv4 169.254.0.0/16 (AWS, GCP and Azure metadata, ECS task credentials at
/// 169.254.170.2), Alibaba's 100.100.100.200, and AWS's fd00:ec2::/32 — also when an IPv4
/// address is written inside IPv6 (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`,
/// translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 and Teredo).
pub fn is_metadata_address(ip: IpAddr) -> bool {
    let v4_is_metadata = |v4: Ipv4Addr| v4.is_link_local() || v4 == Ipv4Addr::new(100, 100, 100, 200);
    match ip {
        IpAddr::V4(v4) => v4_is_metadata(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (s[0] == 0xfd00 && s[1] == 0x0ec2) || embedded_v4(v6).is_some_and(v4_is_metadata)
        }
    }
}

/// The IPv4 address an IPv6 address carries, if it is written inside one: mapped
/// `::ffff:a.b.c.d`, compatible `::a.b.c.d`, translated `::ffff:0:a.b.c.d`, NAT64
/// `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::/48`, and Teredo's client `2001:0:…` (the last
/// 32 bits, inverted).
fn embedded_v4(v6: std::net::Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let v4 = |high: u16, low: u16| Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8);
    if s[0] == 0x2002 {
        return Some(v4(s[1], s[2]));
    }
    if s[0] == 0x2001 && s[1] == 0 {
        return Some(v4(!s[6], !s[7]));
    }
    let carries = v6.to_ipv4().is_some() || s[..6] == [0, 0, 0, 0, 0xffff, 0] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    carries.then(|| v4(s[6], s[7]))
}

/// Whether an address is private to a network: loopback, RFC 1918, carrier-grade NAT
/// (100.64.0.0/10), link-local, unspecified, IPv6 unique-local (fc00::/7) and link-local
/// (fe80::/10) — also when an IPv4 address is written inside IPv6.
pub fn is_private_address(ip: IpAddr) -> bool {
    let v4_is_private = |v4: Ipv4Addr| {
        let [a, b, ..] = v4.octets();
        v4.is_loopback() || v4.is_private() || v4.is_link_local() || a == 0 || (a == 100 && b & 0xc0 == 64)
    };
    match ip {
        IpAddr::V4(v4) => v4_is_private(v4),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || first & 0xfe00 == 0xfc00
                || first & 0xffc0 == 0xfe80
                || embedded_v4(v6).is_some_and(v4_is_private)
        }
    }
}

/// Which upstream addresses the configuration allows, beyond the rule that always holds (no
/// cloud metadata service): private ranges are allowed unless `proxy.deny_private_upstreams`
/// (RELIABILITY's URL policy: Ollama or vLLM on the local network is a main use case).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpstreamPolicy {
    pub deny_private: bool,
}

impl UpstreamPolicy {
    /// Whether the gateway may connect to `ip`.
    pub fn allows(self, ip: IpAddr) -> bool {
        let refused = is_metadata_address(ip) || (self.deny_private && is_private_address(ip));
        !refused
    }

    /// Checks a base URL's host where it is an address (or `localhost`); names are checked
    /// each time they are resolved.
    fn check(self, base_url: &str) -> Result<(), ManageError> {
        if !self.deny_private {
            return Ok(());
        }
        let private = match url::Url::parse(base_url).ok().as_ref().and_then(url::Url::host) {
            Some(url::Host::Ipv4(v4)) => is_private_address(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => is_private_address(IpAddr::V6(v6)),
            Some(url::Host::Domain(domain)) => {
                let domain = domain.trim_end_matches('.').to_ascii_lowercase();
                domain == "localhost" || domain.ends_with(".localhost")
            }
            None => false,
        };
        if private {
            return Err(ManageError::invalid(
                "base_url",
                "must not point at a private address (proxy.deny_private_upstreams is on)",
            ));
        }
        Ok(())
    }
}

/// Checks an upstream base URL: http(s), a host, no credentials in it, not a metadata
/// service. Hosts are read the way browsers and HTTP clients read them (so `2852039166`,
/// `0xA9FEA9FE` and `[::ffff:169.254.169.254]` are all 169.254.169.254).
pub fn validate_base_url(text: &str) -> Result<String, ManageError> {
    let field = "base_url";
    let url =
        url::Url::parse(text.trim()).map_err(|e| ManageError::invalid(field, format!("is not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ManageError::invalid(field, "must be an http:// or https:// URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ManageError::invalid(
            field,
            "must not contain credentials; use the API key instead",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ManageError::invalid(field, "must not have a query or fragment"));
    }
    let metadata = match url.host() {
        Some(url::Host::Ipv4(v4)) => is_metadata_address(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => is_metadata_address(IpAddr::V6(v6)),
        Some(url::Host::Domain(domain)) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            domain == "metadata.google.internal" || domain == "metadata"
        }
        None => return Err(ManageError::invalid(field, "must name a host")),
    };
    if metadata {
        return Err(ManageError::invalid(
            field,
            "must not point at a cloud metadata service",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// A credential without surrounding white space (a pasted newline would break the header);
/// `None` when nothing is left.
fn trimmed(key: Option<WriteOnly>) -> Option<Secret> {
    key.map(|key| Secret::new(key.0.trim().to_string()))
        .filter(|key| !key.expose().is_empty())
}

/// `scheme://host:port` of a URL, for telling whether two URLs reach the same server.
fn origin(url: &str) -> Option<String> {
    url::Url::parse(url.trim())
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

/// A deployment name or API version: it becomes part of an upstream URL, so only URL-safe
/// name characters.
fn url_part(field: &'static str, value: Option<String>) -> Result<Option<String>, ManageError> {
    let value = optional_text(value);
    match &value {
        Some(v)
            if v.len() > 100
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) =>
        {
            Err(ManageError::invalid(
                field,
                "must be up to 100 letters, digits, '.', '_' or '-'",
            ))
        }
        _ => Ok(value),
    }
}

fn optional_text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn positive(field: &'static str, value: Option<i64>) -> Result<(), ManageError> {
    match value {
        Some(v) if v < 1 => Err(ManageError::invalid(field, "must be at least 1")),
        _ => Ok(()),
    }
}

/// An endpoint's fields, owned, validated together.
struct Checked {
    name: String,
    provider: ProviderKind,
    base_url: String,
    model: String,
    deployment: Option<String>,
    api_version: Option<String>,
    project: Option<String>,
    region: Option<String>,
    rpm_limit: Option<i64>,
    tpm_limit: Option<i64>,
    timeouts: Timeouts,
    enabled: bool,
}

impl Checked {
    /// `new_key` is a credential given with this change (a stored one is not read back).
    fn validate(mut self, has_credential: bool, new_key: Option<&Secret>) -> Result<Self, ManageError> {
        self.name = name("name", &self.name)?;
        let spec = self.provider.spec();
        // A region that is part of the upstream's address must be one.
        self.region = match spec.regional_base_url {
            Some(_) => url_part("region", self.region)?,
            None => optional_text(self.region),
        };
        self.base_url = validate_base_url(&self.base_url)?;
        self.model = self.model.trim().to_string();
        if self.model.is_empty() || self.model.len() > 200 {
            return Err(ManageError::invalid("model", "must be 1 to 200 characters"));
        }
        self.deployment = url_part("deployment", self.deployment)?;
        self.api_version = url_part("api_version", self.api_version)?;
        self.project = url_part("project", self.project)?;
        positive("rpm_limit", self.rpm_limit)?;
        positive("tpm_limit", self.tpm_limit)?;
        let t = self.timeouts;
        for (field, value) in [
            ("connect_timeout_ms", t.connect_ms),
            ("first_byte_timeout_ms", t.first_byte_ms),
            ("idle_timeout_ms", t.idle_ms),
            ("total_timeout_ms", t.total_ms),
        ] {
            positive(field, value)?;
        }
        if spec.signs_in {
            if let Some(key) = new_key {
                let account =
                    ServiceAccount::parse(key.expose()).map_err(|reason| ManageError::invalid("api_key", reason))?;
                // The signed assertion goes there: a web address, never a metadata service.
                validate_base_url(&account.token_uri).map_err(|_| {
                    ManageError::invalid(
                        "api_key",
                        "has a token_uri that is not an http(s) address the gateway may call",
                    )
                })?;
                self.project = self.project.or(account.project_id);
            }
        }
        if let (Some(_), Some(key)) = (spec.aws_service, new_key) {
            crate::proxy::sigv4::AwsCredentials::parse(key.expose())
                .map_err(|reason| ManageError::invalid("api_key", reason))?;
        }
        if spec.needs_project && self.project.is_none() {
            return Err(ManageError::invalid(
                "project",
                format!(
                    "is required for {} (or as project_id in the service account)",
                    spec.name
                ),
            ));
        }
        if spec.needs_deployment {
            if self.deployment.is_none() {
                return Err(ManageError::invalid(
                    "deployment",
                    format!("is required for {}", spec.name),
                ));
            }
            if self.api_version.is_none() {
                return Err(ManageError::invalid(
                    "api_version",
                    format!("is required for {}", spec.name),
                ));
            }
        }
        if spec.needs_credential && !has_credential {
            return Err(ManageError::invalid(
                "api_key",
                format!("is required for {}", spec.name),
            ));
        }
        Ok(self)
    }

    fn fields(&self) -> EndpointFields<'_> {
        EndpointFields {
            name: &self.name,
            provider: self.provider,
            base_url: &self.base_url,
            model: &self.model,
            deployment: self.deployment.as_deref(),
            api_version: self.api_version.as_deref(),
            project: self.project.as_deref(),
            region: self.region.as_deref(),
            rpm_limit: self.rpm_limit,
            tpm_limit: self.tpm_limit,
            timeouts: self.timeouts,
            enabled: self.enabled,
        }
    }
}

impl Manage {
    /// Creates an endpoint; its credential is sealed under the master key.
    pub async fn create_endpoint(&self, actor: &Actor, new: NewEndpoint) -> Result<InferenceEndpoint, ManageError> {
        actor.must_write()?;
        let base_url = match (new.base_url, new.provider.default_base_url(new.region.as_deref())) {
            (Some(url), _) => url,
            (None, Some(default)) => default,
            (None, None) => {
                return Err(ManageError::invalid(
                    "base_url",
                    format!("is required for {}", new.provider.as_str()),
                ))
            }
        };
        let api_key = trimmed(new.api_key);
        let checked = Checked {
            name: new.name,
            provider: new.provider,
            base_url,
            model: new.model,
            deployment: new.deployment,
            api_version: new.api_version,
            project: new.project,
            region: new.region,
            rpm_limit: new.rpm_limit,
            tpm_limit: new.tpm_limit,
            timeouts: new.timeouts.unwrap_or_default(),
            enabled: new.enabled,
        }
        .validate(api_key.is_some(), api_key.as_ref())?;
        self.upstreams.check(&checked.base_url)?;
        let sealed = api_key
            .map(|key| crypto::seal(&self.keyring.master_key, &key))
            .transpose()
            .map_err(ManageError::internal)?;
        let mut tx = self.store.begin().await?;
        let created = (tx.insert_endpoint(&checked.fields(), sealed.as_deref(), now_ms()).await)
            .map_err(already_exists("name", taken(&checked.name)))?;
        let event = AuditEvent::EndpointCreated {
            id: created.id,
            name: created.name.clone(),
            provider: created.provider,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        Ok(created)
    }

    /// Changes an endpoint.
    pub async fn update_endpoint(
        &self,
        actor: &Actor,
        id: EndpointId,
        update: EndpointUpdate,
    ) -> Result<InferenceEndpoint, ManageError> {
        actor.must_write()?;
        let current = self.endpoint(id).await?;
        let api_key = trimmed(update.api_key);
        let has_credential = api_key.is_some() || (current.has_credential && !update.clear_api_key);
        // A stored key follows its host: moving the endpoint to another origin needs the key
        // again (or clearing it), so one update cannot ship the key to a new server.
        if let Some(url) = &update.base_url {
            let moved = origin(url) != origin(&current.base_url);
            if moved && current.has_credential && api_key.is_none() && !update.clear_api_key {
                return Err(ManageError::invalid(
                    "api_key",
                    "must be given again (or cleared) when base_url moves to another host",
                ));
            }
        }
        // A regional kind's address follows its region, unless it was set by hand.
        let regional_default = current.provider.default_base_url(current.region.as_deref());
        let base_url = match (update.base_url, &update.region) {
            (Some(url), _) => url,
            (None, Some(region)) if regional_default.as_deref() == Some(current.base_url.as_str()) => {
                (current.provider.default_base_url(Some(region))).unwrap_or(current.base_url)
            }
            (None, _) => current.base_url,
        };
        let checked = Checked {
            name: update.name.unwrap_or(current.name),
            provider: current.provider,
            base_url,
            model: update.model.unwrap_or(current.model),
            deployment: update.deployment.or(current.deployment),
            api_version: update.api_version.or(current.api_version),
            project: update.project.or(current.project),
            region: update.region.or(current.region),
            rpm_limit: update.rpm_limit.apply(current.rpm_limit),
            tpm_limit: update.tpm_limit.apply(current.tpm_limit),
            timeouts: current.timeouts,
            enabled: update.enabled.unwrap_or(current.enabled),
        }
        .validate(has_credential, api_key.as_ref())?;
        self.upstreams.check(&checked.base_url)?;
        let credential_changed = api_key.is_some() || update.clear_api_key;
        let credential = match (api_key, update.clear_api_key) {
            (Some(key), _) => {
                CredentialChange::Set(crypto::seal(&self.keyring.master_key, &key).map_err(ManageError::internal)?)
            }
            (None, true) => CredentialChange::Clear,
            (None, false) => CredentialChange::Keep,
        };
        let mut tx = self.store.begin().await?;
        let updated = (tx
            .update_endpoint(current.id, &checked.fields(), credential, now_ms())
            .await)
            .map_err(already_exists("name", taken(&checked.name)))?;
        let event = AuditEvent::EndpointUpdated {
            id: updated.id,
            name: updated.name.clone(),
            credential_changed,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        Ok(updated)
    }

    /// Every endpoint, by name.
    pub async fn endpoints(&self) -> Result<Vec<InferenceEndpoint>, ManageError> {
        Ok(self.store.endpoints().await?)
    }

    /// The endpoint with this id.
    pub async fn endpoint(&self, id: EndpointId) -> Result<InferenceEndpoint, ManageError> {
        self.store.endpoint(id).await?.ok_or(ManageError::NotFound)
    }

    /// The id of the endpoint with this name (for the CLI, which names things).
    pub async fn endpoint_id(&self, name: &str) -> Result<EndpointId, ManageError> {
        let endpoint = self.store.endpoint_by_name(name.trim()).await?;
        endpoint.map(|e| e.id).ok_or(ManageError::NotFound)
    }

    /// Deletes an endpoint that no gateway routes to.
    pub async fn delete_endpoint(&self, actor: &Actor, id: EndpointId) -> Result<(), ManageError> {
        actor.must_write()?;
        let endpoint = self.endpoint(id).await?;
        let users = self.store.gateways_using(endpoint.id).await?;
        if !users.is_empty() {
            return Err(ManageError::in_use(format!(
                "endpoint {} is used by gateway(s) {}; remove it from them first",
                endpoint.name,
                users.join(", ")
            )));
        }
        let moderating = self.moderating_gateways(&endpoint.name).await?;
        if !moderating.is_empty() {
            return Err(ManageError::in_use(format!(
                "endpoint {} moderates requests of gateway(s) {}; remove those guardrails first",
                endpoint.name,
                moderating.join(", ")
            )));
        }
        let mut tx = self.store.begin().await?;
        tx.delete_endpoint(endpoint.id).await?;
        let event = AuditEvent::EndpointDeleted {
            id: endpoint.id,
            name: endpoint.name,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }

    /// "Test connection": one tiny real request to the endpoint, from this process, with its
    /// stored credential (so it is recorded, like a change).
    pub async fn test_endpoint(&self, actor: &Actor, id: EndpointId) -> Result<EndpointProbe, ManageError> {
        actor.must_write()?;
        let endpoint = self.endpoint(id).await?;
        let not_loaded = || ManageError::invalid("id", "the endpoint is not loaded yet; try again in a second");
        let runtime = self.runtime.get().ok_or_else(not_loaded)?;
        let probe = runtime.probe(id).await.ok_or_else(not_loaded)?;
        let event = AuditEvent::EndpointTested {
            id,
            name: endpoint.name,
            ok: probe.error.is_none(),
            status: probe.status,
        };
        self.record_alone(actor, event).await?;
        Ok(probe)
    }

    /// An endpoint's live health in this process (unknown where nothing serves requests).
    pub fn endpoint_health(&self, id: EndpointId) -> EndpointHealth {
        (self.runtime.get()).map_or(EndpointHealth::Unknown, |runtime| runtime.health(id))
    }
}

/// The refusal of a name that another endpoint has.
fn taken(name: &str) -> String {
    format!("an endpoint named {name} already exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_denied_only_when_the_policy_says_so() {
        let open = UpstreamPolicy::default();
        let closed = UpstreamPolicy { deny_private: true };
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.10",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd12::1",
            "fe80::1",
            "::ffff:192.168.1.1",
            "64:ff9b::a01:203",
            "2002:c0a8:0101::1",
            "2001:0:4136:e378:8000:63bf:f5fe:fefe",
        ] {
            let ip: IpAddr = private.parse().unwrap();
            assert!(is_private_address(ip), "{private}");
            assert!(open.allows(ip), "{private}: allowed by default");
            assert!(!closed.allows(ip), "{private}: denied when configured");
        }
        for public in [
            "8.8.8.8",
            "100.128.0.1",
            "2606:4700::1111",
            "172.32.0.1",
            "2002:0808:0808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
            "2001:db8::1",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(!is_private_address(ip), "{public}");
            assert!(closed.allows(ip), "{public}");
        }
        assert!(
            !open.allows("169.254.169.254".parse().unwrap()),
            "metadata is refused either way"
        );
        assert!(closed.check("http://localhost:11434/v1").is_err());
        assert!(closed.check("http://[::1]:8000/v1").is_err());
        assert!(closed.check("https://api.openai.com/v1").is_ok());
        assert!(open.check("http://localhost:11434/v1").is_ok());
    }

    #[test]
    fn upstream_urls_are_checked() {
        assert_eq!(
            validate_base_url("https://api.openai.com/v1/").unwrap(),
            "https://api.openai.com/v1"
        );
        for ok in [
            "http://127.0.0.1:11434/v1",
            "http://10.0.0.5:8000/v1",
            "http://[::1]:8000",
            "http://ollama.local",
        ] {
            assert!(validate_base_url(ok).is_ok(), "{ok}: private upstreams are allowed");
        }
        for metadata in [
            "http://169.254.169.254/",
            "http://2852039166/",
            "http://0xA9FEA9FE/",
            "http://0251.0376.0251.0376/",
            "http://[::ffff:169.254.169.254]/",
            "http://[fd00:ec2::254]/",
            "http://metadata.google.internal/computeMetadata/v1",
            "http://100.100.100.200/",
            "http://169.254.170.2/v2/credentials",
            "http://[::a9fe:a9fe]/",
            "http://[::ffff:0:a9fe:a9fe]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://[fd00:ec2::1]/",
        ] {
            let err = validate_base_url(metadata).unwrap_err().to_string();
            assert!(err.contains("metadata"), "{metadata}: {err}");
        }
        for bad in [
            "file:///etc/passwd",
            "gopher://x",
            "ftp://x",
            "https://user:pw@host/",
            "not a url",
            "https://h/?api_key=1",
        ] {
            assert!(validate_base_url(bad).is_err(), "{bad}");
        }
    }
}
