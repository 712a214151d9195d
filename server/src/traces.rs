//! OpenTelemetry traces, exported over OTLP/HTTP (JSON) when `traces.otlp_endpoint` is set: one
//! server span per inference request (a client's W3C `traceparent` becomes its parent), one
//! client span per upstream attempt, with the GenAI semantic-convention attributes, and the
//! attempt's `traceparent` sent upstream.
//!
//! Invariant: the tracer provider belongs to the process state, not to a global, and with no
//! endpoint configured nothing here runs on the request path.
//! Does not: record prompts, answers or any header value (credentials stay out of spans).

use crate::{config::TracesConfig, proxy::providers::Operation, proxy::registry::Upstream};
use app::types::{RequestAttempt, RequestLog};
use opentelemetry::{
    propagation::TextMapPropagator,
    trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _},
    Context, KeyValue,
};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::{
    propagation::TraceContextPropagator,
    trace::{SdkTracer, SdkTracerProvider},
    Resource,
};
use std::{sync::Arc, time::Duration};

/// The exporter and the tracer of one process.
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    propagator: TraceContextPropagator,
}

impl Traces {
    /// The exporter for `config`, or `None` when no endpoint is configured.
    pub fn start(config: &TracesConfig) -> Result<Option<Arc<Traces>>, String> {
        let Some(base) = &config.otlp_endpoint else {
            return Ok(None);
        };
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(format!("{}/v1/traces", base.trim_end_matches('/')))
            .with_timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| format!("cannot build the OTLP exporter: {error}"))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(config.service_name.clone())
                    .build(),
            )
            .build();
        let tracer = provider.tracer("model-gateway");
        Ok(Some(Arc::new(Traces {
            provider,
            tracer,
            propagator: TraceContextPropagator::new(),
        })))
    }

    /// Starts a request's span, under the client's `traceparent` when it sent one.
    pub fn request(self: &Arc<Self>, headers: &axum::http::HeaderMap, api: &'static str) -> RequestTrace {
        let parent = self.propagator.extract(&HeaderExtractor(headers));
        let span = self
            .tracer
            .span_builder("inference")
            .with_kind(SpanKind::Server)
            .with_attributes([KeyValue::new("mgw.api", api)])
            .start_with_context(&self.tracer, &parent);
        RequestTrace {
            traces: self.clone(),
            request: parent.with_span(span),
            attempt: None,
            member: None,
        }
    }

    /// Exports what is buffered and stops the exporter (blocking: call off the runtime).
    pub fn shutdown(&self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(error = %error, "traces not exported at shutdown");
        }
    }
}

/// The semantic conventions' name for an operation.
fn operation_name(operation: Operation) -> &'static str {
    match operation {
        // The conventions have no name of their own for OpenAI's Responses API: a chat.
        Operation::Chat | Operation::Responses => "chat",
        Operation::Completions => "text_completion",
        Operation::Embeddings => "embeddings",
    }
}

/// One request's spans: its own, and the attempt in progress.
pub struct RequestTrace {
    traces: Arc<Traces>,
    request: Context,
    attempt: Option<Context>,
    /// The composite member whose calls these are (`mgw.member` on their attempts); `None`
    /// for the request's own.
    member: Option<String>,
}

impl RequestTrace {
    /// Names the span once the body says what is asked: `chat gpt-4o`.
    pub fn routed(&self, operation: Operation, model: Option<&str>, gateway: &str, request_id: &str) {
        let span = self.request.span();
        let operation = operation_name(operation);
        span.update_name(match model {
            Some(model) => format!("{operation} {model}"),
            None => operation.to_string(),
        });
        span.set_attribute(KeyValue::new("gen_ai.operation.name", operation));
        if let Some(model) = model {
            span.set_attribute(KeyValue::new("gen_ai.request.model", model.to_string()));
        }
        span.set_attribute(KeyValue::new("mgw.gateway", gateway.to_string()));
        span.set_attribute(KeyValue::new("mgw.request_id", request_id.to_string()));
    }

    /// The spans of one composite member's calls (`multi`, `best`): attempts under the same
    /// request span, each naming the member.
    pub fn member(&self, member: &str) -> RequestTrace {
        RequestTrace {
            traces: self.traces.clone(),
            request: self.request.clone(),
            attempt: None,
            member: Some(member.to_string()),
        }
    }

