//! AWS Signature Version 4 for endpoints whose requests are signed (Bedrock, issue #25): the
//! request the adapter built is signed with `aws-sigv4` just before it is sent, with the
//! endpoint's access key (`ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`) or, when it stores
//! none, the AWS credential chain's (`aws_credentials`).
//!
//! Invariant: the signature covers the method, the URL, the host, the time and the body; the
//! secret never leaves this module (only the signature does).

use super::providers::Outbound;
use crate::secrets::Secret;
use aws_sigv4::{
    http_request::{sign, SignableBody, SignableRequest, SigningSettings},
    sign::v4,
};
use std::time::SystemTime;

/// The service name Bedrock's runtime is signed for.
pub const BEDROCK: &str = "bedrock";

/// An AWS access key.
pub struct AwsCredentials {
    access_key_id: String,
    secret_access_key: Secret,
    session_token: Option<Secret>,
}

impl AwsCredentials {
    /// `ACCESS_KEY_ID:SECRET_ACCESS_KEY`, optionally `:SESSION_TOKEN` after.
    pub fn parse(credential: &str) -> Result<AwsCredentials, String> {
        let mut parts = credential.trim().splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(id), Some(secret), token) if !id.is_empty() && !secret.is_empty() => Ok(AwsCredentials {
                access_key_id: id.to_string(),
                secret_access_key: Secret::new(secret.to_string()),
                session_token: token.filter(|t| !t.is_empty()).map(|t| Secret::new(t.to_string())),
            }),
            _ => Err("must be ACCESS_KEY_ID:SECRET_ACCESS_KEY (optionally :SESSION_TOKEN after)".into()),
        }
    }
}

/// The headers a signature adds, under the static names `Outbound` keeps.
fn static_name(name: &str) -> Option<&'static str> {
    [
        "authorization",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
    ]
    .into_iter()
    .find(|known| known.eq_ignore_ascii_case(name))
}

/// Signs `outbound` (a POST of JSON) for `service` in `region` at `time`: its signature headers
/// added.
pub fn sign_request(
    outbound: &mut Outbound,
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(), String> {
    let mut headers = vec![("content-type", "application/json".to_string())];
    headers.extend(outbound.headers.iter().cloned());
    let added = signature_headers(
        "POST",
        &outbound.url,
        &headers,
        &outbound.body,
        credentials,
        region,
        service,
        time,
    )?;
    outbound.headers.extend(added);
    Ok(())
}

/// The headers that sign a request.
#[allow(clippy::too_many_arguments)]
fn signature_headers(
    method: &str,
    url: &str,
    headers: &[(&'static str, String)],
    body: &[u8],
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(&'static str, String)>, String> {
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.expose().to_string(),
        credentials.session_token.as_ref().map(|t| t.expose().to_string()),
        None,
        "model-gateway",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign: {e}"))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().map(|(name, value)| (*name, value.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| format!("cannot sign: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| format!("cannot sign: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .filter_map(|(name, value)| Some((static_name(name)?, value.to_string())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// AWS's published SigV4 test suite, `get-vanilla`: a GET of `/` on
    /// `example.amazonaws.com` at 20150830T123600Z, service `service`, region `us-east-1`.
    #[test]
    fn the_signature_is_the_one_aws_publishes_for_its_test_vector() {
        let credentials = AwsCredentials::parse("AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").unwrap();
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let headers = signature_headers(
            "GET",
            "https://example.amazonaws.com/",
            &[],
            b"",
            &credentials,
            "us-east-1",
            "service",
            time,
        )
        .unwrap();
        let authorization = headers.iter().find(|(name, _)| *name == "authorization").unwrap();
        assert_eq!(
            authorization.1,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert!(headers.contains(&("x-amz-date", "20150830T123600Z".to_string())));
    }

    #[test]
    fn a_request_is_signed_for_bedrock_with_its_session_token() {
        let credentials = AwsCredentials::parse("AKID:SECRET:TOKEN").unwrap();
        let mut outbound = Outbound {
            url: "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse".into(),
            headers: Vec::new(),
            body: b"{}".to_vec(),
        };
        sign_request(&mut outbound, &credentials, "us-east-1", BEDROCK, SystemTime::now()).unwrap();
        let header = |name| {
            outbound
                .headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        let authorization = header("authorization").unwrap();
        assert!(
            authorization.contains("/us-east-1/bedrock/aws4_request"),
            "{authorization}"
        );
        assert!(!authorization.contains("SECRET"));
        assert_eq!(header("x-amz-security-token").as_deref(), Some("TOKEN"));
        assert!(AwsCredentials::parse("no-colon").is_err());
        assert!(AwsCredentials::parse(":secret").is_err());
    }
}
