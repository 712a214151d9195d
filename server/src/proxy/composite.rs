//! Step 4 for a composite model (issue #21): which of its members serves a request, and the
//! endpoints behind each member, in the order they are tried.
//!
//! A composite's members are put in an order for each request, by weight: the end user's own
//! order when the composite is sticky (`ab` always is), a fresh draw otherwise. Members with
//! no healthy endpoint go last. The request is served by the first member; a `load`
//! composite falls over to the next members, an `ab` composite stays in its variant.
//!
//! Invariant: a sticky order depends only on the end user and the members' categories and
//! shares (weighted rendezvous hashing), so it is the same on every replica and after a
//! restart; removing a member moves only the users it had, adding one takes only its share.
//! Invariant: a member names what it named when it was written; one that routes nowhere now
//! (an endpoint unlinked or renamed, a composite removed) is passed over, never an error.

use super::{
    balancer::{Balancer, HealthState},
    plan::{usable, Tier},
    providers::Operation,
    registry::{Snapshot, Upstream},
};
use app::types::{CompositeKind, CompositeMember, CompositeModel, Gateway};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::{sync::Arc, time::Instant};

/// The response header naming the member that served (its `ab` category).
pub const VARIANT_HEADER: &str = "x-mgw-variant";

/// How deep composites may name composites (a cycle is refused when written; this bounds what
/// a damaged configuration could do).
const MAX_DEPTH: usize = 8;

/// Where a request for a composite may go: its members, in the order they are tried, each a
/// tier naming its category, with its endpoints (`load` and `ab` leave out members that route
/// nowhere; `multi` keeps every member).
pub fn plan(
    snapshot: &Snapshot,
    gateway: &Gateway,
    composite: &CompositeModel,
    end_user: &str,
    operation: Operation,
    balancer: &Balancer,
) -> Vec<Tier> {
    let tier = |member: &CompositeMember, upstreams| Tier {
        variant: Some(member.category.clone()),
        upstreams,
    };
    if matches!(composite.kind, CompositeKind::Multi | CompositeKind::Best) {
        // Every member is called: in the order given, each with what it names now (nothing,
        // for one that routes nowhere: its answer is then an error of its own).
        return (composite.members.iter())
            .map(|member| {
                tier(
                    member,
                    resolve(snapshot, gateway, &member.target, end_user, operation, 0),
                )
            })
            .collect();
    }
    let now = Instant::now();
    let ordered = order(composite, end_user, &mut rand::thread_rng());
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    for member in ordered {
        let upstreams = resolve(snapshot, gateway, &member.target, end_user, operation, 0);
        if upstreams.is_empty() {
            continue;
        }
        if upstreams.iter().any(|u| balancer.state(u, now) == HealthState::Healthy) {
            healthy.push(tier(member, upstreams));
        } else {
            unhealthy.push(tier(member, upstreams));
        }
    }
    let mut tiers = healthy;
    tiers.extend(unhealthy);
    if composite.kind == CompositeKind::Ab {
        tiers.truncate(1);
    }
    tiers
}

/// The member name a `best` composite's judge calls are recorded under.
pub const JUDGE: &str = "judge";

/// A `best` composite's judge as a tier: the endpoints its reference names now (none when it
/// routes nowhere: the judge then fails, and the first answer is returned).
pub fn judge(snapshot: &Snapshot, gateway: &Gateway, composite: &CompositeModel, end_user: &str) -> Tier {
    let target = composite.judge.as_deref().unwrap_or_default();
    Tier {
        variant: Some(JUDGE.to_string()),
        upstreams: resolve(snapshot, gateway, target, end_user, Operation::Chat, 0),
    }
}

/// The attempts a semantic cache's embedding calls are recorded under (issue #24).
pub const CACHE_EMBEDDING: &str = "cache";

/// A semantic cache's embedding model as a tier: the endpoints of `gateway` that serve `model`
/// embeddings now (none: the cache then looks for exact repeats only).
pub fn embedder(snapshot: &Snapshot, gateway: &Gateway, model: &str, end_user: &str) -> Tier {
    Tier {
        variant: Some(CACHE_EMBEDDING.to_string()),
        upstreams: resolve(snapshot, gateway, model, end_user, Operation::Embeddings, 0),
    }
}

