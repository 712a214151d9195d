//! Named prompts in the console (issue #22): a template as its editor holds it (every field as
//! typed) and read back into a [`PromptTemplate`], the Prompts page's listing, a diff between
//! two versions, and a prompt's parameters as the playground's form types them.
//!
//! Invariant: `TemplateForm::of` then `TemplateForm::read` gives the template back, so "new
//! version" starts from exactly what the latest version holds.

use super::{ConsoleError, GatewayId, ParameterSpec, ParameterType, Prompt, PromptTemplate, TemplateMessage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One parameter row of the template editor, as typed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParameterForm {
    pub name: String,
    pub kind: ParameterType,
    pub required: bool,
    /// JSON (`"Sun"`, `3`, `true`, `["a"]`); for a string, text that is not JSON is the string
    /// itself. Empty: no default.
    pub default: String,
    pub description: String,
}

/// A template as the console's editor holds it: the rows and text fields as typed. It travels
/// as JSON in the form's `template` field; the server reads it with [`TemplateForm::read`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateForm {
    pub messages: Vec<TemplateMessage>,
    /// The model asked for when a request names none; empty: none.
    pub model: String,
    /// A JSON object of body fields (temperature, max_tokens, …); empty: none.
    pub params: String,
    pub parameters: Vec<ParameterForm>,
}

/// A refusal of the template, under the template editor: `part` names what is wrong in it, as
/// the management service names a template's faults (`params`, `parameters.brand`).
fn refused(part: &str, message: &str) -> ConsoleError {
    ConsoleError::invalid("template", format!("{part}: {message}"))
}

impl TemplateForm {
    /// A version's template, as its editor starts ("new version").
    pub fn of(template: &PromptTemplate) -> TemplateForm {
        let pretty = |value: &Value| serde_json::to_string_pretty(value).unwrap_or_default();
        TemplateForm {
            messages: template.messages.clone(),
            model: template.model.clone().unwrap_or_default(),
            params: if template.params.is_empty() {
                String::new()
            } else {
                pretty(&Value::Object(template.params.clone()))
            },
            parameters: (template.parameters.iter())
                .map(|(name, spec)| ParameterForm {
                    name: name.clone(),
                    kind: spec.kind,
                    required: spec.required,
                    default: spec.default.as_ref().map(Value::to_string).unwrap_or_default(),
                    description: spec.description.clone().unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// A new prompt's editor: a system message and a user message, both empty.
    pub fn blank() -> TemplateForm {
        let message = |role: &str| TemplateMessage {
            role: role.into(),
            content: String::new(),
        };
        TemplateForm {
            messages: vec![message("system"), message("user")],
            ..TemplateForm::default()
        }
    }

    /// The template the editor holds, or a refusal naming the part that cannot be read (the
    /// management service checks the rest: roles, what the messages use, defaults' types).
    pub fn read(self) -> Result<PromptTemplate, ConsoleError> {
        let params = match self.params.trim() {
            "" => Map::new(),
            text => match serde_json::from_str(text) {
                Ok(Value::Object(params)) => params,
                _ => return Err(refused("params", "write a JSON object, such as {\"temperature\": 0.2}")),
            },
        };
        let mut parameters = std::collections::BTreeMap::new();
        for row in self.parameters {
            let name = row.name.trim().to_string();
            if name.is_empty() {
                return Err(refused("parameters", "every parameter needs a name"));
            }
            let default = match row.default.trim() {
                "" => None,
                text => Some(match (serde_json::from_str(text), row.kind) {
                    (Ok(value), _) => value,
                    (Err(_), ParameterType::String) => Value::String(text.to_string()),
                    (Err(_), _) => {
                        return Err(refused(
                            &format!("parameters.{name}"),
                            "its default must be JSON (3, true, [\"a\"], {\"k\": 1})",
                        ))
                    }
                }),
            };
            let description = Some(row.description.trim().to_string()).filter(|d| !d.is_empty());
            let spec = ParameterSpec {
                kind: row.kind,
                required: row.required,
                default,
                description,
            };
            if parameters.insert(name.clone(), spec).is_some() {
                return Err(refused(&format!("parameters.{name}"), "it is declared twice"));
            }
        }
        let model = Some(self.model.trim().to_string()).filter(|m| !m.is_empty());
        Ok(PromptTemplate {
            messages: self.messages,
            model,
            params,
            parameters,
        })
    }
}

/// The Prompts page: every prompt, and the gateways' names (for the listing and the picker).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptsListing {
    pub prompts: Vec<Prompt>,
    pub gateways: Vec<(GatewayId, String)>,
}

/// The Prompts page's form for a new prompt, as typed: the server reads its gateways and
/// template into a [`NewPrompt`](super::NewPrompt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewPromptForm {
    pub name: String,
    pub description: String,
    /// Gateway ids, comma-separated; empty: every gateway.
    pub gateways: String,
    /// The editor's [`TemplateForm`], as JSON.
    pub template: String,
}

/// What a line of a diff is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineChange {
    Same,
    Added,
    Removed,
}

/// One line of a diff between two versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    pub change: LineChange,
    /// Without its line break.
    pub text: String,
}

