//! Guardrails (issue #24): what a gateway looks for in the text it sends to providers and in
//! the answers it returns — personal data, secrets, patterns and words of its own — and what
//! it does on finding it.

use super::GatewayId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies a guardrail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GuardrailId(pub i64);

/// What a guardrail looks for. Written (CLI, GraphQL, console) as `email`, `phone`, `card`,
/// `iban`, `ssn`, `ip`, `secret`, `regex:PATTERN`, `words:a,b` or `moderation:ENDPOINT`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Detector {
    /// E-mail addresses.
    Email,
    /// Telephone numbers written with a `+` country code or separators (7 to 15 digits).
    Phone,
    /// Payment card numbers (13 to 19 digits, spaces or dashes allowed) that pass Luhn's check.
    Card,
    /// International bank account numbers whose mod-97 checksum holds.
    Iban,
    /// US social security numbers (`123-45-6789`, area, group and serial all possible).
    Ssn,
    /// IPv4 and IPv6 addresses.
    Ip,
    /// Provider and cloud keys, GitHub tokens and JWTs.
    Secret,
    /// A regular expression of the gateway's own (linear-time: no look-around, no
    /// back-references).
    Regex(String),
    /// Whole words or phrases, any case.
    Words(Vec<String>),
    /// What a moderation endpoint (OpenAI's `/v1/moderations` shape; the endpoint's name)
    /// flags: asked before the request is forwarded.
    Moderation(String),
}

impl Detector {
    /// The detectors that take no argument, in the order the CLI lists them.
    pub const BUILT_IN: [Detector; 7] = [
        Detector::Email,
        Detector::Phone,
        Detector::Card,
        Detector::Iban,
        Detector::Ssn,
        Detector::Ip,
        Detector::Secret,
    ];

    /// Its kind's name: `email`, …, `regex`, `words` (what metrics and refusals name).
    pub fn kind(&self) -> &'static str {
        match self {
            Detector::Email => "email",
            Detector::Phone => "phone",
            Detector::Card => "card",
            Detector::Iban => "iban",
            Detector::Ssn => "ssn",
            Detector::Ip => "ip",
            Detector::Secret => "secret",
            Detector::Regex(_) => "regex",
            Detector::Words(_) => "words",
            Detector::Moderation(_) => "moderation",
        }
    }

    /// Whether it asks an endpoint rather than reading the text itself.
    pub fn is_external(&self) -> bool {
        matches!(self, Detector::Moderation(_))
    }

    /// The placeholder's type: `[EMAIL_1]`, `[CARD_2]`, `[PATTERN_1]`, `[WORD_1]`.
    pub fn label(&self) -> &'static str {
        match self {
            Detector::Email => "EMAIL",
            Detector::Phone => "PHONE",
            Detector::Card => "CARD",
            Detector::Iban => "IBAN",
            Detector::Ssn => "SSN",
            Detector::Ip => "IP",
            Detector::Secret => "SECRET",
            Detector::Regex(_) => "PATTERN",
            Detector::Words(_) => "WORD",
            Detector::Moderation(_) => "MODERATION",
        }
    }

    /// The detector written `text` (`email`, `regex:PATTERN`, `words:a,b`,
    /// `moderation:ENDPOINT`), or why not.
    /// A pattern is only read here; whether it compiles is checked where it is saved.
    pub fn parse(text: &str) -> Result<Detector, String> {
        let text = text.trim_start();
        if let Some(pattern) = text.strip_prefix("regex:") {
            if pattern.is_empty() {
                return Err("`regex:` needs a pattern after it".into());
            }
            return Ok(Detector::Regex(pattern.to_string()));
        }
        if let Some(list) = text.strip_prefix("words:") {
            let words: Vec<String> = (list.split(','))
                .map(|word| word.trim().to_string())
                .filter(|word| !word.is_empty())
                .collect();
            if words.is_empty() {
                return Err("`words:` needs at least one word after it (`words:a,b`)".into());
            }
            return Ok(Detector::Words(words));
        }
        if let Some(endpoint) = text.strip_prefix("moderation:") {
            let endpoint = endpoint.trim();
            if endpoint.is_empty() {
                return Err("`moderation:` needs an endpoint's name after it".into());
            }
            return Ok(Detector::Moderation(endpoint.to_string()));
        }
        let text = text.trim();
        (Detector::BUILT_IN.into_iter()).find(|d| d.kind() == text).ok_or_else(|| {
            format!("unknown detector `{text}`: one of email, phone, card, iban, ssn, ip, secret, regex:PATTERN, words:a,b, moderation:ENDPOINT")
        })
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detector::Regex(pattern) => write!(f, "regex:{pattern}"),
            Detector::Words(words) => write!(f, "words:{}", words.join(",")),
            Detector::Moderation(endpoint) => write!(f, "moderation:{endpoint}"),
            Detector::Email
            | Detector::Phone
            | Detector::Card
            | Detector::Iban
            | Detector::Ssn
            | Detector::Ip
            | Detector::Secret => f.write_str(self.kind()),
        }
    }
}