/// The endpoints `target` names on `gateway`: a composite's (its members' in its order, for
/// this end user), an endpoint linked by that name, or those serving that model (or alias).
fn resolve(
    snapshot: &Snapshot,
    gateway: &Gateway,
    target: &str,
    end_user: &str,
    operation: Operation,
    depth: usize,
) -> Vec<Arc<Upstream>> {
    if let Some(inner) = snapshot.composite(gateway.id, target) {
        if depth >= MAX_DEPTH {
            return Vec::new();
        }
        return (order(inner, end_user, &mut rand::thread_rng()).into_iter())
            .flat_map(|member| resolve(snapshot, gateway, &member.target, end_user, operation, depth + 1))
            .collect();
    }
    let model = gateway.model_aliases.get(target).map_or(target, String::as_str);
    (gateway.endpoints.iter())
        .filter_map(|link| snapshot.upstreams.get(&link.endpoint_id))
        .filter(|u| {
            u.endpoint.name == target || u.endpoint.model == model || u.endpoint.deployment.as_deref() == Some(model)
        })
        .filter(|u| usable(u, operation))
        .cloned()
        .collect()
}

/// The members in the order this request tries them: by weight, in the end user's own order
/// when sticky, else drawn afresh.
pub fn order<'c>(composite: &'c CompositeModel, end_user: &str, rng: &mut impl Rng) -> Vec<&'c CompositeMember> {
    let sticky = composite.sticky || composite.kind == CompositeKind::Ab;
    let mut scored: Vec<(f64, &CompositeMember)> = (composite.members.iter())
        .map(|member| {
            let draw = if sticky {
                unit(end_user, &member.category)
            } else {
                rng.gen_range(f64::MIN_POSITIVE..1.0)
            };
            (score(draw, member.share), member)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, member)| member).collect()
}

/// A member's place for a draw in (0, 1): the highest comes first, and a member comes first
/// with a probability proportional to its share (weighted rendezvous: `ln(u) / share`).
fn score(draw: f64, share: f64) -> f64 {
    draw.ln() / share.max(f64::MIN_POSITIVE)
}

/// A number in (0, 1) fixed by the end user and the category: the first 53 bits of their
/// SHA-256, so every replica and every release draws the same.
fn unit(end_user: &str, category: &str) -> f64 {
    let digest = Sha256::new()
        .chain_update(end_user.as_bytes())
        .chain_update([0])
        .chain_update(category.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let bits = u64::from_be_bytes(first) >> 11;
    // (bits + 0.5) / 2^53 is strictly inside (0, 1).
    (bits as f64 + 0.5) / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::{CompositeId, GatewayId, MultiMode};

    fn composite(kind: CompositeKind, members: &[(&str, f64)]) -> CompositeModel {
        CompositeModel {
            id: CompositeId(1),
            gateway_id: GatewayId(1),
            name: "c".into(),
            kind,
            members: (members.iter())
                .map(|(name, share)| CompositeMember {
                    category: (*name).into(),
                    target: (*name).into(),
                    share: *share,
                })
                .collect(),
            sticky: true,
            mode: MultiMode::WaitForAll,
            judge: None,
            rubric: None,
            cache: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn first(composite: &CompositeModel, user: &str) -> String {
        order(composite, user, &mut rand::thread_rng())[0].category.clone()
    }

    #[test]
    fn ratios_split_distinct_users_in_proportion() {
        let ab = composite(CompositeKind::Ab, &[("a", 0.8), ("b", 0.2)]);
        let a = (0..20_000).filter(|i| first(&ab, &format!("user-{i}")) == "a").count();
        let share = a as f64 / 20_000.0;
        assert!((share - 0.8).abs() < 0.015, "a got {share}");
    }

    #[test]
    fn removing_a_member_moves_only_its_users() {
        let three = composite(CompositeKind::Load, &[("a", 1.0), ("b", 2.0), ("c", 1.0)]);
        let two = composite(CompositeKind::Load, &[("a", 1.0), ("c", 1.0)]);
        let mut moved_from_b = 0;
        for i in 0..5_000 {
            let user = format!("u{i}");
            let before = first(&three, &user);
            let after = first(&two, &user);
            if before == "b" {
                moved_from_b += 1;
            } else {
                assert_eq!(before, after, "{user} was on {before}, not on the member removed");
            }
        }
        assert!(moved_from_b > 2_000, "b had about half the users: {moved_from_b}");
    }

    #[test]
    fn a_user_draws_the_same_order_every_time() {
        let load = composite(CompositeKind::Load, &[("a", 1.0), ("b", 1.0), ("c", 1.0)]);
        let once: Vec<_> = order(&load, "alice", &mut rand::thread_rng())
            .iter()
            .map(|m| &m.category)
            .collect();
        for _ in 0..100 {
            let again: Vec<_> = order(&load, "alice", &mut rand::thread_rng())
                .iter()
                .map(|m| &m.category)
                .collect();
            assert_eq!(once, again);
        }
    }
}
