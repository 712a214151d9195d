//! One route per file.

mod audit;
mod dashboard;
mod docs;
mod endpoints;
mod gateways;
mod keys;
mod login;
mod logs;
mod not_found;
mod playground;
mod prompts;
mod settings;

pub use audit::AuditPage;
pub use dashboard::DashboardPage;
pub use docs::DocsPage;
pub use endpoints::EndpointsPage;
pub use gateways::GatewaysPage;
pub use keys::KeysPage;
pub use login::LoginPage;
pub use logs::{LogDetailPage, LogsPage};
pub use not_found::NotFound;
pub use playground::PlaygroundPage;
pub use prompts::PromptsPage;
pub use settings::SettingsPage;
