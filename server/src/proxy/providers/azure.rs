//! Azure OpenAI: OpenAI's bodies at deployment URLs
//! (`{base}/openai/deployments/{deployment}/{operation}?api-version=…`), keyed by `api-key`;
//! the Responses API at `{base}/openai/v1/responses`, the deployment named as the model.

use super::{join, openai, Call, Operation, Outbound};

/// The `api-version` used when the endpoint names none.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// Azure OpenAI: OpenAI's answers, streams and errors; its own URLs and key header.
pub struct Azure;

impl super::Adapter for Azure {
    fn supports(&self, _operation: Operation) -> bool {
        true
    }

    fn request(&self, call: &Call<'_>) -> Outbound {
        request(call)
    }

    fn stream_decoder(&self, operation: Operation, _stamp: &super::Stamp) -> super::StreamDecoder {
        openai::stream_decoder(operation)
    }
}

pub fn request(call: &Call<'_>) -> Outbound {
    let endpoint = call.endpoint;
    let deployment = endpoint.deployment.as_deref().unwrap_or(&endpoint.model);
    let version = endpoint.api_version.as_deref().unwrap_or(DEFAULT_API_VERSION);
    let (path, model) = match call.operation {
        // Azure's v1 API, which needs no `api-version` (the dated versions before it name
        // previews of the Responses API that have changed since), and the deployment as the
        // model.
        Operation::Responses => ("openai/v1/responses".to_string(), deployment),
        Operation::Chat | Operation::Completions | Operation::Embeddings => (
            format!(
                "openai/deployments/{}/{}?api-version={}",
                url::form_urlencoded::byte_serialize(deployment.as_bytes()).collect::<String>(),
                call.operation.openai_path(),
                url::form_urlencoded::byte_serialize(version.as_bytes()).collect::<String>(),
            ),
            endpoint.model.as_str(),
        ),
    };
    let mut headers = Vec::new();
    if let Some(credential) = call.credential {
        headers.push(("api-key", credential.to_string()));
    }
    Outbound {
        url: join(&endpoint.base_url, &path),
        headers,
        body: openai::body(call, model),
    }
}