/// A parameter's field in the playground as it starts: its default as one would type it (a
/// string as itself, a boolean as `true`/`false`, anything else as JSON); empty without one.
pub fn parameter_text(spec: &ParameterSpec) -> String {
    match &spec.default {
        None => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(value) => value.to_string(),
    }
}

/// The playground's parameter fields read into a request's `parameters`: `specs` by name, each
/// field's text from `typed`. An empty field is left out (the version's default applies, or the
/// gateway refuses a required one by name); a value that is not of its type is refused here,
/// naming the parameter.
pub fn parameter_values<'a>(
    specs: impl IntoIterator<Item = (&'a String, &'a ParameterSpec)>,
    typed: impl Fn(&str) -> Option<String>,
) -> Result<Map<String, Value>, String> {
    let mut values = Map::new();
    for (name, spec) in specs {
        let text = typed(name).unwrap_or_else(|| parameter_text(spec));
        let text = match spec.kind {
            // A string is sent as typed, spaces included.
            ParameterType::String if text.is_empty() => continue,
            ParameterType::String => {
                values.insert(name.clone(), Value::String(text));
                continue;
            }
            _ if text.trim().is_empty() => continue,
            _ => text.trim().to_string(),
        };
        let value = serde_json::from_str::<Value>(&text)
            .ok()
            .filter(|value| spec.kind.accepts(value))
            .ok_or_else(|| {
                let kind = match spec.kind {
                    ParameterType::Integer => "a whole number",
                    ParameterType::Number => "a number",
                    ParameterType::Boolean => "true or false",
                    ParameterType::Array => "a JSON array",
                    ParameterType::Object | ParameterType::String => "a JSON object",
                };
                format!("The parameter {name} must be {kind}.")
            })?;
        values.insert(name.clone(), value);
    }
    Ok(values)
}

