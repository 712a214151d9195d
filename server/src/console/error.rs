//! A management refusal as the console's error: converted here, once, for every server
//! function. The field keeps `manage`'s name, which is the form field's (snake_case on both).

use crate::manage::ManageError;
use app::types::{ConsoleError, ErrorKind};

impl From<ManageError> for ConsoleError {
    fn from(error: ManageError) -> Self {
        let message = error.to_string();
        match error {
            ManageError::Invalid { field, message } => ConsoleError::invalid(field, message),
            ManageError::Conflict { field, message } => ConsoleError {
                kind: ErrorKind::Conflict,
                field: field.unwrap_or_default().to_string(),
                message,
            },
            ManageError::NotFound => ConsoleError::new(ErrorKind::NotFound, "it no longer exists; reload the page"),
            ManageError::Forbidden => ConsoleError::new(ErrorKind::Forbidden, message),
            ManageError::Unauthorized => ConsoleError::new(ErrorKind::Unauthenticated, message),
            ManageError::Throttled { .. } => ConsoleError::new(ErrorKind::Throttled, message),
            ManageError::Internal { .. } => ConsoleError::new(ErrorKind::Internal, message),
        }
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
}
