//! Server functions: the console's calls to the server. Thin: each checks the session and calls
//! the management service through [`ConsoleBackend`], which the server provides as context.
//!
//! Does not: touch the database, or decide any business rule.

use crate::types::Overview;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub use backend::*;

#[cfg(feature = "ssr")]
mod backend {
    use crate::types::{AdminUser, Overview};
    use leptos::prelude::*;
    use std::{future::Future, pin::Pin, sync::Arc};

    /// A boxed future, so that [`ConsoleBackend`] can be used as a trait object.
    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    /// What the console needs from the server's management service. The server implements it
    /// and provides an `Arc<dyn ConsoleBackend>` as Leptos context; `app` never depends on
    /// `server`.
    pub trait ConsoleBackend: Send + Sync + 'static {
        /// Counts for the dashboard.
        fn overview(&self) -> BoxFuture<'_, Result<Overview, String>>;
    }

    /// The backend the server provided.
    pub fn console_backend() -> Result<Arc<dyn ConsoleBackend>, ServerFnError> {
        use_context::<Arc<dyn ConsoleBackend>>()
            .ok_or_else(|| ServerFnError::new("console backend missing from context"))
    }

    /// A value the server's middleware put into this request's extensions (for example the
    /// signed-in [`AdminUser`]); `None` outside a request.
    pub fn request_extension<T: Clone + Send + Sync + 'static>() -> Option<T> {
        use_context::<axum::http::request::Parts>().and_then(|parts| parts.extensions.get::<T>().cloned())
    }

    /// The signed-in admin, or an error when the request has no valid session.
    pub fn require_admin() -> Result<AdminUser, ServerFnError> {
        request_extension::<AdminUser>().ok_or_else(|| ServerFnError::new("not signed in"))
    }
}

/// Counts of what is configured, for the dashboard.
#[server(prefix = "/api", endpoint = "dashboard_overview")]
pub async fn dashboard_overview() -> Result<Overview, ServerFnError> {
    require_admin()?;
    console_backend()?.overview().await.map_err(ServerFnError::new)
}
