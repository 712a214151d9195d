//! Gateways: validate, check their endpoints, store.

use super::{already_exists, audit::record, validate::name, Actor, AuditEvent, Manage, ManageError};
use crate::store::{now_ms, EndpointLink, GatewayFields};
use app::types::{
    CacheMode, CacheSettings, EndpointChoice, EndpointId, EndpointRef, Gateway, GatewayId, GatewayUpdate, ModelAlias,
    ModelRule, NewGateway, PeopleLimits, RetryPolicy, MAX_CACHE_ENTRY_BYTES, MAX_CACHE_TTL_S,
};
use std::collections::{BTreeMap, HashSet};

/// Parses `name[:weight[:priority]]`, the CLI's and the gateways page's notation for one
/// endpoint of a gateway.
pub fn endpoint_choice(text: &str) -> Result<EndpointChoice, ManageError> {
    let invalid = |message: &str| ManageError::Invalid {
        field: "endpoints",
        message: format!("{text:?}: {message}"),
    };
    let mut parts = text.trim().split(':');
    let endpoint = EndpointRef::Name(parts.next().unwrap_or_default().trim().to_string());
    let number = |part: Option<&str>| {
        part.map(|p| {
            p.parse::<i64>()
                .map_err(|_| invalid("weight and priority are whole numbers"))
        })
        .transpose()
    };
    let weight = number(parts.next())?.unwrap_or(1);
    let priority = number(parts.next())?;
    if parts.next().is_some() {
        return Err(invalid("use name[:weight[:priority]]"));
    }
    Ok(EndpointChoice {
        endpoint,
        weight,
        priority,
    })
}

/// Aliases as stored: each alias once.
fn aliases(list: Vec<ModelAlias>) -> Result<BTreeMap<String, String>, ManageError> {
    let mut aliases = BTreeMap::new();
    for ModelAlias { alias, model } in list {
        if aliases.contains_key(&alias) {
            return Err(ManageError::invalid(
                "model_aliases",
                format!("{alias:?} is given twice"),
            ));
        }
        aliases.insert(alias, model);
    }
    Ok(aliases)
}

fn check_retry(retry: &RetryPolicy) -> Result<(), ManageError> {
    if !(1..=10).contains(&retry.max_attempts) {
        return Err(ManageError::invalid("retry.max_attempts", "must be 1 to 10"));
    }
    if retry.base_ms < 0 || retry.cap_ms < retry.base_ms {
        return Err(ManageError::invalid(
            "retry.cap_ms",
            "must be at least retry.base_ms, which must not be negative",
        ));
    }
    Ok(())
}

/// An access rule compiled (issue #23), or refused under `access` with what is wrong and
/// where; blank is none.
pub(super) fn access_rule(rule: Option<&str>) -> Result<Option<String>, ManageError> {
    match rule.map(str::trim).filter(|rule| !rule.is_empty()) {
        None => Ok(None),
        Some(rule) => crate::rules::compile(rule)
            .map(|compiled| Some(compiled.source().to_string()))
            .map_err(|fault| ManageError::invalid("access", fault)),
    }
}

