//! Routing configuration in the store: endpoints (their sealed credential never read back),
//! gateways and their ordered endpoints, keys and their trees, limits and prices, the overview
//! counts, and the revision that moves on every configuration change.

use super::{raw, TestDb};
use app::types::{AdminRole, KeyId, Overview, Period, ProviderKind, RetryPolicy, Strategy, Timeouts};
use server::store::{now_ms, CredentialChange, EndpointFields, EndpointLink, GatewayFields, NewKeyRow, StoreError};
use std::collections::BTreeMap;

store_suite!(
    overview_counts_what_is_configured,
    endpoints_round_trip_without_exposing_the_credential,
    gateways_keep_their_endpoints_in_order,
    an_endpoint_in_use_cannot_be_deleted,
    revoking_a_key_revokes_its_subtree_only,
    a_failed_gateway_write_leaves_nothing_behind,
    names_list_in_the_same_order_on_both_databases,
    a_child_key_needs_a_live_parent_in_its_gateway,
    the_revision_moves_on_every_configuration_change,
    limits_and_prices_round_trip,
);

async fn overview_counts_what_is_configured(db: &TestDb) {
    assert_eq!(db.store.overview().await.unwrap(), Overview::default());
    let mut conn = raw(db).await;
    let now = now_ms();
    for statement in [
        "INSERT INTO inference_endpoints (name, provider, base_url, model, created_at, updated_at) VALUES ('e1', 'openai', 'https://api.openai.com/v1', 'gpt-4o-mini', 0, 0)",
        "INSERT INTO gateways (name, created_at, updated_at) VALUES ('g1', 0, 0)",
    ] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    let gateway: i64 = sqlx::query_scalar("SELECT id FROM gateways WHERE name = 'g1'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    for (public_id, revoked) in [("k1", None), ("k2", Some(now))] {
        sqlx::query(
            "INSERT INTO gateway_keys (gateway_id, name, public_id, secret_hash, masked, revoked_at, created_at, updated_at) \
             VALUES ($1, $2, $2, 'h', 'm', $3, 0, 0)",
        )
        .bind(gateway)
        .bind(public_id)
        .bind(revoked)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    tx!(db.store, insert_admin("o@example.com", "h", AdminRole::Admin, now)).unwrap();
    let overview = db.store.overview().await.unwrap();
    assert_eq!(
        overview,
        Overview {
            endpoints: 1,
            gateways: 1,
            keys: 1,
            admins: 1
        }
    );
}

/// An endpoint's sealed credential as stored.
async fn sealed(db: &TestDb, id: app::types::EndpointId) -> Option<Vec<u8>> {
    db.store.sealed_credentials().await.unwrap().remove(&id)
}

fn endpoint_fields(name: &str) -> EndpointFields<'_> {
    EndpointFields {
        name,
        provider: ProviderKind::OpenAi,
        base_url: "https://api.openai.com/v1",
        model: "gpt-4o-mini",
        deployment: None,
        api_version: None,
        project: None,
        region: Some("eu"),
        rpm_limit: Some(100),
        tpm_limit: None,
        timeouts: Timeouts {
            connect_ms: Some(5_000),
            ..Timeouts::default()
        },
        enabled: true,
    }
}

fn gateway_fields<'a>(name: &'a str, aliases: &'a BTreeMap<String, String>) -> GatewayFields<'a> {
    GatewayFields {
        name,
        description: "test",
        strategy: Strategy::Priority,
        retry: RetryPolicy::default(),
        deadline_ms: None,
        log_metadata: true,
        log_payloads: false,
        model_aliases: aliases,
        enabled: true,
        param_policy: &NO_POLICY,
        auth_mode: app::types::AuthMode::Key,
        access_rule: None,
        people: &NO_PEOPLE,
        model_rules: &[],
        cache: &NO_CACHE,
        limits: None,
    }
}

