//! Mutations of access: signing in and out, passwords, admin users and admin API tokens, each
//! one management operation (which checks the caller's role and records the change).
//!
//! Invariant: `login` is the only operation that runs without credentials; `logout` and
//! `changePassword` need a session; everything else needs the `admin` role.

use super::{
    actor, backend, caller, error, manage,
    query::ViewerNode,
    types::{numeric_id, AdminTokenNode, AdminUserNode, NodeKind},
};
use crate::{manage::Actor, secrets::Secret};
use app::types::{AdminRole, AdminTokenId, AdminUserId, NewAdmin, Via};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};

/// Changes to an admin user.
#[derive(InputObject, Default)]
pub struct UpdateAdminUserInput {
    pub role: Option<AdminRole>,
    /// Disabling ends their sessions and stops their tokens.
    pub disabled: Option<bool>,
}

/// A new admin API token.
#[derive(InputObject)]
pub struct CreateAdminApiTokenInput {
    pub name: String,
    /// What it may do; never more than its creator.
    #[graphql(default_with = "AdminRole::Admin")]
    pub role: AdminRole,
    /// When it stops working, Unix milliseconds.
    pub expires_at: Option<i64>,
}

/// A created admin API token, with the token itself: shown this once, never again.
#[derive(SimpleObject)]
pub struct CreatedAdminApiToken {
    pub token: AdminTokenNode,
    /// Send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

#[derive(Default)]
pub struct AccessMutation;

#[Object]
impl AccessMutation {
    /// Signs in with an e-mail address and password, and sets the console's session cookie.
    async fn login(&self, ctx: &Context<'_>, email: String, password: String) -> Result<ViewerNode> {
        let client = caller(ctx).client;
        let signed_in = (manage(ctx)
            .sign_in(&email, Secret::new(password), client, Via::Graphql)
            .await)
            .map_err(error::manage)?;
        let cookie = crate::console::session_cookie(&backend(ctx).config, signed_in.token.expose());
        ctx.append_http_header(http::header::SET_COOKIE, cookie.to_string());
        Ok(ViewerNode(Actor::admin(signed_in.user, Via::Graphql)))
    }

    /// Ends the current console session and clears its cookie; false when the request was not
    /// made with a session.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        actor(ctx)?;
        let Some(session) = caller(ctx).session.as_deref() else {
            return Ok(false);
        };
        manage(ctx)
            .sign_out(session, Via::Graphql)
            .await
            .map_err(error::manage)?;
        let removal = crate::console::session_cookie_removal(&backend(ctx).config);
        ctx.append_http_header(http::header::SET_COOKIE, removal.to_string());
        Ok(true)
    }

    /// Changes the signed-in admin's own password; their other sessions end.
    async fn change_password(&self, ctx: &Context<'_>, current_password: String, new_password: String) -> Result<bool> {
        let keep = caller(ctx).session.as_deref();
        let (current, new) = (Secret::new(current_password), Secret::new(new_password));
        (manage(ctx).change_password(actor(ctx)?, current, new, keep).await).map_err(error::manage)?;
        Ok(true)
    }

    async fn create_admin_user(&self, ctx: &Context<'_>, input: NewAdmin) -> Result<AdminUserNode> {
        let user = manage(ctx)
            .create_admin(actor(ctx)?, input)
            .await
            .map_err(error::manage)?;
        let account = manage(ctx).admin_account(user.id).await.map_err(error::manage)?;
        Ok(AdminUserNode(account))
    }

    async fn update_admin_user(&self, ctx: &Context<'_>, id: ID, input: UpdateAdminUserInput) -> Result<AdminUserNode> {
        let id = AdminUserId(numeric_id(&id, NodeKind::AdminUser, "id")?);
        let account = (manage(ctx)
            .update_admin(actor(ctx)?, id, input.role, input.disabled)
            .await)
            .map_err(error::manage)?;
        Ok(AdminUserNode(account))
    }

    /// Deletes an admin user with their sessions and tokens (never the last admin).
    async fn delete_admin_user(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let number = AdminUserId(numeric_id(&id, NodeKind::AdminUser, "id")?);
        manage(ctx)
            .delete_admin(actor(ctx)?, number)
            .await
            .map_err(error::manage)?;
        Ok(id)
    }

    /// Creates an admin API token acting as the caller; the token is in the answer this once.
    async fn create_admin_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateAdminApiTokenInput,
    ) -> Result<CreatedAdminApiToken> {
        let created = manage(ctx)
            .create_admin_token(actor(ctx)?, &input.name, input.role, input.expires_at)
            .await
            .map_err(error::manage)?;
        Ok(CreatedAdminApiToken {
            token: AdminTokenNode(created.token),
            secret: created.secret.expose().to_string(),
        })
    }

    /// Revokes an admin API token; it stops working at once.
    async fn revoke_admin_api_token(&self, ctx: &Context<'_>, id: ID) -> Result<AdminTokenNode> {
        let id = AdminTokenId(numeric_id(&id, NodeKind::AdminApiToken, "id")?);
        let token = manage(ctx)
            .revoke_admin_token(actor(ctx)?, id)
            .await
            .map_err(error::manage)?;
        Ok(AdminTokenNode(token))
    }
}
