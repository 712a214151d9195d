//! Read-only figures across aggregates, for the dashboard.

use super::{Store, StoreError};
use app::types::Overview;

impl Store {
    /// Counts of configured endpoints, gateways, live keys and admins, in one query.
    pub async fn overview(&self) -> Result<Overview, StoreError> {
        let (endpoints, gateways, keys, admins): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM inference_endpoints), (SELECT COUNT(*) FROM gateways), \
                    (SELECT COUNT(*) FROM gateway_keys WHERE revoked_at IS NULL), (SELECT COUNT(*) FROM admin_users)",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(Overview {
            endpoints,
            gateways,
            keys,
            admins,
        })
    }
}
