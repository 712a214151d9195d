//! The Gateways page's edit form read into the management service's update: its notations (the
//! endpoint picker's `name[:weight[:priority]]`, limits as the CLI writes them, `alias=model`
//! pairs, the parameter policy a rule a line), its ways in and access rule, and its limits for
//! people (issue #23) — each end user's, the group rule and each group's, the cap per prompt.
//!
//! Does not: check a gateway; `manage` does, naming the field it refuses. Only what cannot be
//! read at all (a limit that does not parse, a number that is not one) is refused here, under
//! the form field that holds it.

use super::backend::{actor, items};
use super::Console;
use crate::manage::{endpoint_choice, limits::parse_limit, policy_from_lines, ManageError};
use app::types::{
    typed_cache, AdminUser, CacheSettings, Change, ConsoleError, Gateway, GatewayEditForm, GatewayId, GatewayUpdate,
    Limit, ModelAlias, OwnCacheForm, PeopleLimits, RetryPolicy,
};

/// Limits in the CLI's notation, comma-separated; one that does not parse is refused under
/// `field` (the form field that holds it), not under the gateway's own limits.
fn limits(field: &'static str, text: &str) -> Result<Vec<Limit>, ManageError> {
    items(text)
        .map(|item| {
            parse_limit(item).map_err(|error| match error {
                ManageError::Invalid { message, .. } => ManageError::Invalid { field, message },
                other => other,
            })
        })
        .collect()
}

/// A whole number typed in `field`.
fn whole(field: &'static str, text: &str) -> Result<i64, ConsoleError> {
    (text.trim().parse::<i64>()).map_err(|_| ConsoleError::invalid(field, "Write a whole number."))
}

/// The form's aliases, `alias=model` comma-separated.
fn model_aliases(text: &str) -> Result<Vec<ModelAlias>, ConsoleError> {
    items(text)
        .map(|item| match item.split_once('=') {
            Some((alias, model)) if !alias.trim().is_empty() && !model.trim().is_empty() => Ok(ModelAlias {
                alias: alias.trim().to_string(),
                model: model.trim().to_string(),
            }),
            _ => Err(ConsoleError::invalid(
                "model_aliases",
                format!("“{item}” is not an alias: write alias=model, for example fast=gpt-4o-mini."),
            )),
        })
        .collect()
}

/// The form's limits for people, all of them (they replace the gateway's): a blank field is
/// none. The group rule is compiled, and group limits without one refused, by `manage`.
fn people(form: &GatewayEditForm) -> Result<PeopleLimits, ConsoleError> {
    let rule = form.group_rule.trim();
    Ok(PeopleLimits {
        per_user: limits("user_limits", &form.user_limits)?,
        group_rule: (!rule.is_empty()).then(|| rule.to_string()),
        per_group: limits("group_limits", &form.group_limits)?,
        max_tokens_per_prompt: match form.max_tokens_per_prompt.trim() {
            "" => None,
            cap => Some(whole("max_tokens_per_prompt", cap)?),
        },
        over_cap: form.over_cap,
    })
}

/// The form's response cache settings; their ranges are `manage`'s to check.
fn cache(form: &GatewayEditForm) -> Result<CacheSettings, ConsoleError> {
    let typed = OwnCacheForm {
        mode: form.cache.clone(),
        ttl: form.cache_ttl.clone(),
        max_entry: form.cache_max_entry.clone(),
        collapse: form.cache_collapse,
        embedding: form.cache_embedding.clone(),
        similarity: form.cache_similarity.clone(),
    };
    typed_cache(&typed).map_err(|(field, why)| ConsoleError::invalid(field, why))
}

