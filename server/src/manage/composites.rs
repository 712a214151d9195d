//! Composite models: validate (members that resolve, shares that add up, no cycle), store,
//! audit.
//!
//! Invariant: a stored composite's members each name, when it was written, an endpoint linked
//! to its gateway, a model the gateway serves, or another composite of the gateway, and no
//! chain of composites leads back to itself.

use super::{already_exists, audit::record, validate::name, Actor, AuditEvent, Manage, ManageError};
use crate::store::{now_ms, Breakdown, CompositeFields};
use app::types::{
    CacheSettings, CompositeId, CompositeKind, CompositeMember, CompositeModel, CompositeUpdate, Gateway, GatewayId,
    KeyId, NewComposite, VariantStats,
};
use std::collections::{BTreeMap, HashSet};

/// How far the `ab` ratios may stray from 1 (they are typed as decimals).
const RATIO_TOLERANCE: f64 = 1e-6;

/// The longest rubric a `best` composite's judge is given.
const MAX_RUBRIC_CHARS: usize = 4_000;

/// Parses `[category:]target[=share]`, the CLI's notation for one member.
pub fn composite_member(text: &str) -> Result<CompositeMember, ManageError> {
    let invalid = |message: &str| ManageError::invalid("members", format!("{text:?}: {message}"));
    let (reference, share) = match text.trim().rsplit_once('=') {
        Some((reference, share)) => {
            let share: f64 = share
                .trim()
                .parse()
                .map_err(|_| invalid("the share after = is a number"))?;
            (reference, Some(share))
        }
        None => (text.trim(), None),
    };
    let (category, target) = match reference.split_once(':') {
        Some((category, target)) => (category.trim(), target.trim()),
        None => ("", reference.trim()),
    };
    Ok(CompositeMember {
        category: category.to_string(),
        target: target.to_string(),
        share: share.unwrap_or(1.0),
    })
}

/// Whether `target` names something on the gateway: one of its endpoints, models or aliases
/// (`served`), or another of its composites.
fn resolves(target: &str, served: &HashSet<String>, composites: &BTreeMap<String, CompositeModel>) -> bool {
    served.contains(target) || composites.contains_key(target)
}

/// The names a member may give that are not composites: the gateway's endpoints (by name),
/// their models and deployments, and its aliases.
async fn served_names(manage: &Manage, gateway: &Gateway) -> Result<HashSet<String>, ManageError> {
    let endpoints = manage.store.endpoints().await?;
    let linked: HashSet<_> = gateway.endpoints.iter().map(|link| link.endpoint_id).collect();
    let mut names: HashSet<String> = gateway.model_aliases.keys().cloned().collect();
    for endpoint in endpoints.into_iter().filter(|e| linked.contains(&e.id)) {
        names.insert(endpoint.name);
        names.insert(endpoint.model);
        names.extend(endpoint.deployment);
    }
    Ok(names)
}

