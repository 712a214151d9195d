//! The registry: gateways, endpoints (with their credentials opened) and keys, held in memory
//! as one immutable [`Snapshot`] that is swapped whole when the configuration changes.
//!
//! Invariant: the request path reads `Registry::snapshot()` and never awaits the database.
//! Invariant: a reload builds a complete new snapshot before swapping; a failed reload keeps
//! the last good one (inference keeps serving while the database is away, SPEC §8).

use crate::{
    manage::{Manage, ManageError, Notice},
    secrets::Secret,
};
use app::types::{
    CompositeModel, EndpointId, Gateway, GatewayId, GatewayKey, IdentityProvider, IdentityProviderId,
    InferenceEndpoint, KeyId, ModelPrice, Prompt,
};
use arc_swap::ArcSwap;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

/// An endpoint's credential as the proxy will use it.
#[derive(Clone, Debug)]
pub enum Credential {
    /// The endpoint has none (Ollama, local servers).
    None,
    /// Opened, ready to send.
    Ready(Secret),
    /// Stored but cannot be opened (wrong master key, damaged value): the endpoint is unusable
    /// until an admin sets it again.
    Unreadable,
}

/// The credential one call carries.
pub enum CallCredential<'a> {
    /// The endpoint's own key.
    Stored(&'a Secret),
    /// An access token obtained for it.
    Token(Secret),
}

impl CallCredential<'_> {
    pub fn expose(&self) -> &str {
        match self {
            CallCredential::Stored(secret) => secret.expose(),
            CallCredential::Token(token) => token.expose(),
        }
    }
}

/// Why a call has no credential to carry.
#[derive(Debug)]
pub enum CredentialError {
    /// Stored but cannot be opened.
    Unreadable,
    /// A token could not be had for it.
    Token(super::token::TokenError),
}

/// An endpoint with its credential.
#[derive(Debug)]
pub struct Upstream {
    pub endpoint: InferenceEndpoint,
    pub credential: Credential,
    /// The access token of an endpoint that signs in (its kind's `signs_in`).
    tokens: super::token::AccessTokens,
    /// The URLs called on this endpoint, parsed once: parsing one (host and all) costs more
    /// than building the rest of the call.
    urls: Mutex<Vec<(String, http::Uri)>>,
}

/// Most URLs an endpoint keeps parsed (one per operation it serves is the usual count).
const PARSED_URLS: usize = 8;

impl Upstream {
    pub fn new(endpoint: InferenceEndpoint, credential: Credential) -> Self {
        Upstream {
            endpoint,
            credential,
            tokens: super::token::AccessTokens::default(),
            urls: Mutex::new(Vec::new()),
        }
    }

    /// Signs `outbound` when the endpoint's kind signs its requests (AWS SigV4, in the
    /// endpoint's region, `us-east-1` when it names none): with its stored key
    /// (`credential`: stored, or the AWS credential chain's).
    pub fn sign(&self, outbound: &mut super::providers::Outbound, credential: Option<&str>) -> Result<(), String> {
        let Some(service) = self.endpoint.provider.spec().aws_service else {
            return Ok(());
        };
        // The stored key, or the AWS credential chain's (`call_credential`).
        let credentials = super::sigv4::AwsCredentials::parse(credential.ok_or("no AWS credentials")?)?;
        let region = self.endpoint.region.as_deref().unwrap_or("us-east-1");
        super::sigv4::sign_request(outbound, &credentials, region, service, std::time::SystemTime::now())
    }

    /// What a call to this endpoint carries: its stored key, or — for a kind that signs in —
    /// an access token exchanged for the stored service account, or — for an AWS kind that
    /// stores no key — the AWS credential chain's, waited for until `deadline` at most. `None`
    /// when it has none.
    pub async fn call_credential(
        &self,
        clients: &super::upstream::Clients,
        aws: &super::aws_credentials::AwsChain,
        deadline: std::time::Instant,
    ) -> Result<Option<CallCredential<'_>>, CredentialError> {
        match &self.credential {
            Credential::None if self.endpoint.provider.spec().aws_service.is_some() => {
                let key = aws.credentials_by(deadline).await.map_err(CredentialError::Token)?;
                Ok(Some(CallCredential::Token(key)))
            }
            Credential::None => Ok(None),
            Credential::Unreadable => Err(CredentialError::Unreadable),
            Credential::Ready(secret) if self.endpoint.provider.spec().signs_in => {
                let token = (self.tokens.bearer(secret, clients).await).map_err(CredentialError::Token)?;
                Ok(Some(CallCredential::Token(token)))
            }
            Credential::Ready(secret) => Ok(Some(CallCredential::Stored(secret))),
        }
    }

    /// `url` (one of this endpoint's, as its provider built it) parsed: read as a URL (so a
    /// host is punycoded and a path percent-encoded as browsers do), then as a request URI.
    pub fn parsed_url(&self, url: &str) -> Result<http::Uri, String> {
        let mut urls = self.urls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, parsed)) = urls.iter().find(|(text, _)| text == url) {
            return Ok(parsed.clone());
        }
        let normalised = url::Url::parse(url).map_err(|error| error.to_string())?;
        let parsed: http::Uri = normalised
            .as_str()
            .parse()
            .map_err(|error: http::uri::InvalidUri| error.to_string())?;
        if urls.len() < PARSED_URLS {
            urls.push((url.to_string(), parsed.clone()));
        }
        Ok(parsed)
    }
}

