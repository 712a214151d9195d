//! The ledger in Redis, shared by every replica: the windows, reservations and leases of the
//! in-memory [`Ledger`](super::Ledger) that a limit reads (a level's limited periods, and its
//! requests in flight when it limits concurrency), kept by Lua scripts so each admission and
//! each settlement is one atomic call.
//!
//! Invariant: admission checks every limit of every level and reserves on all of them in one
//! script call (`admit.lua`) — all or nothing, whichever replica asks. Admissions that wait
//! together share one call, and are judged one after another in it.
//! Invariant: a lease is settled at most once (`settle.lua` deletes it); a lease whose replica
//! died gives its reservation and concurrency places back once its expiry passes (every admission
//! sweeps a few; the sweep task the rest), and a late settle then counts only its usage.
//! Invariant: every key of a deployment carries one hash tag, `{<prefix>}`, so one request's
//! keys are in one cluster slot.
//! Invariant: settlements never wait on Redis on the request path: they queue to one task that
//! sends each burst as one script call.

use super::{judge, Ask, LedgerSettings, Level, RateHeaders, Refusal};
use crate::config::RedisConfig;
use crate::store::{CounterRow, LimitScope};
use app::types::{Metric, Period};
use redis::{aio::ConnectionManager, aio::ConnectionManagerConfig, Script};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const COMMON: &str = include_str!("common.lua");

/// An admission waiting to be sent: its keys (lease, then each level's), its arguments (the
/// request id goes fourth, between `numbers[..3]` and the rest), and who waits for the answer.
struct Admission {
    keys: Vec<String>,
    id: String,
    numbers: Vec<i64>,
    answer: oneshot::Sender<Result<Vec<i64>, RedisError>>,
}

/// A settlement waiting to be sent: the request, and what it used (requests, tokens, cost).
struct Settlement {
    lease: String,
    used: [i64; 3],
}

/// The ledger's half in Redis.
pub struct SharedLedger {
    connection: ConnectionManager,
    /// `{<prefix>}`, the start of every key.
    tag: String,
    settings: LedgerSettings,
    admit: Script,
    settle: Script,
    sweep: Script,
    seed: Script,
    admissions: mpsc::UnboundedSender<Admission>,
    settlements: mpsc::UnboundedSender<Settlement>,
}

/// Why Redis did not answer.
pub type RedisError = redis::RedisError;

fn scope_name(scope: LimitScope) -> String {
    match scope {
        LimitScope::Gateway(id) => format!("g{}", id.0),
        LimitScope::Key(id) => format!("k{}", id.0),
        LimitScope::EndUser(id) => format!("u{id}"),
        LimitScope::Group(id) => format!("p{id}"),
    }
}

