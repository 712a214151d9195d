//! Observability (issue #7): `/metrics` after known traffic, its token, OTLP traces with the
//! `traceparent` sent upstream, request-log retention, and RELIABILITY SC-01 (canary secrets
//! never appear in logs at `trace` level, answers or the database).
//!
//! Here: `Binary`, the real binary over one data directory, for the log and canary tests.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// The real binary over one data directory, with a clean environment plus `env`.
struct Binary {
    data: String,
    env: Vec<(&'static str, &'static str)>,
}

impl Binary {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_model-gateway"));
        command
            .args(["--data-dir", &self.data])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().copied())
            .stdin(Stdio::null());
        command
    }

    /// Runs a subcommand to success; returns its output.
    fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.command(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        out
    }

    /// `serve` on a free port, stderr to `logs`; returns once it is ready.
    async fn serve(&self, flags: &[&str], logs: &std::path::Path) -> (std::process::Child, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bind = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--bind", &bind];
        args.extend_from_slice(flags);
        let child = self
            .command(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(logs).unwrap())
            .spawn()
            .unwrap();
        let url = format!("http://{bind}");
        let until = Instant::now() + Duration::from_secs(20);
        while !reqwest::get(format!("{url}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(Instant::now() < until, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (child, url)
    }

    /// SIGTERM, then waits for a clean exit (a graceful stop writes the request logs first).
    fn stop(mut child: std::process::Child) {
        let signalled = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(signalled.success());
        assert!(child.wait().unwrap().success());
    }
}

mod logs;
mod metrics;
mod secrets;
mod traces;
