//! Reusable pieces of the console: the signed-in layout, icons and page furniture.

mod cache;
pub mod chart;
mod erase;
mod figures;
mod form;
mod icons;
mod layout;
mod page;
mod secret;

pub use cache::{CacheFields, CACHE_FIELDS};
pub use erase::{Eager, Erase};
pub use figures::{figures_table, RangedFigures};
pub use form::{count_successes, focus_when_shown, reset_on_success, Refusal, SaveBar};
pub use icons::Icon;
pub use layout::{may_change, ConsoleLayout, ReadOnlyNotice, SignedIn};
pub use page::{use_hydrated, PageHeader};
pub use secret::{CopyButton, ShowOnce};
