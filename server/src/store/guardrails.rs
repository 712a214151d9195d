//! Guardrails (issue #24): each gateway's detectors and what they do. The detector is stored
//! as it is written (`email`, `regex:PATTERN`, `words:a,b`), the action and direction by name;
//! a moderation guardrail as `moderation` with its endpoint's id (so it follows a rename).

use super::{flag, found, Store, StoreError, Tx};
use app::types::{Detector, EndpointId, GatewayId, GuardAction, GuardDirection, Guardrail, GuardrailId, NewGuardrail};
use sqlx::{any::AnyRow, Row};

fn decode<T>(column: &str, text: &str, read: impl FnOnce(&str) -> Option<T>) -> Result<T, sqlx::Error> {
    read(text).ok_or_else(|| sqlx::Error::Decode(format!("{column}: `{text}` is not known").into()))
}

fn guardrail(row: &AnyRow) -> Result<Guardrail, sqlx::Error> {
    let detector: String = row.try_get("detector")?;
    let action: String = row.try_get("action")?;
    let direction: String = row.try_get("direction")?;
    let detector = match row.try_get::<Option<String>, _>("endpoint_name")? {
        Some(endpoint) if detector == "moderation" => Detector::Moderation(endpoint),
        Some(_) | None => decode("detector", &detector, |text| Detector::parse(text).ok())?,
    };
    Ok(Guardrail {
        id: GuardrailId(row.try_get("id")?),
        gateway_id: GatewayId(row.try_get("gateway_id")?),
        detector,
        action: decode("action", &action, GuardAction::parse)?,
        direction: decode("direction", &direction, GuardDirection::parse)?,
        logs_only: flag(row, "logs_only")?,
        fail_closed: flag(row, "fail_closed")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Every guardrail, by gateway, oldest first (the order they apply in).
    pub async fn guardrails(&self) -> Result<Vec<Guardrail>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.*, e.name AS endpoint_name FROM guardrails g \
             LEFT JOIN inference_endpoints e ON e.id = g.endpoint_id ORDER BY g.gateway_id, g.id",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(guardrail).collect::<Result<_, _>>()?)
    }
}

impl Tx {
    /// Adds a guardrail (checked); `endpoint` is a moderation guardrail's endpoint.
    pub async fn insert_guardrail(
        &mut self,
        new: &NewGuardrail,
        endpoint: Option<EndpointId>,
        now: i64,
    ) -> Result<GuardrailId, StoreError> {
        let detector = match new.detector.is_external() {
            true => new.detector.kind().to_string(),
            false => new.detector.to_string(),
        };
        let row = sqlx::query(
            "INSERT INTO guardrails (gateway_id, detector, action, direction, logs_only, endpoint_id, fail_closed, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.gateway_id.0)
        .bind(detector)
        .bind(new.action.as_str())
        .bind(new.direction.as_str())
        .bind(i64::from(new.logs_only))
        .bind(endpoint.map(|id| id.0))
        .bind(i64::from(new.fail_closed))
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        Ok(GuardrailId(row.try_get("id")?))
    }

    /// Removes a guardrail; `NotFound` when there is none with this id.
    pub async fn delete_guardrail(&mut self, id: GuardrailId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM guardrails WHERE id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())
    }
}