    /// Starts an attempt's span; returns the headers that carry it upstream (`traceparent`).
    pub fn attempt_started(&mut self, number: i64, upstream: &Upstream, operation: Operation) -> http::HeaderMap {
        self.end_attempt();
        let endpoint = &upstream.endpoint;
        let operation = operation_name(operation);
        let mut attributes = vec![
            KeyValue::new("gen_ai.operation.name", operation),
            KeyValue::new("gen_ai.provider.name", endpoint.provider.spec().telemetry_name),
            KeyValue::new("gen_ai.request.model", endpoint.model.clone()),
            KeyValue::new("mgw.endpoint", endpoint.name.clone()),
            KeyValue::new("mgw.attempt", number),
        ];
        if let Some(member) = &self.member {
            attributes.push(KeyValue::new("mgw.member", member.clone()));
        }
        if let Ok(url) = url::Url::parse(&endpoint.base_url) {
            if let Some(host) = url.host_str() {
                attributes.push(KeyValue::new("server.address", host.to_string()));
            }
            if let Some(port) = url.port_or_known_default() {
                attributes.push(KeyValue::new("server.port", i64::from(port)));
            }
        }
        let tracer = &self.traces.tracer;
        let span = tracer
            .span_builder(format!("{operation} {}", endpoint.model))
            .with_kind(SpanKind::Client)
            .with_attributes(attributes)
            .start_with_context(tracer, &self.request);
        let context = self.request.with_span(span);
        let mut headers = http::HeaderMap::new();
        self.traces
            .propagator
            .inject_context(&context, &mut HeaderInjector(&mut headers));
        self.attempt = Some(context);
        headers
    }

    /// Completes the attempt's span from its record; a stream that has begun keeps it open
    /// until the request ends.
    pub fn attempt_finished(&mut self, record: &RequestAttempt, streaming: bool) {
        let Some(context) = &self.attempt else {
            return;
        };
        let span = context.span();
        if let Some(status) = record.status {
            span.set_attribute(KeyValue::new("http.response.status_code", status));
        }
        if let Some(class) = &record.error_class {
            span.set_attribute(KeyValue::new("error.type", class.clone()));
            span.set_status(Status::error(class.clone()));
        }
        if record.prompt_tokens > 0 || record.completion_tokens > 0 {
            span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", record.prompt_tokens));
            span.set_attribute(KeyValue::new("gen_ai.usage.output_tokens", record.completion_tokens));
        }
        if !streaming {
            self.end_attempt();
        }
    }

    fn end_attempt(&mut self) {
        if let Some(context) = self.attempt.take() {
            context.span().end();
        }
    }

    /// Ends the spans with the request's outcome.
    pub fn finish(mut self, log: &RequestLog, served_by: Option<&Upstream>) {
        if let Some(context) = &self.attempt {
            let span = context.span();
            span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", log.prompt_tokens));
            span.set_attribute(KeyValue::new("gen_ai.usage.output_tokens", log.completion_tokens));
            if let Some(class) = &log.error_class {
                span.set_attribute(KeyValue::new("error.type", class.clone()));
                span.set_status(Status::error(class.clone()));
            }
        }
        self.end_attempt();
        let span = self.request.span();
        span.set_attribute(KeyValue::new("http.response.status_code", log.status));
        span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", log.prompt_tokens));
        span.set_attribute(KeyValue::new("gen_ai.usage.output_tokens", log.completion_tokens));
        if let Some(upstream) = served_by {
            span.set_attribute(KeyValue::new("gen_ai.response.model", upstream.endpoint.model.clone()));
            span.set_attribute(KeyValue::new("mgw.endpoint", upstream.endpoint.name.clone()));
        }
        if let Some(class) = &log.error_class {
            span.set_attribute(KeyValue::new("error.type", class.clone()));
            span.set_status(Status::error(class.clone()));
        }
        span.end();
    }

    /// Ends the span of a request refused before it was routed.
    pub fn refused(self, status: u16, class: &'static str) {
        let span = self.request.span();
        span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status)));
        span.set_attribute(KeyValue::new("error.type", class));
        span.set_status(Status::error(class));
        span.end();
    }
}
