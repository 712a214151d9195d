//! Access rules (issue #23): CEL expressions over the end user's claims and the request,
//! compiled when written and evaluated per request. The variables: `user` (the verified
//! token's claims; empty without one), `request` (`model`, `path`, `stream`, `max_tokens`,
//! `prompt`), `gateway` (`name`) and `now` (Unix seconds). `list.includes(x)` is accepted as
//! an alias of `x in list` (the form the documentation we started from writes).
//!
//! Invariant: a rule that does not compile, or names a variable other than those four, is
//! refused when written, with its position; a rule whose evaluation fails, or yields anything
//! but `true`, denies.
//! Does not: echo claims in a refusal (the caller names the rule, never the values).

use serde_json::{Map, Value};
use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
};

/// The variables a rule may use.
pub const VARIABLES: [&str; 4] = ["user", "request", "gateway", "now"];

/// The longest rule accepted, in bytes.
pub const MAX_RULE_BYTES: usize = 4_096;

/// A compiled rule, with its text.
pub struct AccessRule {
    source: String,
    /// `None`: a stored rule that no longer compiles, which denies everything.
    program: Option<cel::Program>,
}

impl std::fmt::Debug for AccessRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AccessRule").field(&self.source).finish()
    }
}

/// What a rule is evaluated against.
pub struct Facts<'a> {
    /// The verified token's claims; `None` without an end user's token.
    pub user: Option<&'a Map<String, Value>>,
    /// Where those claims, converted for rules, are kept between requests (a remembered
    /// token's); `None`: converted for this evaluation only.
    pub user_view: Option<&'a ClaimsView>,
    pub model: Option<&'a str>,
    pub path: &'a str,
    pub stream: bool,
    pub max_tokens: Option<u64>,
    /// The named prompt, as the request wrote it.
    pub prompt: Option<&'a str>,
    pub gateway: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// The functions every evaluation shares, made once: CEL's own, and `includes`.
fn root() -> &'static cel::Context<'static> {
    static ROOT: OnceLock<cel::Context<'static>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let mut context = cel::Context::default();
        context.add_function("includes", cel::functions::contains);
        context
    })
}

/// Compiles `source`, or says what is wrong with it and where.
pub fn compile(source: &str) -> Result<AccessRule, String> {
    let source = source.trim();
    if source.is_empty() {
        return Err("is empty".into());
    }
    if source.len() > MAX_RULE_BYTES {
        return Err(format!("is longer than {MAX_RULE_BYTES} bytes"));
    }
    let program = cel::Program::compile(source).map_err(|faults| {
        let fault = faults.errors.first();
        match fault {
            Some(fault) if fault.pos.0 >= 0 => {
                // The parser counts lines from 1 and columns from 0.
                format!("line {}, column {}: {}", fault.pos.0, fault.pos.1 + 1, fault.msg)
            }
            Some(fault) => fault.msg.clone(),
            None => "does not parse".into(),
        }
    })?;
    let references = program.references();
    if let Some(unknown) = (references.variables().into_iter()).find(|name| !VARIABLES.contains(name)) {
        return Err(format!(
            "names `{unknown}`, which is not a variable here (use {})",
            VARIABLES.join(", ")
        ));
    }
    Ok(AccessRule {
        source: source.to_string(),
        program: Some(program),
    })
}

/// A stored rule as the snapshot holds it: compiled, or — should it no longer compile (it was
/// checked when written) — one that denies every request.
pub fn stored(source: &str) -> AccessRule {
    compile(source).unwrap_or_else(|fault| {
        tracing::error!(%fault, "a stored access rule does not compile: it denies every request");
        AccessRule {
            source: source.to_string(),
            program: None,
        }
    })
}

impl AccessRule {
    /// The rule as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the rule lets the request through: `Ok(true)` only for a `true` result;
    /// `Err` says why it could not be evaluated (the caller denies).
    pub fn allows(&self, facts: &Facts<'_>) -> Result<bool, String> {
        let mut context = root().new_inner_scope();
        let user = match (facts.user, facts.user_view) {
            (Some(claims), Some(view)) => view.of(claims)?.clone(),
            (Some(claims), None) => cel::to_value(claims).map_err(|e| e.to_string())?,
            (None, _) => cel::Value::from(HashMap::<&str, cel::Value>::new()),
        };
        let text = |value: Option<&str>| value.map_or(cel::Value::Null, cel::Value::from);
        let request = HashMap::from([
            ("model", text(facts.model)),
            ("path", cel::Value::from(facts.path)),
            ("stream", cel::Value::Bool(facts.stream)),
            (
                "max_tokens",
                facts.max_tokens.map_or(cel::Value::Null, cel::Value::UInt),
            ),
            ("prompt", text(facts.prompt)),
        ]);
        context.add_variable_from_value("user", user);
        context.add_variable_from_value("request", cel::Value::from(request));
        let gateway = HashMap::from([("name", cel::Value::from(facts.gateway))]);
        context.add_variable_from_value("gateway", cel::Value::from(gateway));
        context.add_variable_from_value("now", cel::Value::Int(facts.now));
        let Some(program) = &self.program else {
            return Err("the rule does not compile".into());
        };
        match program.execute(&context) {
            Ok(cel::Value::Bool(allowed)) => Ok(allowed),
            Ok(other) => Err(format!("yields {:?}, not a boolean", other.type_of())),
            Err(error) => Err(error.to_string()),
        }
    }
}

