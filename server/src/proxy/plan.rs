//! Step 4 of the journey (`proxy/mod.rs`): the plan — which endpoints may serve a request, in
//! tiers tried in order. A plain model (or alias, or Azure deployment) is one tier, narrowed by
//! the key's allowed models; a [`composite`] model's members are its tiers, in the order this
//! request tries them (`multi` and `best`: every member, each called; `best` adds its judge).
//!
//! Invariant: nothing here awaits the database or the network; the snapshot and the balancer's
//! health are all it reads.

use super::{
    composite,
    error::ProxyError,
    providers::{self, Operation},
    registry::{Credential, KeyEntry, Snapshot, Upstream},
    route::Principal,
    wire::Inbound,
    Proxy,
};
use app::types::{CompositeKind, Gateway, MultiMode};
use serde_json::Value;
use std::sync::Arc;

/// One tier of a plan: endpoints the balancer orders among themselves, tried before the next
/// tier's, and the composite member they serve for.
pub struct Tier {
    /// The member's category (its `ab` variant); `None` for a plain model.
    pub variant: Option<String>,
    pub upstreams: Vec<Arc<Upstream>>,
}

/// Where a request may go: one tier for a plain model, a composite's members in the order they
/// are tried.
pub(super) struct Plan {
    pub tiers: Vec<Tier>,
    /// A `multi` or `best` composite: every tier is called, and what is made of the answers.
    pub fan_out: Option<FanOut>,
}

/// What a composite that calls every member makes of their answers.
pub(super) enum FanOut {
    /// `multi`: as its mode says.
    Multi(MultiMode),
    /// `best`: a judge picks one.
    Best(Judge),
}

/// A `best` composite's judge: the endpoints its reference names now, and its rubric (`None`:
/// the default).
pub(super) struct Judge {
    pub tier: Tier,
    pub rubric: Option<String>,
}

impl Plan {
    fn plain(upstreams: Vec<Arc<Upstream>>) -> Plan {
        Plan {
            tiers: vec![Tier {
                variant: None,
                upstreams,
            }],
            fan_out: None,
        }
    }

    /// Every endpoint the request may reach.
    pub(super) fn upstreams(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.tiers.iter().flat_map(|tier| tier.upstreams.iter())
    }

    /// The variant `upstream` served for (the first tier listing it).
    pub(super) fn variant_of(&self, upstream: &Upstream) -> Option<&str> {
        (self.tiers.iter())
            .find(|tier| tier.upstreams.iter().any(|u| u.endpoint.id == upstream.endpoint.id))
            .and_then(|tier| tier.variant.as_deref())
    }
}

/// Step 4: the endpoints that may serve it, in the gateway's order — for a composite model,
/// its members' in the order this request tries them ([`composite`]) — less those whose
/// provider cannot take its input (a 400 naming the input when that leaves none).
pub(super) fn plan(
    proxy: &Proxy,
    snapshot: &Snapshot,
    principal: &Principal<'_>,
    inbound: &Inbound,
    user: Option<&str>,
    session: Option<&str>,
) -> Result<Plan, ProxyError> {
    let mut plan = planned(proxy, snapshot, principal, inbound, user, session)?;
    let mut refused = None;
    for tier in &mut plan.tiers {
        tier.upstreams.retain(|upstream| {
            let adapter = providers::adapter(upstream.endpoint.provider);
            let refusal = adapter.refuses(&upstream.endpoint, inbound.operation, &inbound.body);
            refused = refused.or(refusal);
            refusal.is_none()
        });
    }
    if let Some((field, reason)) = refused {
        plan.tiers.retain(|tier| !tier.upstreams.is_empty());
        if plan.tiers.is_empty() {
            return Err(ProxyError::bad(field, format!("{reason}.")));
        }
    }
    Ok(plan)
}

fn planned(
    proxy: &Proxy,
    snapshot: &Snapshot,
    principal: &Principal<'_>,
    inbound: &Inbound,
    user: Option<&str>,
    session: Option<&str>,
) -> Result<Plan, ProxyError> {
    let gateway = principal.gateway();
    match principal {
        Principal::ConsoleToEndpoint { upstream, .. } => pinned(upstream, inbound.operation).map(Plan::plain),
        Principal::Key { .. } | Principal::ConsoleViaGateway(_) | Principal::EndUser(_) => {
            let requested = inbound.model.as_deref();
            let Some(composite) = requested.and_then(|name| snapshot.composite(gateway.id, name)) else {
                return candidates(snapshot, gateway, principal.lineage(), requested, inbound.operation)
                    .map(Plan::plain);
            };
            if !permitted(principal.lineage(), &composite.name) {
                return Err(ProxyError::ModelNotAllowed(composite.name.clone()));
            }
            let end_user = end_user(inbound, user, session, principal);
            let fan_out = match composite.kind {
                CompositeKind::Load | CompositeKind::Ab => None,
                CompositeKind::Multi if inbound.stream && composite.mode == MultiMode::WaitForAll => {
                    return Err(ProxyError::bad(
                        "stream",
                        format!(
                            "`{}` answers with every member's completion at once (waitforall), which cannot \
                             be streamed; send `stream: false`.",
                            composite.name
                        ),
                    ));
                }
                CompositeKind::Multi => Some(FanOut::Multi(composite.mode)),
                CompositeKind::Best if inbound.operation != Operation::Chat => {
                    return Err(ProxyError::bad(
                        "model",
                        format!(
                            "`{}` has a judge pick the best chat answer: it serves chat completions only.",
                            composite.name
                        ),
                    ));
                }
                CompositeKind::Best => Some(FanOut::Best(Judge {
                    tier: composite::judge(snapshot, gateway, composite, &end_user),
                    rubric: composite.rubric.clone(),
                })),
            };
            let tiers = composite::plan(
                snapshot,
                gateway,
                composite,
                &end_user,
                inbound.operation,
                &proxy.balancer,
            );
            if tiers.is_empty() {
                return Err(ProxyError::NoEndpoint);
            }
            Ok(Plan { tiers, fan_out })
        }
    }
}