/// A gateway that caches nothing.
static NO_CACHE: app::types::CacheSettings = app::types::CacheSettings {
    mode: app::types::CacheMode::Off,
    ttl_s: 600,
    max_entry_bytes: 1 << 20,
    collapse: false,
    embedding_model: None,
    similarity: app::types::DEFAULT_SIMILARITY,
};

/// A gateway without a parameter policy.
static NO_POLICY: app::types::ParamPolicy = app::types::ParamPolicy {
    defaults: Vec::new(),
    overrides: Vec::new(),
    maxima: Vec::new(),
    minima: Vec::new(),
    denied: Vec::new(),
};

/// A gateway without limits on people.
static NO_PEOPLE: app::types::PeopleLimits = app::types::PeopleLimits {
    per_user: Vec::new(),
    group_rule: None,
    per_group: Vec::new(),
    max_tokens_per_prompt: None,
    over_cap: app::types::PromptCap::Refuse,
};

async fn endpoints_round_trip_without_exposing_the_credential(db: &TestDb) {
    let created = tx!(
        db.store,
        insert_endpoint(&endpoint_fields("primary"), Some(b"sealed-bytes"), 7)
    )
    .unwrap();
    assert!(created.has_credential);
    assert_eq!(
        (
            created.region.as_deref(),
            created.rpm_limit,
            created.timeouts.connect_ms
        ),
        (Some("eu"), Some(100), Some(5_000))
    );
    assert_eq!(sealed(db, created.id).await.as_deref(), Some(&b"sealed-bytes"[..]));
    let bare = tx!(db.store, insert_endpoint(&endpoint_fields("bare"), None, 7)).unwrap();
    assert!(!bare.has_credential);
    assert_eq!(sealed(db, bare.id).await, None);

    let mut fields = endpoint_fields("renamed");
    fields.model = "gpt-4o";
    let updated = tx!(
        db.store,
        update_endpoint(created.id, &fields, CredentialChange::Keep, 8)
    )
    .unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.model.as_str(), updated.updated_at),
        ("renamed", "gpt-4o", 8)
    );
    assert!(updated.has_credential, "kept");
    let cleared = tx!(
        db.store,
        update_endpoint(created.id, &fields, CredentialChange::Clear, 9)
    )
    .unwrap();
    assert!(!cleared.has_credential);
    let set = tx!(
        db.store,
        update_endpoint(created.id, &fields, CredentialChange::Set(b"new".to_vec()), 9)
    )
    .unwrap();
    assert!(set.has_credential);
    assert_eq!(sealed(db, created.id).await.as_deref(), Some(&b"new"[..]));

    let names: Vec<String> = db
        .store
        .endpoints()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["bare", "renamed"]);
    let duplicate = tx!(db.store, insert_endpoint(&endpoint_fields("bare"), None, 7));
    assert!(matches!(duplicate, Err(StoreError::Conflict(_))));
}

async fn gateways_keep_their_endpoints_in_order(db: &TestDb) {
    let a = tx!(db.store, insert_endpoint(&endpoint_fields("a"), None, 1)).unwrap();
    let b = tx!(db.store, insert_endpoint(&endpoint_fields("b"), None, 1)).unwrap();
    let aliases = BTreeMap::from([("fast".to_string(), "gpt-4o-mini".to_string())]);
    let links = [
        EndpointLink {
            endpoint_id: b.id,
            weight: 3,
            priority: 2,
        },
        EndpointLink {
            endpoint_id: a.id,
            weight: 1,
            priority: 1,
        },
    ];
    tx!(db.store, insert_gateway(&gateway_fields("g", &aliases), &links, 1)).unwrap();
    let gateway = db.store.gateway_by_name("g").await.unwrap().unwrap();
    let order: Vec<(&str, i64, i64, i64)> = gateway
        .endpoints
        .iter()
        .map(|e| (e.endpoint_name.as_str(), e.position, e.weight, e.priority))
        .collect();
    assert_eq!(order, [("b", 0, 3, 2), ("a", 1, 1, 1)]);
    assert_eq!(gateway.model_aliases, aliases);
    assert_eq!(gateway.strategy, Strategy::Priority);

    // Replacing the list replaces it whole; leaving it out keeps it.
    let only_a = [EndpointLink {
        endpoint_id: a.id,
        weight: 5,
        priority: 0,
    }];
    tx!(
        db.store,
        update_gateway(gateway.id, &gateway_fields("g2", &aliases), Some(&only_a), 2)
    )
    .unwrap();
    tx!(
        db.store,
        update_gateway(gateway.id, &gateway_fields("g2", &aliases), None, 3)
    )
    .unwrap();
    let gateway = db.store.gateway_by_name("g2").await.unwrap().unwrap();
    assert_eq!(gateway.endpoints.len(), 1);
    assert_eq!(
        (gateway.endpoints[0].endpoint_name.as_str(), gateway.endpoints[0].weight),
        ("a", 5)
    );
    assert!(db.store.gateway_by_name("g").await.unwrap().is_none());
    assert_eq!(db.store.gateways().await.unwrap().len(), 1);
}

