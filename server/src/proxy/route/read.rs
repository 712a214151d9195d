//! Step 3 (`route`'s first): the body read in the canonical (OpenAI) shape — an Anthropic or
//! Responses body translated, a named prompt applied, the gateway's parameter policy and
//! per-prompt cap — and checked.
//!
//! Invariant: bad input is a 4xx naming what is wrong, with nothing recorded and no upstream
//! call.

use super::{native, Api};
use crate::proxy::{
    error::ProxyError,
    messages, people, policy,
    prompt::{self, PromptUse},
    providers::Operation,
    registry::Snapshot,
    responses,
    wire::{self, Inbound},
};
use app::types::GatewayId;
use serde_json::Value;

/// Step 3: the body read in the canonical (OpenAI) shape and checked. Bad input: 4xx, nothing
/// recorded, no upstream call. (Public for the fuzz targets, `crate::fuzzing`.)
pub fn read(
    api: Api,
    operation: Operation,
    bytes: &[u8],
    path_model: Option<Option<&str>>,
    prompts: PromptScope<'_>,
) -> Result<Read, ProxyError> {
    let mut body = wire::parse(bytes)?;
    // A Responses request: what in it only OpenAI's own Responses API serves.
    let mut native_only = None;
    let translated = match api {
        Api::OpenAi | Api::Azure => None,
        Api::Anthropic => Some(messages::from_messages_request(&body)),
        Api::Responses => Some(responses::from_responses_request(&body).map(|translation| {
            native_only = Some(translation.native_only);
            translation.chat
        })),
    };
    let mut native = None;
    if let Some(translated) = translated {
        let mut read = translated.map_err(|bad| ProxyError::BadRequest {
            message: bad.message,
            param: Some(bad.param.to_string()),
        })?;
        // A named prompt is asked for the same way in every shape (on `/v1/responses`, a
        // `prompt` object is OpenAI's stored prompt, not the gateway's: the translation
        // noted it).
        for field in ["prompt", "parameters"] {
            match body.get(field) {
                Some(Value::Object(_)) if field == "prompt" && native_only.is_some() => {}
                Some(value) => {
                    read.insert(field.into(), value.clone());
                }
                None => {}
            }
        }
        let client = std::mem::replace(&mut body, read);
        // The Responses client's own body, in case it goes to OpenAI's own API as it came.
        native = native_only.map(|native_only| {
            let mut body = client;
            wire::drop_overrides(&mut body);
            native::Native { body, native_only }
        });
    }
    let prompt = prompt::apply(prompts.snapshot, prompts.gateway, operation, &mut body)?;
    let gateway = prompts.gateway.and_then(|id| prompts.snapshot.gateways.get(&id));
    let policed = match gateway {
        Some(gateway) => policy::apply(&gateway.param_policy, &mut body)?,
        None => false,
    };
    let mut inbound = wire::check(operation, body, path_model)?;
    let capped = match gateway {
        Some(gateway) => people::cap(&gateway.people, &mut inbound)?,
        None => false,
    };
    Ok(Read {
        inbound,
        rewritten: prompt.is_some() || policed || capped,
        prompt,
        native,
    })
}

/// A body read: the request, the named prompt it was made from, and whether a prompt or the
/// gateway's policy rewrote it (the log then shows what is sent, not what came).
pub struct Read {
    pub inbound: Inbound,
    pub prompt: Option<PromptUse>,
    pub rewritten: bool,
    /// A Responses request as the client sent it.
    pub native: Option<native::Native>,
}

/// Where a body's named prompt is looked up: the snapshot, and the gateway whose prompts the
/// request may use (`None`: every prompt — the console's request to an endpoint on its own).
pub struct PromptScope<'s> {
    pub snapshot: &'s Snapshot,
    pub gateway: Option<GatewayId>,
}