fn metric_code(metric: Metric) -> u8 {
    match metric {
        Metric::Concurrency => 0,
        Metric::Requests => 1,
        Metric::Tokens => 2,
        Metric::CostMicros => 3,
    }
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl SharedLedger {
    /// The ledger over the Redis at `config.url`, connecting lazily (and again after every
    /// failure, by itself); its settlement task is started here.
    pub fn new(config: &RedisConfig, url: &str, settings: LedgerSettings) -> Result<std::sync::Arc<Self>, RedisError> {
        let client = redis::Client::open(url)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let connection = ConnectionManager::new_lazy_with_config(client, manager)?;
        let (admissions, admitting) = mpsc::unbounded_channel();
        let (settlements, queue) = mpsc::unbounded_channel();
        let script = |body: &str| Script::new(&format!("{COMMON}\n{body}"));
        let ledger = std::sync::Arc::new(SharedLedger {
            connection,
            tag: format!("{{{}}}", config.prefix),
            settings,
            admit: script(include_str!("admit.lua")),
            settle: script(include_str!("settle.lua")),
            sweep: script(include_str!("sweep.lua")),
            seed: script(include_str!("seed.lua")),
            admissions,
            settlements,
        });
        tokio::spawn(admit_queued(
            ledger.connection.clone(),
            ledger.admit.clone(),
            ledger.index(),
            admitting,
        ));
        tokio::spawn(settle_queued(
            ledger.connection.clone(),
            ledger.settle.clone(),
            ledger.index(),
            queue,
        ));
        Ok(ledger)
    }

    fn index(&self) -> String {
        format!("{}:leases", self.tag)
    }

    fn lease(&self, request_id: &str) -> String {
        format!("{}:l:{request_id}", self.tag)
    }

    fn window(&self, scope: LimitScope, period: Period, start: i64) -> String {
        format!("{}:w:{}:{}:{start}", self.tag, scope_name(scope), period.as_str())
    }

    fn meta(&self, scope: LimitScope) -> String {
        format!("{}:s:{}", self.tag, scope_name(scope))
    }

    fn concurrency(&self, scope: LimitScope) -> String {
        format!("{}:c:{}", self.tag, scope_name(scope))
    }

    /// When a window starting at `start` may be forgotten: a reservation TTL after its end, so
    /// a late settlement still finds it; `0` (never) for `total`.
    fn window_expiry(&self, period: Period, start: i64) -> i64 {
        period
            .window_end(start)
            .map_or(0, |end| end.saturating_add(2 * ms(self.settings.reservation_ttl)))
    }

    /// Admits `ask` on every level or refuses it (the outer `Err` when Redis did not answer).
    /// The admission joins the burst waiting for the next script call.
    pub async fn admit(&self, ask: &Ask<'_>) -> Result<Result<RateHeaders, Box<Refusal>>, RedisError> {
        let ttl = ms(self.settings.reservation_ttl);
        let expires = ask.now.saturating_add(ttl);
        let mut keys = Vec::with_capacity(1 + 7 * ask.levels.len());
        keys.push(self.lease(ask.request_id));
        let mut numbers = vec![
            ask.now,
            expires,
            expires.saturating_add(ttl),
            1,
            ask.tokens.max(0),
            ask.cost_micros.max(0),
            i64::try_from(ask.levels.len()).unwrap_or(i64::MAX),
        ];
        numbers.extend(Period::ALL.map(|period| self.window_expiry(period, period.window_start(ask.now))));
        for level in &ask.levels {
            self.level(&mut keys, &mut numbers, level, ask.now);
        }
        let (answer, answered) = oneshot::channel();
        let admission = Admission {
            keys,
            id: ask.request_id.to_owned(),
            numbers,
            answer,
        };
        if self.admissions.send(admission).is_err() {
            return Err(RedisError::from((redis::ErrorKind::Io, "the admission task has ended")));
        }
        let answer = (answered.await).unwrap_or_else(|_| {
            Err(RedisError::from((
                redis::ErrorKind::Io,
                "the admission was not answered",
            )))
        })?;
        let taken = answer.get(1..).unwrap_or_default();
        Ok(judge::judge(&self.settings, ask, taken))
    }

    /// One level's keys and arguments of an admission.
    fn level(&self, keys: &mut Vec<String>, numbers: &mut Vec<i64>, level: &Level<'_>, now: i64) {
        keys.push(self.meta(level.scope));
        keys.push(self.concurrency(level.scope));
        keys.extend(Period::ALL.map(|period| self.window(level.scope, period, period.window_start(now))));
        let limits: Vec<_> = judge::effective(&self.settings, level).collect();
        numbers.push(level.reset_at.unwrap_or(-1));
        numbers.push(i64::try_from(limits.len()).unwrap_or(i64::MAX));
        for limit in limits {
            numbers.push(i64::from(metric_code(limit.metric)));
            numbers.push(i64::try_from(period_code(limit.period)).unwrap_or(i64::MAX));
            numbers.push(limit.max_value);
        }
    }

    /// Queues request `request_id`'s settlement: sent at once, off the request path.
    pub fn settle(&self, request_id: &str, tokens: i64, cost_micros: i64) {
        let settlement = Settlement {
            lease: self.lease(request_id),
            used: [1, tokens.max(0), cost_micros.max(0)],
        };
        // The task ends only with the process.
        let _ = self.settlements.send(settlement);
    }

    /// Settles request `request_id` now, waiting for Redis; answers whether it held a lease.
    pub async fn settle_now(&self, request_id: &str, tokens: i64, cost_micros: i64) -> Result<bool, RedisError> {
        let settlement = Settlement {
            lease: self.lease(request_id),
            used: [1, tokens.max(0), cost_micros.max(0)],
        };
        let settled =
            send_settlements(&mut self.connection.clone(), &self.settle, &self.index(), &[settlement]).await?;
        Ok(settled == 1)
    }

    /// Gives back the places of leases past their expiry; answers how many.
    pub async fn sweep(&self, now: i64) -> Result<usize, RedisError> {
        let released: usize = (self.sweep.key(self.index()))
            .arg(now)
            .arg(1000)
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(released)
    }

    /// Raises the windows' used figures to the stored counters where Redis counts less (at
    /// start, and when Redis comes back); answers how many windows it raised.
    pub async fn seed(&self, rows: &[CounterRow], now: i64) -> Result<usize, RedisError> {
        let mut seeded = 0;
        for row in rows {
            let done: i64 = (self.seed.key(self.window(row.scope, row.period, row.window_start)))
                .key(self.meta(row.scope))
                .arg(row.requests)
                .arg(row.tokens)
                .arg(row.cost_micros)
                .arg(self.window_expiry(row.period, row.window_start))
                .arg(now)
                .invoke_async(&mut self.connection.clone())
                .await?;
            seeded += usize::from(done == 1);
        }
        Ok(seeded)
    }

    /// A scope's used and reserved amounts of `metric` in `period`'s window holding `now`, and
    /// its requests in flight — as far as the scope's limits read them: Redis keeps only the
    /// windows a limit reads, and requests in flight only under a concurrency limit.
    pub async fn usage(
        &self,
        scope: LimitScope,
        metric: Metric,
        period: Period,
        now: i64,
    ) -> Result<(i64, i64, i64), RedisError> {
        let code = metric_code(metric);
        let window = self.window(scope, period, period.window_start(now));
        let mut connection = self.connection.clone();
        let (used, reserved, in_flight): (Option<i64>, Option<i64>, i64) = redis::pipe()
            .hget(&window, format!("u{code}"))
            .hget(&window, format!("r{code}"))
            .zcount(self.concurrency(scope), now, "+inf")
            .query_async(&mut connection)
            .await?;
        match code {
            0 => Ok((0, 0, in_flight)),
            _ => Ok((used.unwrap_or(0), reserved.unwrap_or(0), in_flight)),
        }
    }

    /// Says this replica (`replica`) is alive until `now + ttl`, forgets those past theirs, and
    /// answers how many are alive.
    pub async fn heartbeat(&self, replica: &str, now: i64, ttl: Duration) -> Result<usize, RedisError> {
        let replicas = format!("{}:replicas", self.tag);
        let (alive,): (usize,) = redis::pipe()
            .zadd(&replicas, replica, now.saturating_add(ms(ttl)))
            .ignore()
            .zrembyscore(&replicas, "-inf", now)
            .ignore()
            .zcard(&replicas)
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(alive)
    }

    /// Whether Redis answers now.
    pub async fn ping(&self) -> Result<(), RedisError> {
        redis::cmd("PING").query_async(&mut self.connection.clone()).await
    }
}

/// The period's position in the scripts' window list (1 to 5).
fn period_code(period: Period) -> usize {
    period.index() + 1
}

/// Most admissions in one script call.
const ADMIT_BATCH: usize = 256;

/// Sends queued admissions a burst at a time: what queued while the previous call was in flight
/// goes in the next, so one request alone waits no longer and fifty at once share a few calls.
async fn admit_queued(
    connection: ConnectionManager,
    script: Script,
    index: String,
    mut queue: mpsc::UnboundedReceiver<Admission>,
) {
    let mut burst = Vec::with_capacity(ADMIT_BATCH);
    let mut connection = connection;
    while queue.recv_many(&mut burst, ADMIT_BATCH).await > 0 {
        let now = burst.iter().filter_map(|admission| admission.numbers.first()).max();
        let mut call = script.key(&index);
        call.arg(now.copied().unwrap_or(0)).arg(burst.len());
        for admission in &burst {
            let (head, rest) = admission.numbers.split_at(3.min(admission.numbers.len()));
            call.key(&admission.keys)
                .arg(admission.keys.len())
                .arg(admission.numbers.len() + 1)
                .arg(head)
                .arg(&admission.id)
                .arg(rest);
        }
        let answers: Result<Vec<Vec<i64>>, RedisError> = call.invoke_async(&mut connection).await;
        match answers {
            Ok(answers) => {
                let mut answers = answers.into_iter();
                for admission in burst.drain(..) {
                    // A missing answer drops the sender: the request hears Redis did not answer.
                    if let Some(answer) = answers.next() {
                        let _ = admission.answer.send(Ok(answer));
                    }
                }
            }
            Err(error) => {
                for admission in burst.drain(..) {
                    let _ = admission.answer.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Sends settlements in one script call; answers how many held a lease.
async fn send_settlements(
    connection: &mut ConnectionManager,
    script: &Script,
    index: &str,
    settlements: &[Settlement],
) -> Result<usize, RedisError> {
    let mut call = script.key(index);
    for settlement in settlements {
        call.key(&settlement.lease)
            .arg(settlement.used[0])
            .arg(settlement.used[1])
            .arg(settlement.used[2]);
    }
    call.invoke_async(connection).await
}

/// How long settlements gather before they are sent together: one script call settles a burst
/// (at 50 requests in flight, dozens), and at one request at a time the settlement no longer
/// meets the next admission head-on in Redis.
const SETTLE_LINGER: Duration = Duration::from_millis(2);

/// Most settlements in one script call.
const SETTLE_BATCH: usize = 256;

/// Sends queued settlements a burst at a time. A burst Redis refuses is tried twice more; then
/// its reservations are left to expire (the database still counts their usage).
async fn settle_queued(
    connection: ConnectionManager,
    script: Script,
    index: String,
    mut queue: mpsc::UnboundedReceiver<Settlement>,
) {
    let mut burst = Vec::with_capacity(SETTLE_BATCH);
    let mut connection = connection;
    while queue.recv_many(&mut burst, SETTLE_BATCH).await > 0 {
        tokio::time::sleep(SETTLE_LINGER).await;
        while burst.len() < SETTLE_BATCH {
            match queue.try_recv() {
                Ok(settlement) => burst.push(settlement),
                Err(_) => break,
            }
        }
        let mut wait = Duration::from_millis(100);
        for attempt in 1..=3 {
            match send_settlements(&mut connection, &script, &index, &burst).await {
                Ok(_) => break,
                Err(error) if attempt == 3 => tracing::warn!(
                    error = %error,
                    settlements = burst.len(),
                    "settlements could not reach Redis; their reservations expire instead"
                ),
                Err(_) => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
        burst.clear();
    }
}

#[cfg(test)]
mod tests;
