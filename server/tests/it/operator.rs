//! The management service as the tests drive it: every change as the local operator (the
//! CLI's actor, audited like any other), and endpoints and gateways named the way the tests
//! name them. Names are resolved to ids here, as the CLI resolves them.

use app::types::{AdminRole, AdminUser, Gateway, GatewayId, GatewayKey, InferenceEndpoint, ModelPrice};
use app::types::{CacheSettings, CompositeModel, CompositeUpdate, NewComposite, NewPrompt, Prompt, PromptTemplate};
use app::types::{EndpointUpdate, GatewayUpdate, KeyUpdate, NewAdmin, NewEndpoint, NewGateway, NewKey};
use app::types::{Guardrail, IdentityProvider, NewGuardrail, NewIdentityProvider};
use server::manage::{Actor, CreatedKey, CreatedToken, Manage, ManageError};
use std::time::Duration;

/// The operator acting on `manage`.
pub fn op(manage: &Manage) -> Op<'_> {
    Op(manage, Actor::cli())
}

/// The operator acting on `manage` as `actor`.
pub fn op_as(manage: &Manage, actor: Actor) -> Op<'_> {
    Op(manage, actor)
}

pub struct Op<'a>(pub &'a Manage, pub Actor);

impl Op<'_> {
    pub async fn gateway_id(&self, name: &str) -> GatewayId {
        self.0.gateway_id(name).await.expect("the gateway exists")
    }

    pub async fn create_endpoint(&self, new: NewEndpoint) -> Result<InferenceEndpoint, ManageError> {
        self.0.create_endpoint(&self.1, new).await
    }

    pub async fn update_endpoint(&self, name: &str, update: EndpointUpdate) -> Result<InferenceEndpoint, ManageError> {
        let id = self.0.endpoint_id(name).await?;
        self.0.update_endpoint(&self.1, id, update).await
    }

    pub async fn delete_endpoint(&self, name: &str) -> Result<(), ManageError> {
        let id = self.0.endpoint_id(name).await?;
        self.0.delete_endpoint(&self.1, id).await
    }

    pub async fn create_gateway(&self, new: NewGateway) -> Result<Gateway, ManageError> {
        self.0.create_gateway(&self.1, new).await
    }

    pub async fn create_composite(&self, new: NewComposite) -> Result<CompositeModel, ManageError> {
        self.0.create_composite(&self.1, new).await
    }

    /// Changes gateway `gateway`'s composite model `name`.
    pub async fn update_composite(
        &self,
        gateway: &str,
        name: &str,
        update: CompositeUpdate,
    ) -> Result<CompositeModel, ManageError> {
        let id = self.0.composite_id(self.gateway_id(gateway).await, name).await?;
        self.0.update_composite(&self.1, id, update).await
    }

    pub async fn create_prompt(&self, new: NewPrompt) -> Result<Prompt, ManageError> {
        self.0.create_prompt(&self.1, new).await
    }

    pub async fn set_prompt_cache(&self, name: &str, cache: Option<CacheSettings>) -> Result<Prompt, ManageError> {
        let id = self.0.prompt_id(name).await?;
        self.0.set_prompt_cache(&self.1, id, cache).await
    }

    pub async fn add_identity_provider(&self, new: NewIdentityProvider) -> Result<IdentityProvider, ManageError> {
        self.0.add_identity_provider(&self.1, new).await
    }

    pub async fn add_guardrail(&self, new: NewGuardrail) -> Result<Guardrail, ManageError> {
        self.0.add_guardrail(&self.1, new).await
    }

    pub async fn add_prompt_version(&self, name: &str, template: PromptTemplate) -> Result<i64, ManageError> {
        let id = self.0.prompt_id(name).await?;
        self.0.add_prompt_version(&self.1, id, template).await
    }

    pub async fn set_prompt_label(&self, name: &str, label: &str, version: i64) -> Result<Prompt, ManageError> {
        let id = self.0.prompt_id(name).await?;
        self.0.set_prompt_label(&self.1, id, label, version).await
    }

    pub async fn update_gateway(&self, name: &str, update: GatewayUpdate) -> Result<Gateway, ManageError> {
        let id = self.0.gateway_id(name).await?;
        self.0.update_gateway(&self.1, id, update).await
    }

    pub async fn delete_gateway(&self, name: &str) -> Result<(), ManageError> {
        let id = self.0.gateway_id(name).await?;
        self.0.delete_gateway(&self.1, id).await
    }

    pub async fn create_key(&self, new: NewKey) -> Result<CreatedKey, ManageError> {
        self.0.create_key(&self.1, new).await
    }

    pub async fn update_key(&self, public_id: &str, update: KeyUpdate) -> Result<GatewayKey, ManageError> {
        self.0.update_key(&self.1, public_id, update).await
    }

    /// Replaces a key's limits alone.
    pub async fn set_key_limits(
        &self,
        public_id: &str,
        limits: Vec<app::types::Limit>,
    ) -> Result<GatewayKey, ManageError> {
        let update = KeyUpdate {
            limits: Some(limits),
            ..KeyUpdate::default()
        };
        self.0.update_key(&self.1, public_id, update).await
    }

    pub async fn revoke_key(&self, public_id: &str) -> Result<u64, ManageError> {
        self.0.revoke_key(&self.1, public_id).await
    }

    pub async fn rotate_key(&self, public_id: &str, grace: Duration) -> Result<CreatedKey, ManageError> {
        self.0.rotate_key(&self.1, public_id, grace).await
    }

    pub async fn reset_key_usage(&self, public_id: &str) -> Result<GatewayKey, ManageError> {
        self.0.reset_key_usage(&self.1, public_id).await
    }

    pub async fn set_price(&self, price: ModelPrice) -> Result<ModelPrice, ManageError> {
        self.0.set_price(&self.1, price).await
    }

    pub async fn create_admin(&self, new: NewAdmin) -> Result<AdminUser, ManageError> {
        self.0.create_admin(&self.1, new).await
    }

    pub async fn create_admin_token(
        &self,
        name: &str,
        role: AdminRole,
        expires_at: Option<i64>,
    ) -> Result<CreatedToken, ManageError> {
        self.0.create_admin_token(&self.1, name, role, expires_at).await
    }
}
