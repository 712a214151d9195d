//! The listener under slow, idle and too many connections (RELIABILITY L-03 and R8): a request
//! head has `listener.header_read_timeout` to arrive, an idle kept-alive connection closes after
//! it too, and connections past `listener.max_connections` are closed as soon as accepted.

use super::{connect, get_healthz};
use crate::support::TestServer;
use std::time::{Duration, Instant};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const HEAD_TIMEOUT: Duration = Duration::from_millis(500);

/// How long until the server closes the connection (a read ends or fails), reading and
/// discarding what it sends before; `None` if it is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + within;
    let mut buffer = [0_u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

async fn short_head_timeout() -> TestServer {
    TestServer::start_with(|config| config.listener.header_read_timeout = HEAD_TIMEOUT).await
}

#[tokio::test]
async fn a_request_head_trickled_byte_by_byte_is_cut_off_at_the_header_timeout() {
    let server = short_head_timeout().await;
    let mut stream = connect(&server).await;
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        std::future::pending::<()>().await;
    };
    let closed = async {
        let started = Instant::now();
        let mut buffer = [0_u8; 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => continue,
            }
        }
    };
    let closed_after = tokio::time::timeout(Duration::from_secs(5), async {
        tokio::select! {
            () = trickle => unreachable!("the trickle never ends on its own"),
            elapsed = closed => elapsed,
        }
    })
    .await
    .expect("a trickled head must not hold the connection open");
    assert!(closed_after >= HEAD_TIMEOUT / 2, "closed too early: {closed_after:?}");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_timeout() {
    let server = short_head_timeout().await;
    let mut stream = connect(&server).await;
    let closed = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "a silent connection must be closed");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let server = short_head_timeout().await;
    let mut stream = connect(&server).await;
    let head = get_healthz(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("connection: close"), "{head}");
    let closed = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "an idle kept-alive connection must be closed");
}

#[tokio::test]
async fn a_kept_alive_connection_serves_the_next_request_within_the_timeout() {
    let server = TestServer::start_with(|config| config.listener.header_read_timeout = Duration::from_secs(2)).await;
    let mut stream = connect(&server).await;
    for _ in 0..3 {
        let head = get_healthz(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let length: usize = (head.lines())
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(str::to_string)
            })
            .and_then(|value| value.trim().parse().ok())
            .expect("a content-length");
        let mut body = vec![0_u8; length];
        stream.read_exact(&mut body).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once_and_counted() {
    let server = TestServer::start_with(|config| config.listener.max_connections = 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&server).await;
        // A served request proves the connection holds a place.
        assert!(get_healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut extra = connect(&server).await;
    let closed = closed_within(&mut extra, Duration::from_secs(2)).await;
    assert!(closed.is_some(), "a fifth connection must be closed at once");

    // A place given back is taken again.
    drop(held.pop());
    let client = reqwest::Client::new();
    let started = Instant::now();
    let metrics = loop {
        match client.get(format!("{}/metrics", server.url)).send().await {
            Ok(response) => break response.text().await.unwrap(),
            Err(_) if started.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("no place given back: {error}"),
        }
    };
    let refused = (metrics.lines())
        .find_map(|line| line.strip_prefix("mgw_connections_refused_total "))
        .expect("the counter is exported");
    assert!(refused.trim().parse::<u64>().unwrap() >= 1, "{refused}");
}