/// A response cache's settings checked (issue #24): a TTL from a second to a day, an entry
/// limit from 1 byte to 16 MiB, a similarity above 0 up to 1 (checked when off too, so turning
/// it on cannot fail later); `semantic` names its embedding model (at most 200 characters).
pub(super) fn cache(mut cache: CacheSettings) -> Result<CacheSettings, ManageError> {
    cache.embedding_model = (cache.embedding_model.take())
        .map(|model| model.trim().to_string())
        .filter(|model| !model.is_empty());
    if !(cache.similarity > 0.0 && cache.similarity <= 1.0) {
        return Err(ManageError::invalid(
            "cache_similarity",
            "must be a cosine similarity above 0 and at most 1 (0.95 is a common choice)",
        ));
    }
    match (cache.mode, cache.embedding_model.as_deref()) {
        (CacheMode::Semantic, None) => {
            return Err(ManageError::invalid(
                "cache_embedding",
                "a semantic cache needs an embedding model: one the gateway serves embeddings by",
            ))
        }
        (_, Some(model)) if model.chars().count() > 200 => {
            return Err(ManageError::invalid(
                "cache_embedding",
                "must be at most 200 characters",
            ))
        }
        (CacheMode::Off | CacheMode::Exact | CacheMode::Semantic, _) => {}
    }
    if !(1..=MAX_CACHE_TTL_S).contains(&cache.ttl_s) {
        return Err(ManageError::invalid(
            "cache_ttl",
            format!("must be from 1 second to {MAX_CACHE_TTL_S} seconds (a day)"),
        ));
    }
    if !(1..=MAX_CACHE_ENTRY_BYTES).contains(&cache.max_entry_bytes) {
        return Err(ManageError::invalid(
            "cache_max_entry",
            format!("must be from 1 byte to {MAX_CACHE_ENTRY_BYTES} bytes (16 MiB)"),
        ));
    }
    Ok(cache)
}

/// Limits for people checked (issue #23): each list on its own, group limits only with a
/// group rule, the group rule compiled (refused under `group_rule` with where), a cap per
/// prompt of at least 1. Blank rules are none.
fn people(mut people: PeopleLimits) -> Result<PeopleLimits, ManageError> {
    super::limits::check_limits_of("user_limits", &people.per_user)?;
    super::limits::check_limits_of("group_limits", &people.per_group)?;
    people.group_rule = match people
        .group_rule
        .as_deref()
        .map(str::trim)
        .filter(|rule| !rule.is_empty())
    {
        None => None,
        Some(rule) => Some(
            crate::rules::compile(rule)
                .map(|compiled| compiled.source().to_string())
                .map_err(|fault| ManageError::invalid("group_rule", fault))?,
        ),
    };
    if people.group_rule.is_none() && !people.per_group.is_empty() {
        return Err(ManageError::invalid(
            "group_rule",
            "group limits need a group rule (a CEL expression such as user.department)",
        ));
    }
    if people.max_tokens_per_prompt.is_some_and(|cap| cap < 1) {
        return Err(ManageError::invalid("max_tokens_per_prompt", "must be at least 1"));
    }
    Ok(people)
}

/// Access rules on models checked: a model named once, each rule compiled (refused under
/// `model_rules` with the model and where); ordered by model.
fn model_rules(rules: Vec<ModelRule>) -> Result<Vec<ModelRule>, ManageError> {
    let mut checked: Vec<ModelRule> = Vec::with_capacity(rules.len());
    for ModelRule { model, rule } in rules {
        let model = model.trim().to_string();
        if model.is_empty() {
            return Err(ManageError::invalid("model_rules", "each rule names a model"));
        }
        if checked.iter().any(|known| known.model == model) {
            return Err(ManageError::invalid("model_rules", format!("{model} has two rules")));
        }
        let compiled = crate::rules::compile(&rule)
            .map_err(|fault| ManageError::invalid("model_rules", format!("{model}: {fault}")))?;
        checked.push(ModelRule {
            model,
            rule: compiled.source().to_string(),
        });
    }
    checked.sort_by(|a, b| a.model.cmp(&b.model));
    Ok(checked)
}