/// The cycle through `start` if following composite members (and judges) from it comes back
/// to it: the names along the way, `start` first and last.
fn cycle(start: &str, members: &[String], composites: &BTreeMap<String, CompositeModel>) -> Option<Vec<String>> {
    fn walk(
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut HashSet<String>,
        composites: &BTreeMap<String, CompositeModel>,
    ) -> bool {
        let Some(composite) = composites.get(at) else {
            return false;
        };
        let next = (composite.members.iter().map(|m| m.target.as_str())).chain(composite.judge.as_deref());
        for target in next {
            path.push(target.to_string());
            if target == start || (seen.insert(target.to_string()) && walk(target, start, path, seen, composites)) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut seen = HashSet::new();
    for target in members {
        let mut path = vec![start.to_string(), target.clone()];
        if target == start || (seen.insert(target.clone()) && walk(target, start, &mut path, &mut seen, composites)) {
            return Some(path);
        }
    }
    None
}

/// A composite's fields, checked against its gateway.
struct Checked {
    name: String,
    members: Vec<CompositeMember>,
    judge: Option<String>,
    rubric: Option<String>,
}

/// A composite's own response cache settings checked (issue #24): as a gateway's, and on only
/// for a composite that routes each request to one member (`load`, `ab`) — a `multi` or `best`
/// composite's answer is made of several each time, and is not cached.
fn own_cache(kind: CompositeKind, cache: Option<CacheSettings>) -> Result<Option<CacheSettings>, ManageError> {
    let Some(cache) = cache else { return Ok(None) };
    let answers_are_several = match kind {
        CompositeKind::Load | CompositeKind::Ab => false,
        CompositeKind::Multi | CompositeKind::Best => true,
    };
    if answers_are_several && cache.on() {
        return Err(ManageError::invalid(
            "cache",
            format!(
                "a {} composite's answers are not cached: each is made of several",
                kind.as_str()
            ),
        ));
    }
    super::gateways::cache(cache).map(Some)
}

impl Manage {
    /// Checks a composite as it would be stored on `gateway` (replacing `replacing`, when an
    /// update): its name free among the gateway's models, its members and judge resolvable,
    /// its shares adding up, and no cycle.
    #[allow(clippy::too_many_arguments)]
    async fn check_composite(
        &self,
        gateway: &Gateway,
        replacing: Option<CompositeId>,
        name_given: &str,
        kind: CompositeKind,
        members: Vec<CompositeMember>,
        judge: Option<String>,
        rubric: Option<String>,
    ) -> Result<Checked, ManageError> {
        let composite_name = name("name", name_given)?;
        let served = served_names(self, gateway).await?;
        if served.contains(&composite_name) {
            return Err(ManageError::invalid(
                "name",
                format!("{composite_name} is already a model or endpoint of this gateway"),
            ));
        }
        let others: BTreeMap<String, CompositeModel> = (self.store.composites().await?.into_iter())
            .filter(|c| c.gateway_id == gateway.id && Some(c.id) != replacing)
            .map(|c| (c.name.clone(), c))
            .collect();
        if members.is_empty() {
            return Err(ManageError::invalid("members", "must name at least one member"));
        }
        let mut categories = HashSet::new();
        let mut checked = Vec::with_capacity(members.len());
        for member in members {
            let target = member.target.trim().to_string();
            let category = match member.category.trim() {
                "" => target.clone(),
                category => name("members.category", category)?,
            };
            if target.is_empty() {
                return Err(ManageError::invalid("members.target", "each member names a target"));
            }
            if !resolves(&target, &served, &others) {
                return Err(ManageError::invalid(
                    "members.target",
                    format!("{target:?} is neither an endpoint, a model nor a composite of this gateway"),
                ));
            }
            if !categories.insert(category.clone()) {
                return Err(ManageError::invalid(
                    "members.category",
                    format!("{category:?} is given twice"),
                ));
            }
            if !(member.share.is_finite() && member.share > 0.0) {
                return Err(ManageError::invalid(
                    "members.share",
                    format!("{category}: a ratio or weight is a number above 0"),
                ));
            }
            checked.push(CompositeMember {
                category,
                target,
                share: member.share,
            });
        }
        match kind {
            CompositeKind::Ab => {
                if checked.len() < 2 {
                    return Err(ManageError::invalid("members", "an A/B test has at least two members"));
                }
                let sum: f64 = checked.iter().map(|m| m.share).sum();
                if (sum - 1.0).abs() > RATIO_TOLERANCE {
                    return Err(ManageError::invalid(
                        "members.share",
                        format!("the ratios must add up to 1; they add up to {sum}"),
                    ));
                }
            }
            CompositeKind::Multi | CompositeKind::Best if checked.len() < 2 => {
                return Err(ManageError::invalid(
                    "members",
                    "asking several members needs at least two",
                ));
            }
            CompositeKind::Load | CompositeKind::Multi | CompositeKind::Best => {}
        }
        let judge = judge.map(|j| j.trim().to_string()).filter(|j| !j.is_empty());
        match (kind, &judge) {
            (CompositeKind::Best, None) => return Err(ManageError::invalid("judge", "a best composite needs a judge")),
            (CompositeKind::Best, Some(judge)) => {
                if !resolves(judge, &served, &others) {
                    return Err(ManageError::invalid(
                        "judge",
                        format!("{judge:?} is neither an endpoint, a model nor a composite of this gateway"),
                    ));
                }
            }
            (CompositeKind::Load | CompositeKind::Ab | CompositeKind::Multi, Some(_)) => {
                return Err(ManageError::invalid("judge", "only a best composite has a judge"))
            }
            (CompositeKind::Load | CompositeKind::Ab | CompositeKind::Multi, None) => {}
        }
        let targets: Vec<String> = (checked.iter().map(|m| m.target.clone()))
            .chain(judge.clone())
            .collect();
        if let Some(path) = cycle(&composite_name, &targets, &others) {
            return Err(ManageError::invalid(
                "members",
                format!("the members lead back to {composite_name}: {}", path.join(" → ")),
            ));
        }
        let rubric = rubric.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
        match (kind, &rubric) {
            (CompositeKind::Best, Some(rubric)) if rubric.chars().count() > MAX_RUBRIC_CHARS => {
                return Err(ManageError::invalid(
                    "rubric",
                    format!("a rubric is at most {MAX_RUBRIC_CHARS} characters"),
                ))
            }
            (CompositeKind::Load | CompositeKind::Ab | CompositeKind::Multi, Some(_)) => {
                return Err(ManageError::invalid("rubric", "only a best composite has a rubric"))
            }
            (CompositeKind::Best, _) | (CompositeKind::Load | CompositeKind::Ab | CompositeKind::Multi, None) => {}
        }
        Ok(Checked {
            name: composite_name,
            members: checked,
            judge,
            rubric,
        })
    }

    /// Creates a composite model on its gateway.
    pub async fn create_composite(&self, actor: &Actor, new: NewComposite) -> Result<CompositeModel, ManageError> {
        actor.must_write()?;
        let gateway = self.gateway(new.gateway_id).await?;
        let checked =
            (self.check_composite(&gateway, None, &new.name, new.kind, new.members, new.judge, new.rubric)).await?;
        let cache = own_cache(new.kind, new.cache)?;
        let fields = CompositeFields {
            name: &checked.name,
            kind: new.kind,
            members: &checked.members,
            sticky: new.sticky,
            mode: new.mode,
            judge: checked.judge.as_deref(),
            rubric: checked.rubric.as_deref(),
            cache: cache.as_ref(),
        };
        let mut tx = self.store.begin().await?;
        let id = (tx.insert_composite(gateway.id, &fields, now_ms()).await).map_err(already_exists(
            "name",
            format!("{} already has a composite named {}", gateway.name, checked.name),
        ))?;
        let event = AuditEvent::CompositeCreated {
            id,
            gateway: gateway.name,
            name: checked.name,
            kind: new.kind,
            members: member_notation(&checked.members),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        self.composite(id).await
    }

    /// Changes a composite model.
    pub async fn update_composite(
        &self,
        actor: &Actor,
        id: CompositeId,
        update: CompositeUpdate,
    ) -> Result<CompositeModel, ManageError> {
        actor.must_write()?;
        let current = self.composite(id).await?;
        let gateway = self.gateway(current.gateway_id).await?;
        let members_changed = update.members.is_some();
        let checked = self
            .check_composite(
                &gateway,
                Some(id),
                update.name.as_deref().unwrap_or(&current.name),
                current.kind,
                update.members.unwrap_or(current.members),
                update.judge.apply(current.judge),
                update.rubric.apply(current.rubric),
            )
            .await?;
        let cache = own_cache(current.kind, update.cache.apply(current.cache))?;
        let fields = CompositeFields {
            name: &checked.name,
            kind: current.kind,
            members: &checked.members,
            sticky: update.sticky.unwrap_or(current.sticky),
            mode: update.mode.unwrap_or(current.mode),
            judge: checked.judge.as_deref(),
            rubric: checked.rubric.as_deref(),
            cache: cache.as_ref(),
        };
        let mut tx = self.store.begin().await?;
        (tx.update_composite(id, &fields, now_ms()).await).map_err(already_exists(
            "name",
            format!("{} already has a composite named {}", gateway.name, checked.name),
        ))?;
        let event = AuditEvent::CompositeUpdated {
            id,
            name: checked.name,
            members: members_changed.then(|| member_notation(&checked.members)),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        self.composite(id).await
    }

    /// Deletes a composite model (a composite naming it as a member then routes that member
    /// nowhere).
    pub async fn delete_composite(&self, actor: &Actor, id: CompositeId) -> Result<(), ManageError> {
        actor.must_write()?;
        let composite = self.composite(id).await?;
        let mut tx = self.store.begin().await?;
        tx.delete_composite(id).await?;
        let event = AuditEvent::CompositeDeleted {
            id,
            name: composite.name,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }

    /// Every composite model of `gateway` (of every gateway when `None`), by name.
    pub async fn composites(&self, gateway: Option<GatewayId>) -> Result<Vec<CompositeModel>, ManageError> {
        let all = self.store.composites().await?;
        Ok(all
            .into_iter()
            .filter(|c| gateway.is_none_or(|g| c.gateway_id == g))
            .collect())
    }

    /// The composite model with this id.
    pub async fn composite(&self, id: CompositeId) -> Result<CompositeModel, ManageError> {
        self.store.composite(id).await?.ok_or(ManageError::NotFound)
    }

    /// The id of `gateway`'s composite named `name` (for the CLI, which names things).
    pub async fn composite_id(&self, gateway: GatewayId, name: &str) -> Result<CompositeId, ManageError> {
        let all = self.composites(Some(gateway)).await?;
        (all.into_iter().find(|c| c.name == name.trim()))
            .map(|c| c.id)
            .ok_or(ManageError::NotFound)
    }
}

/// How long feedback waits for its request's log row (the log writer stores rows in batches,
/// a few milliseconds after the answer).
const FEEDBACK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Manage {
    /// Keeps `score` (0 to 1) as the feedback of key `key` on its request `request_id`; the
    /// request must be logged and made by that key (`NotFound` otherwise, whichever it is).
    pub async fn record_feedback(&self, key: KeyId, request_id: &str, score: f64) -> Result<(), ManageError> {
        if !(0.0..=1.0).contains(&score) {
            return Err(ManageError::invalid("score", "must be a number from 0 to 1"));
        }
        let request_id = request_id.trim();
        if request_id.is_empty() {
            return Err(ManageError::invalid("request_id", "must name a request"));
        }
        let until = std::time::Instant::now() + FEEDBACK_WAIT;
        loop {
            match self.store.request_key(request_id).await? {
                Some(Some(owner)) if owner == key => break,
                Some(_) => return Err(ManageError::NotFound),
                None if std::time::Instant::now() >= until => return Err(ManageError::NotFound),
                None => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
        Ok(self.store.put_feedback(request_id, key, score, now_ms()).await?)
    }

    /// How each variant of `composite` did in `[from, to)` (Unix milliseconds).
    pub async fn variant_stats(
        &self,
        composite: &CompositeModel,
        from: i64,
        to: i64,
    ) -> Result<Vec<VariantStats>, ManageError> {
        let breakdown = Breakdown::Variants {
            gateway: composite.gateway_id,
            model: &composite.name,
        };
        let figures = self.store.request_figures(breakdown, from, to).await?;
        Ok((figures.into_iter())
            .map(|(variant, figures)| VariantStats { variant, figures })
            .collect())
    }
}

/// Members in the CLI's notation, `category:target=share`, for the audit log.
fn member_notation(members: &[CompositeMember]) -> Vec<String> {
    (members.iter())
        .map(|m| format!("{}:{}={}", m.category, m.target, m.share))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::MultiMode;

    #[test]
    fn members_parse_from_the_cli_notation() {
        let member = |category: &str, target: &str, share: f64| CompositeMember {
            category: category.into(),
            target: target.into(),
            share,
        };
        assert_eq!(composite_member("gpt-4o").unwrap(), member("", "gpt-4o", 1.0));
        assert_eq!(composite_member("gpt-4o=0.8").unwrap(), member("", "gpt-4o", 0.8));
        assert_eq!(composite_member("a:gpt-4o=0.8").unwrap(), member("a", "gpt-4o", 0.8));
        assert_eq!(
            composite_member(" b : llama3 = 3 ").unwrap(),
            member("b", "llama3", 3.0)
        );
        assert!(composite_member("a:gpt=x").is_err());
    }

    fn composite(name: &str, targets: &[&str]) -> CompositeModel {
        CompositeModel {
            id: CompositeId(0),
            gateway_id: GatewayId(1),
            name: name.into(),
            kind: CompositeKind::Load,
            members: (targets.iter())
                .map(|t| CompositeMember {
                    category: (*t).into(),
                    target: (*t).into(),
                    share: 1.0,
                })
                .collect(),
            sticky: false,
            mode: MultiMode::WaitForAll,
            judge: None,
            rubric: None,
            cache: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_chain_of_composites_leading_back_is_named_as_a_cycle() {
        let others: BTreeMap<String, CompositeModel> = [composite("b", &["c", "gpt"]), composite("c", &["a"])]
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        assert_eq!(
            cycle("a", &["gpt".into(), "b".into()], &others),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        assert_eq!(cycle("a", &["a".into()], &others), Some(vec!["a".into(), "a".into()]));
        assert_eq!(cycle("d", &["b".into()], &BTreeMap::new()), None);
        let acyclic: BTreeMap<String, CompositeModel> = [composite("b", &["c"]), composite("c", &["gpt"])]
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        assert_eq!(cycle("a", &["b".into(), "c".into()], &acyclic), None);
    }
}
