//! The tenant catalog in the store: a tenant created, edited or removed
//! through one node's control plane is served (or no longer) by another
//! node once it follows the catalog; an edit based on a revision another
//! node replaced is refused whole; channel secrets are sealed in the
//! catalog on both backends, and a node with another key does not open them.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use switchboard::engine::{Engine, EngineError};
use switchboard::sealing::SecretsKey;
use switchboard::tenants::{Catalog, ControlError, ControlPlane, NewTenant};
use switchboard_store::Backend;
use switchboard_store_postgres::PgStore;

use crate::support::{HOURS_FLOW, plugin_dir, postgres_database, runtime, telegram};

const START: i64 = 1_767_603_600_000; // Mon 2026-01-05 09:00 UTC

/// One node: an engine on `store`, its tenants' working copies in `root`.
struct Node {
    engine: Arc<Engine>,
    catalog: Arc<Catalog>,
    control: ControlPlane,
}

fn node(store: Arc<dyn Backend>, key: &SecretsKey, root: &Path) -> Node {
    let engine = Arc::new(Engine::on(store, runtime()));
    let catalog = Arc::new(Catalog::new(engine.clone(), key.clone(), root.to_owned()));
    catalog.check_key().expect("the key the catalog is sealed with");
    let control =
        ControlPlane::new(engine.clone(), Some(root.to_owned()), plugin_dir()).with_catalog(catalog.clone());
    Node { engine, catalog, control }
}

fn new_tenant(name: &str) -> NewTenant {
    NewTenant {
        name: name.to_owned(),
        display_name: None,
        timezone: "Asia/Yerevan".to_owned(),
        flow: HOURS_FLOW.to_owned(),
        web_chat: true,
    }
}

fn flow_version(node: &Node, tenant: &str) -> Option<String> {
    node.engine.tenant(tenant).ok().map(|tenant| tenant.flow.version.clone())
}

#[test]
fn a_tenant_created_through_one_node_serves_from_another() {
    let url = postgres_database();
    let key = SecretsKey::generate().expect("a key");
    let (root_a, root_b) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = node(Arc::new(PgStore::connect(&url).expect("connects")), &key, root_a.path());
    let b = node(Arc::new(PgStore::connect(&url).expect("connects")), &key, root_b.path());

    a.control.create(new_tenant("gamma")).expect("created on A");
    assert!(matches!(b.engine.tenant("gamma"), Err(EngineError::UnknownTenant(_))), "not before B follows");
    b.catalog.follow_once();
    let handled =
        b.engine.handle("gamma", telegram("telegram:c1", "hours?", "m1", START)).expect("B serves it");
    assert!(!handled.replies.is_empty(), "{handled:?}");
    assert!(
        matches!(b.control.create(new_tenant("gamma")), Err(ControlError::Exists(_))),
        "the name is taken on every node"
    );

    // An edit on A reaches B; an edit on B based on what A replaced is refused.
    let changed = HOURS_FLOW.replace("version = \"1\"", "version = \"2\"");
    assert_ne!(changed, HOURS_FLOW, "the fixture has a version to change");
    a.control.set_flow("gamma", changed.into_bytes()).expect("edited on A");
    let stale =
        b.control.set_flow("gamma", HOURS_FLOW.replace("version = \"1\"", "version = \"3\"").into_bytes());
    assert!(matches!(stale, Err(ControlError::Moved { .. })), "{stale:?}");
    assert_eq!(flow_version(&b, "gamma").as_deref(), Some("1"), "B's refused edit changed nothing");
    b.catalog.follow_once();
    assert_eq!(flow_version(&b, "gamma").as_deref(), Some("2"), "B serves A's edit");
    b.control
        .set_flow("gamma", HOURS_FLOW.replace("version = \"1\"", "version = \"3\"").into_bytes())
        .expect("B edits now");
    a.catalog.follow_once();
    assert_eq!(flow_version(&a, "gamma").as_deref(), Some("3"), "and A serves B's");

    // A node that starts later checks every tenant out.
    let root_c = tempfile::tempdir().expect("dir");
    let c = node(Arc::new(PgStore::connect(&url).expect("connects")), &key, root_c.path());
    let dirs = c.catalog.check_out_all().expect("checks out");
    assert_eq!(dirs, [root_c.path().join("gamma")]);

    b.control.remove("gamma", START).expect("removed on B");
    // A serves it a moment longer, until its next look at the catalog.
    a.engine.handle("gamma", telegram("telegram:late", "hours?", "m9", START)).expect("still served on A");
    a.catalog.follow_once();
    assert!(matches!(a.engine.tenant("gamma"), Err(EngineError::UnknownTenant(_))), "A stopped serving it");
    assert!(!root_a.path().join("gamma").exists(), "A's working copy is set aside");
    assert!(c.catalog.check_out_all().expect("checks out").is_empty());

    // A new tenant of the name inherits nothing, not even what A wrote late.
    c.control.create(new_tenant("gamma")).expect("the name is free again");
    let inherited = c.engine.conversations("gamma", None, 10).expect("reads");
    assert!(inherited.is_empty(), "{inherited:?}");
    a.catalog.follow_once();
    assert_eq!(flow_version(&a, "gamma").as_deref(), Some("1"), "every node serves the new one");
}

/// What `PUT …/channels/telegram` sets is in the store only sealed, on
/// sled and on PostgreSQL alike, and another key does not open it.
#[test]
fn channel_secrets_are_sealed_in_the_catalog_on_both_backends() {
    let key = SecretsKey::generate().expect("a key");
    let stores: [(&str, Arc<dyn Backend>); 2] = [
        ("sled", Arc::new(switchboard_store::Store::temporary().expect("a store"))),
        ("postgres", Arc::new(PgStore::connect(&postgres_database()).expect("connects"))),
    ];
    for (backend, store) in stores {
        let root = tempfile::tempdir().expect("dir");
        let one = node(store, &key, root.path());
        one.control.create(new_tenant("acme")).expect("created");
        let secrets = json!({ "secret_token": "hook-secret-4f1d", "bot_token": "123:bot-token-9c2e" });
        one.control.set_channel("acme", "telegram", secrets).expect("set");
        let (_, sealed) = one.engine.tenant_bundle("acme").expect("reads").expect("published");
        for secret in ["hook-secret-4f1d", "bot-token-9c2e"] {
            assert!(
                !sealed.windows(secret.len()).any(|window| window == secret.as_bytes()),
                "{backend}: {secret} is in the store in the clear"
            );
        }
        // The working copy is the node's own, in the clear: the catalog
        // gives it back whole to a node with the key.
        let again = tempfile::tempdir().expect("dir");
        let other = Catalog::new(one.engine.clone(), key.clone(), again.path().to_owned());
        other.check_out("acme").expect("opens").expect("served");
        let managed = std::fs::read_to_string(again.path().join("acme/managed.toml")).expect("checked out");
        assert!(managed.contains("bot-token-9c2e"), "{backend}: {managed}");

        let wrong =
            Catalog::new(one.engine.clone(), SecretsKey::generate().expect("a key"), again.path().join("x"));
        let error = format!("{:#}", wrong.check_out("acme").expect_err("another key does not open it"));
        assert!(error.contains("SWITCHBOARD_SECRETS_KEY"), "{backend}: {error}");
        // A node started with another key stops before it publishes what
        // no other node could open.
        let error = format!("{:#}", wrong.check_key().expect_err("another key is refused at start"));
        assert!(error.contains("SWITCHBOARD_SECRETS_KEY"), "{backend}: {error}");
    }
}
