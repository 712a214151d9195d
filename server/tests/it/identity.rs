//! End users' tokens (issue #23): the verifier against tokens these tests sign with the
//! test-only keys in `tests/fixtures/jwt/`, and against key sets served from 127.0.0.1 that the
//! tests swap, break and count the fetches of — through the real upstream fetcher.

use app::types::{GatewayId, IdentityProvider, IdentityProviderId, JwtAlgorithm, KeySource};
use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};
use futures_util::future::join_all;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use server::{
    identity::{TokenRefusal, UpstreamFetcher, Verifier, VerifierConfig, MAX_BODY_BYTES},
    manage::endpoints::UpstreamPolicy,
};
use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};
use tokio::sync::watch;

const NOW: u64 = 1_700_000_000;
const ISSUER: &str = "https://id.example";
/// Past the default 30 s between two fetches of one set.
const LATER: u64 = NOW + 31;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn provider(issuer: &str, keys: KeySource, algorithms: &[JwtAlgorithm]) -> Arc<IdentityProvider> {
    Arc::new(IdentityProvider {
        id: IdentityProviderId(7),
        gateway_id: GatewayId(1),
        issuer: issuer.into(),
        audiences: vec!["gateway".into(), "gateway-staging".into()],
        keys,
        algorithms: algorithms.to_vec(),
        leeway_s: 60,
        required_claims: vec!["tenant".into()],
        created_at: 0,
    })
}

fn claims_of(issuer: &str) -> Value {
    json!({"iss": issuer, "sub": "ada", "aud": "gateway", "exp": NOW + 300, "tenant": "acme"})
}

fn claims() -> Value {
    claims_of(ISSUER)
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

/// A token signed with a fixture's private key (`rsa-a`, `rsa-b`, `ec`, `ed`).
fn sign(alg: Algorithm, private: &str, kid: Option<&str>, claims: &Value) -> String {
    let pem = fixture(&format!("{private}.pem"));
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
        other => panic!("no fixture for {other:?}"),
    }
    .unwrap();
    sign_with(alg, &key, kid, claims)
}

