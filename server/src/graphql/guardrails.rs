//! Guardrails in GraphQL (issue #24): the `Guardrail` node, listed under its gateway, the
//! mutations that add and remove one — each one management operation, which checks it and
//! records the change — and `tryGuardrails`, which shows what a text becomes.
//!
//! Does not: check a guardrail (`manage` does, naming the field it refuses); change or record
//! anything when a text is tried.

use super::{
    actor, error, manage, reader,
    types::{global_id, numeric_id, NodeKind},
};
use app::types::{Detector, GatewayId, GuardAction, GuardDirection, GuardTrial, Guardrail, GuardrailId, NewGuardrail};
use async_graphql::{Context, InputObject, Object, Result, ID};

/// What a gateway looks for in requests or answers, and what it does on finding it.
pub struct GuardrailNode(pub Guardrail);

#[Object(name = "Guardrail")]
impl GuardrailNode {
    pub(super) async fn id(&self) -> ID {
        global_id(NodeKind::Guardrail, self.0.id.0)
    }
    async fn gateway_id(&self) -> ID {
        global_id(NodeKind::Gateway, self.0.gateway_id.0)
    }
    /// What it looks for, as written: `email`, `phone`, `card`, `iban`, `ssn`, `ip`, `secret`,
    /// `regex:PATTERN`, `words:a,b` or `moderation:ENDPOINT`.
    async fn detector(&self) -> String {
        self.0.detector.to_string()
    }
    async fn action(&self) -> GuardAction {
        self.0.action
    }
    async fn direction(&self) -> GuardDirection {
        self.0.direction
    }
    /// It redacts only what the request log stores.
    async fn logs_only(&self) -> bool {
        self.0.logs_only
    }
    /// A moderation guardrail refuses requests (503) while its endpoint cannot answer.
    async fn fail_closed(&self) -> bool {
        self.0.fail_closed
    }
    /// Unix milliseconds.
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
}

/// A guardrail to add.
#[derive(InputObject)]
pub struct AddGuardrailInput {
    gateway_id: ID,
    /// `email`, `phone`, `card`, `iban`, `ssn`, `ip`, `secret`, `regex:PATTERN`, `words:a,b` or
    /// `moderation:ENDPOINT`.
    detector: String,
    action: GuardAction,
    /// Default: `REQUEST` for `RESTORE` and moderation, else `BOTH`.
    direction: Option<GuardDirection>,
    #[graphql(default)]
    logs_only: bool,
    /// Moderation only: refuse requests (503) while the endpoint cannot answer.
    #[graphql(default)]
    fail_closed: bool,
}

/// The mutations of guardrails.
#[derive(Default)]
pub struct GuardrailMutation;

#[Object]
impl GuardrailMutation {
    /// Adds a guardrail to a gateway.
    async fn add_guardrail(&self, ctx: &Context<'_>, input: AddGuardrailInput) -> Result<GuardrailNode> {
        let detector = Detector::parse(&input.detector).map_err(|why| error::invalid("detector", why))?;
        let new = NewGuardrail {
            gateway_id: GatewayId(numeric_id(&input.gateway_id, NodeKind::Gateway, "gatewayId")?),
            direction: (input.direction).unwrap_or_else(|| GuardDirection::usual(&detector, input.action)),
            detector,
            action: input.action,
            logs_only: input.logs_only,
            fail_closed: input.fail_closed,
        };
        let guardrail = (manage(ctx).add_guardrail(actor(ctx)?, new).await).map_err(error::manage)?;
        Ok(GuardrailNode(guardrail))
    }

    /// Removes a guardrail; answers the id.
    async fn remove_guardrail(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let number = GuardrailId(numeric_id(&id, NodeKind::Guardrail, "id")?);
        (manage(ctx).remove_guardrail(actor(ctx)?, number).await).map_err(error::manage)?;
        Ok(id)
    }
}

/// `tryGuardrails`: what `text` becomes when a request of `gateway` sends it.
pub(super) async fn try_guardrails(ctx: &Context<'_>, gateway: ID, text: String) -> Result<GuardTrial> {
    reader(ctx)?;
    let gateway = GatewayId(numeric_id(&gateway, NodeKind::Gateway, "gatewayId")?);
    (manage(ctx).try_guardrails(gateway, &text).await).map_err(error::manage)
}
