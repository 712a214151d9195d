//! The people behind a request (issue #23), for steps 3 to 5: the gateway's cap on one
//! request's tokens (step 3, after the policy), who the end user is — a verified token's
//! subject, or the user a key that may assert users names — and their group (step 4), and the
//! levels their limits add to admission (step 5b).
//!
//! Invariant: only a verified token or a key marked *may assert users* makes a request an end
//! user's; any other key's `user` field stays what OpenAI means by it (a hint for sticky
//! routing and abuse reports), limiting nothing.
//! Invariant: a request over the cap per prompt is refused (400) or clamped before it is
//! estimated, so admission reserves for what will be sent; nothing is sent over the cap.
//! Invariant: an end user's levels come between their key's and their gateway's: every user
//! counts alone, users whose group rule gives the same key count together, and the gateway's
//! own limits are the total of all of them.

use super::providers::Operation;
use super::{error::ProxyError, limits::Level, wire};
use crate::{identity::EndUser, store::LimitScope};
use app::types::{Gateway, PeopleLimits, PromptCap};
use serde_json::Value;
use std::sync::Arc;

/// The header a key that may assert users names its end user in.
pub const USER_HEADER: &str = "x-mgw-user";

/// The longest end-user name a key may assert, in bytes.
const MAX_ASSERTED_BYTES: usize = 256;

/// The end user a key that may assert users names, checked: 1 to 256 bytes, no control
/// characters.
pub(super) fn asserted(name: &str) -> Result<Arc<EndUser>, ProxyError> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_ASSERTED_BYTES || name.chars().any(char::is_control) {
        return Err(ProxyError::bad(
            "user",
            format!("An end user's name is 1 to {MAX_ASSERTED_BYTES} bytes without control characters."),
        ));
    }
    Ok(Arc::new(EndUser::asserted(name)))
}

/// The end user of a request whose key may assert users and which sent no token nor
/// `x-mgw-user`: the body's `user`, if it names one.
pub(super) fn from_body(body: &serde_json::Map<String, Value>) -> Result<Option<Arc<EndUser>>, ProxyError> {
    match body.get("user") {
        Some(Value::String(name)) if !name.trim().is_empty() => asserted(name).map(Some),
        _ => Ok(None),
    }
}

/// The group `user` belongs to under `gateway`'s group rule; `None` without a rule, or when the
/// rule gives the user no group (a claim missing: they share the gateway's total only).
pub(super) fn group_of(rule: Option<&crate::rules::AccessRule>, gateway: &Gateway, user: &EndUser) -> Option<String> {
    let rule = rule?;
    match rule.group_of(&user.claims, Some(&user.rules_view)) {
        Ok(key) => Some(key),
        Err(fault) => {
            tracing::debug!(gateway = %gateway.name, %fault, "the group rule gives this end user no group");
            None
        }
    }
}

/// The levels an end user's request adds to admission: the user's own, then their group's.
pub(super) fn levels<'a>(gateway: &'a Gateway, user: Option<&EndUser>, group: Option<&str>) -> Vec<Level<'a>> {
    let people = &gateway.people;
    let mut levels = Vec::new();
    let Some(user) = user else {
        return levels;
    };
    if !people.per_user.is_empty() {
        levels.push(Level {
            scope: LimitScope::end_user(gateway.id, &user.subject),
            limits: &people.per_user,
            reset_at: None,
        });
    }
    if let Some(group) = group.filter(|_| !people.per_group.is_empty()) {
        levels.push(Level {
            scope: LimitScope::group(gateway.id, group),
            limits: &people.per_group,
            reset_at: None,
        });
    }
    levels
}

