//! Named prompts' templates (issue #22), checked when a version is written and rendered when a
//! request names one: the parameters bound (checked against the template's, defaults filled),
//! then each message rendered by minijinja in strict mode.
//!
//! Invariant: a template reaches nothing but its parameters — the environment has no loader,
//! no functions beyond minijinja's built-in filters and tests, and no globals; an undefined
//! variable is an error, never an empty string.
//! Invariant: what is rendered is the messages' content only; roles, the model and the params
//! come from the stored template as written.

use app::types::PromptTemplate;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// The roles a template's message may have.
const ROLES: [&str; 4] = ["system", "developer", "user", "assistant"];

/// Body fields a template's `params` may not set: the prompt's own, and the request's shape.
const NOT_PARAMS: [&str; 6] = ["messages", "model", "prompt", "parameters", "stream", "stream_options"];

/// What is wrong with a template, naming the part of it (`messages`, `parameters.<name>`, …).
#[derive(Debug, PartialEq, Eq)]
pub struct TemplateFault {
    pub field: String,
    pub message: String,
}

/// What is wrong with a request's parameters: the parameter, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct ParameterFault {
    pub name: String,
    pub message: String,
}

/// A request's parameters, bound: every one the template declares that has a value.
pub type Bound = Map<String, Value>;

fn environment() -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment
}

