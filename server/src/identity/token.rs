//! A compact JWS read apart (header, unverified payload, signature), and the registered claims
//! checked once the signature verified. Pure: no keys, no I/O, the time given.
//!
//! Invariant: nothing here decides that a token is genuine; `Jws::parse` only says what the
//! token claims, so that the verifier can pick the provider and key to check it with.

use super::TokenRefusal;
use app::types::{IdentityProvider, JwtAlgorithm};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Longer tokens are refused unread: no identity provider issues them.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A token read apart; nothing in it is verified yet.
pub(super) struct Jws<'t> {
    pub alg: JwtAlgorithm,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    /// `header.payload`: what the signature covers.
    pub signing_input: &'t str,
    /// The signature, base64url as the token carries it.
    pub signature: &'t str,
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default)]
    kid: Option<String>,
    /// Extensions the token says must be understood: none is, so any refuses the token.
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

impl<'t> Jws<'t> {
    /// Reads a token; refuses `alg: none` (any case) and algorithms the gateway has no name
    /// for here, before the payload is read.
    pub fn parse(token: &'t str) -> Result<Self, TokenRefusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenRefusal::Malformed);
        }
        let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenRefusal::Malformed)?;
        let (header, payload) = signing_input.split_once('.').ok_or(TokenRefusal::Malformed)?;
        let header = base64url(header)?;
        let header: Header = serde_json::from_slice(&header).map_err(|_| TokenRefusal::Malformed)?;
        if header.crit.is_some() {
            return Err(TokenRefusal::Malformed);
        }
        if header.alg.eq_ignore_ascii_case("none") {
            return Err(TokenRefusal::AlgNone);
        }
        // Exactly as RFC 7518 spells them: `JwtAlgorithm::parse` forgives case, a token may not.
        let alg = JwtAlgorithm::ALL
            .into_iter()
            .find(|alg| alg.as_str() == header.alg)
            .ok_or(TokenRefusal::AlgorithmNotAllowed)?;
        // A fourth dot (a JWE) lands here, in the payload.
        let claims = serde_json::from_slice(&base64url(payload)?).map_err(|_| TokenRefusal::Malformed)?;
        Ok(Jws {
            alg,
            kid: header.kid,
            claims,
            signing_input,
            signature,
        })
    }
}

fn base64url(part: &str) -> Result<Vec<u8>, TokenRefusal> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenRefusal::Malformed)
}

fn missing(claim: &str) -> TokenRefusal {
    TokenRefusal::MissingClaim(claim.to_string())
}

/// The token's `iss`, unverified: it names the provider to verify it with.
pub(super) fn issuer(claims: &Map<String, Value>) -> Result<&str, TokenRefusal> {
    match claims.get("iss") {
        Some(Value::String(issuer)) => Ok(issuer),
        None | Some(Value::Null) => Err(missing("iss")),
        Some(_) => Err(TokenRefusal::Malformed),
    }
}

/// Checks a verified token's `exp` (required), `nbf`, `aud` (required), `sub` (required) and
/// the provider's required claims at `now_s`; gives the subject.
pub(super) fn check_claims(
    claims: &Map<String, Value>,
    provider: &IdentityProvider,
    now_s: u64,
) -> Result<String, TokenRefusal> {
    let now = i128::from(now_s);
    let leeway = i128::from(provider.leeway_s.max(0));
    let expires = numeric_date(claims, "exp")?.ok_or_else(|| missing("exp"))?;
    if now >= expires + leeway {
        return Err(TokenRefusal::Expired);
    }
    if numeric_date(claims, "nbf")?.is_some_and(|not_before| now + leeway < not_before) {
        return Err(TokenRefusal::NotYetValid);
    }
    check_audience(claims, &provider.audiences)?;
    let subject = match claims.get("sub") {
        Some(Value::String(subject)) if !subject.is_empty() => subject.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => return Err(missing("sub")),
        Some(_) => return Err(TokenRefusal::Malformed),
    };
    if let Some(absent) = provider
        .required_claims
        .iter()
        .find(|name| matches!(claims.get(name.as_str()), None | Some(Value::Null)))
    {
        return Err(missing(absent));
    }
    Ok(subject)
}

/// A NumericDate claim (seconds, perhaps fractional), when present.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i128>, TokenRefusal> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let seconds = n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
            // Fractions are rounded down; `as` saturates out-of-range floats.
            let seconds = seconds.or_else(|| n.as_f64().map(|f| f.floor() as i128));
            seconds.map(Some).ok_or(TokenRefusal::Malformed)
        }
        Some(_) => Err(TokenRefusal::Malformed),
    }
}

