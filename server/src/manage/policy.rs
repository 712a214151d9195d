//! A gateway's parameter policy (issue #22), checked when it is written: every value valid
//! JSON, every bound a number, no field named twice in one list, and none of the fields that
//! route a request or are the request itself.

use super::ManageError;
use app::types::{ParamPolicy, ParamValue};
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