fn fault(field: impl Into<String>, message: impl Into<String>) -> TemplateFault {
    TemplateFault {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks a template as it is written: messages with known roles whose content compiles and
/// uses only declared parameters; parameters with identifier names and defaults of their own
/// type; params that do not set the request's shape.
pub fn check(template: &PromptTemplate) -> Result<(), TemplateFault> {
    if template.messages.is_empty() {
        return Err(fault("messages", "a template needs at least one message"));
    }
    for (name, spec) in &template.parameters {
        let identifier = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(fault(
                format!("parameters.{name}"),
                "a parameter's name is letters, digits and '_', not starting with a digit",
            ));
        }
        if let Some(default) = &spec.default {
            if !spec.kind.accepts(default) {
                return Err(fault(
                    format!("parameters.{name}"),
                    format!("its default is not of its type, {}", spec.kind.as_str()),
                ));
            }
        }
    }
    if let Some(field) = NOT_PARAMS.iter().find(|field| template.params.contains_key(**field)) {
        return Err(fault(
            format!("params.{field}"),
            format!("`{field}` is the request's own, not a template's param"),
        ));
    }
    let environment = environment();
    let declared: BTreeSet<&str> = template.parameters.keys().map(String::as_str).collect();
    for (index, message) in template.messages.iter().enumerate() {
        if !ROLES.contains(&message.role.as_str()) {
            return Err(fault(
                format!("messages.{index}.role"),
                format!("the role must be one of {}", ROLES.join(", ")),
            ));
        }
        let compiled = environment
            .template_from_str(&message.content)
            .map_err(|error| fault(format!("messages.{index}.content"), error.to_string()))?;
        let used = compiled.undeclared_variables(false);
        if let Some(unknown) = used.iter().find(|name| !declared.contains(name.as_str())) {
            return Err(fault(
                format!("messages.{index}.content"),
                format!("`{unknown}` is not one of the template's parameters"),
            ));
        }
    }
    Ok(())
}

/// Binds a request's parameters to the template's: each given one declared and of its type,
/// each required one given (or defaulted); the defaults filled in.
pub fn bind(template: &PromptTemplate, given: &Map<String, Value>) -> Result<Bound, ParameterFault> {
    if let Some(unknown) = given.keys().find(|name| !template.parameters.contains_key(*name)) {
        return Err(ParameterFault {
            name: unknown.clone(),
            message: format!("`{unknown}` is not a parameter of this prompt"),
        });
    }
    let mut bound = Map::new();
    for (name, spec) in &template.parameters {
        match given
            .get(name)
            .filter(|value| !value.is_null())
            .or(spec.default.as_ref())
        {
            Some(value) if spec.kind.accepts(value) => {
                bound.insert(name.clone(), value.clone());
            }
            Some(_) => {
                return Err(ParameterFault {
                    name: name.clone(),
                    message: format!("`{name}` must be of type {}", spec.kind.as_str()),
                })
            }
            None if spec.required => {
                return Err(ParameterFault {
                    name: name.clone(),
                    message: format!("`{name}` is required"),
                })
            }
            None => {}
        }
    }
    Ok(bound)
}

/// The template's messages rendered with `bound`, in OpenAI's shape.
pub fn render(template: &PromptTemplate, bound: &Bound) -> Result<Vec<Value>, String> {
    let environment = environment();
    let context = minijinja::Value::from_serialize(bound);
    (template.messages.iter())
        .map(|message| {
            let content = environment
                .render_str(&message.content, &context)
                .map_err(|error| error.to_string())?;
            Ok(json!({ "role": message.role, "content": content }))
        })
        .collect()
}

/// The request a template makes with `bound`, around the client's own `body`: the template's
/// params, then the client's fields over them; the rendered messages, then the client's own;
/// the client's model, else the template's. Refused (naming the field) when the client's
/// `messages` is not a list, or the template cannot be rendered with `bound`.
pub fn request(
    template: &PromptTemplate,
    bound: &Bound,
    body: Map<String, Value>,
) -> Result<Map<String, Value>, TemplateFault> {
    let mut messages = render(template, bound).map_err(|error| fault("parameters", error))?;
    let mut made = template.params.clone();
    for (field, value) in body {
        match field.as_str() {
            "prompt" | "parameters" => {}
            "messages" => match value {
                Value::Array(own) => messages.extend(own),
                Value::Null => {}
                _ => return Err(fault("messages", "`messages` must be an array")),
            },
            _ => {
                made.insert(field, value);
            }
        }
    }
    if made.get("model").is_none_or(Value::is_null) {
        if let Some(model) = &template.model {
            made.insert("model".into(), Value::String(model.clone()));
        }
    }
    made.insert("messages".into(), Value::Array(messages));
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::{ParameterSpec, ParameterType, TemplateMessage};

    fn template(content: &str, parameters: &[(&str, ParameterType, bool, Option<Value>)]) -> PromptTemplate {
        PromptTemplate {
            messages: vec![TemplateMessage {
                role: "user".into(),
                content: content.into(),
            }],
            parameters: (parameters.iter())
                .map(|(name, kind, required, default)| {
                    let spec = ParameterSpec {
                        kind: *kind,
                        required: *required,
                        default: default.clone(),
                        description: None,
                    };
                    (name.to_string(), spec)
                })
                .collect(),
            ..PromptTemplate::default()
        }
    }

    #[test]
    fn a_template_renders_its_parameters_and_fills_defaults() {
        let mail = template(
            "Write {{ count }} emails for {{ brand }}{% if firstname %} to {{ firstname }}{% endif %}.",
            &[
                ("count", ParameterType::Integer, false, Some(json!(3))),
                ("brand", ParameterType::String, true, None),
                ("firstname", ParameterType::String, false, Some(json!(""))),
            ],
        );
        check(&mail).unwrap();
        let given = json!({ "brand": "Sun and Sands", "firstname": "Joe" });
        let bound = bind(&mail, given.as_object().unwrap()).unwrap();
        let messages = render(&mail, &bound).unwrap();
        assert_eq!(messages[0]["content"], "Write 3 emails for Sun and Sands to Joe.");
    }

    #[test]
    fn missing_mistyped_and_unknown_parameters_are_named() {
        let mail = template(
            "{{ brand }} {{ count }}",
            &[
                ("brand", ParameterType::String, true, None),
                ("count", ParameterType::Integer, false, None),
            ],
        );
        let bind_of = |given: Value| bind(&mail, given.as_object().unwrap()).unwrap_err().name;
        assert_eq!(bind_of(json!({})), "brand");
        assert_eq!(bind_of(json!({ "brand": "x", "count": "five" })), "count");
        assert_eq!(bind_of(json!({ "brand": "x", "colour": "red" })), "colour");
        // An optional parameter left out is undefined, which strict rendering refuses.
        let bound = bind(&mail, json!({ "brand": "x" }).as_object().unwrap()).unwrap();
        assert!(render(&mail, &bound).is_err());
    }

    #[test]
    fn a_template_is_refused_for_undeclared_variables_bad_syntax_roles_and_params() {
        let undeclared = template("Hello {{ name }}", &[]);
        assert_eq!(check(&undeclared).unwrap_err().field, "messages.0.content");
        let unclosed = template("Hello {{ name", &[("name", ParameterType::String, true, None)]);
        assert_eq!(check(&unclosed).unwrap_err().field, "messages.0.content");
        let mut robot = template("hi", &[]);
        robot.messages[0].role = "robot".into();
        assert_eq!(check(&robot).unwrap_err().field, "messages.0.role");
        let mut streaming = template("hi", &[]);
        streaming.params.insert("stream".into(), json!(true));
        assert_eq!(check(&streaming).unwrap_err().field, "params.stream");
        let mistyped = template("{{ n }}", &[("n", ParameterType::Integer, false, Some(json!("x")))]);
        assert_eq!(check(&mistyped).unwrap_err().field, "parameters.n");
        assert!(check(&template("", &[])).is_ok());
        let empty = PromptTemplate::default();
        assert_eq!(check(&empty).unwrap_err().field, "messages");
    }
}
