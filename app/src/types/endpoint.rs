//! Inference endpoints: the upstreams that serve requests.

use super::{Change, WriteOnly};
use serde::{Deserialize, Serialize};

/// Identifies an inference endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EndpointId(pub i64);

/// The kinds of upstream the gateway speaks to. Adding one fails to compile until every
/// `match` on it handles the new kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI's API.
    #[cfg_attr(feature = "ssr", graphql(name = "OPENAI"))]
    #[serde(rename = "openai")]
    OpenAi,
    /// Azure OpenAI: deployment URLs, `api-version`, the `api-key` header.
    #[cfg_attr(feature = "ssr", graphql(name = "AZURE_OPENAI"))]
    #[serde(rename = "azure_openai")]
    AzureOpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Ollama, through its OpenAI-compatible API.
    Ollama,
    /// Any other OpenAI-compatible server: vLLM, LM Studio, llama.cpp, Groq, Mistral, …
    #[cfg_attr(feature = "ssr", graphql(name = "OPENAI_COMPATIBLE"))]
    #[serde(rename = "openai_compatible")]
    OpenAiCompatible,
    /// Google's Gemini API (AI Studio): `generateContent`, the `x-goog-api-key` header.
    Gemini,
    /// Gemini models on Google Cloud's Vertex AI: a project and region, a service account.
    Vertex,
    /// Amazon Bedrock's Converse API: a region, requests signed with SigV4.
    Bedrock,
}

/// What a provider kind is, in one row: the facts the store, the management service, the
/// console, the CLI and telemetry read. How it is spoken to is its adapter's
/// (`server/src/proxy/providers/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProviderSpec {
    /// Its name as stored, typed on the command line and sent by forms.
    pub name: &'static str,
    /// What people call it.
    pub label: &'static str,
    /// The base URL used when none is given; `None` where the user must say (Azure resources
    /// and self-hosted servers have no common address).
    pub default_base_url: Option<&'static str>,
    /// Whether an endpoint needs a credential (self-hosted servers often take none).
    pub needs_credential: bool,
    /// Whether an endpoint names a deployment and an API version (Azure's URLs carry both).
    pub needs_deployment: bool,
    /// Whether an endpoint names a cloud project (Vertex AI's URLs carry it, with the region).
    pub needs_project: bool,
    /// Whether the credential is a service account that signs in for access tokens (Vertex
    /// AI), rather than a key sent as it is.
    pub signs_in: bool,
    /// The base URL in a region other than `global`, `{region}` standing for it; `None` where
    /// the region is only a label.
    pub regional_base_url: Option<&'static str>,
    /// AWS: the service requests are signed for with SigV4 (in the endpoint's region), and
    /// streams come in AWS's binary event-stream framing; `None` elsewhere.
    pub aws_service: Option<&'static str>,
    /// OpenTelemetry's `gen_ai.provider.name` (our own name where the conventions have none).
    pub telemetry_name: &'static str,
}

const OPENAI: ProviderSpec = ProviderSpec {
    name: "openai",
    label: "OpenAI",
    default_base_url: Some("https://api.openai.com/v1"),
    needs_credential: true,
    needs_deployment: false,
    needs_project: false,
    signs_in: false,
    regional_base_url: None,
    aws_service: None,
    telemetry_name: "openai",
};

const AZURE_OPENAI: ProviderSpec = ProviderSpec {
    name: "azure_openai",
    label: "Azure OpenAI",
    default_base_url: None,
    needs_credential: true,
    needs_deployment: true,
    needs_project: false,
    signs_in: false,
    regional_base_url: None,
    aws_service: None,
    telemetry_name: "azure.ai.openai",
};

const ANTHROPIC: ProviderSpec = ProviderSpec {
    name: "anthropic",
    label: "Anthropic",
    default_base_url: Some("https://api.anthropic.com"),
    needs_credential: true,
    needs_deployment: false,
    needs_project: false,
    signs_in: false,
    regional_base_url: None,
    aws_service: None,
    telemetry_name: "anthropic",
};

const OLLAMA: ProviderSpec = ProviderSpec {
    name: "ollama",
    label: "Ollama",
    default_base_url: Some("http://127.0.0.1:11434/v1"),
    needs_credential: false,
    needs_deployment: false,
    needs_project: false,
    signs_in: false,
    regional_base_url: None,
    aws_service: None,
    telemetry_name: "ollama",
};

const OPENAI_COMPATIBLE: ProviderSpec = ProviderSpec {
    name: "openai_compatible",
    label: "OpenAI-compatible (vLLM, LM Studio, …)",
    default_base_url: None,
    needs_credential: false,
    needs_deployment: false,
    needs_project: false,
    signs_in: false,
    regional_base_url: None,
    aws_service: None,
    telemetry_name: "openai_compatible",
};