/// An endpoint "a" and a gateway "g" that routes to it.
async fn gateway_over_one_endpoint(db: &TestDb) -> (app::types::InferenceEndpoint, app::types::GatewayId) {
    let a = tx!(db.store, insert_endpoint(&endpoint_fields("a"), None, 1)).unwrap();
    let link = EndpointLink {
        endpoint_id: a.id,
        weight: 1,
        priority: 1,
    };
    let gateway = tx!(
        db.store,
        insert_gateway(&gateway_fields("g", &BTreeMap::new()), &[link], 1)
    )
    .unwrap();
    (a, gateway)
}

async fn an_endpoint_in_use_cannot_be_deleted(db: &TestDb) {
    let (a, gateway) = gateway_over_one_endpoint(db).await;
    assert_eq!(db.store.gateways_using(a.id).await.unwrap(), ["g"]);
    let refused = tx!(db.store, delete_endpoint(a.id));
    assert!(matches!(refused, Err(StoreError::Reference(_))), "{refused:?}");
    tx!(db.store, delete_gateway(gateway)).unwrap();
    tx!(db.store, delete_endpoint(a.id)).unwrap();
    assert!(matches!(
        tx!(db.store, delete_endpoint(a.id)),
        Err(StoreError::NotFound)
    ));
}

async fn revoking_a_key_revokes_its_subtree_only(db: &TestDb) {
    let (_, gateway) = gateway_over_one_endpoint(db).await;
    let models = vec!["gpt-4o-mini".to_string()];
    let insert = |name: &'static str, parent: Option<KeyId>| NewKeyRow {
        gateway_id: gateway,
        parent_id: parent,
        name,
        public_id: name,
        secret_hash: "h",
        masked: "m",
        allowed_models: if name == "team" { Some(&models) } else { None },
        expires_at: None,
        may_assert_users: false,
        limits: &[],
        now: 1,
    };
    let team = tx!(db.store, insert_key(&insert("team", None))).unwrap().unwrap();
    assert_eq!(team.allowed_models.as_deref(), Some(&models[..]));
    let app = tx!(db.store, insert_key(&insert("app", Some(team.id))))
        .unwrap()
        .unwrap();
    let prod = tx!(db.store, insert_key(&insert("prod", Some(app.id))))
        .unwrap()
        .unwrap();
    let sibling = tx!(db.store, insert_key(&insert("sibling", Some(team.id))))
        .unwrap()
        .unwrap();
    assert_eq!(prod.parent_id, Some(app.id));

    assert_eq!(tx!(db.store, revoke_key_tree(app.id, 50)).unwrap(), 2, "app and prod");
    assert_eq!(
        tx!(db.store, revoke_key_tree(app.id, 60)).unwrap(),
        0,
        "already revoked"
    );
    let state = |public_id| async move { db.store.key_by_public_id(public_id).await.unwrap().unwrap().revoked_at };
    assert_eq!(
        (
            state("team").await,
            state("app").await,
            state("prod").await,
            state("sibling").await
        ),
        (None, Some(50), Some(50), None)
    );
    assert_eq!(db.store.keys(Some(gateway)).await.unwrap().len(), 4);
    assert_eq!(sibling.parent_id, Some(team.id));
    // Deleting the gateway deletes its keys.
    tx!(db.store, delete_gateway(gateway)).unwrap();
    assert!(db.store.keys(None).await.unwrap().is_empty());
}

