//! Login throttling (RELIABILITY A-08): at most 5 failed sign-ins per account in 15 minutes,
//! and at most 20 sign-in attempts per client address in a minute.
//!
//! Invariant: an attempt counts as a failure from the moment it is admitted, under the lock,
//! until it succeeds; so parallel guesses cannot all pass before the first one fails.
//! Invariant: memory stays bounded: entries whose window has passed are swept (past a size,
//! and hourly); IPv6 clients are counted per /64, the block one subscriber usually holds.
//! Does not: persist anything; a restart forgets the counts, as it forgets nothing else that
//! matters (sessions are in the database).

use std::{
    collections::{HashMap, VecDeque},
    hash::Hash,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

const ACCOUNT_FAILURES: usize = 5;
const ACCOUNT_WINDOW: Duration = Duration::from_secs(15 * 60);
const ADDRESS_ATTEMPTS: usize = 20;
const ADDRESS_WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked names, stale ones are swept on the next call.
const SWEEP_AT: usize = 10_000;

/// Sliding windows of events per name.
struct Windows<K> {
    events: HashMap<K, VecDeque<Instant>>,
    limit: usize,
    window: Duration,
}

impl<K: Hash + Eq + Clone> Windows<K> {
    fn new(limit: usize, window: Duration) -> Self {
        Windows {
            events: HashMap::new(),
            limit,
            window,
        }
    }

    /// Drops the names whose every event has left the window.
    fn sweep(&mut self, now: Instant) {
        let window = self.window;
        self.events
            .retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < window));
    }

    /// How long until `key` may act again, or `None` when it may act now.
    fn wait(&mut self, key: &K, now: Instant) -> Option<Duration> {
        if self.events.len() > SWEEP_AT {
            self.sweep(now);
        }
        let times = self.events.get_mut(key)?;
        while times.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            times.pop_front();
        }
        if times.len() < self.limit {
            return None;
        }
        let oldest = *times.front()?;
        Some((self.window - now.duration_since(oldest)).max(Duration::from_secs(1)))
    }

    fn record(&mut self, key: K, now: Instant) {
        self.events.entry(key).or_default().push_back(now);
    }
}

/// The sign-in throttle shared by every login path.
pub struct LoginThrottle {
    state: Mutex<(Windows<String>, Windows<IpAddr>)>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            state: Mutex::new((
                Windows::new(ACCOUNT_FAILURES, ACCOUNT_WINDOW),
                Windows::new(ADDRESS_ATTEMPTS, ADDRESS_WINDOW),
            )),
        }
    }
}

impl LoginThrottle {
    /// Counts an attempt from `address` on `account`, as a failure until [`Self::succeeded`]
    /// says otherwise; `Err(retry_after)` when either is over its limit (and then the password
    /// must not even be checked).
    pub fn admit(&self, account: &str, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let address = client_block(address);
        let mut guard = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (accounts, addresses) = &mut *guard;
        if let Some(wait) = addresses.wait(&address, now) {
            return Err(wait);
        }
        addresses.record(address, now);
        let account = account.to_string();
        if let Some(wait) = accounts.wait(&account, now) {
            return Err(wait);
        }
        accounts.record(account, now);
        Ok(())
    }

    /// Drops what has left every window (called periodically).
    pub fn sweep(&self, now: Instant) {
        let mut guard = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.0.sweep(now);
        guard.1.sweep(now);
    }

    /// Forgets an account's failures after it signs in.
    pub fn succeeded(&self, account: &str) {
        let mut guard = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.0.events.remove(account);
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

    #[test]
    fn the_sixth_attempt_after_five_failures_is_refused_until_the_window_passes() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for i in 0..5 {
            assert!(throttle.admit("a@x", HOME, start + Duration::from_secs(i)).is_ok());
        }
        let wait = throttle
            .admit("a@x", HOME, start + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, ACCOUNT_WINDOW - Duration::from_secs(10));
        assert!(
            throttle.admit("b@x", HOME, start + Duration::from_secs(10)).is_ok(),
            "other accounts are not locked"
        );
        assert!(throttle
            .admit("a@x", HOME, start + ACCOUNT_WINDOW + Duration::from_secs(1))
            .is_ok());
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
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(
            throttle.admit("user21@x", other, start).is_ok(),
            "other addresses are not limited"
        );
        assert!(throttle.admit("user21@x", HOME, start + ADDRESS_WINDOW).is_ok());
    }

    #[test]
    fn a_success_clears_the_account_failures() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..4 {
            assert!(throttle.admit("a@x", HOME, now).is_ok());
        }
        throttle.succeeded("a@x");
        for _ in 0..5 {
            assert!(throttle.admit("a@x", HOME, now).is_ok());
        }
        assert!(throttle.admit("a@x", HOME, now).is_err());
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
        throttle.sweep(start + ACCOUNT_WINDOW);
        let guard = throttle.state.lock().unwrap();
        assert!(guard.0.events.is_empty() && guard.1.events.is_empty());
    }
}