const GEMINI: ProviderSpec = ProviderSpec {
    name: "gemini",
    label: "Google Gemini",
    default_base_url: Some("https://generativelanguage.googleapis.com/v1beta"),
    needs_credential: true,
    needs_deployment: false,
    needs_project: false,
    signs_in: false,
    regional_base_url: None,
    aws_service: None,
    telemetry_name: "gcp.gemini",
};

const VERTEX: ProviderSpec = ProviderSpec {
    name: "vertex",
    label: "Google Vertex AI",
    default_base_url: Some("https://aiplatform.googleapis.com/v1"),
    needs_credential: true,
    needs_deployment: false,
    needs_project: true,
    signs_in: true,
    regional_base_url: Some("https://{region}-aiplatform.googleapis.com/v1"),
    aws_service: None,
    telemetry_name: "gcp.vertex_ai",
};

const BEDROCK: ProviderSpec = ProviderSpec {
    name: "bedrock",
    label: "Amazon Bedrock",
    default_base_url: Some("https://bedrock-runtime.us-east-1.amazonaws.com"),
    // The standard AWS environment credentials stand in for a stored key.
    needs_credential: false,
    needs_deployment: false,
    needs_project: false,
    signs_in: false,
    regional_base_url: Some("https://bedrock-runtime.{region}.amazonaws.com"),
    aws_service: Some("bedrock"),
    telemetry_name: "aws.bedrock",
};

impl ProviderKind {
    /// Every kind, in the order lists show them.
    pub const ALL: [ProviderKind; 8] = [
        ProviderKind::OpenAi,
        ProviderKind::AzureOpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::Vertex,
        ProviderKind::Bedrock,
        ProviderKind::Ollama,
        ProviderKind::OpenAiCompatible,
    ];

    /// The kind's facts.
    pub fn spec(self) -> &'static ProviderSpec {
        match self {
            ProviderKind::OpenAi => &OPENAI,
            ProviderKind::AzureOpenAi => &AZURE_OPENAI,
            ProviderKind::Anthropic => &ANTHROPIC,
            ProviderKind::Ollama => &OLLAMA,
            ProviderKind::OpenAiCompatible => &OPENAI_COMPATIBLE,
            ProviderKind::Gemini => &GEMINI,
            ProviderKind::Vertex => &VERTEX,
            ProviderKind::Bedrock => &BEDROCK,
        }
    }

    /// The kind's name as stored, typed and shown.
    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// The base URL used when none is given, for an endpoint in `region`: the regional host
    /// where the kind has one and the region is not `global`, else the kind's default.
    pub fn default_base_url(self, region: Option<&str>) -> Option<String> {
        let spec = self.spec();
        match (spec.regional_base_url, region.map(str::trim)) {
            (Some(pattern), Some(region)) if !region.is_empty() && region != "global" => {
                Some(pattern.replace("{region}", region))
            }
            _ => spec.default_base_url.map(str::to_string),
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// Per-endpoint timeouts, in milliseconds; `None` uses the gateway-wide default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "TimeoutsInput"))]
pub struct Timeouts {
    /// Establishing the connection.
    pub connect_ms: Option<i64>,
    /// From sending the request to the first byte of the answer.
    pub first_byte_ms: Option<i64>,
    /// Between two chunks of a streamed answer.
    pub idle_ms: Option<i64>,
    /// The whole attempt.
    pub total_ms: Option<i64>,
}

/// An inference endpoint as listed and shown; its credential is write-only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferenceEndpoint {
    /// The endpoint's id.
    pub id: EndpointId,
    /// A unique name, used to refer to it from gateways and the CLI.
    pub name: String,
    /// The provider kind.
    pub provider: ProviderKind,
    /// The upstream's base URL.
    pub base_url: String,
    /// The model it serves (for Azure, the model behind the deployment).
    pub model: String,
    /// Azure: the deployment name.
    pub deployment: Option<String>,
    /// Azure: the `api-version` query parameter.
    pub api_version: Option<String>,
    /// Vertex AI: the Google Cloud project.
    pub project: Option<String>,
    /// A free-form region label; for Vertex AI, the region called (`global` when empty).
    pub region: Option<String>,
    /// The provider's requests-per-minute allowance, if known.
    pub rpm_limit: Option<i64>,
    /// The provider's tokens-per-minute allowance, if known.
    pub tpm_limit: Option<i64>,
    /// Timeouts for calls to this endpoint.
    pub timeouts: Timeouts,
    /// Whether gateways may route to it.
    pub enabled: bool,
    /// Whether a credential is stored (the credential itself is never returned).
    pub has_credential: bool,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
}

/// An endpoint's live health, as the serving process's balancer sees it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
pub enum EndpointHealth {
    /// The last request or connection test succeeded.
    Healthy,
    /// No request or connection test has reached it since the gateway started.
    Untested,
    /// Taking requests, but the last request or connection test failed.
    Failing,
    /// Resting after a 429 or quota error.
    CoolingDown,
    /// Ejected after repeated failures; a probe request will test it again.
    CircuitOpen,
    /// The provider refused its credential; fixed by editing the endpoint.
    Misconfigured,
    /// Not in the serving configuration (just created elsewhere, or being reloaded).
    Unknown,
}

impl EndpointHealth {
    /// How the console labels it.
    pub fn label(self) -> &'static str {
        match self {
            EndpointHealth::Healthy => "Healthy",
            EndpointHealth::Untested => "Not tested yet",
            EndpointHealth::Failing => "Failing",
            EndpointHealth::CoolingDown => "Cooling down",
            EndpointHealth::CircuitOpen => "Circuit open",
            EndpointHealth::Misconfigured => "Misconfigured",
            EndpointHealth::Unknown => "Unknown",
        }
    }
}