/// Holds `inbound` to the gateway's cap on one request's tokens (its prompt, estimated, plus
/// what its completions may take): over it, refused or its `max_tokens` lowered, as the gateway
/// says; a request that sets no `max_tokens` gets what the cap leaves. Answers whether it
/// changed the body.
pub(super) fn cap(people: &PeopleLimits, inbound: &mut wire::Inbound) -> Result<bool, ProxyError> {
    let Some(cap) = people.max_tokens_per_prompt.and_then(|cap| u64::try_from(cap).ok()) else {
        return Ok(false);
    };
    let prompt = wire::prompt_tokens(inbound);
    let over = |asked: u64| ProxyError::BadRequest {
        message: format!(
            "This gateway allows at most {cap} tokens per prompt; this one asks for about {asked} \
                 (its prompt is about {prompt}). Lower max_tokens, or shorten the prompt."
        ),
        param: Some("max_tokens".into()),
    };
    let field = match inbound.operation {
        Operation::Embeddings => return if prompt > cap { Err(over(prompt)) } else { Ok(false) },
        // A Responses request is capped as the chat request it reads as.
        Operation::Chat | Operation::Completions | Operation::Responses => ["max_completion_tokens", "max_tokens"]
            .into_iter()
            .find(|name| inbound.body.get(*name).is_some_and(|v| !v.is_null()))
            .unwrap_or("max_tokens"),
    };
    let choices = wire::choices(inbound);
    let room = cap.saturating_sub(prompt) / choices;
    let asked = inbound.body.get(field).and_then(Value::as_u64);
    if room == 0 {
        return Err(over(prompt.saturating_add(asked.unwrap_or(0).saturating_mul(choices))));
    }
    match asked {
        Some(max) if max <= room => Ok(false),
        Some(max) => match people.over_cap {
            PromptCap::Refuse => Err(over(prompt.saturating_add(max.saturating_mul(choices)))),
            PromptCap::Clamp => {
                inbound.body.insert(field.into(), Value::from(room));
                Ok(true)
            }
        },
        None => {
            inbound.body.insert(field.into(), Value::from(room));
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inbound(body: Value) -> wire::Inbound {
        let body = body.as_object().unwrap().clone();
        wire::check(Operation::Chat, body, None).unwrap()
    }

    fn capped(cap: i64, over_cap: PromptCap) -> PeopleLimits {
        PeopleLimits {
            max_tokens_per_prompt: Some(cap),
            over_cap,
            ..PeopleLimits::default()
        }
    }

    fn chat(max_tokens: Option<u64>) -> Value {
        let mut body = json!({ "model": "m", "messages": [{ "role": "user", "content": "hello there" }] });
        if let Some(max) = max_tokens {
            body["max_tokens"] = json!(max);
        }
        body
    }

    #[test]
    fn a_request_within_the_cap_is_left_as_it_is() {
        let mut request = inbound(chat(Some(100)));
        assert!(!cap(&capped(3_000, PromptCap::Refuse), &mut request).unwrap());
        assert_eq!(request.body["max_tokens"], json!(100));
    }

    #[test]
    fn over_the_cap_a_request_is_refused_naming_max_tokens_or_clamped_as_the_gateway_says() {
        let mut refused = inbound(chat(Some(5_000)));
        let error = cap(&capped(3_000, PromptCap::Refuse), &mut refused).unwrap_err();
        assert!(
            matches!(&error, ProxyError::BadRequest { param: Some(p), message } if p == "max_tokens" && message.contains("3000"))
        );
        let mut clamped = inbound(chat(Some(5_000)));
        assert!(cap(&capped(3_000, PromptCap::Clamp), &mut clamped).unwrap());
        let room = 3_000 - wire::prompt_tokens(&clamped);
        assert_eq!(clamped.body["max_tokens"], json!(room));
    }

    #[test]
    fn a_request_without_max_tokens_gets_what_the_cap_leaves_and_n_choices_share_it() {
        let mut open = inbound(chat(None));
        assert!(cap(&capped(1_000, PromptCap::Refuse), &mut open).unwrap());
        let prompt = wire::prompt_tokens(&open);
        assert_eq!(open.body["max_tokens"], json!(1_000 - prompt));
        let mut body = chat(Some(400));
        body["n"] = json!(3);
        let mut three = inbound(body);
        assert!(cap(&capped(1_000, PromptCap::Clamp), &mut three).unwrap());
        assert_eq!(three.body["max_tokens"], json!((1_000 - prompt) / 3));
    }

    #[test]
    fn a_prompt_larger_than_the_cap_is_refused_even_when_clamping() {
        let mut long =
            inbound(json!({ "model": "m", "messages": [{ "role": "user", "content": "word ".repeat(400) }] }));
        assert!(cap(&capped(10, PromptCap::Clamp), &mut long).is_err());
    }

    #[test]
    fn only_names_a_key_may_assert_are_taken_and_a_blank_user_is_none() {
        assert_eq!(asserted("  ada ").unwrap().subject, "ada");
        assert!(asserted("").is_err());
        assert!(asserted(&"a".repeat(MAX_ASSERTED_BYTES + 1)).is_err());
        assert!(asserted("a\nb").is_err());
        let body = json!({ "user": " " });
        assert!(from_body(body.as_object().unwrap()).unwrap().is_none());
        let body = json!({ "user": "grace" });
        assert_eq!(from_body(body.as_object().unwrap()).unwrap().unwrap().subject, "grace");
    }
}