impl Console {
    /// Changes gateway `form.id` to what its edit form shows, as `admin`: one audited update.
    pub(super) async fn change_gateway(
        &self,
        admin: &AdminUser,
        form: GatewayEditForm,
    ) -> Result<Gateway, ConsoleError> {
        let endpoints = items(&form.endpoints)
            .map(endpoint_choice)
            .collect::<Result<Vec<_>, _>>()?;
        let retry = RetryPolicy {
            max_attempts: whole("max_attempts", &form.max_attempts)?,
            base_ms: whole("backoff_base_ms", &form.backoff_base_ms)?,
            cap_ms: whole("backoff_cap_ms", &form.backoff_cap_ms)?,
        };
        let deadline_ms = match form.deadline_ms.trim() {
            "" => Change::Clear,
            ms => Change::Set(whole("deadline_ms", ms)?),
        };
        let update = GatewayUpdate {
            name: Some(form.name.clone()),
            description: Some(form.description.clone()),
            strategy: Some(form.strategy),
            endpoints: Some(endpoints),
            log_metadata: Some(form.log_metadata),
            log_payloads: Some(form.log_payloads),
            enabled: Some(form.enabled),
            retry: Some(retry),
            deadline_ms,
            model_aliases: Some(model_aliases(&form.model_aliases)?),
            limits: Some(limits("limits", &form.limits)?),
            param_policy: Some(policy_from_lines(&form.param_policy)?),
            auth_mode: form.auth_mode,
            // Empty removes the rule (`manage` compiles any other, refusing it under `access`).
            access_rule: match form.access_rule.trim() {
                "" => Change::Clear,
                rule => Change::Set(rule.to_string()),
            },
            people: Some(people(&form)?),
            model_rules: None,
            // A form without the cache's fields (`cache` blank) leaves the cache as it is.
            cache: match form.cache.trim() {
                "" => None,
                _ => Some(cache(&form)?),
            },
        };
        let id = GatewayId(form.id);
        Ok(self.manage.update_gateway(&actor(admin), id, update).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::{CacheMode, Metric, Period, PromptCap, Strategy};

    fn form() -> GatewayEditForm {
        GatewayEditForm {
            id: 1,
            name: "g".into(),
            description: String::new(),
            strategy: Strategy::Priority,
            endpoints: "a".into(),
            max_attempts: "3".into(),
            backoff_base_ms: "100".into(),
            backoff_cap_ms: "2000".into(),
            deadline_ms: String::new(),
            limits: String::new(),
            model_aliases: String::new(),
            param_policy: String::new(),
            auth_mode: None,
            access_rule: String::new(),
            user_limits: String::new(),
            group_rule: String::new(),
            group_limits: String::new(),
            max_tokens_per_prompt: String::new(),
            over_cap: PromptCap::Refuse,
            cache: "off".into(),
            cache_ttl: "10m".into(),
            cache_max_entry: "1MiB".into(),
            cache_collapse: false,
            cache_embedding: String::new(),
            cache_similarity: "0.95".into(),
            log_metadata: true,
            log_payloads: false,
            enabled: true,
        }
    }

    #[test]
    fn the_cache_fields_are_read_as_the_cli_writes_them_and_refused_under_their_own() {
        let typed = GatewayEditForm {
            cache: "exact".into(),
            cache_ttl: "1h".into(),
            cache_max_entry: "512KiB".into(),
            cache_collapse: true,
            ..form()
        };
        assert_eq!(
            cache(&typed).unwrap(),
            CacheSettings {
                mode: CacheMode::Exact,
                ttl_s: 3600,
                max_entry_bytes: 512 << 10,
                collapse: true,
                ..CacheSettings::default()
            }
        );
        let ttl = GatewayEditForm {
            cache_ttl: "an hour".into(),
            ..form()
        };
        assert_eq!(cache(&ttl).unwrap_err().field, "cache_ttl");
        let size = GatewayEditForm {
            cache_max_entry: "1GiB".into(),
            ..form()
        };
        assert_eq!(cache(&size).unwrap_err().field, "cache_max_entry");
    }

    #[test]
    fn blank_people_fields_limit_no_one() {
        assert_eq!(people(&form()).unwrap(), PeopleLimits::default());
        let blank = GatewayEditForm {
            group_rule: "   ".into(),
            ..form()
        };
        assert_eq!(people(&blank).unwrap().group_rule, None);
    }

    #[test]
    fn people_limits_are_read_in_the_clis_notation_with_prompts_as_requests() {
        let typed = GatewayEditForm {
            user_limits: "prompts/minute=2, tokens/day=100000".into(),
            group_rule: " user.department ".into(),
            group_limits: "prompts/hour=100".into(),
            max_tokens_per_prompt: " 300 ".into(),
            over_cap: PromptCap::Clamp,
            ..form()
        };
        let read = people(&typed).unwrap();
        let first = &read.per_user[0];
        assert_eq!(
            (first.metric, first.period, first.max_value),
            (Metric::Requests, Period::Minute, 2)
        );
        assert_eq!(read.per_user[1].max_value, 100_000);
        assert_eq!(read.group_rule.as_deref(), Some("user.department"));
        assert_eq!(read.per_group[0].period, Period::Hour);
        assert_eq!(
            (read.max_tokens_per_prompt, read.over_cap),
            (Some(300), PromptCap::Clamp)
        );
    }

    #[test]
    fn what_cannot_be_read_is_refused_under_the_field_that_holds_it() {
        let field = |typed: GatewayEditForm| people(&typed).unwrap_err().field;
        let user = GatewayEditForm {
            user_limits: "prompts/fortnight=2".into(),
            ..form()
        };
        assert_eq!(field(user), "user_limits");
        let group = GatewayEditForm {
            group_limits: "lots".into(),
            ..form()
        };
        assert_eq!(field(group), "group_limits");
        let cap = GatewayEditForm {
            max_tokens_per_prompt: "300 tokens".into(),
            ..form()
        };
        assert_eq!(field(cap), "max_tokens_per_prompt");
    }
}
