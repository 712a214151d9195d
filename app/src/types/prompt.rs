//! Named prompts (issue #22): a name that applications call instead of shipping a prompt's
//! text, with immutable numbered versions and movable labels. A request names one as
//! `prompt` — `name` (the `production` label, else the latest version), `name@3` or
//! `name:staging` — with its `parameters`.

use super::{CacheSettings, GatewayId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Identifies a prompt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PromptId(pub i64);

/// The label a bare prompt name means, when the prompt has it.
pub const PRODUCTION_LABEL: &str = "production";

/// What a template's parameter holds (JSON's types, with integers told apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "lowercase")]
pub enum ParameterType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
}

impl ParameterType {
    /// The type's name as written in a template.
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "string",
            ParameterType::Number => "number",
            ParameterType::Integer => "integer",
            ParameterType::Boolean => "boolean",
            ParameterType::Array => "array",
            ParameterType::Object => "object",
        }
    }

    /// Whether `value` is of this type (an integer is a number too).
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            ParameterType::String => value.is_string(),
            ParameterType::Number => value.is_number(),
            ParameterType::Integer => value.is_i64() || value.is_u64(),
            ParameterType::Boolean => value.is_boolean(),
            ParameterType::Array => value.is_array(),
            ParameterType::Object => value.is_object(),
        }
    }
}

// GraphQL has no maps: it lists a template's parameters with their names, an entry that adds
// `name` and flattens this (`graphql::prompts::PromptParameter`), in answers and inputs alike.
/// One parameter a template takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "ParameterSpecInput"))]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    /// What it holds.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "ssr", graphql(name = "type"))]
    pub kind: ParameterType,
    /// A request must give it (unless it has a default).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub required: bool,
    /// Its value when a request does not give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One message of a template: its role, and its content with `{{ variable }}`s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "TemplateMessageInput"))]
#[serde(deny_unknown_fields)]
pub struct TemplateMessage {
    pub role: String,
    pub content: String,
}

// Declared once: the management service takes it, the CLI reads it from a file. GraphQL spells
// its two maps its own way (`params` a JSON object, `parameters` a list of named entries), so
// its `PromptTemplateInput` adds those two fields and flattens this; they are skipped here.
/// A version's template: the shape of the CLI's template file, stored as JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(name = "NewPromptTemplate"))]
#[serde(deny_unknown_fields)]
pub struct PromptTemplate {
    /// In order; their content may use the parameters as `{{ name }}`.
    pub messages: Vec<TemplateMessage>,
    /// The model asked for when the request names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Body fields sent unless the request sets them (temperature, max_tokens, tools, …).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[cfg_attr(feature = "ssr", graphql(skip))]
    pub params: Map<String, Value>,
    /// The parameters the messages use, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "ssr", graphql(skip))]
    pub parameters: BTreeMap<String, ParameterSpec>,
}

/// One immutable version of a prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptVersion {
    /// 1 for the first.
    pub version: i64,
    pub template: PromptTemplate,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A prompt with its versions and labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    pub id: PromptId,
    /// Unique.
    pub name: String,
    pub description: String,
    /// The gateways whose keys may use it; empty: every gateway.
    pub gateways: Vec<GatewayId>,
    /// Oldest first; never empty.
    pub versions: Vec<PromptVersion>,
    /// Label → version.
    pub labels: BTreeMap<String, i64>,
    /// A CEL expression requests using it must satisfy (as a gateway's access rule).
    #[serde(default)]
    pub access_rule: Option<String>,
    /// Its own response cache, used instead of the gateway's for requests using it; `None`:
    /// the gateway's.
    #[serde(default)]
    pub cache: Option<CacheSettings>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl Prompt {
    /// The version `reference` names: a number, a label, or (none) the `production` label,
    /// else the latest.
    pub fn version(&self, reference: &VersionRef) -> Option<&PromptVersion> {
        let number = match reference {
            VersionRef::Number(number) => *number,
            VersionRef::Label(label) => *self.labels.get(label)?,
            VersionRef::Default => match self.labels.get(PRODUCTION_LABEL) {
                Some(number) => *number,
                None => return self.versions.last(),
            },
        };
        self.versions.iter().find(|version| version.version == number)
    }

    /// Whether keys of `gateway` may use it.
    pub fn serves(&self, gateway: GatewayId) -> bool {
        self.gateways.is_empty() || self.gateways.contains(&gateway)
    }
}

