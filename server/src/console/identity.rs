//! The end users' part of the Gateways page, server side (issue #23): the identity provider's
//! form read into the management service's input, and an access rule tried against a token's
//! claims (`crate::rules::try_rule`, which GraphQL's `testAccessRule` calls too).
//!
//! Does not: check a provider (the management service does, naming the field it refuses), or
//! change or record anything when a rule is tried.

use super::{backend::actor, Console};
use crate::manage::{now_ms, ManageError};
use app::types::{
    AdminUser, ConsoleError, GatewayId, IdentityProvider, IdentityProviderForm, JwtAlgorithm, KeySource,
    NewIdentityProvider, RuleTest, RuleVerdict, DEFAULT_LEEWAY_S,
};
use serde_json::{Map, Value};

/// A comma-separated list, trimmed, without empty items.
fn items(text: &str) -> Vec<String> {
    (text.split(',').map(str::trim))
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// The algorithms ticked, by name.
fn algorithms(text: &str) -> Result<Vec<JwtAlgorithm>, ConsoleError> {
    (items(text).iter())
        .map(|name| {
            JwtAlgorithm::parse(name).ok_or_else(|| {
                ConsoleError::invalid(
                    "algorithms",
                    format!("“{name}” is not an algorithm: tick RS256, ES256, EdDSA or HS256."),
                )
            })
        })
        .collect()
}

/// The key source picked, with the one field it reads.
fn key_source(form: &IdentityProviderForm) -> Result<KeySource, ConsoleError> {
    match form.key_source.as_str() {
        "jwks_url" => Ok(KeySource::JwksUrl {
            url: form.jwks_url.clone(),
        }),
        "discovery" => Ok(KeySource::Discovery),
        "pem" => Ok(KeySource::Pem { pem: form.key.clone() }),
        "secret_env" => Ok(KeySource::SecretEnv {
            var: form.secret_env.clone(),
        }),
        _ => Err(ConsoleError::invalid("key_source", "Choose where its keys come from.")),
    }
}

/// The clock skew typed, seconds; blank for the default.
fn leeway(text: &str) -> Result<i64, ConsoleError> {
    match text.trim() {
        "" => Ok(DEFAULT_LEEWAY_S),
        seconds => (seconds.parse()).map_err(|_| ConsoleError::invalid("leeway_s", "Write a whole number of seconds.")),
    }
}

/// The identity provider's form as the management service's input.
fn new_provider(form: IdentityProviderForm) -> Result<NewIdentityProvider, ConsoleError> {
    Ok(NewIdentityProvider {
        gateway_id: GatewayId(form.gateway_id),
        keys: key_source(&form)?,
        algorithms: algorithms(&form.algorithms)?,
        leeway_s: leeway(&form.leeway_s)?,
        audiences: items(&form.audiences),
        required_claims: items(&form.required_claims),
        issuer: form.issuer,
    })
}

/// Claims as typed: a JSON object.
fn claims(text: &str) -> Result<Map<String, Value>, ConsoleError> {
    let refused = || {
        ConsoleError::invalid(
            "claims",
            "Write the claims as a JSON object, for example {\"sub\": \"ada\", \"groups\": [\"llm\"]}.",
        )
    };
    match serde_json::from_str(text.trim()) {
        Ok(Value::Object(claims)) => Ok(claims),
        Ok(_) | Err(_) => Err(refused()),
    }
}

/// The gateway edit form's rule tried against the claims typed, now.
pub(super) fn test_rule(test: &RuleTest) -> Result<RuleVerdict, ConsoleError> {
    let claims = claims(&test.claims)?;
    let model = Some(test.model.trim()).filter(|model| !model.is_empty());
    let now = now_ms() / 1000;
    crate::rules::try_rule(&test.rule, &claims, model, test.gateway.trim(), now)
        .map_err(|fault| ConsoleError::from(ManageError::invalid("access", fault)))
}

impl Console {
    /// Adds an identity provider from the Gateways page's form, as `admin`.
    pub(super) async fn add_provider(
        &self,
        admin: &AdminUser,
        form: IdentityProviderForm,
    ) -> Result<IdentityProvider, ConsoleError> {
        let new = new_provider(form)?;
        Ok(self.manage.add_identity_provider(&actor(admin), new).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(key_source: &str) -> IdentityProviderForm {
        IdentityProviderForm {
            gateway_id: 7,
            issuer: "https://id.example.com".into(),
            audiences: " g, , other ".into(),
            algorithms: "ES256,eddsa".into(),
            key_source: key_source.into(),
            jwks_url: "https://id.example.com/jwks".into(),
            key: "-----BEGIN PUBLIC KEY-----".into(),
            secret_env: "JWT_SECRET".into(),
            leeway_s: String::new(),
            required_claims: "email, groups".into(),
        }
    }

    #[test]
    fn the_form_is_read_with_only_the_field_its_key_source_names() {
        let read = new_provider(form("jwks_url")).unwrap();
        assert_eq!(read.gateway_id, GatewayId(7));
        assert_eq!(read.audiences, ["g", "other"]);
        assert_eq!(read.algorithms, [JwtAlgorithm::ES256, JwtAlgorithm::EdDSA]);
        assert_eq!(read.required_claims, ["email", "groups"]);
        assert_eq!(read.leeway_s, DEFAULT_LEEWAY_S, "blank: the default skew");
        assert_eq!(
            read.keys,
            KeySource::JwksUrl {
                url: "https://id.example.com/jwks".into()
            }
        );
        assert_eq!(new_provider(form("discovery")).unwrap().keys, KeySource::Discovery);
        assert!(matches!(new_provider(form("pem")).unwrap().keys, KeySource::Pem { .. }));
        assert_eq!(
            new_provider(form("secret_env")).unwrap().keys,
            KeySource::SecretEnv {
                var: "JWT_SECRET".into()
            }
        );
    }

    #[test]
    fn a_value_the_form_cannot_hold_is_refused_under_its_field() {
        let field = |form: IdentityProviderForm| new_provider(form).unwrap_err().field;
        assert_eq!(field(form("")), "key_source");
        let mut bad = form("pem");
        bad.algorithms = "RS256, none".into();
        assert_eq!(field(bad), "algorithms");
        let mut bad = form("pem");
        bad.leeway_s = "a minute".into();
        assert_eq!(field(bad), "leeway_s");
    }

    #[test]
    fn the_console_refuses_claims_that_are_not_an_object_and_a_rule_that_does_not_compile() {
        let test = |rule: &str, claims: &str| RuleTest {
            gateway: "g".into(),
            rule: rule.into(),
            claims: claims.into(),
            model: String::new(),
        };
        for bad in ["", "[1]", "{\"sub\":"] {
            assert_eq!(test_rule(&test("true", bad)).unwrap_err().field, "claims", "{bad}");
        }
        let refused = test_rule(&test("user.sub ==", "{}")).unwrap_err();
        assert_eq!(refused.field, "access");
        assert!(refused.message.starts_with("Line 1, column"), "{}", refused.message);
        assert!(
            test_rule(&test("user.sub == 'ada'", "{\"sub\": \"ada\"}"))
                .unwrap()
                .allowed
        );
    }
}
