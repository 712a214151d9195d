//! Admin access in the store: admin users (unique emails, changes, deletion), sessions and their
//! expiry, admin API tokens, and the audit log read newest first.

use super::TestDb;
use app::types::AdminRole;
use server::store::{now_ms, NewSession, StoreError};

store_suite!(
    admins_round_trip_and_emails_are_unique,
    sessions_join_their_user_and_expire,
    admin_tokens_audit_entries_and_admin_changes_round_trip,
);

async fn admins_round_trip_and_emails_are_unique(db: &TestDb) {
    let now = now_ms();
    let user = tx!(
        db.store,
        insert_admin("a@example.com", "$argon2id$fake", AdminRole::Viewer, now)
    )
    .unwrap();
    assert_eq!(user.email, "a@example.com");
    assert_eq!(user.role, AdminRole::Viewer);
    let credentials = db.store.admin_credentials("a@example.com").await.unwrap().unwrap();
    assert_eq!(credentials.user, user);
    assert_eq!(credentials.password_hash, "$argon2id$fake");
    assert!(!credentials.disabled);
    assert!(db.store.admin_credentials("b@example.com").await.unwrap().is_none());

    let duplicate = tx!(db.store, insert_admin("a@example.com", "x", AdminRole::Admin, now));
    assert!(matches!(duplicate, Err(StoreError::Conflict(_))), "{duplicate:?}");
    db.store.set_password_hash(user.id, "$argon2id$new", now).await.unwrap();
    let credentials = db.store.admin_credentials("a@example.com").await.unwrap().unwrap();
    assert_eq!(credentials.password_hash, "$argon2id$new");
    assert_eq!(db.store.count_admins().await.unwrap(), 1);
}

async fn sessions_join_their_user_and_expire(db: &TestDb) {
    let now = now_ms();
    let user = tx!(db.store, insert_admin("s@example.com", "h", AdminRole::Admin, now)).unwrap();
    for (hash, expires_at) in [("live", now + 60_000), ("expired", now - 1), ("idle", now + 60_000)] {
        let session = NewSession {
            token_hash: hash,
            admin_user_id: user.id,
            now,
            expires_at,
        };
        tx!(db.store, insert_session(session)).unwrap();
    }
    let live = db.store.session("live").await.unwrap().unwrap();
    assert_eq!(live.user, user);
    assert_eq!((live.last_seen_at, live.expires_at), (now, now + 60_000));
    db.store.touch_session(live.id, now + 5_000).await.unwrap();
    db.store
        .touch_session(db.store.session("idle").await.unwrap().unwrap().id, now - 10_000)
        .await
        .unwrap();
    assert_eq!(
        db.store.session("live").await.unwrap().unwrap().last_seen_at,
        now + 5_000
    );

    // Expired absolutely, or idle since before the cut-off.
    assert_eq!(db.store.delete_expired_sessions(now, now - 1_000).await.unwrap(), 2);
    assert!(db.store.session("expired").await.unwrap().is_none());
    assert!(db.store.session("idle").await.unwrap().is_none());
    assert!(tx!(db.store, delete_session("live")).unwrap());
    assert!(!tx!(db.store, delete_session("live")).unwrap());
}

async fn admin_tokens_audit_entries_and_admin_changes_round_trip(db: &TestDb) {
    use app::types::{ActorKind, AdminRole};
    use server::store::{NewAudit, NewSession, NewTokenRow};
    let owner = tx!(
        db.store,
        insert_admin("owner@example.com", "$argon2id$x", AdminRole::Admin, 1)
    )
    .unwrap();
    let token = tx!(
        db.store,
        insert_admin_token(NewTokenRow {
            admin_user_id: owner.id,
            name: "ci",
            public_id: "0123456789abcdef01",
            token_hash: "hash",
            role: AdminRole::Viewer,
            now: 5,
            expires_at: Some(99),
        })
    )
    .unwrap();
    assert_eq!(
        (token.role, token.expires_at, token.revoked_at),
        (AdminRole::Viewer, Some(99), None)
    );
    let record = db.store.admin_token("0123456789abcdef01").await.unwrap().unwrap();
    assert_eq!(record.token, token);
    assert_eq!(
        (record.owner_email.as_str(), record.owner_disabled),
        ("owner@example.com", false)
    );
    db.store.touch_admin_token(token.id, 7).await.unwrap();
    let revoked = tx!(db.store, revoke_admin_token(token.id, 8)).unwrap();
    assert_eq!((revoked.last_used_at, revoked.revoked_at), (Some(7), Some(8)));
    let again = tx!(db.store, revoke_admin_token(token.id, 9)).unwrap();
    assert_eq!(again.revoked_at, Some(8), "the first revocation stands");
    assert_eq!(db.store.admin_tokens().await.unwrap().len(), 1);

    for (n, action) in ["gateway.create", "key.create", "key.revoke"].iter().enumerate() {
        let n = i64::try_from(n).unwrap();
        tx!(
            db.store,
            insert_audit(NewAudit {
                now: 100 + n,
                actor_kind: ActorKind::ApiToken,
                actor_id: Some(token.id.0),
                actor_label: "ci (0123456789abcdef01)",
                action,
                target_kind: (n > 0).then_some("key"),
                target_id: (n > 0).then_some(n),
                details: "{}",
                via: app::types::Via::Graphql,
            })
        )
        .unwrap();
    }
    let newest = db.store.audit_entries(None, 2).await.unwrap();
    assert_eq!(
        newest.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["key.revoke", "key.create"]
    );
    let older = db.store.audit_entries(Some(newest[1].id), 10).await.unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(
        (older[0].actor_kind, older[0].target_kind.as_deref()),
        (ActorKind::ApiToken, None)
    );

    // Disabling ends the admin's sessions; deleting takes their tokens along.
    tx!(
        db.store,
        insert_session(NewSession {
            token_hash: "session",
            admin_user_id: owner.id,
            now: 1,
            expires_at: i64::MAX,
        })
    )
    .unwrap();
    tx!(db.store, update_admin(owner.id, AdminRole::Viewer, true, 2)).unwrap();
    let disabled = db.store.admin_account(owner.id).await.unwrap();
    assert!(disabled.disabled && disabled.user.role == AdminRole::Viewer);
    assert!(db.store.session("session").await.unwrap().is_none());
    assert_eq!(db.store.admin_accounts().await.unwrap(), [disabled]);
    tx!(db.store, delete_admin(owner.id)).unwrap();
    assert!(db.store.admin_tokens().await.unwrap().is_empty());
    assert!(matches!(
        tx!(db.store, delete_admin(owner.id)),
        Err(server::store::StoreError::NotFound)
    ));
}
