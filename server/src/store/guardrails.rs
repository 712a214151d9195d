//! Guardrails (issue #24): each gateway's detectors and what they do. The detector is stored
//! as it is written (`email`, `regex:PATTERN`, `words:a,b`), the action and direction by name.

use super::{flag, found, Store, StoreError, Tx};
use app::types::{Detector, GatewayId, GuardAction, GuardDirection, Guardrail, GuardrailId, NewGuardrail};
use sqlx::{any::AnyRow, Row};

fn decode<T>(column: &str, text: &str, read: impl FnOnce(&str) -> Option<T>) -> Result<T, sqlx::Error> {
    read(text).ok_or_else(|| sqlx::Error::Decode(format!("{column}: `{text}` is not known").into()))
}

fn guardrail(row: &AnyRow) -> Result<Guardrail, sqlx::Error> {
    let detector: String = row.try_get("detector")?;
    let action: String = row.try_get("action")?;
    let direction: String = row.try_get("direction")?;
    Ok(Guardrail {
        id: GuardrailId(row.try_get("id")?),
        gateway_id: GatewayId(row.try_get("gateway_id")?),
        detector: decode("detector", &detector, |text| Detector::parse(text).ok())?,
        action: decode("action", &action, GuardAction::parse)?,
        direction: decode("direction", &direction, GuardDirection::parse)?,
        logs_only: flag(row, "logs_only")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Every guardrail, by gateway, oldest first (the order they apply in).
    pub async fn guardrails(&self) -> Result<Vec<Guardrail>, StoreError> {
        let rows = sqlx::query("SELECT * FROM guardrails ORDER BY gateway_id, id")
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(guardrail).collect::<Result<_, _>>()?)
    }
}

impl Tx {
    /// Adds a guardrail (checked).
    pub async fn insert_guardrail(&mut self, new: &NewGuardrail, now: i64) -> Result<GuardrailId, StoreError> {
        let row = sqlx::query(
            "INSERT INTO guardrails (gateway_id, detector, action, direction, logs_only, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(new.gateway_id.0)
        .bind(new.detector.to_string())
        .bind(new.action.as_str())
        .bind(new.direction.as_str())
        .bind(i64::from(new.logs_only))
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
