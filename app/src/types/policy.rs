//! A gateway's parameter policy (issue #22): what it does to the fields of every chat,
//! completion and embedding request before the request is admitted — defaults for fields left
//! out, overrides always applied, bounds on numeric fields, and fields refused.

use serde::{Deserialize, Serialize};

/// A body field and a value, written as JSON (`0.2`, `512`, `"auto"`, `{"type": "json_object"}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "ParamValueInput"))]
pub struct ParamValue {
    pub name: String,
    /// JSON.
    pub value: String,
}

/// What a gateway does to requests' fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "ParamPolicyInput"))]
pub struct ParamPolicy {
    /// Set when a request leaves the field out.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub defaults: Vec<ParamValue>,
    /// Always set, over what a request sends.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub overrides: Vec<ParamValue>,
    /// Upper bounds of numeric fields: a larger value is lowered to the bound (`max_tokens`,
    /// `temperature`). A field left out stays out; pair a bound with a default to set it.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub maxima: Vec<ParamValue>,
    /// Lower bounds of numeric fields: a smaller value is raised to the bound.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub minima: Vec<ParamValue>,
    /// Fields a request may not send: refused (400) naming the field.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub denied: Vec<String>,
}

/// The words that start a policy's lines in the console's notation (the CLI's `--param-*`
/// flags without their prefix).
pub const POLICY_WORDS: [&str; 5] = ["default", "override", "max", "min", "deny"];

impl ParamPolicy {
    /// The policy one rule a line, as the console's form shows it: `default NAME=VALUE`,
    /// `override NAME=VALUE`, `max NAME=N`, `min NAME=N`, `deny NAME` (values as JSON).
    pub fn lines(&self) -> String {
        let pairs = |word: &str, values: &[ParamValue]| {
            (values.iter())
                .map(|ParamValue { name, value }| format!("{word} {name}={value}"))
                .collect::<Vec<_>>()
        };
        let mut lines = pairs(POLICY_WORDS[0], &self.defaults);
        lines.extend(pairs(POLICY_WORDS[1], &self.overrides));
        lines.extend(pairs(POLICY_WORDS[2], &self.maxima));
        lines.extend(pairs(POLICY_WORDS[3], &self.minima));
        lines.extend(self.denied.iter().map(|name| format!("{} {name}", POLICY_WORDS[4])));
        lines.join("\n")
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.defaults.is_empty()
            && self.overrides.is_empty()
            && self.maxima.is_empty()
            && self.minima.is_empty()
            && self.denied.is_empty()
    }
}
