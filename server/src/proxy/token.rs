//! Endpoints that sign in (Vertex AI, issue #25): the stored credential is a service account,
//! and what a call carries is an access token exchanged for its signed assertion — kept per
//! endpoint and renewed ahead of its expiry.
//!
//! Invariant: a call never carries a token within its renewal margin of expiry, so a token
//! does not run out mid-request; one exchange at a time per endpoint (the others wait for it
//! and share its token).
//! Invariant: the token endpoint is reached under the same upstream policy as the endpoint.

use super::upstream::{self, Clients};
use crate::{
    secrets::Secret,
    service_account::{Granted, ServiceAccount},
};
use std::time::{Duration, Instant};

/// How long before a token's expiry it is renewed: five minutes, or half a short lifetime.
fn margin(lifetime: Duration) -> Duration {
    (lifetime / 2).min(Duration::from_secs(300))
}

/// The longest a token exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a token is held, whatever its endpoint says (Google's live an hour).
const MAX_LIFETIME_S: u64 = 24 * 3600;
/// Token answers are read up to this size.
const ANSWER_LIMIT: usize = 64 * 1024;

/// Why no token could be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// The credential is not a usable service account (fixed by editing the endpoint).
    Account(String),
    /// The token endpoint refused the assertion (its status and what it said).
    Refused(u16, String),
    /// The token endpoint could not be reached or answered nonsense.
    Unreachable(String),
    /// No source of the AWS credential chain holds credentials (`aws_credentials`): where
    /// it looked.
    Missing(String),
    /// The request's deadline came before the credentials did (the lookup goes on).
    TimedOut,
}

impl TokenError {
    /// What to tell an admin.
    pub fn message(&self) -> String {
        match self {
            TokenError::Account(reason) => format!("the service account {reason}"),
            TokenError::Refused(status, said) => {
                format!("the token endpoint refused the service account ({status}): {said}")
            }
            TokenError::Unreachable(reason) => format!("the token endpoint could not be reached: {reason}"),
            TokenError::Missing(reason) => format!("no AWS credentials: {reason}"),
            TokenError::TimedOut => "no credentials by the request's deadline".to_string(),
        }
    }
}

struct Held {
    token: Secret,
    renew_at: Instant,
}

/// An endpoint's access token.
#[derive(Default)]
pub struct AccessTokens {
    held: tokio::sync::Mutex<Option<Held>>,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessTokens")
    }
}

impl AccessTokens {
    /// A token for a call: the one held while it is fresh, else a new one for `account_file`.
    pub async fn bearer(&self, account_file: &Secret, clients: &Clients) -> Result<Secret, TokenError> {
        let mut held = self.held.lock().await;
        if let Some(token) = held.as_ref().filter(|token| Instant::now() < token.renew_at) {
            return Ok(token.token.clone());
        }
        let account = ServiceAccount::parse(account_file.expose()).map_err(TokenError::Account)?;
        let asked = Instant::now();
        let granted = exchange(&account, clients).await?;
        // At most a day: a token endpoint's figure is not trusted to be sane.
        let lifetime = Duration::from_secs(granted.expires_in.min(MAX_LIFETIME_S));
        let token = Secret::new(granted.access_token);
        *held = Some(Held {
            token: token.clone(),
            renew_at: asked + lifetime - margin(lifetime),
        });
        Ok(token)
    }
}

/// One exchange of the account's assertion for a token.
async fn exchange(account: &ServiceAccount, clients: &Clients) -> Result<Granted, TokenError> {
    let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
    let body = account.token_request(now).map_err(TokenError::Account)?;
    let url: http::Uri = (account.token_uri.parse())
        .map_err(|_| TokenError::Account(format!("has a token_uri that is not a URL: {}", account.token_uri)))?;
    if !clients.allows(&url) {
        return Err(TokenError::Unreachable(
            "its address is refused by the upstream policy (proxy.deny_private_upstreams)".into(),
        ));
    }
    let outbound = super::providers::Outbound {
        url: account.token_uri.clone(),
        headers: vec![("content-type", "application/x-www-form-urlencoded".into())],
        body: body.into_bytes(),
    };
    let client = clients.get(EXCHANGE_TIMEOUT);
    let (status, answer) = upstream::exchange(client, url, outbound, EXCHANGE_TIMEOUT, ANSWER_LIMIT)
        .await
        .map_err(|failed| TokenError::Unreachable(failed.0))?;
    if !(200..300).contains(&status) {
        #[derive(serde::Deserialize)]
        struct Refusal {
            #[serde(default)]
            error: String,
            #[serde(default)]
            error_description: String,
        }
        let said = serde_json::from_slice::<Refusal>(&answer)
            .map(|r| {
                [r.error, r.error_description]
                    .join(": ")
                    .trim_matches([':', ' '])
                    .to_string()
            })
            .unwrap_or_default();
        return Err(if status >= 500 {
            TokenError::Unreachable(format!("it answered {status}"))
        } else {
            TokenError::Refused(status, said)
        });
    }
    serde_json::from_slice(&answer).map_err(|_| TokenError::Unreachable("its answer holds no access_token".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_renewed_five_minutes_early_or_at_half_a_short_life() {
        assert_eq!(margin(Duration::from_secs(3600)), Duration::from_secs(300));
        assert_eq!(margin(Duration::from_secs(2)), Duration::from_secs(1));
    }
}
