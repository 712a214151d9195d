//! `mock-upstream`: the scriptable mock provider as a process, for end2end tests and the
//! benchmark. Speaks OpenAI (and Azure, Ollama), and Anthropic; `x-mock-latency-ms` and
//! `x-mock-status` request headers inject latency and errors.

use server::testing::MockUpstream;
use std::net::SocketAddr;

const USAGE: &str = "Usage: mock-upstream [--bind 127.0.0.1:PORT]

Serves the mock provider on a loopback address (port 0, the default, picks a free one) until
Ctrl-C, printing its URL. Request headers x-mock-latency-ms and x-mock-status inject latency
and errors.";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    if std::env::args().any(|arg| arg == "--help" || arg == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let addr: SocketAddr = std::env::args()
        .skip_while(|arg| arg != "--bind")
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .map_err(std::io::Error::other)?;
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::other(
            "the mock upstream serves loopback addresses only",
        ));
    }
    let mock = MockUpstream::bind(addr).await?;
    println!("mock upstream listening on {}", mock.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