/// A key with its stored hash, for authenticating requests.
#[derive(Clone, Debug)]
pub struct KeyEntry {
    pub key: GatewayKey,
    pub secret_hash: String,
}

/// Everything the request path needs, at one configuration revision.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The configuration revision this snapshot was built from.
    pub revision: i64,
    pub upstreams: HashMap<EndpointId, Arc<Upstream>>,
    pub gateways: HashMap<GatewayId, Arc<Gateway>>,
    /// Each gateway's composite models, by name.
    composites: HashMap<GatewayId, HashMap<String, Arc<CompositeModel>>>,
    /// Every named prompt, by name.
    prompts: HashMap<String, Arc<Prompt>>,
    /// Each gateway's identity providers (the issuers of end users' tokens it accepts).
    identity_providers: HashMap<GatewayId, Vec<Arc<IdentityProvider>>>,
    /// Each gateway's guardrails (issue #24), compiled; none for a gateway without any.
    guards: HashMap<GatewayId, Arc<crate::guard::Guards>>,
    /// Each gateway's access rule, compiled.
    access_rules: crate::rules::Rules,
    /// Each gateway's group rule (its end users' group key), compiled.
    group_rules: crate::rules::Rules,
    /// Each gateway's access rules on its models, compiled, by model.
    model_rules: HashMap<GatewayId, HashMap<String, Arc<crate::rules::AccessRule>>>,
    /// Each named prompt's access rule, compiled, by prompt name.
    prompt_rules: HashMap<String, Arc<crate::rules::AccessRule>>,
    /// Each gateway's id by its name (the `/g/{gateway}/…` ways in).
    gateways_by_name: HashMap<String, GatewayId>,
    keys_by_public_id: HashMap<String, Arc<KeyEntry>>,
    keys_by_id: HashMap<KeyId, Arc<KeyEntry>>,
    prices: HashMap<String, ModelPrice>,
}

impl Snapshot {
    /// The key with this public id.
    pub fn key(&self, public_id: &str) -> Option<&Arc<KeyEntry>> {
        self.keys_by_public_id.get(public_id)
    }

    /// The key with this id.
    pub fn key_by_id(&self, id: KeyId) -> Option<&Arc<KeyEntry>> {
        self.keys_by_id.get(&id)
    }

    /// The composite model `name` of `gateway`, if it has one.
    pub fn composite(&self, gateway: GatewayId, name: &str) -> Option<&Arc<CompositeModel>> {
        self.composites.get(&gateway)?.get(name)
    }

    /// Every composite model of `gateway`.
    pub fn composites_of(&self, gateway: GatewayId) -> impl Iterator<Item = &Arc<CompositeModel>> {
        self.composites.get(&gateway).into_iter().flat_map(HashMap::values)
    }

    /// The identity providers of `gateway` (none: it accepts no end users' tokens).
    pub fn identity_providers(&self, gateway: GatewayId) -> &[Arc<IdentityProvider>] {
        self.identity_providers.get(&gateway).map_or(&[], Vec::as_slice)
    }

    /// Whether identity provider `id` exists (of any gateway).
    pub fn has_identity_provider(&self, id: IdentityProviderId) -> bool {
        (self.identity_providers.values().flatten()).any(|provider| provider.id == id)
    }

    /// The guardrails of `gateway`, if it has any.
    pub fn guards(&self, gateway: GatewayId) -> Option<&Arc<crate::guard::Guards>> {
        self.guards.get(&gateway)
    }

    /// The access rule of `gateway`, if it has one.
    pub fn access_rule(&self, gateway: GatewayId) -> Option<&Arc<crate::rules::AccessRule>> {
        self.access_rules.get(&gateway)
    }