/// An endpoint with its live health, as the endpoints page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointListing {
    pub endpoint: InferenceEndpoint,
    pub health: EndpointHealth,
}

/// What "Test connection" found: one tiny real request to the endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointProbe {
    /// The upstream's HTTP status, when it answered.
    pub status: Option<i64>,
    /// From sending to the whole answer, milliseconds.
    pub latency_ms: i64,
    /// What went wrong, if anything (never the credential).
    pub error: Option<String>,
    /// The endpoint's health once the test is counted.
    pub health: EndpointHealth,
}

// Declared once: GraphQL's `createEndpoint`, the endpoints page and `endpoint add` all give
// the management service this.
/// A new inference endpoint.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "ssr", derive(async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(name = "CreateEndpointInput"))]
pub struct NewEndpoint {
    pub name: String,
    pub provider: ProviderKind,
    /// The upstream's base URL; the provider's own when omitted (OpenAI, Anthropic, Ollama).
    pub base_url: Option<String>,
    /// The provider credential. Write-only: stored encrypted, never returned.
    #[cfg_attr(feature = "ssr", graphql(secret))]
    pub api_key: Option<WriteOnly>,
    /// The model it serves (for Azure, the model behind the deployment).
    pub model: String,
    /// Azure: the deployment name.
    pub deployment: Option<String>,
    /// Azure: the `api-version`.
    pub api_version: Option<String>,
    /// Vertex AI: the Google Cloud project; the service account's own when omitted.
    pub project: Option<String>,
    pub region: Option<String>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub timeouts: Option<Timeouts>,
    #[cfg_attr(feature = "ssr", graphql(default = true))]
    pub enabled: bool,
}

/// Changes to an endpoint; omitted fields stay as they are (its provider always does).
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "ssr", derive(async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(name = "UpdateEndpointInput"))]
pub struct EndpointUpdate {
    pub name: Option<String>,
    pub base_url: Option<String>,
    /// A new credential (write-only).
    #[cfg_attr(feature = "ssr", graphql(secret))]
    pub api_key: Option<WriteOnly>,
    /// Removes the stored credential.
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub clear_api_key: bool,
    pub model: Option<String>,
    pub deployment: Option<String>,
    pub api_version: Option<String>,
    pub project: Option<String>,
    pub region: Option<String>,
    /// The provider's requests per minute for this endpoint (`null` removes it).
    pub rpm_limit: Change<i64>,
    /// The provider's tokens per minute for this endpoint (`null` removes it).
    pub tpm_limit: Change<i64>,
    pub enabled: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_kinds_round_trip_through_their_names() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ProviderKind::parse("OpenAI"), None);
        assert_eq!(ProviderKind::parse("vertex"), Some(ProviderKind::Vertex));
        for kind in ProviderKind::ALL {
            let form_value = serde_json::to_value(kind).unwrap();
            assert_eq!(form_value, kind.as_str(), "forms post the stored name");
        }
    }

    #[test]
    fn a_regional_kind_defaults_to_its_regions_address() {
        let vertex = ProviderKind::Vertex;
        assert_eq!(
            vertex.default_base_url(Some("europe-west4")).as_deref(),
            Some("https://europe-west4-aiplatform.googleapis.com/v1")
        );
        for global in [None, Some("global"), Some(" ")] {
            assert_eq!(
                vertex.default_base_url(global).as_deref(),
                Some("https://aiplatform.googleapis.com/v1")
            );
        }
        assert_eq!(
            ProviderKind::OpenAi.default_base_url(Some("eu-west")).as_deref(),
            Some("https://api.openai.com/v1"),
            "elsewhere a region is a label"
        );
        assert_eq!(ProviderKind::AzureOpenAi.default_base_url(None), None);
    }
}