/// The token's `aud` (a string or a list of them) must name one of the provider's audiences.
fn check_audience(claims: &Map<String, Value>, accepted: &[String]) -> Result<(), TokenRefusal> {
    let accepts = |aud: &str| accepted.iter().any(|a| a == aud);
    let named = match claims.get("aud") {
        None | Some(Value::Null) => return Err(missing("aud")),
        Some(Value::String(aud)) => accepts(aud),
        Some(Value::Array(auds)) => {
            let mut named = false;
            for aud in auds {
                let Value::String(aud) = aud else {
                    return Err(TokenRefusal::Malformed);
                };
                named |= accepts(aud);
            }
            named
        }
        Some(_) => return Err(TokenRefusal::Malformed),
    };
    named.then_some(()).ok_or(TokenRefusal::WrongAudience)
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::{GatewayId, IdentityProviderId, KeySource};
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn provider() -> IdentityProvider {
        IdentityProvider {
            id: IdentityProviderId(1),
            gateway_id: GatewayId(1),
            issuer: "https://issuer.example".into(),
            audiences: vec!["gateway".into(), "other".into()],
            keys: KeySource::Discovery,
            algorithms: vec![JwtAlgorithm::RS256],
            leeway_s: 60,
            required_claims: vec!["tenant".into()],
            created_at: 0,
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else { unreachable!() };
        map
    }

    fn valid() -> Map<String, Value> {
        claims(
            json!({"iss": "https://issuer.example", "sub": "ada", "aud": "gateway", "exp": NOW + 10, "tenant": "t1"}),
        )
    }

    fn with(name: &str, value: Value) -> Map<String, Value> {
        let mut claims = valid();
        claims.insert(name.into(), value);
        claims
    }

    fn without(name: &str) -> Map<String, Value> {
        let mut claims = valid();
        claims.remove(name);
        claims
    }

    fn token(header: Value, payload: Value) -> String {
        let part = |v: Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
        format!("{}.{}.c2ln", part(header), part(payload))
    }

    #[test]
    fn tokens_are_read_into_algorithm_key_id_and_claims() {
        let token = token(
            json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}),
            json!({"sub": "ada"}),
        );
        let jws = Jws::parse(&token).unwrap();
        assert_eq!(jws.alg, JwtAlgorithm::ES256);
        assert_eq!(jws.kid.as_deref(), Some("k1"));
        assert_eq!(jws.claims["sub"], "ada");
        assert_eq!(jws.signature, "c2ln");
        assert_eq!(format!("{}.c2ln", jws.signing_input), token);
    }

    #[test]
    fn unsigned_and_unknown_algorithms_are_refused_before_the_payload() {
        let refusal = |alg: &str| Jws::parse(&token(json!({"alg": alg}), json!({}))).err();
        for none in ["none", "None", "NONE"] {
            assert_eq!(refusal(none), Some(TokenRefusal::AlgNone), "{none}");
        }
        for other in ["HS512", "PS256", "rs256", ""] {
            assert_eq!(refusal(other), Some(TokenRefusal::AlgorithmNotAllowed), "{other}");
        }
    }

    #[test]
    fn broken_tokens_are_malformed() {
        let good = token(json!({"alg": "RS256"}), json!({"sub": "ada"}));
        let (header, rest) = good.split_once('.').unwrap();
        for broken in [
            String::new(),
            "a.b".to_string(),
            format!("{header}=.{rest}"),
            format!("{header}.{rest}.more"),
            token(json!({"alg": "RS256"}), json!(["not", "an", "object"])),
            token(json!({"alg": "RS256", "crit": ["exp"]}), json!({})),
            token(json!({"kid": "no alg"}), json!({})),
            format!("{header}.{}.sig", "A".repeat(MAX_TOKEN_BYTES)),
        ] {
            assert_eq!(Jws::parse(&broken).err(), Some(TokenRefusal::Malformed), "{broken:.40}");
        }
    }

    #[test]
    fn the_issuer_must_be_a_string() {
        assert_eq!(issuer(&valid()), Ok("https://issuer.example"));
        assert_eq!(issuer(&without("iss")), Err(missing("iss")));
        assert_eq!(issuer(&with("iss", json!(7))), Err(TokenRefusal::Malformed));
    }

    #[test]
    fn valid_claims_give_the_subject() {
        assert_eq!(check_claims(&valid(), &provider(), NOW), Ok("ada".to_string()));
        let listed = with("aud", json!(["elsewhere", "other"]));
        assert_eq!(check_claims(&listed, &provider(), NOW), Ok("ada".to_string()));
    }

    #[test]
    fn expiry_and_not_before_allow_the_leeway_and_no_more() {
        let check = |claims: Map<String, Value>| check_claims(&claims, &provider(), NOW).err();
        assert_eq!(check(with("exp", json!(NOW - 59))), None);
        assert_eq!(check(with("exp", json!(NOW - 60))), Some(TokenRefusal::Expired));
        assert_eq!(check(with("exp", json!(1.5))), Some(TokenRefusal::Expired));
        assert_eq!(check(with("nbf", json!(NOW + 60))), None);
        assert_eq!(check(with("nbf", json!(NOW + 61))), Some(TokenRefusal::NotYetValid));
        assert_eq!(check(with("exp", json!("tomorrow"))), Some(TokenRefusal::Malformed));
        assert_eq!(check(without("exp")), Some(missing("exp")));
    }

    #[test]
    fn the_audience_must_be_one_the_provider_accepts() {
        let check = |claims: Map<String, Value>| check_claims(&claims, &provider(), NOW).err();
        assert_eq!(
            check(with("aud", json!("elsewhere"))),
            Some(TokenRefusal::WrongAudience)
        );
        assert_eq!(check(with("aud", json!([]))), Some(TokenRefusal::WrongAudience));
        assert_eq!(check(with("aud", json!(["gateway", 1]))), Some(TokenRefusal::Malformed));
        assert_eq!(check(without("aud")), Some(missing("aud")));
    }

    #[test]
    fn the_subject_and_required_claims_must_be_present() {
        let check = |claims: Map<String, Value>| check_claims(&claims, &provider(), NOW).err();
        assert_eq!(check(without("sub")), Some(missing("sub")));
        assert_eq!(check(with("sub", json!(""))), Some(missing("sub")));
        assert_eq!(check(with("sub", json!(42))), Some(TokenRefusal::Malformed));
        assert_eq!(check(without("tenant")), Some(missing("tenant")));
        assert_eq!(check(with("tenant", Value::Null)), Some(missing("tenant")));
        assert_eq!(check(with("tenant", json!(false))), None);
    }
}