impl Manage {
    /// Turns choices into links (with the endpoints' names, for the audit log), checking each
    /// endpoint exists and appears once.
    async fn links(&self, choices: &[EndpointChoice]) -> Result<(Vec<EndpointLink>, Vec<String>), ManageError> {
        if choices.is_empty() {
            return Err(ManageError::invalid("endpoints", "must name at least one endpoint"));
        }
        let known = self.store.endpoints().await?;
        let found = (choices.iter())
            .map(|choice| {
                let endpoint = match &choice.endpoint {
                    EndpointRef::Id(id) => known.iter().find(|e| e.id == *id),
                    EndpointRef::Name(name) => known.iter().find(|e| e.name == *name),
                };
                endpoint
                    .map(|e| (e.id, e.name.clone()))
                    .ok_or_else(|| match &choice.endpoint {
                        EndpointRef::Id(_) => {
                            ManageError::invalid("endpoints.endpoint_id", "no such inference endpoint")
                        }
                        EndpointRef::Name(name) => {
                            ManageError::invalid("endpoints", format!("no endpoint named {name:?}"))
                        }
                    })
            })
            .collect::<Result<Vec<(EndpointId, String)>, _>>()?;
        let mut seen = HashSet::new();
        let count = i64::try_from(choices.len()).unwrap_or(i64::MAX);
        let links = choices
            .iter()
            .zip(0..)
            .zip(&found)
            .map(|((choice, position), (id, name))| {
                if !seen.insert(*id) {
                    return Err(ManageError::invalid("endpoints", format!("{name:?} is listed twice")));
                }
                if choice.weight < 0 {
                    return Err(ManageError::invalid(
                        "endpoints",
                        format!("{name}: the weight must not be negative"),
                    ));
                }
                Ok(EndpointLink {
                    endpoint_id: *id,
                    weight: choice.weight,
                    priority: choice.priority.unwrap_or(count - position),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((links, found.into_iter().map(|(_, name)| name).collect()))
    }

    /// Creates a gateway over its endpoints.
    pub async fn create_gateway(&self, actor: &Actor, new: NewGateway) -> Result<Gateway, ManageError> {
        actor.must_write()?;
        let gateway_name = name("name", &new.name)?;
        let retry = new.retry.unwrap_or_default();
        check_retry(&retry)?;
        super::limits::check_limits(&new.limits)?;
        if new.deadline_ms.is_some_and(|d| d < 1) {
            return Err(ManageError::invalid("deadline_ms", "must be at least 1"));
        }
        let model_aliases = aliases(new.model_aliases)?;
        super::policy::check_policy(&new.param_policy)?;
        let access_rule = access_rule(new.access_rule.as_deref())?;
        let people = people(new.people)?;
        let model_rules = model_rules(new.model_rules)?;
        let cache = cache(new.cache)?;
        let (links, _) = self.links(&new.endpoints).await?;
        let fields = GatewayFields {
            name: &gateway_name,
            description: new.description.trim(),
            strategy: new.strategy,
            retry,
            deadline_ms: new.deadline_ms,
            log_metadata: new.log_metadata,
            log_payloads: new.log_payloads,
            model_aliases: &model_aliases,
            enabled: new.enabled,
            param_policy: &new.param_policy,
            auth_mode: new.auth_mode,
            access_rule: access_rule.as_deref(),
            people: &people,
            model_rules: &model_rules,
            cache: &cache,
            limits: Some(&new.limits),
        };
        let mut tx = self.store.begin().await?;
        let id = (tx.insert_gateway(&fields, &links, now_ms()).await).map_err(already_exists(
            "name",
            format!("a gateway named {gateway_name} already exists"),
        ))?;
        let event = AuditEvent::GatewayCreated {
            id,
            name: gateway_name,
            strategy: new.strategy,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        self.gateway(id).await
    }

    /// Changes a gateway.
    pub async fn update_gateway(
        &self,
        actor: &Actor,
        id: GatewayId,
        update: GatewayUpdate,
    ) -> Result<Gateway, ManageError> {
        actor.must_write()?;
        let current = self.gateway(id).await?;
        let new_name = name("name", update.name.as_deref().unwrap_or(&current.name))?;
        let (links, endpoint_names) = match &update.endpoints {
            Some(choices) => {
                let (links, names) = self.links(choices).await?;
                (Some(links), Some(names))
            }
            None => (None, None),
        };
        let description = update.description.unwrap_or(current.description);
        let retry = update.retry.unwrap_or(current.retry);
        check_retry(&retry)?;
        let deadline_ms = update.deadline_ms.apply(current.deadline_ms);
        if deadline_ms.is_some_and(|d| d < 1) {
            return Err(ManageError::invalid("deadline_ms", "must be at least 1"));
        }
        let model_aliases = match update.model_aliases {
            Some(list) => aliases(list)?,
            None => current.model_aliases,
        };
        if let Some(limits) = &update.limits {
            super::limits::check_limits(limits)?;
        }
        let param_policy = update.param_policy.unwrap_or(current.param_policy);
        super::policy::check_policy(&param_policy)?;
        let access_rule = access_rule(update.access_rule.apply(current.access_rule).as_deref())?;
        let people = people(update.people.unwrap_or(current.people))?;
        let model_rules = model_rules(update.model_rules.unwrap_or(current.model_rules))?;
        let cache = cache(update.cache.unwrap_or(current.cache))?;
        let fields = GatewayFields {
            name: &new_name,
            description: description.trim(),
            strategy: update.strategy.unwrap_or(current.strategy),
            retry,
            deadline_ms,
            log_metadata: update.log_metadata.unwrap_or(current.log_metadata),
            log_payloads: update.log_payloads.unwrap_or(current.log_payloads),
            model_aliases: &model_aliases,
            limits: update.limits.as_deref(),
            enabled: update.enabled.unwrap_or(current.enabled),
            param_policy: &param_policy,
            auth_mode: update.auth_mode.unwrap_or(current.auth_mode),
            access_rule: access_rule.as_deref(),
            people: &people,
            model_rules: &model_rules,
            cache: &cache,
        };
        let mut tx = self.store.begin().await?;
        (tx.update_gateway(current.id, &fields, links.as_deref(), now_ms()).await).map_err(already_exists(
            "name",
            format!("a gateway named {new_name} already exists"),
        ))?;
        let event = AuditEvent::GatewayUpdated {
            id,
            name: new_name,
            endpoints: endpoint_names,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        self.gateway(id).await
    }

    /// Every gateway, by name.
    pub async fn gateways(&self) -> Result<Vec<Gateway>, ManageError> {
        Ok(self.store.gateways().await?)
    }

    /// The gateway with this id.
    pub async fn gateway(&self, id: GatewayId) -> Result<Gateway, ManageError> {
        self.store.gateway(id).await?.ok_or(ManageError::NotFound)
    }

    /// The id of the gateway with this name (for the CLI, which names things).
    pub async fn gateway_id(&self, name: &str) -> Result<GatewayId, ManageError> {
        let gateway = self.store.gateway_by_name(name.trim()).await?;
        gateway.map(|g| g.id).ok_or(ManageError::NotFound)
    }

    /// Deletes a gateway with its keys.
    pub async fn delete_gateway(&self, actor: &Actor, id: GatewayId) -> Result<(), ManageError> {
        actor.must_write()?;
        let gateway = self.gateway(id).await?;
        let mut tx = self.store.begin().await?;
        tx.delete_gateway(gateway.id).await?;
        record(&mut tx, actor, AuditEvent::GatewayDeleted { id, name: gateway.name }).await?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_choices_parse_from_the_cli_notation() {
        assert_eq!(
            endpoint_choice("a").unwrap(),
            EndpointChoice {
                endpoint: EndpointRef::Name("a".into()),
                weight: 1,
                priority: None
            }
        );
        assert_eq!(
            endpoint_choice("a:3").unwrap(),
            EndpointChoice {
                endpoint: EndpointRef::Name("a".into()),
                weight: 3,
                priority: None
            }
        );
        assert_eq!(
            endpoint_choice("a:3:9").unwrap(),
            EndpointChoice {
                endpoint: EndpointRef::Name("a".into()),
                weight: 3,
                priority: Some(9)
            }
        );
        for bad in ["a:x", "a:1:2:3", "a:1.5"] {
            assert!(endpoint_choice(bad).is_err(), "{bad}");
        }
    }
}
