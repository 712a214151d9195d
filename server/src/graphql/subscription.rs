//! Subscriptions (over WebSocket, `graphql-transport-ws` or the older `graphql-ws`): new
//! request logs as they are stored, optionally of one gateway.
//!
//! Invariant: the stream reads the database (every half second, from the last log it sent),
//! so it sees every replica's requests, in order, none twice.

use super::{backend, error, reader, types::numeric_id, types::NodeKind, types::RequestLogNode};
use app::types::GatewayId;
use async_graphql::{Context, Result, Subscription, ID};
use futures_util::{stream, Stream};
use std::{collections::VecDeque, time::Duration};

/// How often a subscription looks for new logs.
const POLL: Duration = Duration::from_millis(500);
/// Most logs read in one look.
const BATCH: i64 = 200;

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Each request log as it is stored (logs are written in batches, within about a second
    /// of the request finishing), from the moment of subscribing.
    async fn request_logs(
        &self,
        ctx: &Context<'_>,
        gateway_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<RequestLogNode>>> {
        reader(ctx)?;
        let gateway = (gateway_id.as_ref())
            .map(|id| numeric_id(id, NodeKind::Gateway, "gatewayId").map(GatewayId))
            .transpose()?;
        let manage = backend(ctx).manage.clone();
        let start = manage.last_request_log_id().await.map_err(error::manage)?;
        let mut every = tokio::time::interval(POLL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // `after` is `None` once a read failed: the error was sent, and the stream ends.
        let state = (manage, every, Some(start), VecDeque::new());
        Ok(stream::unfold(
            state,
            move |(manage, mut every, mut after, mut ready)| async move {
                loop {
                    if let Some(log) = ready.pop_front() {
                        return Some((Ok(RequestLogNode(log)), (manage, every, after, ready)));
                    }
                    let last = after?;
                    every.tick().await;
                    match manage.request_logs_after(last, gateway, BATCH).await {
                        Ok(rows) => {
                            for (row_id, log) in rows {
                                after = Some(row_id);
                                ready.push_back(log);
                            }
                        }
                        // Logged where it happened; the subscriber is told, and the stream ends.
                        Err(failure) => return Some((Err(error::manage(failure)), (manage, every, None, ready))),
                    }
                }
            },
        ))
    }
}
