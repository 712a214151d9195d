//! Subscriptions (over WebSocket, `graphql-transport-ws` or the older `graphql-ws`): new
//! request logs as they are stored, optionally of one gateway.
//!
//! Invariant: the stream reads the database (every half second, from the last log it sent),
//! so it sees every replica's requests, none twice. On Postgres a log can become visible after
//! one with a larger id (ids are taken at insert, rows seen at commit), so each read goes back
//! [`TRAILING_IDS`] ids and skips what was sent; SQLite's one writer commits in id order.
//! Invariant: the stream ends when the session or token it was opened with stops being valid
//! (checked every [`RECHECK_EVERY`] polls).

use super::{backend, caller, error, reader, types::numeric_id, types::NodeKind, types::RequestLogNode, Caller};
use crate::manage::Manage;
use app::types::{GatewayId, RequestLog};
use async_graphql::{Context, Result, Subscription, ID};
use futures_util::{stream, Stream};
use std::{
    collections::{BTreeSet, VecDeque},
    time::Duration,
};

/// How often a subscription looks for new logs.
const POLL: Duration = Duration::from_millis(500);
/// Most logs read in one look.
const BATCH: i64 = 200;
/// On Postgres, how far below the newest id sent each read starts again.
const TRAILING_IDS: i64 = 2_048;
/// The credential is checked again every this many polls (5 s).
const RECHECK_EVERY: u32 = 10;

/// One subscriber's place in the log.
struct Follower {
    manage: Manage,
    caller: Caller,
    gateway: Option<GatewayId>,
    /// Ids up to this one were either sent or passed for good.
    floor: i64,
    /// Ids above `floor` already sent.
    sent: BTreeSet<i64>,
    /// How far below the newest id sent reads start.
    trailing: i64,
    ready: VecDeque<RequestLog>,
    polls: u32,
    /// Set when the stream has ended (after telling the subscriber why).
    ended: bool,
}

impl Follower {
    /// The next log to send; `Err` ends the stream.
    async fn next(&mut self, every: &mut tokio::time::Interval) -> Option<Result<RequestLogNode>> {
        loop {
            if self.ended {
                return None;
            }
            if let Some(log) = self.ready.pop_front() {
                return Some(Ok(RequestLogNode(log)));
            }
            every.tick().await;
            self.polls = self.polls.wrapping_add(1);
            if self.polls.is_multiple_of(RECHECK_EVERY) {
                match self.caller.still_valid(&self.manage).await {
                    Ok(true) => {}
                    Ok(false) => {
                        self.ended = true;
                        return Some(Err(error::unauthenticated()));
                    }
                    Err(failure) => {
                        self.ended = true;
                        return Some(Err(error::manage(failure)));
                    }
                }
            }
            let newest = self.sent.last().copied().unwrap_or(self.floor);
            let from = newest.saturating_sub(self.trailing).max(self.floor);
            match self.manage.request_logs_after(from, self.gateway, BATCH).await {
                Ok(rows) => {
                    for (row_id, log) in rows {
                        if self.sent.insert(row_id) {
                            self.ready.push_back(log);
                        }
                    }
                    // Forget what can no longer come back.
                    let newest = self.sent.last().copied().unwrap_or(self.floor);
                    self.floor = self.floor.max(newest.saturating_sub(self.trailing));
                    self.sent = self.sent.split_off(&self.floor.saturating_add(1));
                }
                Err(failure) => {
                    self.ended = true;
                    return Some(Err(error::manage(failure)));
                }
            }
        }
    }
}

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
        let trailing = if manage.logs_appear_in_id_order() {
            0
        } else {
            TRAILING_IDS
        };
        let mut every = tokio::time::interval(POLL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let follower = Follower {
            manage,
            caller: caller(ctx).clone(),
            gateway,
            // Logs already stored (and any still committing below the newest) are not sent.
            floor: start,
            sent: BTreeSet::new(),
            trailing,
            ready: VecDeque::new(),
            polls: 0,
            ended: false,
        };
        Ok(stream::unfold(
            (follower, every),
            |(mut follower, mut every)| async move {
                let item = follower.next(&mut every).await?;
                Some((item, (follower, every)))
            },
        ))
    }
}
