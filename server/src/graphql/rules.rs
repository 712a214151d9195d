//! Step 3 of a GraphQL request (see `graphql/mod.rs`): the rules every document follows before
//! a resolver runs — who may run it without credentials (one `login`), how many aliases it may
//! hold, what runs over a socket — and the codes errors raised before execution carry.

use super::{error, OverSocket, MAX_ALIASES, MAX_DOCUMENT_BYTES};
use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve, ResolveInfo,
    },
    parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet},
    ErrorExtensionValues, Positioned, ServerError, ServerResult, Value,
};
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

/// The rules every execution follows, HTTP or socket: resolvers are counted, and over a
/// socket only subscriptions run (queries and mutations are POSTed, where the transport and
/// alias rules apply), within the same alias limit.
pub(super) struct Rules(pub(super) Arc<AtomicU64>);

impl ExtensionFactory for Rules {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Rules(self.0.clone()))
    }
}

/// An error raised before execution, with its code.
fn early_error(message: String, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set("code", code);
    error
}

#[async_trait::async_trait]
impl Extension for Rules {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &async_graphql::Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // Over HTTP `post` refused a longer document before reading it; a socket's documents
        // are bounded here, before they are parsed.
        if query.len() > MAX_DOCUMENT_BYTES {
            return Err(early_error(
                format!("the document is longer than {MAX_DOCUMENT_BYTES} bytes"),
                error::code::BAD_REQUEST,
            ));
        }
        let document = next.run(ctx, query, variables).await?;
        if ctx.data_opt::<OverSocket>().is_some() {
            let subscriptions_only = match &document.operations {
                DocumentOperations::Single(operation) => operation.node.ty == OperationType::Subscription,
                DocumentOperations::Multiple(operations) => {
                    (operations.values()).all(|op| op.node.ty == OperationType::Subscription)
                }
            };
            if !subscriptions_only {
                return Err(early_error(
                    "only subscriptions run over the socket; POST queries and mutations".into(),
                    error::code::BAD_REQUEST,
                ));
            }
            if let Some(reason) = out_of_bounds(&document) {
                return Err(early_error(reason, error::code::VALIDATION_FAILED));
            }
        }
        Ok(document)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        next.run(ctx, info).await
    }
}

/// Whether a document is one mutation of one unaliased `login` (all a caller without
/// credentials may run: one password check per request).
pub(super) fn only_login(document: &ExecutableDocument) -> bool {
    let DocumentOperations::Single(operation) = &document.operations else {
        return false;
    };
    let operation = &operation.node;
    operation.ty == OperationType::Mutation
        && matches!(
            operation.selection_set.node.items.as_slice(),
            [item] if matches!(&item.node, Selection::Field(field)
                if field.node.name.node == "login" && field.node.alias.is_none())
        )
}

/// How many aliases a document holds, fragments included.
pub(super) fn aliases(document: &ExecutableDocument) -> usize {
    fn count(set: &Positioned<SelectionSet>) -> usize {
        (set.node.items.iter())
            .map(|item| match &item.node {
                Selection::Field(field) => usize::from(field.node.alias.is_some()) + count(&field.node.selection_set),
                Selection::InlineFragment(fragment) => count(&fragment.node.selection_set),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let operations: usize = match &document.operations {
        DocumentOperations::Single(operation) => count(&operation.node.selection_set),
        DocumentOperations::Multiple(operations) => operations.values().map(|op| count(&op.node.selection_set)).sum(),
    };
    operations
        + (document.fragments.values())
            .map(|fragment| count(&fragment.node.selection_set))
            .sum::<usize>()
}

/// Most selections a document may hold with every fragment spread expanded: spreads multiply
/// the work of validating and running a document without making it longer (8 fragments of 8
/// spreads each stand for 16 million selections), so they are counted as what they expand to.
pub(super) const MAX_SELECTIONS: usize = 5_000;

/// How many selections a document holds with every fragment spread expanded (saturating; a
/// fragment that spreads itself counts as too many).
pub(super) fn expanded_selections(document: &ExecutableDocument) -> usize {
    use async_graphql::{Name, Positioned as P};
    use std::collections::{HashMap, HashSet};
    struct Expansion<'d> {
        fragments: &'d HashMap<Name, P<async_graphql::parser::types::FragmentDefinition>>,
        sizes: HashMap<&'d Name, usize>,
        expanding: HashSet<&'d Name>,
    }
    impl<'d> Expansion<'d> {
        fn size(&mut self, set: &'d P<SelectionSet>) -> usize {
            let mut total = 0_usize;
            for item in &set.node.items {
                let size = match &item.node {
                    Selection::Field(field) => 1_usize.saturating_add(self.size(&field.node.selection_set)),
                    Selection::InlineFragment(fragment) => self.size(&fragment.node.selection_set),
                    Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node),
                };
                total = total.saturating_add(size);
            }
            total
        }

        fn fragment(&mut self, name: &'d Name) -> usize {
            if let Some(size) = self.sizes.get(name) {
                return *size;
            }
            if !self.expanding.insert(name) {
                return usize::MAX;
            }
            let size = match self.fragments.get(name) {
                Some(fragment) => self.size(&fragment.node.selection_set),
                None => 0,
            };
            self.expanding.remove(name);
            self.sizes.insert(name, size);
            size
        }
    }
    let mut expansion = Expansion {
        fragments: &document.fragments,
        sizes: HashMap::new(),
        expanding: HashSet::new(),
    };
    match &document.operations {
        DocumentOperations::Single(operation) => expansion.size(&operation.node.selection_set),
        DocumentOperations::Multiple(operations) => (operations.values())
            .map(|op| expansion.size(&op.node.selection_set))
            .fold(0, usize::saturating_add),
    }
}

/// Why a document may not run, if it breaks a bound checked before validation: too many
/// aliases, or too many selections once its fragments are expanded.
pub(super) fn out_of_bounds(document: &ExecutableDocument) -> Option<String> {
    let count = aliases(document);
    if count > MAX_ALIASES {
        return Some(format!(
            "the document has {count} aliases; the most allowed is {MAX_ALIASES}"
        ));
    }
    let selections = expanded_selections(document);
    if selections > MAX_SELECTIONS {
        return Some(format!(
            "the document's fragments expand to more than {MAX_SELECTIONS} selections ({})",
            if selections == usize::MAX {
                "without end".to_string()
            } else {
                selections.to_string()
            }
        ));
    }
    None
}

/// A document through the checks [`super::post`] makes before execution (its length, parsing,
/// aliases, expanded selections), then the schema's own validation (depth, complexity) with no
/// resolver run: what the GraphQL fuzz target drives (RELIABILITY Z-06). The errors' messages.
pub fn screen(query: &str) -> Result<(), Vec<String>> {
    if query.len() > MAX_DOCUMENT_BYTES {
        return Err(vec![format!("the document is longer than {MAX_DOCUMENT_BYTES} bytes")]);
    }
    let document = async_graphql::parser::parse_query(query).map_err(|error| vec![error.to_string()])?;
    if let Some(reason) = out_of_bounds(&document) {
        return Err(vec![reason]);
    }
    thread_local! {
        static SCREENING: (std::io::Result<tokio::runtime::Runtime>, super::ManagementSchema) = (
            tokio::runtime::Builder::new_current_thread().build(),
            super::builder().extension(ValidateOnly).finish(),
        );
    }
    let response = SCREENING.with(|(runtime, schema)| match runtime {
        Ok(runtime) => Ok(runtime.block_on(schema.execute(query))),
        Err(error) => Err(vec![format!("no runtime to validate on: {error}")]),
    })?;
    if response.errors.is_empty() {
        Ok(())
    } else {
        Err(response.errors.into_iter().map(|error| error.message).collect())
    }
}

/// Stops an execution once it is validated, before any resolver: [`screen`]'s schema has no
/// backend to resolve with.
struct ValidateOnly;

impl ExtensionFactory for ValidateOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ValidateOnly)
    }
}

