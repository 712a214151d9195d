//! Login throttling (RELIABILITY A-08): at most 5 failed sign-ins per account in 15 minutes,
//! and at most 20 sign-in attempts per client address in a minute.
//!
//! Invariant: memory stays bounded: entries whose window has passed are dropped.
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

    /// How long until `key` may act again, or `None` when it may act now.
    fn wait(&mut self, key: &K, now: Instant) -> Option<Duration> {
        if self.events.len() > SWEEP_AT {
            let window = self.window;
            self.events
                .retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < window));
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
    /// Counts an attempt from `address` on `account`; `Err(retry_after)` when either is over
    /// its limit (and then the password must not even be checked).
    pub fn admit(&self, account: &str, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut guard = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (accounts, addresses) = &mut *guard;
        if let Some(wait) = addresses.wait(&address, now) {
            return Err(wait);
        }
        addresses.record(address, now);
        match accounts.wait(&account.to_string(), now) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failed sign-in against `account`.
    pub fn failed(&self, account: &str, now: Instant) {
        let mut guard = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.0.record(account.to_string(), now);
    }

    /// Forgets an account's failures after it signs in.
    pub fn succeeded(&self, account: &str) {
        let mut guard = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.0.events.remove(account);
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
            throttle.failed("a@x", start + Duration::from_secs(i));
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
            throttle.failed("a@x", now);
        }
        throttle.succeeded("a@x");
        for _ in 0..4 {
            throttle.failed("a@x", now);
        }
        assert!(throttle.admit("a@x", HOME, now).is_ok());
    }
}
