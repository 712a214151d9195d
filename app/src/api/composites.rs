//! The composite models' server functions (the Gateways page): add, edit and remove a
//! gateway's composites, and read how each variant did. The members arrive as typed (the CLI's
//! notation, one a line); the server reads them.

#[cfg(feature = "ssr")]
use super::{console_backend, refused, require_admin};
#[cfg(feature = "ssr")]
use crate::types::{CompositeForm, CompositeId, GatewayId, OwnCacheForm};
use crate::types::{CompositeKind, CompositeModel, ConsoleError, DashboardRange, Json, MultiMode, VariantStats};
use leptos::prelude::*;

/// The form's fields as the server reads them (a checkbox is sent only when ticked; fields the
/// chosen kind does not show are not sent).
#[cfg(feature = "ssr")]
fn form(
    name: String,
    members: String,
    sticky: Option<String>,
    mode: Option<MultiMode>,
    judge: String,
    rubric: String,
    cache: OwnCacheForm,
) -> CompositeForm {
    CompositeForm {
        name,
        members,
        sticky: sticky.is_some(),
        mode: mode.unwrap_or_default(),
        judge,
        rubric,
        cache,
    }
}

/// A form's own response cache fields (a composite's, sent for `load` and `ab` only; a
/// prompt's).
#[cfg(feature = "ssr")]
pub(super) fn own_cache(
    mode: String,
    ttl: String,
    max_entry: String,
    collapse: Option<String>,
    embedding: String,
    similarity: String,
) -> OwnCacheForm {
    OwnCacheForm {
        mode,
        ttl,
        max_entry,
        collapse: collapse.is_some(),
        embedding,
        similarity,
    }
}

/// Adds a composite model to gateway `gateway_id`.
#[server(prefix = "/api", endpoint = "composites_create", output = Json)]
pub async fn create_composite(
    gateway_id: i64,
    name: String,
    kind: CompositeKind,
    #[server(default)] members: String,
    #[server(default)] sticky: Option<String>,
    #[server(default)] mode: Option<MultiMode>,
    #[server(default)] judge: String,
    #[server(default)] rubric: String,
    #[server(default)] cache: String,
    #[server(default)] cache_ttl: String,
    #[server(default)] cache_max_entry: String,
    #[server(default)] cache_collapse: Option<String>,
    #[server(default)] cache_embedding: String,
    #[server(default)] cache_similarity: String,
) -> Result<CompositeModel, ConsoleError> {
    let admin = require_admin()?;
    let cache = own_cache(
        cache,
        cache_ttl,
        cache_max_entry,
        cache_collapse,
        cache_embedding,
        cache_similarity,
    );
    let form = form(name, members, sticky, mode, judge, rubric, cache);
    console_backend()?
        .create_composite(&admin, GatewayId(gateway_id), kind, form)
        .await
        .map_err(refused)
}

/// Changes composite `id` from its edit form: every field as the form shows it (a blank judge
/// or rubric removes it).
#[server(prefix = "/api", endpoint = "composites_update", output = Json)]
pub async fn update_composite(
    id: i64,
    name: String,
    #[server(default)] members: String,
    #[server(default)] sticky: Option<String>,
    #[server(default)] mode: Option<MultiMode>,
    #[server(default)] judge: String,
    #[server(default)] rubric: String,
    #[server(default)] cache: String,
    #[server(default)] cache_ttl: String,
    #[server(default)] cache_max_entry: String,
    #[server(default)] cache_collapse: Option<String>,
    #[server(default)] cache_embedding: String,
    #[server(default)] cache_similarity: String,
) -> Result<CompositeModel, ConsoleError> {
    let admin = require_admin()?;
    let cache = own_cache(
        cache,
        cache_ttl,
        cache_max_entry,
        cache_collapse,
        cache_embedding,
        cache_similarity,
    );
    let form = form(name, members, sticky, mode, judge, rubric, cache);
    console_backend()?
        .update_composite(&admin, CompositeId(id), form)
        .await
        .map_err(refused)
}

/// Removes composite `id`.
#[server(prefix = "/api", endpoint = "composites_delete", output = Json)]
pub async fn delete_composite(id: i64) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    console_backend()?
        .delete_composite(&admin, CompositeId(id))
        .await
        .map_err(refused)
}

/// How each variant of composite `id` did over `range`, up to now.
#[server(prefix = "/api", endpoint = "composites_variants", output = Json)]
pub async fn composite_variants(id: i64, range: DashboardRange) -> Result<Vec<VariantStats>, ConsoleError> {
    require_admin()?;
    console_backend()?
        .variant_stats(CompositeId(id), range)
        .await
        .map_err(refused)
}
