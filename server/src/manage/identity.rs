//! End users' identity providers (issue #23): the issuers whose tokens a gateway accepts —
//! validated, stored and audited here, whichever way (GraphQL, CLI, console) the change came.
//!
//! Invariant: a stored provider can verify tokens: it names at least one audience, its
//! algorithms fit its key source (HS256 with a secret and only with one), and its key source
//! is well formed (an http(s) URL, a public — never a private — PEM key, an environment
//! variable's name).

use super::{already_exists, audit::record, Actor, AuditEvent, Manage, ManageError};
use crate::store::{now_ms, Breakdown};
use app::types::{
    GatewayId, IdentityProvider, IdentityProviderId, JwtAlgorithm, KeySource, NewIdentityProvider, PersonKind,
    PersonStats, RequestFigures,
};

/// The most clock skew a provider may allow, seconds.
const MAX_LEEWAY_S: i64 = 600;

/// An http(s) URL without credentials, as a key set's or an issuer's address must be.
fn url(field: &'static str, text: &str) -> Result<String, ManageError> {
    let parsed =
        url::Url::parse(text.trim()).map_err(|e| ManageError::invalid(field, format!("is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(ManageError::invalid(
            field,
            "must be an http:// or https:// URL with a host",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ManageError::invalid(field, "must not contain credentials"));
    }
    Ok(text.trim().to_string())
}

/// The key source checked (and trimmed).
fn key_source(keys: KeySource, issuer: &str) -> Result<KeySource, ManageError> {
    Ok(match keys {
        KeySource::JwksUrl { url: jwks } => KeySource::JwksUrl {
            url: url("jwks_url", &jwks)?,
        },
        KeySource::Discovery => {
            url("issuer", issuer)
                .map_err(|_| ManageError::invalid("issuer", "discovery needs the issuer to be an http(s) URL"))?;
            KeySource::Discovery
        }
        KeySource::Pem { pem } => {
            let pem = pem.trim().to_string();
            if pem.contains("PRIVATE KEY") {
                return Err(ManageError::invalid(
                    "key",
                    "is a private key: give the public key (tokens are only verified here)",
                ));
            }
            crate::identity::check_pem(&pem).map_err(|why| ManageError::invalid("key", why))?;
            KeySource::Pem { pem }
        }
        KeySource::SecretEnv { var } => {
            let var = var.trim().to_string();
            let well_formed = var.chars().next().is_some_and(|c| c.is_ascii_uppercase() || c == '_')
                && var
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !well_formed {
                return Err(ManageError::invalid(
                    "secret_env",
                    "must be an environment variable's name (A-Z, 0-9 and _)",
                ));
            }
            KeySource::SecretEnv { var }
        }
    })
}

/// The algorithms checked against the key source; none given: the source's usual one.
fn algorithms(given: Vec<JwtAlgorithm>, keys: &KeySource) -> Result<Vec<JwtAlgorithm>, ManageError> {
    let secret = matches!(keys, KeySource::SecretEnv { .. });
    if given.is_empty() {
        return Ok(vec![if secret {
            JwtAlgorithm::HS256
        } else {
            JwtAlgorithm::RS256
        }]);
    }
    let mut algorithms = Vec::with_capacity(given.len());
    for alg in given {
        let symmetric = match alg {
            JwtAlgorithm::HS256 => true,
            JwtAlgorithm::RS256 | JwtAlgorithm::ES256 | JwtAlgorithm::EdDSA => false,
        };
        if symmetric != secret {
            let why = if secret {
                "a shared secret signs HS256 tokens only"
            } else {
                "HS256 needs a shared secret (--secret-env); public keys verify RS256, ES256 and EdDSA"
            };
            return Err(ManageError::invalid("algorithms", format!("{}: {why}", alg.as_str())));
        }
        if !algorithms.contains(&alg) {
            algorithms.push(alg);
        }
    }
    Ok(algorithms)
}

/// A list of non-empty names, trimmed, each once.
fn names(field: &'static str, list: Vec<String>) -> Result<Vec<String>, ManageError> {
    let mut names: Vec<String> = Vec::with_capacity(list.len());
    for name in list.iter().map(|name| name.trim()) {
        if name.is_empty() {
            return Err(ManageError::invalid(field, "a name is empty"));
        }
        if !names.iter().any(|known| known == name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

impl Manage {
    /// Adds an identity provider to a gateway: its end users' tokens from `issuer` are
    /// accepted (as the gateway's auth mode says).
    pub async fn add_identity_provider(
        &self,
        actor: &Actor,
        new: NewIdentityProvider,
    ) -> Result<IdentityProvider, ManageError> {
        actor.must_write()?;
        let gateway = self.gateway(new.gateway_id).await?;
        let issuer = new.issuer.trim().to_string();
        if issuer.is_empty() {
            return Err(ManageError::invalid("issuer", "is required"));
        }
        let audiences = names("audiences", new.audiences)?;
        if audiences.is_empty() {
            return Err(ManageError::invalid(
                "audiences",
                "name at least one audience its tokens are for",
            ));
        }
        if !(0..=MAX_LEEWAY_S).contains(&new.leeway_s) {
            return Err(ManageError::invalid(
                "leeway_s",
                format!("must be 0 to {MAX_LEEWAY_S} seconds"),
            ));
        }
        let keys = key_source(new.keys, &issuer)?;
        let checked = NewIdentityProvider {
            gateway_id: gateway.id,
            algorithms: algorithms(new.algorithms, &keys)?,
            issuer: issuer.clone(),
            audiences,
            keys,
            leeway_s: new.leeway_s,
            required_claims: names("required_claims", new.required_claims)?,
        };
        let mut tx = self.store.begin().await?;
        let id = (tx.insert_identity_provider(&checked, now_ms()).await).map_err(already_exists(
            "issuer",
            format!("gateway {} already accepts tokens from {issuer}", gateway.name),
        ))?;
        let event = AuditEvent::IdentityProviderAdded {
            id,
            gateway: gateway.name,
            issuer,
            keys: checked.keys.kind(),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        self.identity_provider(id).await
    }

    /// Removes an identity provider: its tokens are refused from then on.
    pub async fn remove_identity_provider(&self, actor: &Actor, id: IdentityProviderId) -> Result<(), ManageError> {
        actor.must_write()?;
        let provider = self.identity_provider(id).await?;
        let gateway = self.gateway(provider.gateway_id).await?;
        let mut tx = self.store.begin().await?;
        tx.delete_identity_provider(id).await?;
        let event = AuditEvent::IdentityProviderRemoved {
            id,
            gateway: gateway.name,
            issuer: provider.issuer,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }

    /// The identity providers of `gateway`, or of every gateway.
    pub async fn identity_providers(&self, gateway: Option<GatewayId>) -> Result<Vec<IdentityProvider>, ManageError> {
        let all = self.store.identity_providers().await?;
        Ok(all
            .into_iter()
            .filter(|p| gateway.is_none_or(|g| p.gateway_id == g))
            .collect())
    }

    /// The identity provider with this id.
    pub async fn identity_provider(&self, id: IdentityProviderId) -> Result<IdentityProvider, ManageError> {
        (self.identity_providers(None).await?.into_iter())
            .find(|provider| provider.id == id)
            .ok_or(ManageError::NotFound)
    }
}

impl Manage {
    /// The `top` busiest end users (or groups, by their group key) of one gateway or every
    /// one in `[from, to)` (Unix milliseconds), busiest first, with their figures.
    pub async fn top_people(
        &self,
        gateway: Option<GatewayId>,
        by: PersonKind,
        (from, to): (i64, i64),
        top: usize,
    ) -> Result<Vec<PersonStats>, ManageError> {
        let breakdown = Breakdown::People { gateway, by, top };
        let figures = self.store.request_figures(breakdown, from, to).await?;
        Ok((figures.into_iter())
            .map(|(name, figures)| PersonStats { name, figures })
            .collect())
    }

    /// What end user `user` (of one gateway or every one) did in `[from, to)`: zeros when
    /// nothing.
    pub async fn user_usage(
        &self,
        gateway: Option<GatewayId>,
        user: &str,
        (from, to): (i64, i64),
    ) -> Result<RequestFigures, ManageError> {
        let breakdown = Breakdown::EndUser { gateway, user };
        let figures = self.store.request_figures(breakdown, from, to).await?;
        Ok(figures
            .into_iter()
            .next()
            .map(|(_, figures)| figures)
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_must_fit_the_key_source() {
        let secret = KeySource::SecretEnv {
            var: "JWT_SECRET".into(),
        };
        let jwks = KeySource::JwksUrl {
            url: "https://id.example.com/jwks".into(),
        };
        assert_eq!(algorithms(vec![], &secret).unwrap(), [JwtAlgorithm::HS256]);
        assert_eq!(algorithms(vec![], &jwks).unwrap(), [JwtAlgorithm::RS256]);
        let both = vec![JwtAlgorithm::ES256, JwtAlgorithm::EdDSA, JwtAlgorithm::ES256];
        assert_eq!(
            algorithms(both, &jwks).unwrap(),
            [JwtAlgorithm::ES256, JwtAlgorithm::EdDSA]
        );
        for (given, keys) in [(JwtAlgorithm::HS256, &jwks), (JwtAlgorithm::RS256, &secret)] {
            let refused = algorithms(vec![given], keys);
            assert!(
                matches!(
                    refused,
                    Err(ManageError::Invalid {
                        field: "algorithms",
                        ..
                    })
                ),
                "{given:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_private_key_or_a_malformed_source_is_refused_naming_its_field() {
        let private = KeySource::Pem {
            pem: "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----".into(),
        };
        let cases = [
            (private, "key"),
            (
                KeySource::Pem {
                    pem: "not a key".into(),
                },
                "key",
            ),
            (
                KeySource::SecretEnv {
                    var: "lower-case".into(),
                },
                "secret_env",
            ),
            (
                KeySource::JwksUrl {
                    url: "ftp://x/jwks".into(),
                },
                "jwks_url",
            ),
            (KeySource::Discovery, "issuer"),
        ];
        for (keys, field) in cases {
            let refused = key_source(keys.clone(), "not-a-url");
            assert!(
                matches!(refused, Err(ManageError::Invalid { field: f, .. }) if f == field),
                "{keys:?}: {refused:?}"
            );
        }
        assert!(key_source(KeySource::Discovery, "https://id.example.com").is_ok());
    }
}
