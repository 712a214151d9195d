//! RELIABILITY's URL policy, as configured (issue 18, item 16): with
//! `proxy.deny_private_upstreams`, an endpoint at a private address is refused when saved, and
//! one saved before the setting was turned on is not called.

use crate::{
    operator::op,
    rig::{chat, endpoint, steady, Rig},
    support::TestServer,
};
use app::types::ProviderKind;
use server::testing::MockUpstream;

#[tokio::test]
async fn private_upstreams_are_refused_when_configured() {
    let mock = MockUpstream::start().await.unwrap();
    // Allowed by default: the mock is on 127.0.0.1.
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    assert_eq!(rig.post("/v1/chat/completions", &chat(false)).await.status(), 200);

    // The same data with the setting on: the saved endpoint is not called.
    let Rig { server, key } = rig;
    let dir = server.stop().await;
    let data_dir = dir.path().join("data");
    let denied = TestServer::start_with(|config| {
        steady(config);
        config.data_dir = data_dir;
        config.proxy.deny_private_upstreams = true;
    })
    .await;
    let calls = mock.requests_received();
    let response = crate::rig::post_as(&denied.url, &key, "/v1/chat/completions", &chat(false)).await;
    assert!(response.status().is_server_error(), "{}", response.status());
    assert_eq!(mock.requests_received(), calls, "the private upstream was not called");

    // And a new endpoint at a private address is refused when saved.
    let refused = op(&denied.state.manage)
        .create_endpoint(endpoint("b", ProviderKind::OpenAi, &mock.url()))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("private"), "{refused}");
}
