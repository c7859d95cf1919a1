//! Reloading a tenant: running conversations keep the flow version they
//! started with, new ones get the new version, and a broken flow never
//! replaces a working one.

use std::path::Path;
use std::sync::Arc;

use switchboard::engine::{Engine, EngineError, InboundMessage};
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Channel, Contact};
use switchboard_store::Store;

use crate::support::{plugin_dir, runtime};

fn write_flow(dir: &Path, version: &str, prompt: &str) {
    let flow = format!(
        "version = \"{version}\"\ndefault_locale = \"en\"\nmenu.en = \"?\"\n\
         [[intents]]\nname = \"hours\"\ntitle.en = \"Hours\"\ntriggers.en = [\"hours\"]\n\
         [[intents.fields]]\nname = \"email\"\ntype = \"email\"\nprompt.en = \"{prompt}\"\n\
         [intents.done]\nreply.en = \"Sent.\"\nstate = \"resolved\"\n"
    );
    std::fs::write(dir.join("flow.toml"), flow).expect("write flow");
}

fn say(engine: &Engine, contact: &str, text: &str) -> Vec<String> {
    let message = InboundMessage {
        channel: Channel::Telegram,
        contact: Contact { id: contact.to_owned(), display_name: None, locale: "en".to_owned() },
        text: text.to_owned(),
        payload: None,
        message_id: None,
        at: 1_767_600_000_000,
    };
    engine.handle("shop", message).expect("handled").replies.into_iter().map(|reply| reply.text).collect()
}

#[test]
fn conversations_keep_their_flow_version_across_a_reload() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("tenant.toml"),
        "name = \"shop\"\nflow = \"flow.toml\"\n[calendar]\ntimezone = \"UTC\"\n",
    )
    .expect("write tenant");
    write_flow(dir.path(), "v1", "Email (v1)?");
    let runtime = runtime();
    let engine = Engine::new(Store::temporary().expect("store"), Arc::clone(&runtime));
    engine
        .add_tenant(Tenant::load(dir.path(), &plugin_dir(), &runtime, &|_| None).expect("loads"))
        .expect("added");

    assert_eq!(say(&engine, "old", "hours"), ["Email (v1)?"]);
    write_flow(dir.path(), "v2", "Email (v2)?");
    assert_eq!(engine.reload("shop", &|_| None).expect("reloads").flow.version, "v2");

    assert_eq!(
        say(&engine, "old", "nope"),
        ["Please check the email address, e.g. name@example.com. Email (v1)?"]
    );
    assert_eq!(say(&engine, "new", "hours"), ["Email (v2)?"]);

    std::fs::write(dir.path().join("flow.toml"), "version = \"v3\"\nmenu.en = 12\n").expect("break the flow");
    let error = engine.reload("shop", &|_| None).expect_err("a broken flow is refused");
    assert!(
        matches!(&error, EngineError::Invalid { problems, .. } if problems.contains("flow.toml:")),
        "{error}"
    );
    assert_eq!(engine.tenant("shop").expect("still there").flow.version, "v2");
    assert_eq!(say(&engine, "newer", "hours"), ["Email (v2)?"]);
}
