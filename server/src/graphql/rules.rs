//! Step 3 of a GraphQL request (see `graphql/mod.rs`): the rules every document follows before
//! a resolver runs — who may run it without credentials (one `login`), how many aliases it may
//! hold, what runs over a socket — and the codes errors raised before execution carry.

use super::{error, OverSocket, MAX_ALIASES};
use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextResolve, ResolveInfo},
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
            let count = aliases(&document);
            if count > MAX_ALIASES {
                return Err(early_error(
                    format!("the document has {count} aliases; the most allowed is {MAX_ALIASES}"),
                    error::code::VALIDATION_FAILED,
                ));
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
    fn aliases_are_counted_everywhere() {
        let document = parse("{ a: viewer { b: role } ...F } fragment F on Query { c: viewer { role } }");
        assert_eq!(aliases(&document), 3);
    }
}