async fn a_failed_gateway_write_leaves_nothing_behind(db: &TestDb) {
    let (a, _) = gateway_over_one_endpoint(db).await;
    let aliases = BTreeMap::new();
    let dangling = [
        EndpointLink {
            endpoint_id: a.id,
            weight: 1,
            priority: 2,
        },
        EndpointLink {
            endpoint_id: app::types::EndpointId(9_999),
            weight: 1,
            priority: 1,
        },
    ];
    let failed = tx!(db.store, insert_gateway(&gateway_fields("h", &aliases), &dangling, 2));
    assert!(matches!(failed, Err(StoreError::Reference(_))), "{failed:?}");
    assert!(
        db.store.gateway_by_name("h").await.unwrap().is_none(),
        "the gateway row was rolled back"
    );
    // An update that fails half-way keeps the old name and the old list.
    let g = db.store.gateway_by_name("g").await.unwrap().unwrap();
    let failed = tx!(
        db.store,
        update_gateway(g.id, &gateway_fields("renamed", &aliases), Some(&dangling), 3)
    );
    assert!(failed.is_err());
    let g = db.store.gateway_by_name("g").await.unwrap().expect("still named g");
    assert_eq!(g.endpoints.len(), 1);
}

async fn names_list_in_the_same_order_on_both_databases(db: &TestDb) {
    for name in ["b", "B", "a-b", "a", "A_1", "a.b"] {
        tx!(db.store, insert_endpoint(&endpoint_fields(name), None, 1)).unwrap();
    }
    let names: Vec<String> = db
        .store
        .endpoints()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["A_1", "B", "a", "a-b", "a.b", "b"], "bytewise");
}

async fn a_child_key_needs_a_live_parent_in_its_gateway(db: &TestDb) {
    let (_, gateway) = gateway_over_one_endpoint(db).await;
    let (_, other_gateway) = {
        let b = tx!(db.store, insert_endpoint(&endpoint_fields("b"), None, 1)).unwrap();
        let link = EndpointLink {
            endpoint_id: b.id,
            weight: 1,
            priority: 1,
        };
        (
            b,
            tx!(
                db.store,
                insert_gateway(&gateway_fields("h", &BTreeMap::new()), &[link], 1)
            )
            .unwrap(),
        )
    };
    let row = |gateway_id, public_id, parent_id, expires_at| NewKeyRow {
        gateway_id,
        parent_id,
        name: public_id,
        public_id,
        secret_hash: "h",
        masked: "m",
        allowed_models: None,
        expires_at,
        may_assert_users: false,
        limits: &[],
        now: 100,
    };
    let parent = tx!(db.store, insert_key(&row(gateway, "parent", None, None)))
        .unwrap()
        .unwrap();
    let expiring = tx!(db.store, insert_key(&row(gateway, "expiring", None, Some(100))))
        .unwrap()
        .unwrap();
    assert!(tx!(db.store, insert_key(&row(gateway, "child", Some(parent.id), None)))
        .unwrap()
        .is_some());
    assert!(tx!(
        db.store,
        insert_key(&row(other_gateway, "across", Some(parent.id), None))
    )
    .unwrap()
    .is_none());
    assert!(
        tx!(db.store, insert_key(&row(gateway, "late", Some(expiring.id), None)))
            .unwrap()
            .is_none()
    );
    tx!(db.store, revoke_key_tree(parent.id, 150)).unwrap();
    assert!(
        tx!(db.store, insert_key(&row(gateway, "orphan", Some(parent.id), None)))
            .unwrap()
            .is_none()
    );
    assert!(
        db.store.key_by_public_id("orphan").await.unwrap().is_none(),
        "nothing was inserted"
    );
}

