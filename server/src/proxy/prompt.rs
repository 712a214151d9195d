//! Step 3, for a request that names a prompt (issue #22): a chat body with `prompt` (`name`,
//! `name@3` or `name:staging`) and `parameters` becomes the request the prompt's version
//! makes — its params, then the client's fields over them; its messages rendered, then the
//! client's own; the client's model, else the template's — before the body is checked, so
//! every later step sees an ordinary request.
//!
//! Invariant: a prompt the key's gateway may not use answers exactly as one that does not
//! exist (404), so prompts cannot be probed across gateways.
//! Invariant: a request whose parameters are missing, mistyped or unknown is refused naming
//! the parameter, before any upstream call.

use super::{error::ProxyError, providers::Operation, registry::Snapshot};
use crate::prompts;
use app::types::{prompt_reference, GatewayId};
use serde_json::{Map, Value};

/// A request made from a prompt: which version, with what parameters (as bound: defaults
/// filled), for its log.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptUse {
    pub name: String,
    pub version: i64,
    pub parameters: Map<String, Value>,
}

/// The body as the prompt it names makes it; `None` (the body untouched) when it names none.
/// `gateway` is the key's gateway (`None`: the console's request to an endpoint on its own,
/// which may use every prompt).
pub(super) fn apply(
    snapshot: &Snapshot,
    gateway: Option<GatewayId>,
    operation: Operation,
    body: &mut Map<String, Value>,
) -> Result<Option<PromptUse>, ProxyError> {
    // The legacy completions API's `prompt` is its text.
    if operation != Operation::Chat {
        return Ok(None);
    }
    let reference = match body.get("prompt") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(reference)) => reference.clone(),
        Some(_) => return Err(ProxyError::bad("prompt", "`prompt` must be a prompt's name.")),
    };
    let (name, version) = prompt_reference(&reference)
        .ok_or_else(|| ProxyError::bad("prompt", "`prompt` is a prompt's name, `name@VERSION` or `name:LABEL`."))?;
    let prompt = (snapshot.prompt(name))
        .filter(|prompt| gateway.is_none_or(|gateway| prompt.serves(gateway)))
        .ok_or_else(|| ProxyError::PromptNotFound(reference.clone()))?;
    let version = prompt
        .version(&version)
        .ok_or_else(|| ProxyError::PromptNotFound(reference.clone()))?;
    let given = match body.get("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(given)) => given.clone(),
        Some(_) => return Err(ProxyError::bad("parameters", "`parameters` must be an object.")),
    };
    let template = &version.template;
    let bound = prompts::bind(template, &given).map_err(|fault| ProxyError::BadRequest {
        message: format!("{}.", fault.message),
        param: Some(format!("parameters.{}", fault.name)),
    })?;
    *body = prompts::request(template, &bound, std::mem::take(body)).map_err(|fault| match fault.field.as_str() {
        "messages" => ProxyError::bad("messages", "`messages` must be an array."),
        _ => ProxyError::bad(
            "parameters",
            format!(
                "The prompt `{reference}` cannot be rendered with these parameters: {}",
                fault.message
            ),
        ),
    })?;
    Ok(Some(PromptUse {
        name: prompt.name.clone(),
        version: version.version,
        parameters: bound,
    }))
}
