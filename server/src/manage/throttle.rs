//! Login throttling (RELIABILITY A-08): failed sign-ins are counted per account *and* client
//! address, and past five an address waits before its next try on that account, twice as long
//! each time (30 s, 1 min, 2 min, … at most 15 min); every address may also make at most 20
//! sign-in attempts a minute, whatever the accounts.
//!
//! Invariant: an address that has not failed on an account is never kept from it: nobody can
//! lock an admin out by guessing wrong from elsewhere.
//! Invariant: an attempt counts as a failure from the moment it is admitted, under the lock,
//! until it succeeds; so parallel guesses cannot all pass before the first one fails.
//! Invariant: memory stays bounded: entries whose time has passed are swept (past a size, and
//! hourly); IPv6 clients are counted per /64, the block one subscriber usually holds.
//! Does not: persist anything; a restart forgets the counts, as it forgets nothing else that
//! matters (sessions are in the database).

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Failures from one address on one account before it has to wait.
const FREE_FAILURES: u32 = 5;
/// The first wait; each further failure doubles it.
const FIRST_WAIT: Duration = Duration::from_secs(30);
/// The longest wait.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// An address's failures on an account are forgotten this long after the last one.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
const ADDRESS_ATTEMPTS: usize = 20;
const ADDRESS_WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked names, stale ones are swept on the next call.
const SWEEP_AT: usize = 10_000;

/// One address's failed sign-ins on one account.
#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// How long until the next attempt may be made, if it must wait.
    fn wait(self, now: Instant) -> Option<Duration> {
        let beyond = self.count.checked_sub(FREE_FAILURES)?;
        let wait = FIRST_WAIT.saturating_mul(1 << beyond.min(16)).min(MAX_WAIT);
        let ready = self.last + wait;
        (ready > now).then(|| ready - now)
    }
}

/// Attempts from each address in the last [`ADDRESS_WINDOW`].
struct Attempts {
    events: HashMap<IpAddr, VecDeque<Instant>>,
}

impl Attempts {
    /// Drops the addresses whose every attempt has left the window.
    fn sweep(&mut self, now: Instant) {
        self.events
            .retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < ADDRESS_WINDOW));
    }

    /// How long until `address` may try again, or `None` when it may now.
    fn wait(&mut self, address: IpAddr, now: Instant) -> Option<Duration> {
        if self.events.len() > SWEEP_AT {
            self.sweep(now);
        }
        let times = self.events.get_mut(&address)?;
        while times.front().is_some_and(|t| now.duration_since(*t) >= ADDRESS_WINDOW) {
            times.pop_front();
        }
        if times.len() < ADDRESS_ATTEMPTS {
            return None;
        }
        let oldest = *times.front()?;
        Some((ADDRESS_WINDOW - now.duration_since(oldest)).max(Duration::from_secs(1)))
    }
}

/// What the throttle remembers.
struct State {
    failures: HashMap<(String, IpAddr), Failures>,
    attempts: Attempts,
}

impl State {
    fn sweep(&mut self, now: Instant) {
        (self.failures).retain(|_, failures| now.duration_since(failures.last) < FORGET_AFTER);
        self.attempts.sweep(now);
    }
}

/// The sign-in throttle shared by every login path.
pub struct LoginThrottle {
    state: Mutex<State>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            state: Mutex::new(State {
                failures: HashMap::new(),
                attempts: Attempts { events: HashMap::new() },
            }),
        }
    }
}

impl LoginThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts an attempt from `address` on `account`, as a failure until [`Self::succeeded`]
    /// says otherwise; `Err(retry_after)` when the address must wait (and then the password
    /// must not even be checked).
    pub fn admit(&self, account: &str, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let address = client_block(address);
        let mut state = self.lock();
        if let Some(wait) = state.attempts.wait(address, now) {
            return Err(wait);
        }
        if state.failures.len() > SWEEP_AT {
            state.sweep(now);
        }
        let pair = (account.to_string(), address);
        let failures = match state.failures.get(&pair) {
            Some(failures) if now.duration_since(failures.last) >= FORGET_AFTER => None,
            known => known.copied(),
        };
        if let Some(wait) = failures.and_then(|failures| failures.wait(now)) {
            return Err(wait);
        }
        state.attempts.events.entry(address).or_default().push_back(now);
        let count = failures.map_or(0, |failures| failures.count) + 1;
        state.failures.insert(pair, Failures { count, last: now });
        Ok(())
    }

    /// Drops what has left every window (called periodically).
    pub fn sweep(&self, now: Instant) {
        self.lock().sweep(now);
    }

    /// Forgets an address's failures on an account once it signs in there.
    pub fn succeeded(&self, account: &str, address: IpAddr) {
        self.lock()
            .failures
            .remove(&(account.to_string(), client_block(address)));
    }
}