/// Who the end user is, for sticky composites: the body's `user`, else the `x-mgw-session`
/// header, else the key (the console's requests: each its own).
fn end_user(inbound: &Inbound, verified: Option<&str>, session: Option<&str>, principal: &Principal<'_>) -> String {
    let user = verified.or_else(|| (inbound.body.get("user").and_then(Value::as_str)).filter(|u| !u.is_empty()));
    match (user, session.filter(|s| !s.is_empty()), principal.lineage().first()) {
        (Some(user), _, _) => format!("user:{user}"),
        (None, Some(session), _) => format!("session:{session}"),
        (None, None, Some(entry)) => format!("key:{}", entry.key.public_id),
        (None, None, None) => format!("request:{}", super::request_id()),
    }
}

/// Whether every level of `lineage` allows `model` (a key without a list allows every model).
fn permitted(lineage: &[&Arc<KeyEntry>], model: &str) -> bool {
    lineage
        .iter()
        .all(|entry| (entry.key.allowed_models.as_ref()).is_none_or(|allowed| allowed.iter().any(|m| m == model)))
}

/// Whether `upstream` can take a request for `operation` now: enabled, its provider serves the
/// operation, and its credential can be opened.
pub(super) fn usable(upstream: &Upstream, operation: Operation) -> bool {
    upstream.endpoint.enabled
        && providers::adapter(upstream.endpoint.provider).supports(operation)
        && !matches!(upstream.credential, Credential::Unreadable)
}

/// The endpoints that can serve `model` for a key with this lineage (the key, then its
/// ancestors), in the gateway's order.
fn candidates(
    snapshot: &Snapshot,
    gateway: &Gateway,
    lineage: &[&Arc<KeyEntry>],
    model: Option<&str>,
    operation: Operation,
) -> Result<Vec<Arc<Upstream>>, ProxyError> {
    // `Gateway::endpoints` is in position order (the store reads it so).
    let linked = gateway
        .endpoints
        .iter()
        .filter_map(|link| snapshot.upstreams.get(&link.endpoint_id));
    let Some(name) = model else {
        return Ok(linked.filter(|u| usable(u, operation)).cloned().collect());
    };
    let target = gateway.model_aliases.get(name).map_or(name, String::as_str);
    let serving: Vec<&Arc<Upstream>> = linked
        .filter(|u| u.endpoint.model == target || u.endpoint.deployment.as_deref() == Some(target))
        .collect();
    if serving.is_empty() {
        return Err(ProxyError::ModelNotFound(name.to_string()));
    }
    if !permitted(lineage, name) && !serving.iter().any(|u| permitted(lineage, &u.endpoint.model)) {
        return Err(ProxyError::ModelNotAllowed(name.to_string()));
    }
    if !serving
        .iter()
        .any(|u| providers::adapter(u.endpoint.provider).supports(operation))
    {
        return Err(ProxyError::bad(
            "model",
            format!(
                "The model `{name}` cannot serve {} on this gateway.",
                operation.as_str()
            ),
        ));
    }
    let usable: Vec<Arc<Upstream>> = serving.into_iter().filter(|u| usable(u, operation)).cloned().collect();
    if usable.is_empty() {
        return Err(ProxyError::NoEndpoint);
    }
    Ok(usable)
}

/// The console's one endpoint, when it can serve the operation.
fn pinned(upstream: &Arc<Upstream>, operation: Operation) -> Result<Vec<Arc<Upstream>>, ProxyError> {
    if !providers::adapter(upstream.endpoint.provider).supports(operation) {
        return Err(ProxyError::bad(
            "target",
            format!(
                "The endpoint `{}` cannot serve {}.",
                upstream.endpoint.name,
                operation.as_str()
            ),
        ));
    }
    if !upstream.endpoint.enabled || matches!(upstream.credential, Credential::Unreadable) {
        return Err(ProxyError::NoEndpoint);
    }
    Ok(vec![upstream.clone()])
}
