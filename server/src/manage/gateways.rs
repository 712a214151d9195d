//! Gateways: validate, resolve endpoint names, store.

use super::{already_exists, validate::name, Manage, ManageError};
use crate::store::{now_ms, EndpointLink, GatewayFields};
use app::types::{Gateway, Limit, RetryPolicy, Strategy};
use std::collections::{BTreeMap, HashSet};

/// One endpoint of a gateway, named, with its routing weight and priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointChoice {
    pub endpoint: String,
    pub weight: i64,
    /// `None`: earlier in the list ranks higher.
    pub priority: Option<i64>,
}

impl EndpointChoice {
    /// Parses `name[:weight[:priority]]`, the CLI's notation.
    pub fn parse(text: &str) -> Result<Self, ManageError> {
        let invalid = |message: &str| ManageError::Invalid {
            field: "endpoints",
            message: format!("{text:?}: {message}"),
        };
        let mut parts = text.trim().split(':');
        let endpoint = parts.next().unwrap_or_default().to_string();
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
}

/// A gateway to create.
#[derive(Clone, Debug)]
pub struct NewGateway {
    pub name: String,
    pub description: String,
    pub strategy: Strategy,
    pub endpoints: Vec<EndpointChoice>,
    pub retry: RetryPolicy,
    pub deadline_ms: Option<i64>,
    pub log_metadata: bool,
    pub log_payloads: bool,
    pub model_aliases: BTreeMap<String, String>,
    pub enabled: bool,
    /// Limits on all its keys' traffic together.
    pub limits: Vec<Limit>,
}

impl NewGateway {
    /// A gateway over `endpoints` with every other setting at its default.
    pub fn new(name: impl Into<String>, strategy: Strategy, endpoints: Vec<EndpointChoice>) -> Self {
        NewGateway {
            name: name.into(),
            description: String::new(),
            strategy,
            endpoints,
            retry: RetryPolicy::default(),
            deadline_ms: None,
            log_metadata: true,
            log_payloads: false,
            model_aliases: BTreeMap::new(),
            enabled: true,
            limits: Vec::new(),
        }
    }
}

/// Changes to a gateway; `None` keeps a field as it is.
#[derive(Clone, Debug, Default)]
pub struct GatewayUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub strategy: Option<Strategy>,
    pub endpoints: Option<Vec<EndpointChoice>>,
    pub log_metadata: Option<bool>,
    pub log_payloads: Option<bool>,
    pub enabled: Option<bool>,
    pub retry: Option<RetryPolicy>,
    /// `Some(None)` goes back to the default deadline.
    pub deadline_ms: Option<Option<i64>>,
    /// Replaces every alias.
    pub model_aliases: Option<BTreeMap<String, String>>,
    /// Replaces all its limits.
    pub limits: Option<Vec<Limit>>,
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

impl Manage {
    /// Turns endpoint names into links, checking each exists and appears once.
    async fn links(&self, choices: &[EndpointChoice]) -> Result<Vec<EndpointLink>, ManageError> {
        if choices.is_empty() {
            return Err(ManageError::invalid("endpoints", "must name at least one endpoint"));
        }
        let known: BTreeMap<String, _> = self
            .store
            .endpoints()
            .await?
            .into_iter()
            .map(|e| (e.name.clone(), e.id))
            .collect();
        let mut seen = HashSet::new();
        let count = i64::try_from(choices.len()).unwrap_or(i64::MAX);
        choices
            .iter()
            .zip(0..)
            .map(|(choice, position)| {
                let id = *known.get(choice.endpoint.trim()).ok_or_else(|| {
                    ManageError::invalid("endpoints", format!("no endpoint named {:?}", choice.endpoint))
                })?;
                if !seen.insert(id) {
                    return Err(ManageError::invalid(
                        "endpoints",
                        format!("{} is listed twice", choice.endpoint),
                    ));
                }
                if choice.weight < 0 {
                    return Err(ManageError::invalid(
                        "endpoints",
                        format!("{}: the weight must not be negative", choice.endpoint),
                    ));
                }
                Ok(EndpointLink {
                    endpoint_id: id,
                    weight: choice.weight,
                    priority: choice.priority.unwrap_or(count - position),
                })
            })
            .collect()
    }

