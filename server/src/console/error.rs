//! A management refusal as the console's error: converted here, once, for every server
//! function. The field keeps `manage`'s name, which is the form field's (snake_case on both);
//! a part of a field (`members.share`) is shown under the form field that holds it (`members`).
//! `manage` words a refusal for its field ("must be at least 1", the way GraphQL shows it beside
//! the field's name); the console shows it as a sentence with the field named for people ("The
//! requests per minute must be at least 1.").

use crate::manage::ManageError;
use app::types::{ConsoleError, ErrorKind};

impl From<ManageError> for ConsoleError {
    fn from(error: ManageError) -> Self {
        let message = error.to_string();
        match error {
            ManageError::Invalid { field, message } => {
                let field = form_field(field);
                ConsoleError::invalid(field, sentence(field, &message))
            }
            ManageError::Conflict { field, message } => {
                let field = form_field(field.unwrap_or_default());
                ConsoleError {
                    kind: ErrorKind::Conflict,
                    field: field.to_string(),
                    message: sentence(field, &message),
                }
            }
            ManageError::NotFound => ConsoleError::new(ErrorKind::NotFound, "It no longer exists; reload the page."),
            ManageError::Forbidden => ConsoleError::new(ErrorKind::Forbidden, message),
            ManageError::Unauthorized => ConsoleError::new(ErrorKind::Unauthenticated, message),
            ManageError::Throttled { .. } => ConsoleError::new(ErrorKind::Throttled, message),
            ManageError::Internal { .. } => ConsoleError::new(ErrorKind::Internal, message),
            ManageError::Unavailable => ConsoleError::new(ErrorKind::Unavailable, sentence("", &message)),
        }
    }
}

/// The form field that holds `field`: itself, or the first part of a dotted name.
fn form_field(field: &str) -> &str {
    field.split('.').next().unwrap_or(field)
}

/// A field as people call it, with its article.
fn subject(field: &str) -> String {
    let named = match field {
        "base_url" => "the base URL",
        "api_key" => "the API key",
        "api_version" => "the Azure api-version",
        "deployment" => "the Azure deployment",
        "project" => "the Google Cloud project",
        "rpm_limit" => "the requests per minute",
        "tpm_limit" => "the tokens per minute",
        "gateway_id" | "gateway" => "the gateway",
        "parent" => "the parent key",
        "allowed_models" => "the allowed models",
        "expires_at" | "expires_in_days" => "the expiry",
        "max_attempts" => "the number of attempts",
        "backoff_base_ms" => "the back-off base",
        "backoff_cap_ms" => "the back-off cap",
        "deadline_ms" => "the deadline",
        "model_aliases" => "a model alias",
        "new_password" => "the new password",
        "current_password" => "that",
        "endpoints" => "the endpoint list",
        "access" => "the access rule",
        "leeway_s" => "the clock skew",
        "jwks_url" => "the JWKS URL",
        "secret_env" => "the environment variable",
        "user_limits" => "the per-user limits",
        "group_limits" => "the per-group limits",
        "group_rule" => "the group rule",
        "max_tokens_per_prompt" => "the cap per prompt",
        "" => "it",
        other => return format!("the {}", other.replace('_', " ")),
    };
    named.to_string()
}

/// `manage`'s words for a field as a sentence: a predicate ("must …", "is …") gets the field as
/// its subject; anything else is capitalised; either way it ends with a full stop.
fn sentence(field: &str, message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    const PREDICATES: [&str; 11] = [
        "must ", "is ", "are ", "has ", "have ", "was ", "cannot ", "needs ", "does ", "should ", "may ",
    ];
    let text = if PREDICATES.iter().any(|verb| message.starts_with(verb)) {
        format!("{} {message}", subject(field))
    } else {
        message.to_string()
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_a_4xx_under_its_field_and_only_a_failure_is_a_500() {
        let invalid = ConsoleError::from(ManageError::invalid("base_url", "is not a valid URL"));
        assert_eq!((invalid.status(), invalid.field.as_str()), (400, "base_url"));
        let taken = ConsoleError::from(ManageError::Conflict {
            field: Some("name"),
            message: "taken".into(),
        });
        assert_eq!((taken.status(), taken.field.as_str()), (409, "name"));
        assert_eq!(ConsoleError::from(ManageError::Forbidden).status(), 403);
        assert_eq!(ConsoleError::from(ManageError::NotFound).status(), 404);
        assert_eq!(ConsoleError::from(ManageError::internal("boom")).status(), 500);
    }

    #[test]
    fn a_refusal_of_part_of_a_field_shows_under_the_form_field_that_holds_it() {
        let refused = ConsoleError::from(ManageError::invalid(
            "members.share",
            "the ratios must add up to 1; they add up to 1.2",
        ));
        assert_eq!(refused.field, "members");
        assert_eq!(refused.message, "The ratios must add up to 1; they add up to 1.2.");
    }

    #[test]
    fn refusals_read_as_sentences_naming_the_field() {
        let said = |field, message: &str| ConsoleError::from(ManageError::invalid(field, message.to_string())).message;
        assert_eq!(
            said("rpm_limit", "must be at least 1"),
            "The requests per minute must be at least 1."
        );
        assert_eq!(
            said("api_key", "is required for Anthropic"),
            "The API key is required for Anthropic."
        );
        assert_eq!(said("gateway_id", "no such gateway"), "No such gateway.");
        assert_eq!(
            said("model_aliases", "\"fast\" is given twice"),
            "\"fast\" is given twice."
        );
        assert_eq!(
            said("current_password", "is not your current password"),
            "That is not your current password."
        );
        assert_eq!(said("model_aliases", "“x” is not an alias."), "“x” is not an alias.");
        assert_eq!(
            said("limits", "\"a\": use METRIC/PERIOD=VALUE"),
            "\"a\": use METRIC/PERIOD=VALUE."
        );
        let taken = ConsoleError::from(ManageError::Conflict {
            field: Some("name"),
            message: "is taken".into(),
        });
        assert_eq!(taken.message, "The name is taken.");
    }

    #[test]
    fn end_users_fields_are_named_for_people() {
        let said = |field, message: &str| ConsoleError::from(ManageError::invalid(field, message.to_string())).message;
        assert_eq!(
            said("max_tokens_per_prompt", "must be at least 1"),
            "The cap per prompt must be at least 1."
        );
        assert_eq!(
            said("leeway_s", "must not be negative"),
            "The clock skew must not be negative."
        );
        assert_eq!(
            said("secret_env", "is required for HS256"),
            "The environment variable is required for HS256."
        );
        for (field, named) in [
            ("access", "The access rule"),
            ("jwks_url", "The JWKS URL"),
            ("user_limits", "The per-user limits"),
            ("group_limits", "The per-group limits"),
            ("group_rule", "The group rule"),
        ] {
            let message = said(field, "is wrong");
            assert_eq!(message, format!("{named} is wrong."), "{field}");
            assert_eq!(ConsoleError::from(ManageError::invalid(field, "is wrong")).field, field);
        }
    }
}
