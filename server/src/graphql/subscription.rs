//! Subscriptions (over WebSocket, `graphql-transport-ws` or the older `graphql-ws`): new
//! request logs as they are stored, optionally of one gateway.
//!
//! Invariant: the stream follows the log through `manage`'s [`LogTail`] (every half second),
//! so it sees every replica's requests, none twice.
//! Invariant: the stream ends when the session or token it was opened with stops being valid
//! (checked every [`RECHECK_EVERY`] polls).

use super::{backend, caller, error, reader, types::numeric_id, types::NodeKind, types::RequestLogNode, Caller};
use crate::manage::{LogFilter, LogTail, Manage};
use app::types::{GatewayId, RequestLog};
use async_graphql::{Context, Result, Subscription, ID};
use futures_util::{stream, Stream};
use std::{collections::VecDeque, time::Duration};

/// How often a subscription looks for new logs.
const POLL: Duration = Duration::from_millis(500);
/// The credential is checked again every this many polls (5 s).
const RECHECK_EVERY: u32 = 10;

/// One subscriber's place in the log.
struct Follower {
    manage: Manage,
    caller: Caller,
    tail: LogTail,
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
                return Some(Ok(RequestLogNode(Box::new(log))));
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
            match self.tail.look().await {
                Ok(logs) => self.ready.extend(logs),
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
        let tail = (manage
            .tail_logs(LogFilter {
                gateway,
                ..LogFilter::default()
            })
            .await)
            .map_err(error::manage)?;
        let mut every = tokio::time::interval(POLL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let follower = Follower {
            manage,
            caller: caller(ctx).clone(),
            tail,
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