    /// Creates a gateway over named endpoints.
    pub async fn create_gateway(&self, new: NewGateway) -> Result<Gateway, ManageError> {
        let gateway_name = name("name", &new.name)?;
        check_retry(&new.retry)?;
        super::limits::check_limits(&new.limits)?;
        if new.deadline_ms.is_some_and(|d| d < 1) {
            return Err(ManageError::invalid("deadline_ms", "must be at least 1"));
        }
        let links = self.links(&new.endpoints).await?;
        let fields = GatewayFields {
            name: &gateway_name,
            description: new.description.trim(),
            strategy: new.strategy,
            retry: new.retry,
            deadline_ms: new.deadline_ms,
            log_metadata: new.log_metadata,
            log_payloads: new.log_payloads,
            model_aliases: &new.model_aliases,
            enabled: new.enabled,
            limits: Some(&new.limits),
        };
        self.store
            .insert_gateway(&fields, &links, now_ms())
            .await
            .map_err(already_exists(format!("a gateway named {gateway_name} already exists")))?;
        self.changed().await;
        self.gateway(&gateway_name).await
    }

    /// Changes a gateway, found by name.
    pub async fn update_gateway(&self, gateway_name: &str, update: GatewayUpdate) -> Result<Gateway, ManageError> {
        let current = self.gateway(gateway_name).await?;
        let new_name = name("name", update.name.as_deref().unwrap_or(&current.name))?;
        let links = match &update.endpoints {
            Some(choices) => Some(self.links(choices).await?),
            None => None,
        };
        let description = update.description.unwrap_or(current.description);
        let retry = update.retry.unwrap_or(current.retry);
        check_retry(&retry)?;
        let deadline_ms = update.deadline_ms.unwrap_or(current.deadline_ms);
        if deadline_ms.is_some_and(|d| d < 1) {
            return Err(ManageError::invalid("deadline_ms", "must be at least 1"));
        }
        let model_aliases = update.model_aliases.unwrap_or(current.model_aliases);
        if let Some(limits) = &update.limits {
            super::limits::check_limits(limits)?;
        }
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
        };
        self.store
            .update_gateway(current.id, &fields, links.as_deref(), now_ms())
            .await
            .map_err(already_exists(format!("a gateway named {new_name} already exists")))?;
        self.changed().await;
        self.gateway(&new_name).await
    }

    /// Every gateway, by name.
    pub async fn gateways(&self) -> Result<Vec<Gateway>, ManageError> {
        Ok(self.store.gateways().await?)
    }

    /// The gateway with this name.
    pub async fn gateway(&self, name: &str) -> Result<Gateway, ManageError> {
        self.store.gateway_by_name(name).await?.ok_or(ManageError::NotFound)
    }

    /// Deletes a gateway with its keys.
    pub async fn delete_gateway(&self, name: &str) -> Result<(), ManageError> {
        let gateway = self.gateway(name).await?;
        self.store.delete_gateway(gateway.id).await?;
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
            EndpointChoice::parse("a").unwrap(),
            EndpointChoice {
                endpoint: "a".into(),
                weight: 1,
                priority: None
            }
        );
        assert_eq!(
            EndpointChoice::parse("a:3").unwrap(),
            EndpointChoice {
                endpoint: "a".into(),
                weight: 3,
                priority: None
            }
        );
        assert_eq!(
            EndpointChoice::parse("a:3:9").unwrap(),
            EndpointChoice {
                endpoint: "a".into(),
                weight: 3,
                priority: Some(9)
            }
        );
        for bad in ["a:x", "a:1:2:3", "a:1.5"] {
            assert!(EndpointChoice::parse(bad).is_err(), "{bad}");
        }
    }
}
