//! The reading pages' server functions: the dashboard, the request logs, the audit log and the
//! playground's set-up. Any signed-in admin reads.

#[cfg(feature = "ssr")]
use super::{console_backend, refused, require_admin};
use crate::types::{
    AuditPage, ConsoleError, DashboardQuery, DashboardStats, Json, LogPage, LogQuery, Overview, PlaygroundSetup,
    RequestDetail,
};
use leptos::prelude::*;

/// Logs on one page.
#[cfg(feature = "ssr")]
const LOG_PAGE: i64 = 50;
/// Audit entries on one page.
#[cfg(feature = "ssr")]
const AUDIT_PAGE: i64 = 50;

/// Counts of what is configured, for the dashboard.
#[server(prefix = "/api", endpoint = "dashboard_overview", output = Json)]
pub async fn dashboard_overview() -> Result<Overview, ConsoleError> {
    require_admin()?;
    console_backend()?.overview().await.map_err(refused)
}

/// Traffic, tokens, errors, latency and cost over the dashboard's range, hour by hour.
#[server(prefix = "/api", endpoint = "dashboard_stats", output = Json)]
pub async fn load_dashboard(query: DashboardQuery) -> Result<DashboardStats, ConsoleError> {
    require_admin()?;
    console_backend()?.dashboard(query).await.map_err(refused)
}

/// A page of request logs matching the logs page's filters.
#[server(prefix = "/api", endpoint = "logs_list", output = Json)]
pub async fn list_logs(query: LogQuery) -> Result<LogPage, ConsoleError> {
    require_admin()?;
    console_backend()?.request_logs(query, LOG_PAGE).await.map_err(refused)
}

/// One request's log, by its request id.
#[server(prefix = "/api", endpoint = "logs_one", output = Json)]
pub async fn log_detail(request_id: String) -> Result<Option<RequestDetail>, ConsoleError> {
    require_admin()?;
    console_backend()?.request_log(request_id).await.map_err(refused)
}

/// A page of the audit log (every management change), newest first, older than entry
/// `before` when given.
#[server(prefix = "/api", endpoint = "audit_list", output = Json)]
pub async fn list_audit(before: Option<i64>) -> Result<AuditPage, ConsoleError> {
    require_admin()?;
    console_backend()?.audit(before, AUDIT_PAGE).await.map_err(refused)
}

/// What the playground can compare, at what price, and the logged request to replay (`log`:
/// its request id), if any.
#[server(prefix = "/api", endpoint = "playground_setup", output = Json)]
pub async fn load_playground(log: Option<String>) -> Result<PlaygroundSetup, ConsoleError> {
    let admin = require_admin()?;
    console_backend()?.playground(&admin, log).await.map_err(refused)
}