#[async_trait::async_trait]
impl Extension for ValidateOnly {
    async fn execute(
        &self,
        _ctx: &ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: NextExecute<'_>,
    ) -> async_graphql::Response {
        async_graphql::Response::new(Value::Null)
    }
}

/// Gives every error a code: those raised before execution (parsing, validation, limits)
/// have none of their own.
pub(super) fn with_codes(mut response: async_graphql::Response) -> async_graphql::Response {
    for error in &mut response.errors {
        let has_code = error.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
        if !has_code {
            // Errors with a path and no code of ours are arguments async-graphql could not
            // read (`Failed to parse "Int"`): our resolvers give every error a code.
            let code = if error.path.is_empty() {
                error::code::VALIDATION_FAILED
            } else {
                error::code::BAD_USER_INPUT
            };
            error
                .extensions
                .get_or_insert_with(ErrorExtensionValues::default)
                .set("code", code);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(query).unwrap()
    }

    #[test]
    fn only_a_login_mutation_runs_without_credentials() {
        assert!(only_login(&parse(
            "mutation { login(email: \"a\", password: \"b\") { role } }"
        )));
        for refused in [
            "{ viewer { role } }",
            "mutation { login(email: \"a\", password: \"b\") { role } logout }",
            "mutation { a: login(email: \"a\", password: \"b\") { role } }",
            "mutation { login(email: \"a\", password: \"b\") { role } login(email: \"c\", password: \"d\") { role } }",
            "mutation A { login(email: \"a\", password: \"b\") { role } } mutation B { login(email: \"a\", password: \"b\") { role } }",
            "{ __schema { types { name } } }",
        ] {
            assert!(!only_login(&parse(refused)), "{refused}");
        }
    }

    #[test]
    fn fragment_spreads_count_as_what_they_expand_to() {
        let flat = parse("{ viewer { role } }");
        assert_eq!(expanded_selections(&flat), 2);
        let mut text = String::from("{ ...F0 }");
        for level in 0..8 {
            let spreads = format!("...F{} ", level + 1).repeat(8);
            text += &format!(" fragment F{level} on Query {{ viewer {{ role }} {spreads} }}");
        }
        text += " fragment F8 on Query { viewer { role } }";
        let fan_out = parse(&text);
        assert!(expanded_selections(&fan_out) > 16_000_000);
        assert!(out_of_bounds(&fan_out).unwrap().contains("fragments expand"));
        let cycle = parse("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }");
        assert_eq!(expanded_selections(&cycle), usize::MAX);
        assert!(out_of_bounds(&flat).is_none());
    }

    #[test]
    fn aliases_are_counted_everywhere() {
        let document = parse("{ a: viewer { b: role } ...F } fragment F on Query { c: viewer { role } }");
        assert_eq!(aliases(&document), 3);
    }
}
