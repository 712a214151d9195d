//! One route per file.

mod dashboard;
mod endpoints;
mod gateways;
mod keys;
mod login;
mod not_found;
mod sections;

pub use dashboard::DashboardPage;
pub use endpoints::EndpointsPage;
pub use gateways::GatewaysPage;
pub use keys::KeysPage;
pub use login::LoginPage;
pub use not_found::NotFound;
pub use sections::{LogsPage, PlaygroundPage, SettingsPage};