/// Which version a request names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionRef {
    /// `name`: the `production` label, else the latest.
    Default,
    /// `name@3`.
    Number(i64),
    /// `name:staging`.
    Label(String),
}

/// Reads `name`, `name@3` or `name:label`; `None` when what follows `@` is not a version
/// number or either part is empty.
pub fn prompt_reference(text: &str) -> Option<(&str, VersionRef)> {
    let text = text.trim();
    let (name, reference) = if let Some((name, number)) = text.split_once('@') {
        (name, VersionRef::Number(number.parse().ok().filter(|n: &i64| *n > 0)?))
    } else if let Some((name, label)) = text.split_once(':') {
        if label.is_empty() {
            return None;
        }
        (name, VersionRef::Label(label.to_string()))
    } else {
        (text, VersionRef::Default)
    };
    (!name.is_empty()).then_some((name, reference))
}

// Declared once: the management service takes it; the CLI builds it from its arguments.
// GraphQL names the gateways by global id and spells the template its own way, so its
// `CreatePromptInput` adds those two fields, flattens this and fills the skipped ones.
/// A new prompt and its first version.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "ssr", derive(async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(name = "NewPrompt"))]
pub struct NewPrompt {
    /// Unique.
    pub name: String,
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub description: String,
    /// Empty: every gateway.
    #[cfg_attr(feature = "ssr", graphql(skip))]
    pub gateways: Vec<GatewayId>,
    #[cfg_attr(feature = "ssr", graphql(skip))]
    pub template: PromptTemplate,
}

/// One version of a prompt over a time range: how the requests that used it did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject))]
pub struct VersionStats {
    pub version: i64,
    #[serde(flatten)]
    #[cfg_attr(feature = "ssr", graphql(flatten))]
    pub figures: super::RequestFigures,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_reference_names_the_default_a_number_or_a_label() {
        assert_eq!(prompt_reference("mail"), Some(("mail", VersionRef::Default)));
        assert_eq!(prompt_reference("mail@3"), Some(("mail", VersionRef::Number(3))));
        assert_eq!(
            prompt_reference("mail:staging"),
            Some(("mail", VersionRef::Label("staging".into())))
        );
        for bad in ["", "@3", "mail@", "mail@x", "mail@0", "mail:", ":x"] {
            assert_eq!(prompt_reference(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_default_version_is_production_else_the_latest() {
        let version = |version| PromptVersion {
            version,
            template: PromptTemplate::default(),
            created_at: 0,
        };
        let mut prompt = Prompt {
            id: PromptId(1),
            name: "p".into(),
            description: String::new(),
            gateways: Vec::new(),
            access_rule: None,
            cache: None,
            versions: vec![version(1), version(2), version(3)],
            labels: BTreeMap::new(),
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(prompt.version(&VersionRef::Default).unwrap().version, 3);
        prompt.labels.insert(PRODUCTION_LABEL.into(), 2);
        assert_eq!(prompt.version(&VersionRef::Default).unwrap().version, 2);
        assert_eq!(prompt.version(&VersionRef::Number(1)).unwrap().version, 1);
        assert_eq!(prompt.version(&VersionRef::Number(9)), None);
        assert_eq!(prompt.version(&VersionRef::Label("staging".into())), None);
    }

    #[test]
    fn parameter_types_accept_their_json_values() {
        assert!(ParameterType::Integer.accepts(&json!(5)));
        assert!(!ParameterType::Integer.accepts(&json!(5.5)));
        assert!(ParameterType::Number.accepts(&json!(5)));
        assert!(!ParameterType::String.accepts(&json!(5)));
        let spec: ParameterSpec = serde_json::from_value(json!({ "type": "string", "required": true })).unwrap();
        assert_eq!(
            (spec.kind, spec.required, spec.default),
            (ParameterType::String, true, None)
        );
    }
}