async fn the_revision_moves_on_every_configuration_change(db: &TestDb) {
    let mut last = db.store.config_revision().await.unwrap();
    let mut moved = |label: &'static str, now: i64| {
        assert!(now > last, "{label}: the revision did not move ({last} -> {now})");
        last = now;
    };
    let (a, gateway) = gateway_over_one_endpoint(db).await;
    moved("endpoint and gateway added", db.store.config_revision().await.unwrap());
    tx!(
        db.store,
        update_endpoint(a.id, &endpoint_fields("a2"), CredentialChange::Keep, 2)
    )
    .unwrap();
    moved("endpoint updated", db.store.config_revision().await.unwrap());
    let key = NewKeyRow {
        gateway_id: gateway,
        parent_id: None,
        name: "k",
        public_id: "k",
        secret_hash: "h",
        masked: "m",
        allowed_models: None,
        expires_at: None,
        may_assert_users: false,
        limits: &[],
        now: 1,
    };
    let key = tx!(db.store, insert_key(&key)).unwrap().unwrap();
    moved("key added", db.store.config_revision().await.unwrap());
    tx!(db.store, revoke_key_tree(key.id, 5)).unwrap();
    moved("key revoked", db.store.config_revision().await.unwrap());
    tx!(
        db.store,
        update_gateway(gateway, &gateway_fields("g", &BTreeMap::new()), Some(&[]), 6)
    )
    .unwrap();
    moved("gateway endpoints replaced", db.store.config_revision().await.unwrap());
    tx!(db.store, delete_gateway(gateway)).unwrap();
    moved("gateway deleted", db.store.config_revision().await.unwrap());
    // Admin users and sessions are not routing configuration.
    tx!(db.store, insert_admin("r@example.com", "h", AdminRole::Admin, 1)).unwrap();
    assert_eq!(
        db.store.config_revision().await.unwrap(),
        last,
        "an admin user does not move it"
    );
}

/// Limits are replaced whole and read back per scope; prices are set, changed and removed.
async fn limits_and_prices_round_trip(db: &TestDb) {
    use app::types::{Limit, Metric, ModelPrice};
    use server::store::LimitScope;
    let (_, gateway) = gateway_over_one_endpoint(db).await;
    let limit = |metric, period, max_value| Limit {
        metric,
        period,
        max_value,
    };
    let scope = LimitScope::Gateway(gateway);
    let owner = server::store::LimitOwner::Gateway(gateway);
    tx!(
        db.store,
        set_limits(
            owner,
            &[
                limit(Metric::Requests, Period::Minute, 5),
                limit(Metric::CostMicros, Period::Month, 9),
            ],
        )
    )
    .unwrap();
    tx!(db.store, set_limits(owner, &[limit(Metric::Tokens, Period::Day, 7)])).unwrap();
    let stored = db.store.limits_by_scope().await.unwrap();
    assert_eq!(stored[&scope], [limit(Metric::Tokens, Period::Day, 7)]);
    let gateways = db.store.gateways().await.unwrap();
    assert_eq!(gateways[0].limits, [limit(Metric::Tokens, Period::Day, 7)]);
    let revision = db.store.config_revision().await.unwrap();
    let price = ModelPrice {
        model: "my-model".into(),
        input_per_mtok_micros: 1,
        output_per_mtok_micros: 2,
    };
    tx!(db.store, set_price(&price, 1)).unwrap();
    tx!(
        db.store,
        set_price(
            &ModelPrice {
                output_per_mtok_micros: 3,
                ..price.clone()
            },
            2,
        )
    )
    .unwrap();
    let prices = db.store.prices().await.unwrap();
    let mine = prices.iter().find(|p| p.model == "my-model").unwrap();
    assert_eq!(mine.output_per_mtok_micros, 3);
    assert!(
        db.store.config_revision().await.unwrap() > revision,
        "prices reach running servers"
    );
    tx!(db.store, remove_price("my-model")).unwrap();
    assert!(tx!(db.store, remove_price("my-model")).is_err());
}