impl AccessRule {
    /// A group rule's value for an end user with `claims`: the group key they share with every
    /// user it gives the same value. A string is itself; a number or boolean its text; anything
    /// else — or an evaluation that fails (a claim missing) — is no group (`Err` says why).
    pub fn group_of(&self, claims: &Map<String, Value>) -> Result<String, String> {
        let mut context = root().new_inner_scope();
        context.add_variable_from_value("user", cel::to_value(claims).map_err(|e| e.to_string())?);
        let Some(program) = &self.program else {
            return Err("the rule does not compile".into());
        };
        match program.execute(&context) {
            Ok(cel::Value::String(key)) => Ok(key.to_string()),
            Ok(cel::Value::Int(n)) => Ok(n.to_string()),
            Ok(cel::Value::UInt(n)) => Ok(n.to_string()),
            Ok(cel::Value::Float(n)) => Ok(n.to_string()),
            Ok(cel::Value::Bool(b)) => Ok(b.to_string()),
            Ok(other) => Err(format!("yields {:?}, not a string", other.type_of())),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// An end user's claims as rules read them: converted once, at the first rule that reads them.
#[derive(Clone, Debug, Default)]
pub struct ClaimsView(OnceLock<cel::Value>);

impl PartialEq for ClaimsView {
    /// Views are caches: any two are alike.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl ClaimsView {
    /// `claims` converted (the first time) or as converted before.
    fn of(&self, claims: &Map<String, Value>) -> Result<&cel::Value, String> {
        if let Some(value) = self.0.get() {
            return Ok(value);
        }
        let value = cel::to_value(claims).map_err(|e| e.to_string())?;
        Ok(self.0.get_or_init(|| value))
    }
}

/// Each gateway's compiled rule, shared by the snapshot.
pub type Rules = std::collections::HashMap<app::types::GatewayId, Arc<AccessRule>>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts<'a>(user: Option<&'a Map<String, Value>>) -> Facts<'a> {
        Facts {
            user,
            user_view: None,
            model: Some("gpt-4o"),
            path: "/v1/chat/completions",
            stream: false,
            max_tokens: Some(256),
            prompt: None,
            gateway: "g",
            now: 1_700_000_000,
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn membership_is_written_with_in_or_with_the_documentations_includes() {
        let alice = claims(json!({ "sub": "alice", "groups": ["llm-open-ai-allowed", "staff"] }));
        let bob = claims(json!({ "sub": "bob", "groups": ["staff"] }));
        for source in [
            "'llm-open-ai-allowed' in user.groups",
            "user.groups.includes('llm-open-ai-allowed')",
        ] {
            let rule = compile(source).unwrap();
            assert_eq!(rule.allows(&facts(Some(&alice))), Ok(true), "{source}");
            assert_eq!(rule.allows(&facts(Some(&bob))), Ok(false), "{source}");
        }
    }

    #[test]
    fn the_request_gateway_and_time_are_variables_too() {
        let rule = compile(
            "request.model.startsWith('gpt-4') && request.max_tokens <= 512 && !request.stream \
             && gateway.name == 'g' && now > 0",
        )
        .unwrap();
        assert_eq!(rule.allows(&facts(None)), Ok(true));
        let mut long = facts(None);
        long.max_tokens = Some(4_096);
        assert_eq!(rule.allows(&long), Ok(false));
    }

    #[test]
    fn an_evaluation_that_fails_or_is_not_boolean_is_an_error() {
        // No token: `user` is empty, so `user.groups` does not exist.
        let rule = compile("'x' in user.groups").unwrap();
        assert!(rule.allows(&facts(None)).is_err());
        let number = compile("1 + 1").unwrap();
        assert!(number.allows(&facts(None)).is_err());
    }

    #[test]
    fn a_group_rule_names_the_group_by_a_claim_and_a_missing_claim_is_no_group() {
        let rule = compile("user.department").unwrap();
        let ada = claims(json!({ "sub": "ada", "department": "research" }));
        assert_eq!(rule.group_of(&ada), Ok("research".into()));
        let level = compile("user.level").unwrap();
        assert_eq!(level.group_of(&claims(json!({ "level": 3 }))), Ok("3".into()));
        assert!(rule.group_of(&claims(json!({ "sub": "bob" }))).is_err());
        assert!(compile("user.groups")
            .unwrap()
            .group_of(&claims(json!({ "groups": ["a"] })))
            .is_err());
    }

    #[test]
    fn a_rule_that_does_not_parse_or_names_an_unknown_variable_is_refused_with_where() {
        let fault = compile("user.groups.includes('x'").unwrap_err();
        assert!(fault.starts_with("line 1, column"), "{fault}");
        let unknown = compile("usr.admin == true").unwrap_err();
        assert!(
            unknown.contains("`usr`") && unknown.contains("user, request, gateway, now"),
            "{unknown}"
        );
        assert!(compile("  ").is_err());
        // A stored rule that no longer compiles denies everything.
        assert!(stored("user.groups.includes(").allows(&facts(None)).is_err());
        assert_eq!(stored("true").allows(&facts(None)), Ok(true));
        assert!(compile(&"a".repeat(MAX_RULE_BYTES + 1)).is_err());
    }
}
