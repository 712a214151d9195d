//! Stalled uploads (issue 18, item 3): a request counts against its key's concurrency from the
//! moment its key is known, so one key's stalled bodies take its own places and not the
//! process's; and a body has `proxy.body_read_timeout` to arrive.

use crate::{
    operator::op,
    rig::{chat, endpoint, post_as, steady, Rig},
};
use app::types::{NewKey, ProviderKind};
use server::testing::MockUpstream;
use std::time::{Duration, Instant};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Starts a request whose body says 100,000 bytes and sends one: a stalled upload.
async fn stalled_upload(rig: &Rig, key: &str) -> TcpStream {
    let mut stream = TcpStream::connect(rig.server.url.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// The status of the answer on `stream`, if one comes within `within`.
async fn status_within(stream: &mut TcpStream, within: Duration) -> Option<u16> {
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 1024];
    tokio::time::timeout(within, async {
        while answer.len() < 12 {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .ok()?;
    std::str::from_utf8(answer.get(9..12)?).ok()?.parse().ok()
}

async fn second_key(rig: &Rig) -> String {
    let manage = &rig.server.state.manage;
    let created = op(manage)
        .create_key(NewKey {
            gateway: op(manage).gateway_id("g").await,
            name: "other".into(),
            ..NewKey::default()
        })
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    created.secret.expose().to_string()
}

#[tokio::test]
async fn one_keys_stalled_uploads_take_its_own_places_not_everyones() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        |config| {
            steady(config);
            config.proxy.max_in_flight = 8;
            config.proxy.key_max_concurrent = 4;
        },
        vec![endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |_| {},
    )
    .await;
    let other = second_key(&rig).await;
    let mut stalled = Vec::new();
    for _ in 0..8 {
        stalled.push(stalled_upload(&rig, &rig.key).await);
    }
    // The key's four places are taken; its next uploads are refused at once.
    let mut refused = 0;
    for stream in &mut stalled {
        if status_within(stream, Duration::from_millis(500)).await == Some(429) {
            refused += 1;
        }
    }
    assert_eq!(
        refused, 4,
        "uploads past the key's concurrency are refused before their body"
    );
    // Another key is served.
    let response = post_as(&rig.server.url, &other, "/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_refused_and_its_place_given_back() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        |config| {
            steady(config);
            config.proxy.body_read_timeout = Duration::from_millis(500);
            config.proxy.key_max_concurrent = 1;
        },
        vec![endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |_| {},
    )
    .await;
    let started = Instant::now();
    let mut stream = stalled_upload(&rig, &rig.key).await;
    assert_eq!(status_within(&mut stream, Duration::from_secs(5)).await, Some(408));
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    // Its one place is free again.
    assert_eq!(rig.post("/v1/chat/completions", &chat(false)).await.status(), 200);
}
