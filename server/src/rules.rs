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
    /// Which of [`VARIABLES`] it reads, in that order.
    reads: [bool; 4],
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
    let variables = references.variables();
    Ok(AccessRule {
        source: source.to_string(),
        reads: VARIABLES.map(|name| variables.contains(&name)),
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
            reads: [false; 4],
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
        // Only the variables the rule reads are made (a request's rules run on every request).
        let mut context = root().new_inner_scope();
        let [user, request, gateway, now] = self.reads;
        if user {
            context.add_variable_from_value("user", user_value(facts.user, facts.user_view)?);
        }
        if request {
            context.add_variable_from_value("request", request_value(facts));
        }
        if gateway {
            let [.., name] = keys();
            let gateway = HashMap::from([(name.clone(), cel::Value::from(facts.gateway))]);
            context.add_variable_from_value("gateway", cel_map(gateway));
        }
        if now {
            context.add_variable_from_value("now", cel::Value::Int(facts.now));
        }
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
    /// `view`: the claims already converted for rules (an end user's), else they are now.
    pub fn group_of(&self, claims: &Map<String, Value>, view: Option<&ClaimsView>) -> Result<String, String> {
        let mut context = root().new_inner_scope();
        context.add_variable_from_value("user", user_value(Some(claims), view)?);
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

/// The claims as a rule's `user`: the view's, converted once, when there is one; empty
/// without claims.
fn user_value(claims: Option<&Map<String, Value>>, view: Option<&ClaimsView>) -> Result<cel::Value, String> {
    match (claims, view) {
        (Some(claims), Some(view)) => Ok(view.of(claims)?.clone()),
        (Some(claims), None) => cel::to_value(claims).map_err(|e| e.to_string()),
        (None, _) => Ok(cel::Value::from(HashMap::<&str, cel::Value>::new())),
    }
}

/// The keys of the `request` and `gateway` maps, made once: `model`, `path`, `stream`,
/// `max_tokens`, `prompt`, and the gateway's `name`.
fn keys() -> &'static [cel::objects::Key; 6] {
    static KEYS: OnceLock<[cel::objects::Key; 6]> = OnceLock::new();
    KEYS.get_or_init(|| ["model", "path", "stream", "max_tokens", "prompt", "name"].map(cel::objects::Key::from))
}

fn cel_map(map: HashMap<cel::objects::Key, cel::Value>) -> cel::Value {
    cel::Value::Map(cel::objects::Map { map: Arc::new(map) })
}

/// The rule's `request`.
fn request_value(facts: &Facts<'_>) -> cel::Value {
    let [model, path, stream, max_tokens, prompt, _] = keys();
    let text = |value: Option<&str>| value.map_or(cel::Value::Null, cel::Value::from);
    cel_map(HashMap::from([
        (model.clone(), text(facts.model)),
        (path.clone(), cel::Value::from(facts.path)),
        (stream.clone(), cel::Value::Bool(facts.stream)),
        (
            max_tokens.clone(),
            facts.max_tokens.map_or(cel::Value::Null, cel::Value::UInt),
        ),
        (prompt.clone(), text(facts.prompt)),
    ]))
}

/// Each gateway's compiled rule, shared by the snapshot.
pub type Rules = std::collections::HashMap<app::types::GatewayId, Arc<AccessRule>>;

/// What access rule `rule` makes of a chat request to `gateway` for `model`, by an end user
/// with `claims`, at `now` (Unix seconds); or, when it does not compile, why and where. An
/// empty rule is no rule: everything passes. The rule testers of the console and of GraphQL's
/// `testAccessRule`; trying changes nothing.
pub fn try_rule(
    rule: &str,
    claims: &Map<String, Value>,
    model: Option<&str>,
    gateway: &str,
    now: i64,
) -> Result<app::types::RuleVerdict, String> {
    if rule.trim().is_empty() {
        return Ok(app::types::RuleVerdict {
            allowed: true,
            error: None,
        });
    }
    let compiled = compile(rule)?;
    let facts = Facts {
        user: Some(claims),
        user_view: None,
        model,
        path: "/v1/chat/completions",
        stream: false,
        max_tokens: None,
        prompt: None,
        gateway,
        now,
    };
    Ok(match compiled.allows(&facts) {
        Ok(allowed) => app::types::RuleVerdict { allowed, error: None },
        Err(error) => app::types::RuleVerdict {
            allowed: false,
            error: Some(error),
        },
    })
}

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
        assert_eq!(rule.group_of(&ada, None), Ok("research".into()));
        let level = compile("user.level").unwrap();
        assert_eq!(level.group_of(&claims(json!({ "level": 3 })), None), Ok("3".into()));
        assert!(rule.group_of(&claims(json!({ "sub": "bob" })), None).is_err());
        assert!(compile("user.groups")
            .unwrap()
            .group_of(&claims(json!({ "groups": ["a"] })), None)
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

    #[test]
    fn a_tried_rule_allows_denies_or_says_why_it_could_not() {
        let claims = |value: Value| value.as_object().unwrap().clone();
        let ada = claims(json!({ "sub": "ada", "groups": ["llm"] }));
        let bob = claims(json!({ "sub": "bob", "groups": [] }));
        let rule = "'llm' in user.groups && gateway.name == 'g' && request.model == 'gpt-4o'";
        let verdict = |claims, model| try_rule(rule, claims, model, "g", 1_700_000_000).unwrap();
        assert_eq!(
            verdict(&ada, Some("gpt-4o")),
            app::types::RuleVerdict {
                allowed: true,
                error: None
            }
        );
        assert!(!verdict(&bob, Some("gpt-4o")).allowed);
        assert!(!verdict(&ada, Some("o1")).allowed);
        // Claims without `groups`: the evaluation fails, which denies, and says why.
        let failed = try_rule(rule, &Map::new(), Some("gpt-4o"), "g", 0).unwrap();
        assert!(!failed.allowed && failed.error.is_some(), "{failed:?}");
        let fault = try_rule("'llm' in user.groups &&", &ada, None, "g", 0).unwrap_err();
        assert!(fault.starts_with("line 1, column"), "{fault}");
        assert!(try_rule("  ", &ada, None, "g", 0).unwrap().allowed, "no rule: all pass");
    }
}
