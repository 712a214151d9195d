//! Guardrails (issue #24): each gateway's detectors and what they do — checked, stored and
//! audited here whichever way (GraphQL, CLI, console) the change came; and "try it".
//!
//! Invariant: a stored guardrail compiles, alone and with the rest of its gateway's; `restore`
//! reads requests only; `logs_only` only redacts; a moderation guardrail names an OpenAI-shaped
//! endpoint, reads requests, and blocks or flags; only it fails closed.

use super::{audit::record, Actor, AuditEvent, Manage, ManageError};
use crate::{
    guard::{detect::Finder, Guards},
    store::now_ms,
};
use app::types::{
    Detector, EndpointId, GatewayId, GuardAction, GuardDirection, GuardTrial, Guardrail, GuardrailId, NewGuardrail,
    ProviderKind,
};

/// The longest custom pattern, bytes.
const MAX_PATTERN_BYTES: usize = 4096;
/// The most words in one list.
const MAX_WORDS: usize = 1000;
/// The most guardrails of one gateway.
const MAX_GUARDRAILS: usize = 64;
/// The longest text "try it" reads, bytes.
const MAX_TRIAL_BYTES: usize = 1 << 20;

/// The detector checked: its size, and that it compiles.
fn detector(detector: &Detector) -> Result<(), ManageError> {
    match detector {
        Detector::Regex(pattern) if pattern.len() > MAX_PATTERN_BYTES => {
            return Err(ManageError::invalid(
                "detector",
                format!("the pattern is longer than {MAX_PATTERN_BYTES} bytes"),
            ))
        }
        Detector::Words(words) if words.len() > MAX_WORDS => {
            return Err(ManageError::invalid("detector", format!("more than {MAX_WORDS} words")))
        }
        Detector::Regex(_)
        | Detector::Words(_)
        | Detector::Email
        | Detector::Phone
        | Detector::Card
        | Detector::Iban
        | Detector::Ssn
        | Detector::Ip
        | Detector::Secret
        | Detector::Moderation(_) => {}
    }
    Finder::new(detector).map_err(|why| ManageError::invalid("detector", why))?;
    Ok(())
}