/// A prompt named `name` whose versions (v1 first) hold `templates`, created at 0, for tests.
#[cfg(test)]
pub(crate) fn prompt_of(name: &str, templates: Vec<PromptTemplate>) -> Prompt {
    Prompt {
        id: super::PromptId(1),
        name: name.into(),
        description: String::new(),
        gateways: Vec::new(),
        access_rule: None,
        cache: None,
        versions: (templates.into_iter().zip(1..))
            .map(|(template, version)| super::PromptVersion {
                version,
                template,
                created_at: 0,
            })
            .collect(),
        labels: Default::default(),
        created_at: 0,
        updated_at: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(kind: ParameterType, required: bool, default: Option<Value>) -> ParameterSpec {
        ParameterSpec {
            kind,
            required,
            default,
            description: None,
        }
    }

    #[test]
    fn a_template_goes_into_its_editor_and_comes_back_the_same() {
        let template = PromptTemplate {
            messages: vec![TemplateMessage {
                role: "user".into(),
                content: "Write {{ count }} mails for {{ brand }}.".into(),
            }],
            model: Some("gpt-4o-mini".into()),
            params: json!({ "temperature": 0.2, "max_tokens": 64 })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            parameters: [
                ("brand".to_string(), spec(ParameterType::String, true, None)),
                ("count".to_string(), spec(ParameterType::Integer, false, Some(json!(3)))),
                ("who".to_string(), spec(ParameterType::String, false, Some(json!("")))),
            ]
            .into_iter()
            .collect(),
        };
        let form = TemplateForm::of(&template);
        assert_eq!(form.model, "gpt-4o-mini");
        assert_eq!(form.parameters[1].default, "3");
        assert_eq!(form.parameters[2].default, "\"\"", "an empty string default stays one");
        assert_eq!(form.read().unwrap(), template);
        let blank = TemplateForm::blank().read().unwrap();
        assert_eq!((blank.messages.len(), blank.model, blank.params.len()), (2, None, 0));
    }

    #[test]
    fn the_editors_text_is_read_into_a_template_or_refused_naming_the_part() {
        let row = |name: &str, kind, default: &str| ParameterForm {
            name: name.into(),
            kind,
            required: false,
            default: default.into(),
            description: " Who to greet ".into(),
        };
        let form = TemplateForm {
            messages: Vec::new(),
            model: "  ".into(),
            params: "{\"temperature\": 1}".into(),
            parameters: vec![row(" who ", ParameterType::String, "Sun and Sands")],
        };
        let read = form.clone().read().unwrap();
        let who = &read.parameters["who"];
        assert_eq!(
            who.default,
            Some(json!("Sun and Sands")),
            "a string's default may be plain text"
        );
        assert_eq!(who.description.as_deref(), Some("Who to greet"));
        assert_eq!((read.model, read.params["temperature"].clone()), (None, json!(1)));

        let refusal = |form: TemplateForm| {
            let error = form.read().unwrap_err();
            assert_eq!(error.field, "template", "shown under the editor");
            error.message
        };
        let params = TemplateForm {
            params: "[1]".into(),
            ..form.clone()
        };
        assert!(refusal(params).starts_with("params: "));
        let default = TemplateForm {
            parameters: vec![row("count", ParameterType::Integer, "three")],
            ..form.clone()
        };
        assert!(refusal(default).starts_with("parameters.count: "));
        let twice = TemplateForm {
            parameters: vec![row("a", ParameterType::String, ""), row("a", ParameterType::Number, "")],
            ..form.clone()
        };
        assert_eq!(refusal(twice), "parameters.a: it is declared twice");
        let unnamed = TemplateForm {
            parameters: vec![row(" ", ParameterType::String, "")],
            ..form
        };
        assert!(refusal(unnamed).starts_with("parameters: "));
    }

    #[test]
    fn the_playgrounds_parameter_fields_become_typed_values() {
        let specs: Vec<(String, ParameterSpec)> = vec![
            ("brand".into(), spec(ParameterType::String, true, None)),
            ("count".into(), spec(ParameterType::Integer, false, Some(json!(3)))),
            ("loud".into(), spec(ParameterType::Boolean, false, Some(json!(false)))),
            ("tags".into(), spec(ParameterType::Array, false, None)),
            ("ratio".into(), spec(ParameterType::Number, false, None)),
        ];
        assert_eq!(parameter_text(&specs[0].1), "");
        assert_eq!(parameter_text(&specs[1].1), "3");
        let typed = |fields: &[(&str, &str)]| {
            let fields: Vec<(String, String)> = fields.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            move |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
        };
        let values = parameter_values(
            specs.iter().map(|(n, s)| (n, s)),
            typed(&[
                ("brand", "Sun 3"),
                ("tags", "[\"a\"]"),
                ("loud", "true"),
                ("ratio", " "),
            ]),
        )
        .unwrap();
        assert_eq!(
            Value::Object(values),
            json!({ "brand": "Sun 3", "count": 3, "loud": true, "tags": ["a"] }),
            "untouched fields send their defaults; empty ones are left out"
        );
        let refused = parameter_values(specs.iter().map(|(n, s)| (n, s)), typed(&[("count", "3.5")]));
        assert_eq!(refused.unwrap_err(), "The parameter count must be a whole number.");
        let refused = parameter_values(specs.iter().map(|(n, s)| (n, s)), typed(&[("tags", "a, b")]));
        assert_eq!(refused.unwrap_err(), "The parameter tags must be a JSON array.");
    }
}
