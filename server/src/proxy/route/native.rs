//! Step 4b of the journey (issue #25): whether a Responses request goes to OpenAI's own
//! Responses API as the client sent it, or through the chat path.
//!
//! Invariant: it goes as it came only when every endpoint that may serve it has that API and
//! nothing in the gateway must read or change it; otherwise what only OpenAI's API serves is
//! refused with a 400 naming the field and the reason, never dropped.

use crate::proxy::{
    error::ProxyError,
    messages::BadField,
    plan::Plan,
    providers::{self, Operation},
};
use serde_json::{Map, Value};

/// A Responses request as the client sent it, and the first thing in it only OpenAI's own
/// Responses API serves.
pub struct Native {
    pub body: Map<String, Value>,
    pub native_only: Option<BadField>,
}

/// Step 4b (issue #25): a Responses request goes to OpenAI's own Responses API as it came —
/// `Some(body)` — when every endpoint that may serve it has that API and nothing in the
/// gateway must read or change it (`blocker`: why something must); else it is answered through
/// the chat path, and what only OpenAI's API serves is refused, naming why.
pub(super) fn native(
    native: Option<Native>,
    plan: &Plan,
    blocker: Option<&str>,
) -> Result<Option<Map<String, Value>>, ProxyError> {
    let Some(Native { body, native_only }) = native else {
        return Ok(None);
    };
    let mut upstreams = plan.tiers.iter().flat_map(|tier| &tier.upstreams);
    let without =
        upstreams.find(|upstream| !providers::adapter(upstream.endpoint.provider).supports(Operation::Responses));
    let blocker = match (blocker, without) {
        (Some(blocker), _) => blocker.to_string(),
        (None, Some(upstream)) => format!(
            "its model is served by {} endpoints, which have no Responses API",
            upstream.endpoint.provider.spec().label
        ),
        (None, None) => return Ok(Some(body)),
    };
    match native_only {
        None => Ok(None),
        Some(bad) => Err(ProxyError::BadRequest {
            message: format!(
                "{}; this request is answered through the chat path, because {blocker}.",
                bad.message
            ),
            param: Some(bad.param.to_string()),
        }),
    }
}