    /// The group rule of `gateway`, if it has one.
    pub fn group_rule(&self, gateway: GatewayId) -> Option<&Arc<crate::rules::AccessRule>> {
        self.group_rules.get(&gateway)
    }

    /// The access rule on model `model` (as the client named it) of `gateway`, if it has one.
    pub fn model_rule(&self, gateway: GatewayId, model: &str) -> Option<&Arc<crate::rules::AccessRule>> {
        self.model_rules.get(&gateway)?.get(model)
    }

    /// The access rule of the prompt named `name`, if it has one.
    pub fn prompt_rule(&self, name: &str) -> Option<&Arc<crate::rules::AccessRule>> {
        self.prompt_rules.get(name)
    }

    /// The gateway named `name`, if there is one.
    pub fn gateway_named(&self, name: &str) -> Option<&Arc<Gateway>> {
        self.gateways.get(self.gateways_by_name.get(name)?)
    }

    /// The prompt named `name`, if there is one.
    pub fn prompt(&self, name: &str) -> Option<&Arc<Prompt>> {
        self.prompts.get(name)
    }

    /// The price of `model`, if it has one.
    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        self.prices.get(model)
    }

    /// The key and its ancestors, nearest first (for revocation and limits up the tree).
    pub fn lineage(&self, key: &GatewayKey) -> Vec<&Arc<KeyEntry>> {
        let mut chain = Vec::new();
        let mut next = Some(key.id);
        while let Some(id) = next {
            // The tree is acyclic by construction; the bound only guards against bad data.
            let Some(entry) = self.keys_by_id.get(&id).filter(|_| chain.len() < 64) else {
                break;
            };
            chain.push(entry);
            next = entry.key.parent_id;
        }
        chain
    }
}

/// The shared, swappable snapshot.
pub struct Registry {
    current: ArcSwap<Snapshot>,
}

impl Registry {
    /// A registry holding the configuration as it is now.
    pub async fn load(manage: &Manage) -> Result<Registry, ManageError> {
        Ok(Registry {
            current: ArcSwap::from_pointee(build(manage).await?),
        })
    }

    /// The current snapshot: a cheap pointer copy, never a database call.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Reloads when the configuration revision moved; returns whether it did.
    pub async fn refresh(&self, manage: &Manage) -> Result<bool, ManageError> {
        let revision = manage.config_revision().await?;
        if revision == self.current.load().revision {
            return Ok(false);
        }
        if !self.install(Arc::new(build(manage).await?)) {
            return Ok(false);
        }
        tracing::info!(revision, "configuration reloaded");
        Ok(true)
    }

    /// Makes `fresh` current unless a newer snapshot already is; returns whether it did. Two
    /// reloads can race (the poller and an explicit refresh): an older snapshot must never
    /// replace a newer one, or a key just created would be unknown until the next poll.
    fn install(&self, fresh: Arc<Snapshot>) -> bool {
        let previous = self.current.rcu(|current| {
            if fresh.revision >= current.revision {
                fresh.clone()
            } else {
                current.clone()
            }
        });
        previous.revision <= fresh.revision
    }

    /// Reloads on each configuration notice (Postgres: a change made through any server, at
    /// its commit) and polls every `every` besides, forever — the poll is the fallback for
    /// notices missed while the listener reconnects, and all there is on SQLite. Failures keep
    /// the last good snapshot.
    pub async fn watch(self: Arc<Self>, manage: Manage, every: Duration) {
        let mut notices = manage.config_notices().await.unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot listen for configuration changes; polling for them only");
            None
        });
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            match notices.as_mut() {
                Some(listener) => tokio::select! {
                    _ = ticks.tick() => {}
                    notice = listener.next() => {
                        if matches!(notice, Notice::Changed(revision) if revision <= self.current.load().revision) {
                            continue;
                        }
                    }
                },
                None => {
                    ticks.tick().await;
                }
            }
            if let Err(error) = self.refresh(&manage).await {
                tracing::warn!(error = %error, "configuration reload failed; serving the last snapshot");
            }
        }
    }
}

