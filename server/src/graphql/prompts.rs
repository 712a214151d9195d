//! Named prompts in GraphQL (issue #22): the `Prompt` node with its versions, templates and
//! labels, and a template as GraphQL spells it — GraphQL has no maps, so `params` is one JSON
//! object and `parameters` a list of named entries, in answers and inputs alike.
//!
//! Does not: check a template (`manage` does, when a version is written).

use super::{
    backend, error, reader,
    types::{global_id, GatewayNode, NodeKind},
};
use app::types::{CacheSettings, ParameterSpec, Prompt, PromptTemplate, PromptVersion, TemplateMessage, VersionStats};
use async_graphql::{InputObject, Json, Object, Result, SimpleObject, ID};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One parameter a template takes, with its name.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "PromptParameterInput")]
pub struct PromptParameter {
    /// What the messages call it (`{{ name }}`) and requests give it as.
    pub name: String,
    #[graphql(flatten)]
    pub spec: ParameterSpec,
}

// The shared `PromptTemplate`, with its two maps as GraphQL spells them.
/// A version's template.
#[derive(InputObject)]
pub struct PromptTemplateInput {
    #[graphql(flatten)]
    pub template: PromptTemplate,
    /// Body fields sent unless the request sets them (temperature, max_tokens, tools, …), as
    /// one JSON object.
    pub params: Option<Json<Map<String, Value>>>,
    /// The parameters the messages use, each name once.
    #[graphql(default)]
    pub parameters: Vec<PromptParameter>,
}

impl PromptTemplateInput {
    /// The template as the management service takes it (whose faults are the field `template`).
    pub fn template(self) -> Result<PromptTemplate> {
        let mut parameters = BTreeMap::new();
        for PromptParameter { name, spec } in self.parameters {
            if parameters.contains_key(&name) {
                return Err(error::invalid("template", format!("parameters.{name}: is given twice")));
            }
            parameters.insert(name, spec);
        }
        Ok(PromptTemplate {
            params: self.params.map(|params| params.0).unwrap_or_default(),
            parameters,
            ..self.template
        })
    }
}

/// Where a label of a prompt points.
#[derive(SimpleObject)]
pub struct PromptLabel {
    /// `production` is the version a bare prompt name means.
    pub label: String,
    pub version: i64,
}

/// A prompt applications call by name instead of shipping its text: immutable numbered
/// versions, and labels that point at them.
pub struct PromptNode(pub Prompt);

#[Object(name = "Prompt")]
impl PromptNode {
    pub(super) async fn id(&self) -> ID {
        global_id(NodeKind::Prompt, self.0.id.0)
    }
    /// Unique; what a request names as `prompt` (`name`, `name@3`, `name:staging`).
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The CEL expression requests using it must satisfy, if any.
    async fn access_rule(&self) -> Option<&str> {
        self.0.access_rule.as_deref()
    }
    /// Its own response cache, used instead of the gateway's for requests using it; `null`:
    /// the gateway's.
    async fn cache(&self) -> Option<&CacheSettings> {
        self.0.cache.as_ref()
    }
    /// The gateways whose keys may use it; empty: every gateway.
    async fn gateway_ids(&self) -> Vec<ID> {
        (self.0.gateways.iter())
            .map(|id| global_id(NodeKind::Gateway, id.0))
            .collect()
    }
    /// The gateways whose keys may use it; empty: every gateway.
    async fn gateways(&self, ctx: &async_graphql::Context<'_>) -> Vec<GatewayNode> {
        let snapshot = backend(ctx).registry.snapshot();
        (self.0.gateways.iter())
            .filter_map(|id| snapshot.gateways.get(id))
            .map(|gateway| GatewayNode(Box::new(app::types::Gateway::clone(gateway))))
            .collect()
    }
    /// Oldest first; never empty.
    async fn versions(&self) -> Vec<PromptVersionNode> {
        self.0.versions.iter().cloned().map(PromptVersionNode).collect()
    }
    /// By label.
    async fn labels(&self) -> Vec<PromptLabel> {
        (self.0.labels.iter())
            .map(|(label, version)| PromptLabel {
                label: label.clone(),
                version: *version,
            })
            .collect()
    }
    /// Unix milliseconds.
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
    /// Unix milliseconds.
    async fn updated_at(&self) -> i64 {
        self.0.updated_at
    }
    /// How each version did in `[from, to)` (Unix milliseconds): requests, errors, latency,
    /// tokens, cost and feedback — what a version change is judged by. Versions without
    /// requests in the range are left out.
    #[graphql(complexity = 20)]
    async fn version_stats(&self, ctx: &async_graphql::Context<'_>, from: i64, to: i64) -> Result<Vec<VersionStats>> {
        reader(ctx)?;
        (backend(ctx).manage.version_stats(&self.0, from, to).await).map_err(error::manage)
    }
}

/// One immutable version of a prompt.
pub struct PromptVersionNode(pub PromptVersion);

#[Object(name = "PromptVersion")]
impl PromptVersionNode {
    /// 1 for the first.
    async fn version(&self) -> i64 {
        self.0.version
    }
    async fn template(&self) -> TemplateNode<'_> {
        TemplateNode(&self.0.template)
    }
    /// Unix milliseconds.
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
}

/// A version's template: its messages, default model and params, and the parameters it takes.
pub struct TemplateNode<'a>(&'a PromptTemplate);

#[Object(name = "PromptTemplate")]
impl TemplateNode<'_> {
    /// In order; their content uses the parameters as `{{ name }}`.
    async fn messages(&self) -> &[TemplateMessage] {
        &self.0.messages
    }
    /// The model asked for when the request names none.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    /// Body fields sent unless the request sets them, as one JSON object.
    async fn params(&self) -> Json<&Map<String, Value>> {
        Json(&self.0.params)
    }
    /// The parameters the messages use, by name.
    async fn parameters(&self) -> Vec<PromptParameter> {
        (self.0.parameters.iter())
            .map(|(name, spec)| PromptParameter {
                name: name.clone(),
                spec: spec.clone(),
            })
            .collect()
    }
}

/// A prompt's version just added, and the prompt with it.
#[derive(SimpleObject)]
pub struct AddedPromptVersion {
    /// Its number.
    pub version: i64,
    pub prompt: PromptNode,
}