fn sign_with(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// An HS256 token signed with these bytes.
fn hs256(secret: &[u8], kid: Option<&str>) -> String {
    sign_with(Algorithm::HS256, &EncodingKey::from_secret(secret), kid, &claims())
}

/// An RS256 token signed with a fixture key, naming it by its file name.
fn rs256(key: &str, claims: &Value) -> String {
    sign(Algorithm::RS256, key, Some(key), claims)
}

/// [`rs256`] with the usual claims.
fn token(key: &str) -> String {
    rs256(key, &claims())
}

/// A token part: base64url JSON.
fn part(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn ada() -> Result<String, TokenRefusal> {
    Ok("ada".into())
}

/// A verifier (fetching through the real upstream fetcher) and the one provider it is asked about.
struct Rig {
    verifier: Verifier,
    provider: Arc<IdentityProvider>,
}

impl Rig {
    fn new(provider: Arc<IdentityProvider>, config: VerifierConfig) -> Rig {
        let fetcher = Arc::new(UpstreamFetcher::new(UpstreamPolicy::default()));
        Rig {
            verifier: Verifier::new(fetcher, config),
            provider,
        }
    }

    /// A provider of the PEM fixture `public`, accepting `algorithms`.
    fn pem(public: &str, algorithms: &[JwtAlgorithm]) -> Rig {
        let keys = KeySource::Pem { pem: fixture(public) };
        Rig::new(provider(ISSUER, keys, algorithms), VerifierConfig::default())
    }

    /// The token's subject, or why it is refused.
    async fn check(&self, token: &str, now_s: u64) -> Result<String, TokenRefusal> {
        let user = self
            .verifier
            .verify(std::slice::from_ref(&self.provider), token, now_s)
            .await?;
        Ok(user.subject.clone())
    }
}

/// The fixture JWKs with these key ids.
fn jwks(kids: &[&str]) -> Value {
    let all: Value = serde_json::from_str(&fixture("jwks.json")).unwrap();
    let find = |kid: &&str| {
        all["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == *kid)
            .cloned()
    };
    json!({ "keys": kids.iter().map(|kid| find(kid).unwrap()).collect::<Vec<_>>() })
}

/// A key set (and an OpenID discovery document naming it) on 127.0.0.1, counting its fetches.
struct KeyServer {
    url: String,
    served: Arc<Served>,
}

struct Served {
    url: String,
    keys: Mutex<Value>,
    failing: AtomicBool,
    fetches: watch::Sender<usize>,
    discoveries: AtomicUsize,
}

impl KeyServer {
    async fn start(keys: Value) -> KeyServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(Served {
            url: url.clone(),
            keys: Mutex::new(keys),
            failing: AtomicBool::new(false),
            fetches: watch::channel(0).0,
            discoveries: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/jwks", get(key_set))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(served.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        KeyServer { url, served }
    }

    /// A rig whose provider takes its keys from this server's set.
    fn rig(&self, algorithms: &[JwtAlgorithm], config: VerifierConfig) -> Rig {
        let url = format!("{}/jwks", self.url);
        Rig::new(provider(ISSUER, KeySource::JwksUrl { url }, algorithms), config)
    }

    fn serve(&self, kids: &[&str]) {
        *self.served.keys.lock().unwrap() = jwks(kids);
    }

    fn fail(&self, failing: bool) {
        self.served.failing.store(failing, Ordering::SeqCst);
    }

    fn fetches(&self) -> usize {
        *self.served.fetches.borrow()
    }

    /// Waits for the server to have answered `at_least` key set fetches.
    async fn fetched(&self, at_least: usize) {
        let mut fetches = self.served.fetches.subscribe();
        tokio::time::timeout(Duration::from_secs(10), fetches.wait_for(|n| *n >= at_least))
            .await
            .expect("the key set is fetched")
            .unwrap();
    }
}

async fn key_set(State(served): State<Arc<Served>>) -> impl IntoResponse {
    served.fetches.send_modify(|n| *n += 1);
    if served.failing.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    Json(served.keys.lock().unwrap().clone()).into_response()
}

async fn discovery(State(served): State<Arc<Served>>) -> Json<Value> {
    served.discoveries.fetch_add(1, Ordering::SeqCst);
    let jwks_uri = format!("{}/jwks", served.url);
    Json(json!({"issuer": served.url, "jwks_uri": jwks_uri, "id_token_signing_alg_values_supported": ["RS256"]}))
}

/// A key server holding `kids`, and an RS256 rig using it whose set was fetched once, at `NOW`.
async fn primed(kids: &[&str]) -> (KeyServer, Rig) {
    let keys = KeyServer::start(jwks(kids)).await;
    let rig = keys.rig(&[JwtAlgorithm::RS256], VerifierConfig::default());
    assert_eq!(rig.check(&token(kids[0]), NOW).await, ada());
    assert_eq!(keys.fetches(), 1);
    (keys, rig)
}

#[tokio::test]
async fn valid_tokens_pass_for_each_algorithm() {
    for (alg, key) in [
        (JwtAlgorithm::RS256, "rsa-a"),
        (JwtAlgorithm::ES256, "ec"),
        (JwtAlgorithm::EdDSA, "ed"),
    ] {
        let rig = Rig::pem(&format!("{key}.pub.pem"), &[alg]);
        // A PEM key has no id: the token's, if any, does not matter.
        for kid in [None, Some("any")] {
            let token = sign(alg.as_str().parse().unwrap(), key, kid, &claims());
            let user = rig
                .verifier
                .verify(std::slice::from_ref(&rig.provider), &token, NOW)
                .await
                .unwrap();
            assert_eq!(user.subject, "ada", "{alg:?}");
            assert_eq!(user.issuer, ISSUER);
            assert_eq!(user.provider, Some(IdentityProviderId(7)));
            assert_eq!(user.claims["tenant"], "acme", "the whole payload");
        }
    }

    // A variable the process already has: setting one would race with other threads' reads.
    let secret = std::env::var("PATH").unwrap();
    assert!(secret.len() >= 32, "PATH is long enough to serve as an HS256 secret");
    let keys = KeySource::SecretEnv { var: "PATH".into() };
    let rig = Rig::new(
        provider(ISSUER, keys, &[JwtAlgorithm::HS256]),
        VerifierConfig::default(),
    );
    assert_eq!(rig.check(&hs256(secret.as_bytes(), None), NOW).await, ada());
    let forged = hs256(b"another secret, also long enough......", None);
    assert_eq!(rig.check(&forged, NOW).await, Err(TokenRefusal::BadSignature));
}

#[tokio::test]
async fn tokens_outside_their_validity_are_refused() {
    let rig = Rig::pem("rsa-a.pub.pem", &[JwtAlgorithm::RS256]);
    let at = |name: &str, time: u64| rs256("rsa-a", &with(claims(), name, json!(time)));
    assert_eq!(rig.check(&at("exp", NOW - 61), NOW).await, Err(TokenRefusal::Expired));
    assert_eq!(rig.check(&at("exp", NOW - 30), NOW).await, ada(), "within the leeway");
    assert_eq!(
        rig.check(&at("nbf", NOW + 120), NOW).await,
        Err(TokenRefusal::NotYetValid)
    );
    let mut forever = claims();
    forever.as_object_mut().unwrap().remove("exp");
    let refusal = rig.check(&rs256("rsa-a", &forever), NOW).await;
    assert_eq!(refusal, Err(TokenRefusal::MissingClaim("exp".into())));
}

#[tokio::test]
async fn tokens_of_other_issuers_and_audiences_are_refused() {
    let rig = Rig::pem("rsa-a.pub.pem", &[JwtAlgorithm::RS256]);
    let stranger = rs256("rsa-a", &claims_of("https://elsewhere.example"));
    assert_eq!(rig.check(&stranger, NOW).await, Err(TokenRefusal::UnknownIssuer));
    let no_provider = rig.verifier.verify(&[], &token("rsa-a"), NOW).await;
    assert_eq!(
        no_provider,
        Err(TokenRefusal::UnknownIssuer),
        "a gateway with no provider accepts no token"
    );
    let elsewhere = rs256("rsa-a", &with(claims(), "aud", json!("another-gateway")));
    assert_eq!(rig.check(&elsewhere, NOW).await, Err(TokenRefusal::WrongAudience));
    let listed = rs256(
        "rsa-a",
        &with(claims(), "aud", json!(["another-gateway", "gateway-staging"])),
    );
    assert_eq!(rig.check(&listed, NOW).await, ada());
}

#[tokio::test]
async fn tokens_signed_by_another_key_or_altered_fail_the_signature() {
    let rig = Rig::pem("rsa-a.pub.pem", &[JwtAlgorithm::RS256]);
    assert_eq!(rig.check(&token("rsa-b"), NOW).await, Err(TokenRefusal::BadSignature));
    let genuine = token("rsa-a");
    let (header, rest) = genuine.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let altered = format!("{header}.{}.{signature}", part(&with(claims(), "sub", json!("root"))));
    assert_eq!(rig.check(&altered, NOW).await, Err(TokenRefusal::BadSignature));
}

#[tokio::test]
async fn refusals_name_a_missing_claim_but_never_a_value() {
    let rig = Rig::pem("rsa-a.pub.pem", &[JwtAlgorithm::RS256]);
    let mut no_tenant = claims();
    no_tenant.as_object_mut().unwrap().remove("tenant");
    let refusal = rig.check(&rs256("rsa-a", &no_tenant), NOW).await.unwrap_err();
    assert_eq!(refusal, TokenRefusal::MissingClaim("tenant".into()));
    assert_eq!(refusal.reason(), "missing_claim");
    assert!(refusal.to_string().contains("`tenant`"), "{refusal}");
    let nobody = rs256("rsa-a", &with(claims(), "sub", json!("")));
    assert_eq!(
        rig.check(&nobody, NOW).await,
        Err(TokenRefusal::MissingClaim("sub".into()))
    );
    for claims in [
        with(claims(), "aud", json!("secret-audience")),
        with(claims(), "exp", json!(NOW - 3600)),
        claims_of("https://secret-issuer.example"),
    ] {
        let message = rig.check(&rs256("rsa-a", &claims), NOW).await.unwrap_err().to_string();
        assert!(
            !["secret", "ada", "acme"].iter().any(|value| message.contains(value)),
            "{message}"
        );
    }
}

#[tokio::test]
async fn unsigned_tokens_are_refused() {
    let rig = Rig::pem("rsa-a.pub.pem", &[JwtAlgorithm::RS256]);
    for alg in ["none", "None"] {
        let unsigned = format!("{}.{}.", part(&json!({"alg": alg, "typ": "JWT"})), part(&claims()));
        assert_eq!(rig.check(&unsigned, NOW).await, Err(TokenRefusal::AlgNone), "{alg}");
    }
    assert_eq!(rig.check("not.a-token", NOW).await, Err(TokenRefusal::Malformed));
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let public_pem = fixture("rsa-a.pub.pem");
    // Even a provider wrongly configured to allow HS256 with a public key refuses it.
    for algorithms in [&[JwtAlgorithm::RS256][..], &[JwtAlgorithm::RS256, JwtAlgorithm::HS256]] {
        let rig = Rig::pem("rsa-a.pub.pem", algorithms);
        let confused = rig.check(&hs256(public_pem.as_bytes(), None), NOW).await;
        assert_eq!(confused, Err(TokenRefusal::AlgorithmNotAllowed), "{algorithms:?}");
    }
    let keys = KeyServer::start(jwks(&["rsa-a"])).await;
    let rig = keys.rig(&[JwtAlgorithm::RS256, JwtAlgorithm::HS256], VerifierConfig::default());
    let confused = rig.check(&hs256(public_pem.as_bytes(), Some("rsa-a")), NOW).await;
    assert_eq!(confused, Err(TokenRefusal::AlgorithmNotAllowed));
    assert_eq!(keys.fetches(), 0, "refused before any key is looked up");

    let rs256_only = Rig::pem("rsa-a.pub.pem", &[JwtAlgorithm::RS256]);
    let es256 = sign(Algorithm::ES256, "ec", None, &claims());
    assert_eq!(
        rs256_only.check(&es256, NOW).await,
        Err(TokenRefusal::AlgorithmNotAllowed)
    );
}

#[tokio::test]
async fn a_jwk_of_another_type_than_the_algorithm_is_not_used() {
    let keys = KeyServer::start(jwks(&["rsa-a", "ec", "ed"])).await;
    let all = [JwtAlgorithm::RS256, JwtAlgorithm::ES256, JwtAlgorithm::EdDSA];
    let rig = keys.rig(&all, VerifierConfig::default());
    for (alg, key) in [
        (Algorithm::RS256, "rsa-a"),
        (Algorithm::ES256, "ec"),
        (Algorithm::EdDSA, "ed"),
    ] {
        assert_eq!(
            rig.check(&sign(alg, key, Some(key), &claims()), NOW).await,
            ada(),
            "{alg:?}"
        );
    }
    let mislabelled = sign(Algorithm::ES256, "ec", Some("rsa-a"), &claims());
    assert_eq!(rig.check(&mislabelled, NOW).await, Err(TokenRefusal::UnknownKey));
    assert_eq!(keys.fetches(), 1);
}

#[tokio::test]
async fn a_missing_secret_variable_makes_the_key_set_unavailable() {
    let keys = KeySource::SecretEnv {
        var: "IDENTITY_TEST_SECRET_NEVER_SET".into(),
    };
    let rig = Rig::new(
        provider(ISSUER, keys, &[JwtAlgorithm::HS256]),
        VerifierConfig::default(),
    );
    assert_eq!(
        rig.check(&hs256(&[7; 32], None), NOW).await,
        Err(TokenRefusal::KeySetUnavailable)
    );
}

#[tokio::test]
async fn an_unknown_key_id_costs_one_refresh_per_interval() {
    let (keys, rig) = primed(&["rsa-a"]).await;
    let unknown = |kid: &str| sign(Algorithm::RS256, "rsa-b", Some(kid), &claims());
    assert_eq!(rig.check(&unknown("x"), LATER).await, Err(TokenRefusal::UnknownKey));
    assert_eq!(keys.fetches(), 2, "one refresh for the unknown key");
    assert_eq!(
        rig.check(&unknown("y"), LATER + 29).await,
        Err(TokenRefusal::UnknownKey)
    );
    assert_eq!(keys.fetches(), 2, "no second refresh within the interval");
    assert_eq!(
        rig.check(&unknown("y"), LATER + 30).await,
        Err(TokenRefusal::UnknownKey)
    );
    assert_eq!(keys.fetches(), 3, "another once the interval passed");
}

#[tokio::test]
async fn a_rotated_key_set_is_picked_up_without_restarting() {
    let (keys, rig) = primed(&["rsa-a"]).await;
    keys.serve(&["rsa-b"]);
    assert_eq!(rig.check(&token("rsa-b"), LATER).await, ada());
    let retired = rig.check(&token("rsa-a"), LATER).await;
    assert_eq!(
        retired,
        Err(TokenRefusal::UnknownKey),
        "the retired key no longer verifies"
    );
    assert_eq!(keys.fetches(), 2);
}

#[tokio::test]
async fn an_outage_keeps_the_last_good_keys() {
    let (keys, rig) = primed(&["rsa-a"]).await;
    keys.fail(true);
    assert_eq!(rig.check(&token("rsa-b"), LATER).await, Err(TokenRefusal::UnknownKey));
    assert_eq!(keys.fetches(), 2, "the refresh was tried, and failed");
    // Valid for a day: the test outlives the key set's TTL.
    let known = rs256("rsa-a", &with(claims(), "exp", json!(NOW + 86_400)));
    assert_eq!(rig.check(&known, LATER).await, ada());
    // Past the TTL: the background refresh fails too, and the set still serves.
    assert_eq!(rig.check(&known, NOW + 3600).await, ada());
    keys.fetched(3).await;
    assert_eq!(rig.check(&known, NOW + 3600).await, ada());

    let cold = keys.rig(&[JwtAlgorithm::RS256], VerifierConfig::default());
    assert_eq!(cold.check(&known, NOW).await, Err(TokenRefusal::KeySetUnavailable));
    assert_eq!(keys.fetches(), 4);
    let again = cold.check(&known, NOW + 1).await;
    assert_eq!(
        again,
        Err(TokenRefusal::KeySetUnavailable),
        "no new attempt within the interval"
    );
    assert_eq!(keys.fetches(), 4);
}

#[tokio::test]
async fn stale_key_sets_are_fetched_again_in_the_background() {
    let keys = KeyServer::start(jwks(&["rsa-a"])).await;
    let ttl = VerifierConfig {
        key_set_ttl: Duration::from_secs(60),
        ..VerifierConfig::default()
    };
    let rig = keys.rig(&[JwtAlgorithm::RS256], ttl);
    assert_eq!(rig.check(&token("rsa-a"), NOW).await, ada());
    keys.serve(&["rsa-a", "rsa-b"]);
    assert_eq!(rig.check(&token("rsa-a"), NOW + 59).await, ada());
    assert_eq!(keys.fetches(), 1);
    assert_eq!(rig.check(&token("rsa-a"), NOW + 60).await, ada());
    keys.fetched(2).await;
    // The refresh the stale set started serves the new key, within the interval.
    assert_eq!(rig.check(&token("rsa-b"), NOW + 60).await, ada());
    assert_eq!(keys.fetches(), 2);
}

#[tokio::test]
async fn discovery_finds_the_key_set() {
    let keys = KeyServer::start(jwks(&["rsa-a"])).await;
    let discovered = provider(&keys.url, KeySource::Discovery, &[JwtAlgorithm::RS256]);
    let rig = Rig::new(discovered, VerifierConfig::default());
    let token = rs256("rsa-a", &claims_of(&keys.url));
    assert_eq!(rig.check(&token, NOW).await, ada());
    assert_eq!(rig.check(&token, NOW + 1).await, ada());
    assert_eq!((keys.served.discoveries.load(Ordering::SeqCst), keys.fetches()), (1, 1));

    // A document that names another issuer is not trusted.
    let impostor = format!("{}/", keys.url);
    let rig = Rig::new(
        provider(&impostor, KeySource::Discovery, &[JwtAlgorithm::RS256]),
        VerifierConfig::default(),
    );
    let token = rs256("rsa-a", &claims_of(&impostor));
    assert_eq!(rig.check(&token, NOW).await, Err(TokenRefusal::KeySetUnavailable));
    assert_eq!(keys.fetches(), 1);
}

#[tokio::test]
async fn concurrent_verifications_share_one_fetch() {
    let keys = KeyServer::start(jwks(&["rsa-a"])).await;
    let rig = keys.rig(&[JwtAlgorithm::RS256], VerifierConfig::default());
    let many = |token: String, now_s: u64| {
        let rig = &rig;
        join_all((0..50).map(move |_| {
            let token = token.clone();
            async move { rig.check(&token, now_s).await }
        }))
    };
    let cold = many(token("rsa-a"), NOW).await;
    assert!(cold.iter().all(|r| *r == ada()), "{cold:?}");
    assert_eq!(keys.fetches(), 1, "one fetch for the first tokens");

    keys.serve(&["rsa-a", "rsa-b"]);
    let rotated = many(token("rsa-b"), LATER).await;
    assert!(rotated.iter().all(|r| *r == ada()), "{rotated:?}");
    assert_eq!(keys.fetches(), 2, "one fetch for the new key");

    let unknown = sign(Algorithm::RS256, "rsa-b", Some("unknown"), &claims());
    let refused = many(unknown, LATER + 30).await;
    assert!(
        refused.iter().all(|r| *r == Err(TokenRefusal::UnknownKey)),
        "{refused:?}"
    );
    assert_eq!(keys.fetches(), 3, "one fetch for an unknown key");
}

#[tokio::test]
async fn oversized_key_sets_are_not_read() {
    let mut huge = jwks(&["rsa-a"]);
    huge["padding"] = json!("x".repeat(MAX_BODY_BYTES));
    let keys = KeyServer::start(huge).await;
    let rig = keys.rig(&[JwtAlgorithm::RS256], VerifierConfig::default());
    assert_eq!(
        rig.check(&token("rsa-a"), NOW).await,
        Err(TokenRefusal::KeySetUnavailable)
    );
    assert_eq!(keys.fetches(), 1);
}

/// A token verified once is remembered (its signature is not checked again while its key set
/// is current), yet every claim is checked at each use: it expires on time, and a provider
/// whose audiences changed refuses it.
#[tokio::test]
async fn a_remembered_token_still_expires_and_still_answers_to_its_provider() {
    let (keys, rig) = primed(&["rsa-a"]).await;
    let again = token("rsa-a");
    assert_eq!(rig.check(&again, NOW + 1).await, ada());
    assert_eq!(keys.fetches(), 1, "a remembered token fetches nothing");
    let moved = Rig {
        verifier: rig.verifier,
        provider: Arc::new(IdentityProvider {
            audiences: vec!["elsewhere".into()],
            ..IdentityProvider::clone(&rig.provider)
        }),
    };
    assert_eq!(moved.check(&again, NOW + 2).await, Err(TokenRefusal::WrongAudience));
    let back = Rig {
        verifier: moved.verifier,
        provider: rig.provider,
    };
    assert_eq!(back.check(&again, NOW + 3).await, ada());
    assert_eq!(back.check(&again, NOW + 300 + 60).await, Err(TokenRefusal::Expired));
}

/// A deleted provider's keys and remembered tokens are dropped at the first request after the
/// configuration that deleted it, once per revision.
#[tokio::test]
async fn a_deleted_providers_keys_are_dropped_at_the_next_revision() {
    let rig = Rig::pem("rsa-a.pub.pem", &[JwtAlgorithm::RS256]);
    assert_eq!(rig.check(&token("rsa-a"), NOW).await, ada());
    assert_eq!(rig.verifier.providers_held(), 1);
    let id = rig.provider.id;
    rig.verifier.prune(3, |kept| kept == id);
    assert_eq!(
        rig.verifier.providers_held(),
        1,
        "a provider that still exists keeps its keys"
    );
    rig.verifier.prune(3, |_| false);
    assert_eq!(
        rig.verifier.providers_held(),
        1,
        "a revision already pruned to is not pruned again"
    );
    rig.verifier.prune(4, |_| false);
    assert_eq!(rig.verifier.providers_held(), 0);
    // Verifying again (the provider back in the list) makes its keys anew.
    assert_eq!(rig.check(&token("rsa-a"), NOW).await, ada());
    assert_eq!(rig.verifier.providers_held(), 1);
}
