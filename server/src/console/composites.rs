//! The Gateways page's composite models: the console's form read into the management service's
//! inputs (members in the CLI's notation, one a line), and each variant's figures over a range.
//!
//! Does not: check a composite; the management service does, naming the field it refuses.

use super::{backend::actor, Console};
use crate::manage::{composite_member, now_ms, ManageError};
use app::types::{
    AdminUser, CacheSettings, Change, CompositeForm, CompositeId, CompositeKind, CompositeMember, CompositeModel,
    CompositeUpdate, DashboardRange, GatewayId, NewComposite, OwnCacheForm, VariantStats,
};

/// The form's members, `[category:]target[=share]`, one a line (or comma-separated).
fn members(text: &str) -> Result<Vec<CompositeMember>, ManageError> {
    (text.split(['\n', ',']).map(str::trim))
        .filter(|member| !member.is_empty())
        .map(composite_member)
        .collect()
}

/// A blank field as "none".
fn given(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The form's own response cache settings; a blank mode is the gateway's (`None`).
pub(super) fn own_cache(form: &OwnCacheForm) -> Result<Option<CacheSettings>, ManageError> {
    form.settings().map_err(|(field, why)| ManageError::invalid(field, why))
}

impl Console {
    /// Adds a composite model of `kind` to `gateway`, as `admin`.
    pub(super) async fn add_composite(
        &self,
        admin: &AdminUser,
        gateway: GatewayId,
        kind: CompositeKind,
        form: CompositeForm,
    ) -> Result<CompositeModel, ManageError> {
        let new = NewComposite {
            gateway_id: gateway,
            name: form.name,
            kind,
            members: members(&form.members)?,
            sticky: form.sticky,
            mode: form.mode,
            judge: given(&form.judge),
            rubric: given(&form.rubric),
            cache: own_cache(&form.cache)?,
        };
        self.manage.create_composite(&actor(admin), new).await
    }

    /// Changes composite `id` to what its edit form shows, as `admin`: a blank judge or rubric
    /// removes it.
    pub(super) async fn change_composite(
        &self,
        admin: &AdminUser,
        id: CompositeId,
        form: CompositeForm,
    ) -> Result<CompositeModel, ManageError> {
        let update = CompositeUpdate {
            name: Some(form.name),
            members: Some(members(&form.members)?),
            sticky: Some(form.sticky),
            mode: Some(form.mode),
            judge: given(&form.judge).map_or(Change::Clear, Change::Set),
            rubric: given(&form.rubric).map_or(Change::Clear, Change::Set),
            cache: own_cache(&form.cache)?.map_or(Change::Clear, Change::Set),
        };
        self.manage.update_composite(&actor(admin), id, update).await
    }

    /// How each variant of composite `id` did over `range`, up to now.
    pub(super) async fn variants(
        &self,
        id: CompositeId,
        range: DashboardRange,
    ) -> Result<Vec<VariantStats>, ManageError> {
        let composite = self.manage.composite(id).await?;
        let to = now_ms();
        let from = to - range.step_ms() * range.buckets();
        self.manage.variant_stats(&composite, from, to).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_read_one_a_line_or_comma_separated_in_the_cli_notation() {
        let read = members("a:gpt-4o=0.8\n  b:llama3=0.2 \n\n").unwrap();
        let spelled: Vec<String> = read.iter().map(CompositeMember::spelled).collect();
        assert_eq!(spelled, ["a:gpt-4o=0.8", "b:llama3=0.2"]);
        assert_eq!(members("x, y=2").unwrap().len(), 2);
        let refused = members("a:gpt=lots").unwrap_err();
        assert!(
            matches!(refused, ManageError::Invalid { field: "members", .. }),
            "{refused:?}"
        );
    }
}
