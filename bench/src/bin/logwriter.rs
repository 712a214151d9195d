//! `logwriter`: what storing request logs costs, without HTTP around it. It opens a store the
//! way the server does (SQLite by default, or `--database-url postgres://…`), migrates it,
//! optionally fills it with `--prefill` rows first (index maintenance grows with the table),
//! then stores `--records` request logs with one attempt each, in batches of `--batch` (the
//! writer's batch size under load), and prints records per second and the process's CPU time
//! per record — SQLite runs in this process, so that is what the gateway's core pays.
//!
//! Usage: `logwriter [--records N] [--batch N] [--prefill N] [--database-url URL]`

use app::types::{EndpointId, GatewayId, KeyId, RequestAttempt, RequestLog};
use clap::Parser;
use server::{config::DatabaseConfig, store::Store};
use std::{process::ExitCode, time::Instant};

#[derive(Parser)]
#[command(name = "logwriter")]
struct Args {
    /// Records to time.
    #[arg(long, default_value_t = 200_000)]
    records: usize,
    /// Records per transaction.
    #[arg(long, default_value_t = 512)]
    batch: usize,
    /// Rows stored before timing starts.
    #[arg(long, default_value_t = 0)]
    prefill: usize,
    /// A database to use instead of a fresh SQLite file (it must be empty and migratable).
    #[arg(long)]
    database_url: Option<String>,
}

/// This process's user + system CPU time in seconds (`/proc/self/stat`, clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which ends with the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn record(sequence: usize, now: i64) -> RequestLog {
    RequestLog {
        request_id: server::proxy::request_id(),
        created_at: now,
        gateway_id: Some(GatewayId(1)),
        key_id: Some(KeyId(i64::try_from(sequence % 7).unwrap_or(0) + 1)),
        endpoint_id: Some(EndpointId(1)),
        api: "openai".into(),
        operation: "chat".into(),
        model: Some("gpt-4o-mini".into()),
        stream: false,
        status: 200,
        latency_ms: 3,
        ttft_ms: Some(2),
        prompt_tokens: 12,
        completion_tokens: 9,
        cost_micros: 0,
        error_class: None,
        request_body: None,
        response_body: None,
        attempts: vec![RequestAttempt {
            attempt: 1,
            endpoint_id: Some(EndpointId(1)),
            started_at: now,
            status: Some(200),
            latency_ms: 2,
            ttft_ms: Some(2),
            prompt_tokens: 12,
            completion_tokens: 9,
            error_class: None,
            ..RequestAttempt::default()
        }],
        ..RequestLog::default()
    }
}

async fn store_records(store: &Store, count: usize, batch: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut sequence = 0;
    while sequence < count {
        let size = batch.min(count - sequence);
        let now = server::store::now_ms();
        let logs: Vec<RequestLog> = (sequence..sequence + size).map(|i| record(i, now)).collect();
        store.insert_request_logs(&logs).await?;
        sequence += size;
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("logwriter: no temporary directory: {error}");
            return ExitCode::FAILURE;
        }
    };
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}?mode=rwc", dir.path().join("bench.db").display()));
    let run = async {
        let store = Store::connect(&url, &DatabaseConfig::default()).await?;
        store.migrate().await?;
        store_records(&store, args.prefill, 1024).await?;
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        store_records(&store, args.records, args.batch.max(1)).await?;
        let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        let records = args.records as f64;
        println!(
            "{} records in batches of {} after {} rows: {:.0} records/s, {:.2} µs CPU per record ({:.2} s wall, {:.2} s CPU)",
            args.records,
            args.batch,
            args.prefill,
            records / wall,
            cpu * 1e6 / records,
            wall,
            cpu
        );
        store.close().await;
        Ok::<(), Box<dyn std::error::Error>>(())
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("logwriter: {error}");
            ExitCode::FAILURE
        }
    }
}