/// Reads the whole configuration. The revision is read first: a change racing the reads
/// leaves the snapshot at an older revision number, so the next poll reloads again.
async fn build(manage: &Manage) -> Result<Snapshot, ManageError> {
    let source = manage.registry_source().await?;
    let upstreams = source
        .endpoints
        .into_iter()
        .map(|endpoint| {
            let credential = match source.credentials.get(&endpoint.id) {
                None => Credential::None,
                Some(Ok(secret)) => Credential::Ready(secret.clone()),
                Some(Err(_)) => {
                    tracing::error!(endpoint_id = endpoint.id.0, "endpoint credential cannot be decrypted");
                    Credential::Unreadable
                }
            };
            (endpoint.id, Arc::new(Upstream::new(endpoint, credential)))
        })
        .collect();
    let keys: Vec<Arc<KeyEntry>> = source
        .keys
        .into_iter()
        .filter_map(|key| {
            let secret_hash = source.key_hashes.get(&key.id)?.clone();
            Some(Arc::new(KeyEntry { key, secret_hash }))
        })
        .collect();
    let mut identity_providers: HashMap<GatewayId, Vec<Arc<IdentityProvider>>> = HashMap::new();
    for provider in source.identity_providers {
        (identity_providers.entry(provider.gateway_id).or_default()).push(Arc::new(provider));
    }
    let guards = guards(source.guardrails);
    let mut access_rules = crate::rules::Rules::new();
    let mut group_rules = crate::rules::Rules::new();
    for gateway in &source.gateways {
        if let Some(rule) = &gateway.access_rule {
            access_rules.insert(gateway.id, Arc::new(crate::rules::stored(rule)));
        }
        if let Some(rule) = &gateway.people.group_rule {
            group_rules.insert(gateway.id, Arc::new(crate::rules::stored(rule)));
        }
    }
    let model_rules = (source.gateways.iter())
        .filter(|gateway| !gateway.model_rules.is_empty())
        .map(|gateway| {
            let rules = (gateway.model_rules.iter())
                .map(|rule| (rule.model.clone(), Arc::new(crate::rules::stored(&rule.rule))))
                .collect();
            (gateway.id, rules)
        })
        .collect();
    let prompt_rules = (source.prompts.iter())
        .filter_map(|prompt| {
            let rule = prompt.access_rule.as_deref()?;
            Some((prompt.name.clone(), Arc::new(crate::rules::stored(rule))))
        })
        .collect();
    let mut composites: HashMap<GatewayId, HashMap<String, Arc<CompositeModel>>> = HashMap::new();
    for composite in source.composites {
        (composites.entry(composite.gateway_id).or_default()).insert(composite.name.clone(), Arc::new(composite));
    }
    Ok(Snapshot {
        revision: source.revision,
        upstreams,
        gateways_by_name: source.gateways.iter().map(|g| (g.name.clone(), g.id)).collect(),
        gateways: source.gateways.into_iter().map(|g| (g.id, Arc::new(g))).collect(),
        composites,
        prompts: (source.prompts.into_iter())
            .map(|prompt| (prompt.name.clone(), Arc::new(prompt)))
            .collect(),
        identity_providers,
        guards,
        access_rules,
        group_rules,
        model_rules,
        prompt_rules,
        keys_by_public_id: keys.iter().map(|k| (k.key.public_id.clone(), k.clone())).collect(),
        keys_by_id: keys.into_iter().map(|k| (k.key.id, k)).collect(),
        prices: source.prices.into_iter().map(|p| (p.model.clone(), p)).collect(),
    })
}

/// Each gateway's guardrails compiled. Each was compiled when it was saved; one that no longer
/// compiles is left out (logged as an error) rather than stopping every gateway.
fn guards(guardrails: Vec<app::types::Guardrail>) -> HashMap<GatewayId, Arc<crate::guard::Guards>> {
    let mut by_gateway: HashMap<GatewayId, Vec<app::types::Guardrail>> = HashMap::new();
    for guardrail in guardrails {
        if let Err(why) = crate::guard::detect::Finder::new(&guardrail.detector) {
            tracing::error!(
                guardrail_id = guardrail.id.0,
                why,
                "a stored guardrail does not compile: left out"
            );
            continue;
        }
        by_gateway.entry(guardrail.gateway_id).or_default().push(guardrail);
    }
    (by_gateway.into_iter())
        .filter_map(|(gateway, rails)| match crate::guard::Guards::new(&rails) {
            Ok(guards) => Some((gateway, Arc::new(guards))),
            Err((_, why)) => {
                tracing::error!(
                    gateway_id = gateway.0,
                    why,
                    "a gateway's guardrails do not compile together: left out"
                );
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(revision: i64) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            revision,
            ..Snapshot::default()
        })
    }

    #[test]
    fn an_older_snapshot_never_replaces_a_newer_one() {
        let registry = Registry {
            current: ArcSwap::new(at(5)),
        };
        assert!(!registry.install(at(3)), "a reload that read revision 3 lost the race");
        assert_eq!(registry.snapshot().revision, 5);
        assert!(registry.install(at(6)));
        assert_eq!(registry.snapshot().revision, 6);
        assert!(registry.install(at(6)), "the same revision, read later, is as good");
    }
}
