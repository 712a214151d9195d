//! Process-wide logging to stderr: human-readable by default, JSON with `--log-format json`;
//! the level comes from `RUST_LOG` (default `info`).
//!
//! Invariant: stdout carries only a command's output (tables, JSON, a new key's secret).

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colours only on a terminal; log files and pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second init (tests, or `serve` after a subcommand) keeps the first subscriber.
    drop(installed);
}

/// Server errors answered by the HTTP layer (a 503 when the process sheds load, say), logged at
/// most once a second with how many were not: under load shedding one line a request would
/// itself be a load (14,896 ERROR lines in 12 s were seen). `mgw_requests` counts every one.
#[derive(Clone, Default)]
pub struct FailureLog {
    state: std::sync::Arc<std::sync::Mutex<(u64, u64)>>,
}

impl FailureLog {
    /// Whether a failure at `second` (Unix seconds) is logged, and how many were held back
    /// since the last one that was.
    pub fn admit(&self, second: u64) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (last, held) = &mut *state;
        if *last == second {
            *held += 1;
            return None;
        }
        *last = second;
        Some(std::mem::take(held))
    }
}

impl<F: std::fmt::Display> tower_http::trace::OnFailure<F> for FailureLog {
    fn on_failure(&mut self, failure: F, latency: std::time::Duration, _span: &tracing::Span) {
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        if let Some(held_back) = self.admit(second) {
            tracing::warn!(
                classification = %failure,
                latency_ms = latency.as_millis(),
                held_back,
                "response failed (at most one such line a second; held_back were not logged)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FailureLog;

    #[test]
    fn failures_are_logged_once_a_second_with_the_count_held_back() {
        let log = FailureLog::default();
        assert_eq!(log.admit(100), Some(0));
        for _ in 0..999 {
            assert_eq!(log.admit(100), None);
        }
        assert_eq!(log.admit(101), Some(999));
        assert_eq!(log.admit(102), Some(0));
    }
}
