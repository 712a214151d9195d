//! Reusable pieces of the console: the signed-in layout, icons and page furniture.

mod icons;
mod layout;
mod page;

pub use icons::Icon;
pub use layout::ConsoleLayout;
pub use page::{use_hydrated, ComingSoon, PageHeader};
