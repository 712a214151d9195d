//! A client that never reads its stream (issue 18, item 10; RELIABILITY R8): once a write has
//! waited `listener.write_stall_timeout` without progress, the connection is closed and the
//! request's places (in flight, concurrency, endpoint) are given back.

use crate::rig::{endpoint, steady, Rig};
use app::types::ProviderKind;
use server::testing::{Behaviour, MockUpstream};
use std::time::{Duration, Instant};
use tokio::{io::AsyncWriteExt, net::TcpSocket};

#[tokio::test]
async fn a_stream_nobody_reads_is_ended_and_its_places_given_back() {
    let mock = MockUpstream::start().await.unwrap();
    // Far more than the socket buffers between the gateway and the client hold: 16 MiB of
    // events, all at once.
    let content = "x".repeat(4096);
    let event = format!(
        "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\
         \"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}},\"finish_reason\":null}}]}}\n\n"
    );
    mock.set_fallback(Behaviour::Status {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: format!("{}data: [DONE]\n\n", event.repeat(4096)),
    });
    let rig = Rig::start(
        |config| {
            steady(config);
            config.listener.write_stall_timeout = Duration::from_secs(1);
        },
        vec![endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |_| {},
    )
    .await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket
        .connect(rig.server.url.trim_start_matches("http://").parse().unwrap())
        .await
        .unwrap();
    let body = serde_json::json!({ "model": "gpt-4o-mini", "stream": true,
                                   "messages": [{ "role": "user", "content": "hello" }] });
    let request = super::chat_request(&rig.key, &body);
    stream.write_all(request.as_bytes()).await.unwrap();
    // The stream starts, then the client reads nothing more.
    let until = Instant::now() + Duration::from_secs(5);
    while rig.server.state.proxy.in_flight() == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rig.server.state.proxy.in_flight(), 1, "the stream is in flight");
    let until = Instant::now() + Duration::from_secs(20);
    while rig.server.state.proxy.in_flight() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rig.server.state.proxy.in_flight(), 0, "a stalled reader holds no place");
    drop(stream);
}
