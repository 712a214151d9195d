//! Guardrails' server functions (issue #24, the Gateways page): list, add and remove a
//! gateway's guardrails, and try what a text becomes. The form arrives as typed (the detector's
//! kind picked, with its pattern or words); it is read here into the management service's input.

#[cfg(feature = "ssr")]
use super::{console_backend, refused, require_admin};
use crate::types::{ConsoleError, GuardTrial, Guardrail, Json};
#[cfg(feature = "ssr")]
use crate::types::{Detector, GatewayId, GuardAction, GuardDirection, GuardrailId, NewGuardrail};
use leptos::prelude::*;

/// Every gateway's guardrails, in the order they apply.
#[server(prefix = "/api", endpoint = "guardrails_list", output = Json)]
pub async fn list_guardrails() -> Result<Vec<Guardrail>, ConsoleError> {
    require_admin()?;
    console_backend()?.guardrails().await.map_err(refused)
}

/// The guardrail form read: `detector` is a kind (`email`, …, `regex`, `words`, `moderation`)
/// and `pattern` its pattern, comma-separated words or endpoint; `direction` blank for the
/// usual one; `logs_only` and `fail_closed` ticked checkboxes (`on`).
#[cfg(feature = "ssr")]
fn new_guardrail(
    gateway_id: i64,
    detector: &str,
    pattern: &str,
    action: &str,
    direction: &str,
    logs_only: &str,
    fail_closed: &str,
) -> Result<NewGuardrail, ConsoleError> {
    let written = match detector {
        "regex" | "words" | "moderation" => format!("{detector}:{pattern}"),
        kind => kind.to_string(),
    };
    let detector = Detector::parse(&written).map_err(|why| ConsoleError::invalid("detector", why))?;
    let action = GuardAction::parse(action)
        .ok_or_else(|| ConsoleError::invalid("action", "Choose redact, restore, block or flag."))?;
    let direction = match direction.trim() {
        "" => GuardDirection::usual(&detector, action),
        text => GuardDirection::parse(text)
            .ok_or_else(|| ConsoleError::invalid("direction", "Choose requests, answers or both."))?,
    };
    Ok(NewGuardrail {
        gateway_id: GatewayId(gateway_id),
        detector,
        action,
        direction,
        logs_only: !logs_only.is_empty(),
        fail_closed: !fail_closed.is_empty(),
    })
}

/// Adds a guardrail to gateway `gateway_id`.
#[server(prefix = "/api", endpoint = "guardrails_create", output = Json)]
pub async fn add_guardrail(
    gateway_id: i64,
    #[server(default)] detector: String,
    #[server(default)] pattern: String,
    #[server(default)] action: String,
    #[server(default)] direction: String,
    #[server(default)] logs_only: String,
    #[server(default)] fail_closed: String,
) -> Result<Guardrail, ConsoleError> {
    let admin = require_admin()?;
    let new = new_guardrail(
        gateway_id,
        &detector,
        &pattern,
        &action,
        &direction,
        &logs_only,
        &fail_closed,
    )?;
    console_backend()?.add_guardrail(&admin, new).await.map_err(refused)
}

/// Removes guardrail `id`.
#[server(prefix = "/api", endpoint = "guardrails_delete", output = Json)]
pub async fn remove_guardrail(id: i64) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    console_backend()?
        .remove_guardrail(&admin, GuardrailId(id))
        .await
        .map_err(refused)
}

/// What `text` becomes when a request of gateway `gateway_id` sends it; changes nothing.
#[server(prefix = "/api", endpoint = "guardrails_try", output = Json)]
pub async fn try_guardrails(gateway_id: i64, #[server(default)] text: String) -> Result<GuardTrial, ConsoleError> {
    require_admin()?;
    console_backend()?
        .try_guardrails(GatewayId(gateway_id), text)
        .await
        .map_err(refused)
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_read_with_the_actions_usual_direction_and_refused_under_its_field() {
        let read = new_guardrail(3, "regex", r"PRJ-\d+", "block", "", "on", "").unwrap();
        assert_eq!(read.detector, Detector::Regex(r"PRJ-\d+".into()));
        assert_eq!((read.direction, read.logs_only), (GuardDirection::Both, true));
        let restore = new_guardrail(3, "email", "ignored", "restore", "", "", "").unwrap();
        assert_eq!(
            (restore.detector, restore.direction),
            (Detector::Email, GuardDirection::Request)
        );
        let moderation = new_guardrail(3, "moderation", "omni", "block", "", "", "on").unwrap();
        assert_eq!(
            (moderation.detector, moderation.direction, moderation.fail_closed),
            (Detector::Moderation("omni".into()), GuardDirection::Request, true)
        );
        assert_eq!(
            new_guardrail(3, "words", " , ", "redact", "", "", "")
                .unwrap_err()
                .field,
            "detector"
        );
        assert_eq!(
            new_guardrail(3, "email", "", "erase", "", "", "").unwrap_err().field,
            "action"
        );
        assert_eq!(
            new_guardrail(3, "email", "", "flag", "sideways", "", "")
                .unwrap_err()
                .field,
            "direction"
        );
    }
}
