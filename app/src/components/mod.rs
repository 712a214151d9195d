//! Reusable pieces of the console: the signed-in layout, icons and page furniture.

pub mod chart;
mod form;
mod icons;
mod layout;
mod page;

pub use form::{reset_on_success, Refusal};
pub use icons::Icon;
pub use layout::ConsoleLayout;
pub use page::{use_hydrated, ComingSoon, PageHeader};
