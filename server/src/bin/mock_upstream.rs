//! `mock-upstream`: the scriptable mock provider as a process, for end2end tests and the
//! benchmark. Speaks OpenAI (and Azure, Ollama), and Anthropic; `x-mock-latency-ms` and
//! `x-mock-status` request headers inject latency and errors.

use server::testing::{Behaviour, MockUpstream, Usage};
use std::net::SocketAddr;

const USAGE: &str = "Usage: mock-upstream [--bind 127.0.0.1:PORT] [--chunks N] [--chunk-gap-ms MS]

Serves the mock provider on a loopback address (port 0, the default, picks a free one) until
Ctrl-C, printing its URL. A streamed answer has N content chunks (default 3), MS milliseconds
apart (default 2; 0 sends them back to back). Request headers x-mock-latency-ms and
x-mock-status inject latency and errors.";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    if std::env::args().any(|arg| arg == "--help" || arg == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let flag = |name: &str| std::env::args().skip_while(|arg| arg != name).nth(1);
    let addr: SocketAddr = (flag("--bind").unwrap_or_else(|| "127.0.0.1:0".into()))
        .parse()
        .map_err(std::io::Error::other)?;
    let chunks: usize = match flag("--chunks") {
        Some(chunks) => chunks
            .parse()
            .ok()
            .filter(|chunks| (1..=10_000).contains(chunks))
            .ok_or_else(|| std::io::Error::other("--chunks: a number from 1 to 10000"))?,
        None => 3,
    };
    let gap_ms: u64 = match flag("--chunk-gap-ms") {
        Some(gap) => gap
            .parse()
            .ok()
            .filter(|gap| *gap <= 60_000)
            .ok_or_else(|| std::io::Error::other("--chunk-gap-ms: a number from 0 to 60000"))?,
        None => 2,
    };
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::other(
            "the mock upstream serves loopback addresses only",
        ));
    }
    let mock = MockUpstream::bind(addr).await?;
    mock.set_chunk_gap(std::time::Duration::from_millis(gap_ms));
    mock.set_fallback(Behaviour::Answer {
        usage: Usage::default(),
        chunks,
    });
    println!("mock upstream listening on {}", mock.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
