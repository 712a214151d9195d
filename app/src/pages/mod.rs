//! One route per file.

mod dashboard;
mod login;
mod not_found;
mod sections;

pub use dashboard::DashboardPage;
pub use login::LoginPage;
pub use not_found::NotFound;
pub use sections::{EndpointsPage, GatewaysPage, KeysPage, LogsPage, PlaygroundPage, SettingsPage};