impl Serialize for Detector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Detector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Detector::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What a guardrail does with what it finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum GuardAction {
    /// Replaced by a typed placeholder (`[EMAIL_1]`).
    Redact,
    /// Replaced by a placeholder in the request, and put back in the answer: the user sees
    /// their own data, the provider never does (request direction only).
    Restore,
    /// The request (or answer) is refused: 400 `content_policy_violation` naming the detector,
    /// never the text; a blocked request makes no upstream call.
    Block,
    /// Passed on unchanged; the request's log and the metrics note it.
    Flag,
}

impl GuardAction {
    /// Every action.
    pub const ALL: [GuardAction; 4] = [
        GuardAction::Redact,
        GuardAction::Restore,
        GuardAction::Block,
        GuardAction::Flag,
    ];

    /// The action as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardAction::Redact => "redact",
            GuardAction::Restore => "restore",
            GuardAction::Block => "block",
            GuardAction::Flag => "flag",
        }
    }

    /// The action typed `text`.
    pub fn parse(text: &str) -> Option<GuardAction> {
        GuardAction::ALL
            .into_iter()
            .find(|action| action.as_str() == text.trim())
    }
}

/// Which text a guardrail reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum GuardDirection {
    /// What the client sends, before it goes to the provider.
    Request,
    /// The provider's answer, before it goes to the client.
    Response,
    Both,
}

impl GuardDirection {
    /// Every direction.
    pub const ALL: [GuardDirection; 3] = [GuardDirection::Request, GuardDirection::Response, GuardDirection::Both];

    /// The direction as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardDirection::Request => "request",
            GuardDirection::Response => "response",
            GuardDirection::Both => "both",
        }
    }

    /// The direction typed `text`.
    pub fn parse(text: &str) -> Option<GuardDirection> {
        GuardDirection::ALL
            .into_iter()
            .find(|direction| direction.as_str() == text.trim())
    }

    /// The direction a guardrail reads when none is given: requests for `restore` and for a
    /// moderation endpoint (both read only requests), else both.
    pub fn usual(detector: &Detector, action: GuardAction) -> GuardDirection {
        if detector.is_external() {
            return GuardDirection::Request;
        }
        match action {
            GuardAction::Restore => GuardDirection::Request,
            GuardAction::Redact | GuardAction::Block | GuardAction::Flag => GuardDirection::Both,
        }
    }

    /// Whether it reads requests.
    pub fn requests(self) -> bool {
        matches!(self, GuardDirection::Request | GuardDirection::Both)
    }

    /// Whether it reads answers.
    pub fn responses(self) -> bool {
        matches!(self, GuardDirection::Response | GuardDirection::Both)
    }
}

/// A guardrail of a gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guardrail {
    pub id: GuardrailId,
    pub gateway_id: GatewayId,
    pub detector: Detector,
    pub action: GuardAction,
    pub direction: GuardDirection,
    /// It changes only what the request log stores (`redact` only): the provider and the
    /// client see the text as it was.
    pub logs_only: bool,
    /// A moderation guardrail whose endpoint cannot answer refuses the request (503) rather
    /// than letting it pass unmoderated.
    #[serde(default)]
    pub fail_closed: bool,
    pub created_at: i64,
}

/// A guardrail to add.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewGuardrail {
    pub gateway_id: GatewayId,
    pub detector: Detector,
    pub action: GuardAction,
    pub direction: GuardDirection,
    pub logs_only: bool,
    #[serde(default)]
    pub fail_closed: bool,
}

/// What "try it" shows: the text as a request would leave with the gateway's guardrails
/// (placeholders where redacted), and what was found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject))]
pub struct GuardTrial {
    /// The text as it would be sent (unchanged when nothing is redacted).
    pub text: String,
    /// The detector that would block it, if one would.
    pub blocked_by: Option<String>,
    /// Each finding as `detector:action` (`email:redact`), once each.
    pub findings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detectors_read_back_as_they_are_written() {
        for text in [
            "email",
            "secret",
            "regex:\\bproject-[a-z]+\\b",
            "words:apple,blue moon",
            "moderation:omni",
        ] {
            let detector = Detector::parse(text).unwrap();
            assert_eq!(detector.to_string(), text);
            let json = serde_json::to_string(&detector).unwrap();
            assert_eq!(serde_json::from_str::<Detector>(&json).unwrap(), detector);
        }
        assert_eq!(
            Detector::parse("words: a , ,b").unwrap(),
            Detector::Words(vec!["a".into(), "b".into()])
        );
        for bad in ["mail", "regex:", "words: , ", "", "moderation: "] {
            assert!(Detector::parse(bad).is_err(), "{bad}");
        }
    }
}
