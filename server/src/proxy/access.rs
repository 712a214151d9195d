//! Step 4's last check (issue #23): the access rules a request must satisfy — its gateway's,
//! the one on the model it asks for (as the client names it: a model, an alias or a composite
//! model), and its named prompt's — CEL expressions over the end user's claims and the request
//! (`crate::rules`).
//!
//! Invariant: every rule that applies is evaluated, gateway first; the first that does not
//! yield `true` — or cannot be evaluated — denies (403 `access_denied`), naming the rule and
//! never the claims. Nothing is recorded or sent for a denied request.

use super::{
    error::ProxyError,
    prompt::PromptUse,
    registry::Snapshot,
    route::{Call, Principal},
    wire::Inbound,
};
use crate::{rules::AccessRule, store::now_ms};
use serde_json::Value;

/// Lets the request through every rule that applies to it, or denies it.
pub(super) fn allowed(
    snapshot: &Snapshot,
    principal: &Principal<'_>,
    call: &Call<'_>,
    inbound: &Inbound,
    prompt: Option<&PromptUse>,
) -> Result<(), ProxyError> {
    let Some(gateway) = principal.named_gateway() else {
        return Ok(());
    };
    let name = &principal.gateway().name;
    let model = inbound.model.as_deref();
    let rules: [(Option<&AccessRule>, Attached); 3] = [
        (snapshot.access_rule(gateway).map(AsRef::as_ref), Attached::Gateway),
        (
            model
                .and_then(|model| snapshot.model_rule(gateway, model))
                .map(AsRef::as_ref),
            Attached::Model,
        ),
        (
            prompt
                .and_then(|prompt| snapshot.prompt_rule(&prompt.name))
                .map(AsRef::as_ref),
            Attached::Prompt,
        ),
    ];
    if rules.iter().all(|(rule, _)| rule.is_none()) {
        return Ok(());
    }
    // Which rule denied, for the client and the log.
    let named = |attached: Attached| match attached {
        Attached::Gateway => format!("gateway {name}'s access rule"),
        Attached::Model => format!(
            "the access rule on model {} of gateway {name}",
            model.unwrap_or_default()
        ),
        Attached::Prompt => format!(
            "prompt {}'s access rule",
            prompt.map_or("", |prompt| prompt.name.as_str())
        ),
    };
    let facts = crate::rules::Facts {
        user: call.user.as_deref().map(|user| &user.claims),
        user_view: call.user.as_deref().map(|user| &user.rules_view),
        model,
        path: &call.path,
        stream: inbound.stream,
        max_tokens: (inbound.body.get("max_tokens")).and_then(Value::as_u64),
        prompt: prompt.map(|prompt| prompt.name.as_str()),
        gateway: name,
        now: now_ms() / 1000,
    };
    for (rule, attached) in rules {
        let Some(rule) = rule else { continue };
        match rule.allows(&facts) {
            Ok(true) => {}
            Ok(false) => return Err(ProxyError::AccessDenied(named(attached))),
            Err(fault) => {
                let named = named(attached);
                tracing::info!(gateway = %name, rule = %named, %fault, "access rule could not be evaluated: denied");
                return Err(ProxyError::AccessDenied(named));
            }
        }
    }
    Ok(())
}

/// What a rule is attached to.
#[derive(Clone, Copy)]
enum Attached {
    Gateway,
    Model,
    Prompt,
}
