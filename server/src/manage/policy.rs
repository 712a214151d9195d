//! A gateway's parameter policy (issue #22), checked when it is written: every value valid
//! JSON, every bound a number, no field named twice in one list, and none of the fields that
//! route a request or are the request itself.

use super::ManageError;
use app::types::{ParamPolicy, ParamValue, POLICY_WORDS};
use serde_json::Value;
use std::collections::HashSet;

/// Fields no policy may set, bound or refuse: what routes the request and what it is.
const NOT_POLICY: [&str; 6] = ["model", "messages", "prompt", "parameters", "stream", "input"];

fn field(name: &str) -> Result<&str, ManageError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ManageError::invalid("param_policy", "a field's name is empty"));
    }
    if NOT_POLICY.contains(&name) {
        return Err(ManageError::invalid(
            "param_policy",
            format!("`{name}` is the request's own; a policy cannot set, bound or refuse it"),
        ));
    }
    Ok(name)
}

fn values(list: &str, values: &[ParamValue], numbers: bool) -> Result<(), ManageError> {
    let mut seen = HashSet::new();
    for ParamValue { name, value } in values {
        let name = field(name)?;
        if !seen.insert(name) {
            return Err(ManageError::invalid(
                "param_policy",
                format!("{list} name `{name}` twice"),
            ));
        }
        let parsed: Value = serde_json::from_str(value).map_err(|_| {
            ManageError::invalid(
                "param_policy",
                format!("{list}: `{name}`'s value {value:?} is not JSON"),
            )
        })?;
        if numbers && !parsed.is_number() {
            return Err(ManageError::invalid(
                "param_policy",
                format!("{list}: `{name}`'s bound must be a number"),
            ));
        }
    }
    Ok(())
}

/// Checks a policy as it is written.
pub(super) fn check_policy(policy: &ParamPolicy) -> Result<(), ManageError> {
    values("defaults", &policy.defaults, false)?;
    values("overrides", &policy.overrides, false)?;
    values("maxima", &policy.maxima, true)?;
    values("minima", &policy.minima, true)?;
    let mut seen = HashSet::new();
    for name in &policy.denied {
        if !seen.insert(field(name)?) {
            return Err(ManageError::invalid(
                "param_policy",
                format!("denied names `{name}` twice"),
            ));
        }
    }
    Ok(())
}

/// One `name=value` pair as the CLI's flags and the console write it: the value read as JSON
/// when it is (`0.2`, `{"type": "json_object"}`), else as text (`auto`).
pub fn param_value(pair: &str) -> Result<ParamValue, ManageError> {
    let (name, value) = (pair.split_once('='))
        .ok_or_else(|| ManageError::invalid("param_policy", format!("{pair:?}: expected name=value")))?;
    let value = value.trim();
    let value = match serde_json::from_str::<Value>(value) {
        Ok(_) => value.to_string(),
        Err(_) => Value::String(value.to_string()).to_string(),
    };
    Ok(ParamValue {
        name: name.trim().to_string(),
        value,
    })
}

/// A policy written one rule a line, as the console's form holds it (what
/// [`ParamPolicy::lines`] writes): `default NAME=VALUE`, `override NAME=VALUE`, `max NAME=N`,
/// `min NAME=N`, `deny NAME`; blank lines are skipped. Not yet checked ([`check_policy`]).
pub fn policy_from_lines(text: &str) -> Result<ParamPolicy, ManageError> {
    let mut policy = ParamPolicy::default();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let list = match POLICY_WORDS.iter().position(|known| *known == word) {
            Some(0) => &mut policy.defaults,
            Some(1) => &mut policy.overrides,
            Some(2) => &mut policy.maxima,
            Some(3) => &mut policy.minima,
            Some(_) => {
                policy.denied.push(rest.trim().to_string());
                continue;
            }
            None => {
                return Err(ManageError::invalid(
                    "param_policy",
                    format!("{line:?}: a line starts with {}", POLICY_WORDS.join(", ")),
                ))
            }
        };
        list.push(param_value(rest)?);
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_reads_back_from_the_lines_it_is_written_as() {
        let value = |name: &str, value: &str| ParamValue {
            name: name.into(),
            value: value.into(),
        };
        let policy = ParamPolicy {
            defaults: vec![
                value("temperature", "0.2"),
                value("response_format", r#"{"type":"json_object"}"#),
            ],
            overrides: vec![value("tool_choice", r#""auto""#)],
            maxima: vec![value("max_tokens", "1024")],
            minima: vec![value("temperature", "0")],
            denied: vec!["logit_bias".into()],
        };
        let lines = policy.lines();
        assert_eq!(lines.lines().next(), Some("default temperature=0.2"));
        assert_eq!(policy_from_lines(&lines).unwrap(), policy);
        // Text that is not JSON is a string; blank lines are nothing.
        let typed = policy_from_lines("\n  override tool_choice=auto \n\n").unwrap();
        assert_eq!(typed.overrides, [value("tool_choice", r#""auto""#)]);
        assert_eq!(policy_from_lines("").unwrap(), ParamPolicy::default());
    }

    #[test]
    fn a_line_without_a_known_word_or_a_pair_is_refused_under_the_policy() {
        for bad in ["cap max_tokens=5", "default temperature"] {
            let refused = policy_from_lines(bad);
            assert!(
                matches!(
                    refused,
                    Err(ManageError::Invalid {
                        field: "param_policy",
                        ..
                    })
                ),
                "{bad}: {refused:?}"
            );
        }
    }
}
