//! Mutations of access: signing in and out, passwords, admin users and admin API tokens, each
//! recorded in the audit log.
//!
//! Invariant: `login` is the only operation that runs without credentials; `logout` and
//! `changePassword` need a session; everything else needs the `admin` role.

use super::{
    backend, caller, error,
    mutation::audit,
    query::ViewerNode,
    reader,
    types::{numeric_id, AdminTokenNode, AdminUserNode, NodeKind},
    writer,
};
use crate::{
    manage::{Actor, NewAdmin},
    secrets::Secret,
};
use app::types::{AdminRole, AdminTokenId, AdminUserId};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use serde_json::json;

/// A new admin user.
#[derive(InputObject)]
pub struct CreateAdminUserInput {
    pub email: String,
    /// At least 12 characters.
    pub password: String,
    #[graphql(default_with = "AdminRole::Admin")]
    pub role: AdminRole,
}

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
        let backend = backend(ctx);
        let caller = caller(ctx);
        let signed_in = backend
            .manage
            .sign_in(&email, Secret::new(password), caller.client)
            .await
            .map_err(error::manage)?;
        let cookie = crate::console::session_cookie(&backend.config, signed_in.token.expose());
        ctx.append_http_header(http::header::SET_COOKIE, cookie.to_string());
        let actor = Actor::admin(signed_in.user);
        audit(
            ctx,
            &actor,
            "admin.login",
            Some(("admin_user", actor.user.id.0)),
            json!({ "via": "graphql" }),
        )
        .await;
        Ok(ViewerNode(actor))
    }

    /// Ends the current console session and clears its cookie; false when the request was not
    /// made with a session.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let actor = reader(ctx)?;
        let backend = backend(ctx);
        let Some(session) = caller(ctx).session.as_deref() else {
            return Ok(false);
        };
        backend.manage.sign_out(session).await.map_err(error::manage)?;
        audit(
            ctx,
            actor,
            "admin.logout",
            Some(("admin_user", actor.user.id.0)),
            json!({}),
        )
        .await;
        let removal = crate::console::session_cookie_removal(&backend.config);
        ctx.append_http_header(http::header::SET_COOKIE, removal.to_string());
        Ok(true)
    }

    /// Changes the signed-in admin's own password; their other sessions end.
    async fn change_password(&self, ctx: &Context<'_>, current_password: String, new_password: String) -> Result<bool> {
        let actor = reader(ctx)?;
        if actor.kind != app::types::ActorKind::Admin {
            return Err(error::invalid(
                "currentPassword",
                "sign in to change your password; a token cannot",
            ));
        }
        backend(ctx)
            .manage
            .change_password(
                &actor.user,
                Secret::new(current_password),
                Secret::new(new_password),
                caller(ctx).session.as_deref(),
            )
            .await
            .map_err(error::manage)?;
        audit(
            ctx,
            actor,
            "admin.change_password",
            Some(("admin_user", actor.user.id.0)),
            json!({}),
        )
        .await;
        Ok(true)
    }

    async fn create_admin_user(&self, ctx: &Context<'_>, input: CreateAdminUserInput) -> Result<AdminUserNode> {
        let actor = writer(ctx)?;
        let manage = &backend(ctx).manage;
        let user = manage
            .create_admin(NewAdmin {
                email: input.email,
                password: Secret::new(input.password),
                role: input.role,
            })
            .await
            .map_err(error::manage)?;
        let details = json!({ "email": user.email, "role": user.role.as_str() });
        audit(ctx, actor, "admin.create", Some(("admin_user", user.id.0)), details).await;
        let account = manage.admin_account(user.id).await.map_err(error::manage)?;
        Ok(AdminUserNode(account))
    }

    async fn update_admin_user(&self, ctx: &Context<'_>, id: ID, input: UpdateAdminUserInput) -> Result<AdminUserNode> {
        let actor = writer(ctx)?;
        let id = AdminUserId(numeric_id(&id, NodeKind::AdminUser, "id")?);
        let account = backend(ctx)
            .manage
            .update_admin(id, input.role, input.disabled)
            .await
            .map_err(error::manage)?;
        let details =
            json!({ "email": account.user.email, "role": account.user.role.as_str(), "disabled": account.disabled });
        audit(ctx, actor, "admin.update", Some(("admin_user", id.0)), details).await;
        Ok(AdminUserNode(account))
    }

    /// Deletes an admin user with their sessions and tokens (never the last admin).
    async fn delete_admin_user(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let actor = writer(ctx)?;
        let number = AdminUserId(numeric_id(&id, NodeKind::AdminUser, "id")?);
        let manage = &backend(ctx).manage;
        let account = manage.admin_account(number).await.map_err(error::manage)?;
        manage.delete_admin(number).await.map_err(error::manage)?;
        let details = json!({ "email": account.user.email });
        audit(ctx, actor, "admin.delete", Some(("admin_user", number.0)), details).await;
        Ok(id)
    }

    /// Creates an admin API token acting as the caller; the token is in the answer this once.
    async fn create_admin_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateAdminApiTokenInput,
    ) -> Result<CreatedAdminApiToken> {
        let actor = writer(ctx)?;
        let created = backend(ctx)
            .manage
            .create_admin_token(actor, &input.name, input.role, input.expires_at)
            .await
            .map_err(error::manage)?;
        let token = created.token;
        let details = json!({ "name": token.name, "public_id": token.public_id, "role": token.role.as_str() });
        audit(
            ctx,
            actor,
            "admin_token.create",
            Some(("admin_api_token", token.id.0)),
            details,
        )
        .await;
        Ok(CreatedAdminApiToken {
            token: AdminTokenNode(token),
            secret: created.secret.expose().to_string(),
        })
    }

    /// Revokes an admin API token; it stops working at once.
    async fn revoke_admin_api_token(&self, ctx: &Context<'_>, id: ID) -> Result<AdminTokenNode> {
        let actor = writer(ctx)?;
        let id = AdminTokenId(numeric_id(&id, NodeKind::AdminApiToken, "id")?);
        let token = backend(ctx)
            .manage
            .revoke_admin_token(id)
            .await
            .map_err(error::manage)?;
        let details = json!({ "name": token.name, "public_id": token.public_id });
        audit(
            ctx,
            actor,
            "admin_token.revoke",
            Some(("admin_api_token", id.0)),
            details,
        )
        .await;
        Ok(AdminTokenNode(token))
    }
}