impl Manage {
    /// Adds a guardrail to a gateway: it applies to the gateway's requests from the next
    /// configuration reload (at once on this server).
    pub async fn add_guardrail(&self, actor: &Actor, new: NewGuardrail) -> Result<Guardrail, ManageError> {
        actor.must_write()?;
        let gateway = self.gateway(new.gateway_id).await?;
        detector(&new.detector)?;
        let endpoint = self.moderation(&new).await?;
        if new.action == GuardAction::Restore && new.direction != GuardDirection::Request {
            return Err(ManageError::invalid(
                "direction",
                "restore replaces what the request holds and puts it back in the answer: its direction is request",
            ));
        }
        if new.logs_only && new.action != GuardAction::Redact {
            return Err(ManageError::invalid(
                "logs_only",
                "a guardrail for the logs only redacts (the request and answer pass unchanged)",
            ));
        }
        let mut rails = self.guardrails(Some(gateway.id)).await?;
        if rails.len() >= MAX_GUARDRAILS {
            return Err(ManageError::invalid(
                "gateway_id",
                format!(
                    "gateway {} has {MAX_GUARDRAILS} guardrails, the most it may",
                    gateway.name
                ),
            ));
        }
        let checked = NewGuardrail {
            gateway_id: gateway.id,
            ..new
        };
        rails.push(Guardrail {
            id: GuardrailId(0),
            gateway_id: gateway.id,
            detector: checked.detector.clone(),
            action: checked.action,
            direction: checked.direction,
            logs_only: checked.logs_only,
            fail_closed: checked.fail_closed,
            created_at: 0,
        });
        if let Err((_, why)) = Guards::new(&rails) {
            return Err(ManageError::invalid(
                "detector",
                format!("the gateway's guardrails do not compile together: {why}"),
            ));
        }
        let mut tx = self.store.begin().await?;
        let id = tx.insert_guardrail(&checked, endpoint, now_ms()).await?;
        let event = AuditEvent::GuardrailAdded {
            id,
            gateway: gateway.name,
            detector: checked.detector.to_string(),
            action: checked.action,
            direction: checked.direction,
            logs_only: checked.logs_only,
            fail_closed: checked.fail_closed,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        self.guardrail(id).await
    }

    /// A moderation guardrail's endpoint, checked: it exists and speaks OpenAI's moderation API;
    /// the guardrail reads requests and blocks or flags. `None` for every other detector (which
    /// cannot fail closed).
    async fn moderation(&self, new: &NewGuardrail) -> Result<Option<EndpointId>, ManageError> {
        let Detector::Moderation(name) = &new.detector else {
            if new.fail_closed {
                return Err(ManageError::invalid(
                    "fail_closed",
                    "only a moderation guardrail calls an endpoint that can fail",
                ));
            }
            return Ok(None);
        };
        let endpoint = (self.endpoints().await?.into_iter())
            .find(|endpoint| &endpoint.name == name)
            .ok_or_else(|| ManageError::invalid("detector", format!("there is no endpoint named {name}")))?;
        match endpoint.provider {
            ProviderKind::OpenAi | ProviderKind::OpenAiCompatible => {}
            ProviderKind::AzureOpenAi
            | ProviderKind::Anthropic
            | ProviderKind::Ollama
            | ProviderKind::Gemini
            | ProviderKind::Vertex
            | ProviderKind::Bedrock => {
                return Err(ManageError::invalid(
                    "detector",
                    format!(
                        "endpoint {name} is {}: a moderation endpoint speaks OpenAI's /v1/moderations (provider openai or openai_compatible)",
                        endpoint.provider.spec().label
                    ),
                ))
            }
        }
        match new.action {
            GuardAction::Block | GuardAction::Flag => {}
            GuardAction::Redact | GuardAction::Restore => {
                return Err(ManageError::invalid(
                    "action",
                    "a moderation endpoint says whether a request is flagged, not where: it blocks or flags",
                ))
            }
        }
        if new.direction != GuardDirection::Request {
            return Err(ManageError::invalid(
                "direction",
                "a moderation endpoint is asked before the request is forwarded: its direction is request",
            ));
        }
        Ok(Some(endpoint.id))
    }

    /// The gateways whose moderation guardrails use `endpoint` (it cannot be deleted while
    /// they do).
    pub(super) async fn moderating_gateways(&self, endpoint: &str) -> Result<Vec<String>, ManageError> {
        let mut names = Vec::new();
        for rail in self.guardrails(None).await? {
            if rail.detector == Detector::Moderation(endpoint.to_string()) {
                let name = self.gateway(rail.gateway_id).await?.name;
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }

    /// Removes a guardrail.
    pub async fn remove_guardrail(&self, actor: &Actor, id: GuardrailId) -> Result<(), ManageError> {
        actor.must_write()?;
        let guardrail = self.guardrail(id).await?;
        let gateway = self.gateway(guardrail.gateway_id).await?;
        let mut tx = self.store.begin().await?;
        tx.delete_guardrail(id).await?;
        let event = AuditEvent::GuardrailRemoved {
            id,
            gateway: gateway.name,
            detector: guardrail.detector.to_string(),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }

    /// The guardrails of `gateway`, or of every gateway, in the order they apply.
    pub async fn guardrails(&self, gateway: Option<GatewayId>) -> Result<Vec<Guardrail>, ManageError> {
        let all = self.store.guardrails().await?;
        Ok(all
            .into_iter()
            .filter(|g| gateway.is_none_or(|id| g.gateway_id == id))
            .collect())
    }

    /// The guardrail with this id.
    pub async fn guardrail(&self, id: GuardrailId) -> Result<Guardrail, ManageError> {
        (self.guardrails(None).await?.into_iter())
            .find(|guardrail| guardrail.id == id)
            .ok_or(ManageError::NotFound)
    }

    /// What `text` becomes when a request of `gateway` sends it: its request guardrails'
    /// placeholders, the detector that would block it, and what they found. Changes nothing.
    pub async fn try_guardrails(&self, gateway: GatewayId, text: &str) -> Result<GuardTrial, ManageError> {
        let gateway = self.gateway(gateway).await?;
        if text.len() > MAX_TRIAL_BYTES {
            return Err(ManageError::invalid("text", "is longer than 1 MiB"));
        }
        let rails = self.guardrails(Some(gateway.id)).await?;
        let guards = Guards::new(&rails).map_err(|(_, why)| ManageError::invalid("detector", why))?;
        Ok(guards.trial(text))
    }
}
