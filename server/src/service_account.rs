//! Google service accounts (issue #25, Vertex AI): the JSON key file Google issues, read and
//! checked, and the signed JWT (RFC 7523) that is exchanged for an access token.
//!
//! Invariant: the private key leaves this module only as a signature; an account prints as
//! its e-mail address.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

/// What a token is asked for: Vertex AI, as every Google Cloud API, takes `cloud-platform`.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Where a key file without `token_uri` exchanges its assertion.
pub const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// An assertion's lifetime: the most Google accepts.
const ASSERTION_SECONDS: i64 = 3600;

/// The fields of a key file the gateway reads; the rest is ignored.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    private_key_id: Option<String>,
    private_key: String,
    client_email: String,
    #[serde(default)]
    token_uri: Option<String>,
}

/// A service account, ready to sign assertions.
pub struct ServiceAccount {
    pub client_email: String,
    /// The project the account belongs to (an endpoint may name another).
    pub project_id: Option<String>,
    pub token_uri: String,
    key_id: Option<String>,
    key: EncodingKey,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

impl ServiceAccount {
    /// Reads a key file. The error says what is wrong without quoting the file.
    pub fn parse(json: &str) -> Result<ServiceAccount, String> {
        let file: KeyFile = serde_json::from_str(json.trim()).map_err(|_| {
            "is not a Google service account key file (JSON with client_email and private_key)".to_string()
        })?;
        if file.kind.as_deref().is_some_and(|kind| kind != "service_account") {
            return Err("is a Google key file, but not a service account's (\"type\": \"service_account\")".into());
        }
        let key = EncodingKey::from_rsa_pem(file.private_key.as_bytes())
            .map_err(|_| "holds a private_key that is not an RSA key in PEM".to_string())?;
        if file.client_email.trim().is_empty() {
            return Err("has an empty client_email".into());
        }
        Ok(ServiceAccount {
            client_email: file.client_email,
            project_id: file.project_id.filter(|project| !project.is_empty()),
            token_uri: file.token_uri.unwrap_or_else(|| TOKEN_URI.to_string()),
            key_id: file.private_key_id,
            key,
        })
    }

    /// The signed assertion for a token, issued at `now` (Unix seconds).
    pub fn assertion(&self, now: i64) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + ASSERTION_SECONDS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| format!("signing the assertion failed: {e}"))
    }

    /// The token request's form body.
    pub fn token_request(&self, now: i64) -> Result<String, String> {
        let assertion = self.assertion(now)?;
        Ok(url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish())
    }
}

/// A token endpoint's answer.
#[derive(Debug, Deserialize)]
pub struct Granted {
    pub access_token: String,
    /// Seconds; Google's tokens live an hour.
    #[serde(default = "an_hour")]
    pub expires_in: u64,
}

fn an_hour() -> u64 {
    3600
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn an_assertion_is_signed_with_the_accounts_key_for_its_token_uri() {
        let account = ServiceAccount::parse(&crate::testing::service_account_key(
            "https://oauth2.example/token",
            "p1",
        ))
        .unwrap();
        assert_eq!(account.project_id.as_deref(), Some("p1"));
        assert!(!format!("{account:?}").contains("PRIVATE"), "{account:?}");
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let assertion = account.assertion(now).unwrap();
        let public = DecodingKey::from_rsa_pem(include_bytes!("../tests/fixtures/jwt/rsa-a.pub.pem")).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://oauth2.example/token"]);
        let decoded = jsonwebtoken::decode::<serde_json::Value>(&assertion, &public, &validation).unwrap();
        assert_eq!(decoded.header.kid.as_deref(), Some("test-key-1"));
        assert_eq!(decoded.claims["iss"], "gateway@test-project.iam.gserviceaccount.com");
        assert_eq!(decoded.claims["scope"], SCOPE);
        assert_eq!(decoded.claims["exp"], now + 3600);
        let form = account.token_request(now).unwrap();
        assert!(form.starts_with("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="));
    }

    #[test]
    fn what_is_not_a_service_account_is_refused_without_being_quoted() {
        for (file, says) in [
            ("sk-not-json".to_string(), "is not a Google service account key file"),
            (
                r#"{"type":"authorized_user","client_email":"a","private_key":"x"}"#.to_string(),
                "not a service account's",
            ),
            (
                r#"{"client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"}"#
                    .to_string(),
                "not an RSA key",
            ),
        ] {
            let error = ServiceAccount::parse(&file).unwrap_err();
            assert!(error.contains(says), "{error}");
            assert!(!error.contains("nope") && !error.contains("sk-not-json"), "{error}");
        }
    }
}
