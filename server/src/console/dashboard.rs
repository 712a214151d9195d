//! The Dashboard's figures for the console: a scope's history over a range, filled hour by
//! hour (or minute by minute for the short ranges), each gateway's and endpoint's sums, and the
//! busiest end users and groups (issue #23) of every gateway or one, from the request log.

use super::Console;
use crate::manage::{now_ms, HourlyKind, HourlyScope, ManageError, Span};
use app::types::{
    fill_hours, DashboardQuery, DashboardRange, DashboardStats, PersonKind, ScopeSums, UsageSums, TOP_PEOPLE,
};

impl Console {
    /// The dashboard: the scope's hours over the range (the current hour last); for every
    /// gateway, each gateway's and each endpoint's sums; and for every gateway or one, its
    /// busiest end users and groups (an endpoint's requests are not one gateway's people).
    pub(super) async fn dashboard_stats(&self, query: DashboardQuery) -> Result<DashboardStats, ManageError> {
        let range = DashboardRange::parse(query.range.trim());
        let (step, count) = (range.step_ms(), range.buckets());
        // The shorter ranges read the minutely history (kept for a day), the longer the hourly.
        let span = if step < Span::Hour.ms() {
            Span::Minute
        } else {
            Span::Hour
        };
        let read_at = now_ms();
        let to = read_at - read_at.rem_euclid(step) + step;
        let from = to - count * step;
        let gateways = self.manage.gateways().await?;
        let endpoints = self.manage.endpoints().await?;
        let scope_text = query.scope.trim();
        let scope = match scope_text.split_once(':') {
            None if scope_text.is_empty() => HourlyScope::AllGateways,
            Some(("gateway", name)) => HourlyScope::Gateway(
                gateways
                    .iter()
                    .find(|g| g.name == name)
                    .ok_or_else(|| ManageError::invalid("scope", format!("no gateway is named {name:?}")))?
                    .id,
            ),
            Some(("endpoint", name)) => HourlyScope::Endpoint(
                endpoints
                    .iter()
                    .find(|e| e.name == name)
                    .ok_or_else(|| ManageError::invalid("scope", format!("no endpoint is named {name:?}")))?
                    .id,
            ),
            _ => {
                return Err(ManageError::invalid(
                    "scope",
                    "is not `gateway:<name>` or `endpoint:<name>`",
                ))
            }
        };
        let series = fill_hours(
            from,
            count,
            step,
            self.manage.history(scope, span, step, from, to).await?,
        );
        let mut stats = DashboardStats {
            range,
            scope: scope_text.to_string(),
            totals: UsageSums::of(&series),
            series,
            gateway_names: gateways.iter().map(|g| g.name.clone()).collect(),
            endpoint_names: endpoints.iter().map(|e| e.name.clone()).collect(),
            read_at,
            ..DashboardStats::default()
        };
        let people_of = match scope {
            HourlyScope::AllGateways => Some(None),
            HourlyScope::Gateway(id) => Some(Some(id)),
            HourlyScope::Endpoint(_) | HourlyScope::Key(_) => None,
        };
        if let Some(gateway) = people_of {
            let top = |by| self.manage.top_people(gateway, by, (from, to), TOP_PEOPLE);
            stats.top_users = top(PersonKind::User).await?;
            stats.top_groups = top(PersonKind::Group).await?;
        }
        if scope == HourlyScope::AllGateways {
            // One grouped read per kind; a gateway or endpoint without traffic sums to zero.
            let by_gateway = self.manage.hourly_sums(HourlyKind::Gateway, span, from, to).await?;
            let by_endpoint = self.manage.hourly_sums(HourlyKind::Endpoint, span, from, to).await?;
            let sums =
                |map: &std::collections::BTreeMap<i64, UsageSums>, id: i64| map.get(&id).cloned().unwrap_or_default();
            stats.gateways = (gateways.iter())
                .map(|g| ScopeSums {
                    name: g.name.clone(),
                    sums: sums(&by_gateway, g.id.0),
                })
                .collect();
            stats.endpoints = (endpoints.iter())
                .map(|e| ScopeSums {
                    name: e.name.clone(),
                    sums: sums(&by_endpoint, e.id.0),
                })
                .collect();
            for list in [&mut stats.gateways, &mut stats.endpoints] {
                list.sort_by(|a, b| b.sums.requests.cmp(&a.sums.requests).then_with(|| a.name.cmp(&b.name)));
            }
        }
        Ok(stats)
    }
}