/// The unit a client is counted by: its IPv4 address, or its IPv6 /64.
fn client_block(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const ELSEWHERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn at(start: Instant, seconds: u64) -> Instant {
        start + Duration::from_secs(seconds)
    }

    #[test]
    fn after_five_failures_an_address_waits_twice_as_long_each_time_up_to_fifteen_minutes() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for i in 0..5 {
            assert!(throttle.admit("a@x", HOME, at(start, i)).is_ok());
        }
        assert_eq!(throttle.admit("a@x", HOME, at(start, 4)), Err(Duration::from_secs(30)));
        assert_eq!(throttle.admit("a@x", HOME, at(start, 14)), Err(Duration::from_secs(20)));
        let mut now = at(start, 4);
        for wait in [30, 60, 120, 240, 480, 900, 900] {
            now += Duration::from_secs(wait);
            assert!(throttle.admit("a@x", HOME, now).is_ok(), "after {wait} s");
            assert_eq!(
                throttle.admit("a@x", HOME, now),
                Err(Duration::from_secs((wait * 2).min(900)))
            );
        }
    }

    #[test]
    fn an_address_that_has_not_failed_is_never_kept_from_an_account() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..6 {
            let _ = throttle.admit("admin@x", HOME, now);
        }
        assert!(throttle.admit("admin@x", HOME, now).is_err());
        assert!(
            throttle.admit("admin@x", ELSEWHERE, now).is_ok(),
            "the real admin signs in"
        );
        assert!(
            throttle.admit("other@x", HOME, now).is_ok(),
            "other accounts are not locked"
        );
    }

    #[test]
    fn the_twenty_first_attempt_from_one_address_in_a_minute_is_refused() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for i in 0..20 {
            assert!(
                throttle.admit(&format!("user{i}@x"), HOME, start).is_ok(),
                "attempt {i}"
            );
        }
        assert!(throttle.admit("user21@x", HOME, start).is_err());
        assert!(
            throttle.admit("user21@x", ELSEWHERE, start).is_ok(),
            "other addresses are not limited"
        );
        assert!(throttle.admit("user21@x", HOME, start + ADDRESS_WINDOW).is_ok());
    }

    #[test]
    fn a_success_clears_that_address_failures_on_the_account() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..4 {
            assert!(throttle.admit("a@x", HOME, now).is_ok());
        }
        throttle.succeeded("a@x", HOME);
        for _ in 0..5 {
            assert!(throttle.admit("a@x", HOME, now).is_ok());
        }
        assert!(throttle.admit("a@x", HOME, now).is_err());
    }

    #[test]
    fn failures_are_forgotten_an_hour_after_the_last() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..5 {
            assert!(throttle.admit("a@x", HOME, start).is_ok());
        }
        let later = start + FORGET_AFTER;
        for _ in 0..5 {
            assert!(throttle.admit("a@x", HOME, later).is_ok());
        }
    }

    #[test]
    fn parallel_attempts_count_before_they_are_checked() {
        // Nothing has failed yet, but five attempts are in flight: the sixth waits.
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        let admitted = (0..10).filter(|_| throttle.admit("a@x", HOME, now).is_ok()).count();
        assert_eq!(admitted, 5);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_block() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..20u16 {
            let address = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, i));
            assert!(throttle.admit(&format!("u{i}@x"), address, now).is_ok());
        }
        let same_block = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0xffff, 0, 0, 99));
        assert!(throttle.admit("u99@x", same_block, now).is_err());
        let other_block = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1));
        assert!(throttle.admit("u99@x", other_block, now).is_ok());
    }

    #[test]
    fn a_sweep_forgets_what_left_the_window() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        assert!(throttle.admit("a@x", HOME, start).is_ok());
        throttle.sweep(start + FORGET_AFTER);
        let state = throttle.lock();
        assert!(state.failures.is_empty() && state.attempts.events.is_empty());
    }
}
