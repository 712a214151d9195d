//! Step 3, after a named prompt is rendered: the gateway's parameter policy (issue #22) —
//! refused fields refused, defaults set where the request left a field out, overrides set
//! over what it sent, numeric fields brought within their bounds — before the body is checked,
//! so admission reserves for what will be sent.
//!
//! Invariant: the body the policy leaves is what goes upstream (and what a gateway that logs
//! payloads logs); nothing later puts back what it took out or changed.

use super::error::ProxyError;
use app::types::{ParamPolicy, ParamValue};
use serde_json::{Map, Value};

/// A stored value (checked as JSON when written).
fn value(param: &ParamValue) -> Option<Value> {
    serde_json::from_str(&param.value).ok()
}

/// Applies `policy` to `body`; answers whether it changed anything.
pub(super) fn apply(policy: &ParamPolicy, body: &mut Map<String, Value>) -> Result<bool, ProxyError> {
    if policy.is_empty() {
        return Ok(false);
    }
    if let Some(denied) = policy
        .denied
        .iter()
        .find(|name| body.get(*name).is_some_and(|v| !v.is_null()))
    {
        return Err(ProxyError::BadRequest {
            message: format!("This gateway does not accept `{denied}`."),
            param: Some(denied.clone()),
        });
    }
    let mut changed = false;
    for param in &policy.defaults {
        if body.get(&param.name).is_none_or(Value::is_null) {
            if let Some(value) = value(param) {
                body.insert(param.name.clone(), value);
                changed = true;
            }
        }
    }
    for param in &policy.overrides {
        if let Some(value) = value(param) {
            changed |= body.insert(param.name.clone(), value.clone()).as_ref() != Some(&value);
        }
    }
    let bounded = |bounds: &[ParamValue], past: fn(f64, f64) -> bool, body: &mut Map<String, Value>| {
        let mut changed = false;
        for param in bounds {
            let (Some(bound), Some(sent)) = (value(param), body.get(&param.name).and_then(Value::as_f64)) else {
                continue;
            };
            if bound.as_f64().is_some_and(|limit| past(sent, limit)) {
                body.insert(param.name.clone(), bound);
                changed = true;
            }
        }
        changed
    };
    changed |= bounded(&policy.maxima, |sent, limit| sent > limit, body);
    changed |= bounded(&policy.minima, |sent, limit| sent < limit, body);
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn param(name: &str, value: Value) -> ParamValue {
        ParamValue {
            name: name.into(),
            value: value.to_string(),
        }
    }

    #[test]
    fn defaults_fill_overrides_replace_bounds_clamp_and_denied_fields_are_refused() {
        let policy = ParamPolicy {
            defaults: vec![param("max_tokens", json!(256)), param("temperature", json!(0.5))],
            overrides: vec![param("user", json!("gateway"))],
            maxima: vec![param("max_tokens", json!(512)), param("temperature", json!(1.0))],
            minima: vec![param("temperature", json!(0.1))],
            denied: vec!["logit_bias".into()],
        };
        let mut body = json!({ "max_tokens": 4096, "user": "me", "temperature": 0.0 });
        let body = body.as_object_mut().unwrap();
        assert!(apply(&policy, body).unwrap());
        assert_eq!(
            Value::Object(body.clone()),
            json!({ "max_tokens": 512, "user": "gateway", "temperature": 0.1 })
        );
        let mut empty = Map::new();
        apply(&policy, &mut empty).unwrap();
        assert_eq!(
            Value::Object(empty),
            json!({ "max_tokens": 256, "temperature": 0.5, "user": "gateway" })
        );
        let mut biased = json!({ "logit_bias": { "1": 5 } });
        let refused = apply(&policy, biased.as_object_mut().unwrap()).unwrap_err();
        assert!(matches!(refused, ProxyError::BadRequest { param: Some(p), .. } if p == "logit_bias"));
    }
}
