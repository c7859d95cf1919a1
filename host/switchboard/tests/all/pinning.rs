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

const PRICED_FLOW: &str = "version = \"v1\"\ndefault_locale = \"en\"\nmenu.en = \"?\"\n\
    [[intents]]\nname = \"quote\"\ntitle.en = \"Quote\"\ntriggers.en = [\"price\"]\n\
    [[intents.fields]]\nname = \"rooms\"\ntype = \"number\"\nprompt.en = \"Rooms?\"\n\
    [[intents.steps]]\nname = \"price\"\nplugin = \"pricing\"\n\
    [intents.confirm]\nprompt.en = \"Total {total}. Book?\"\n\
    [intents.done]\nreply.en = \"Booked.\"\nstate = \"booked\"\n";

/// The pricing plugin with a base price of `base` AMD.
fn write_priced_tenant(dir: &Path, base: u32) {
    let tenant = format!(
        "name = \"shop\"\nflow = \"flow.toml\"\n[calendar]\ntimezone = \"UTC\"\n\
         [plugins.pricing]\ncomponent = \"pricing_calculator\"\n\
         config = {{ currency = \"AMD\", pricing = {{ modifiers = {{ base_minor = {}, base_label = \"Move\", \
         modifiers = [] }} }} }}\n",
        base * 100
    );
    std::fs::write(dir.join("tenant.toml"), tenant).expect("write tenant");
    std::fs::write(dir.join("flow.toml"), PRICED_FLOW).expect("write flow");
}

#[test]
fn a_conversation_keeps_the_plugin_config_it_started_with_across_a_reload_and_a_restart() {
    switchboard::telemetry::install();
    let dir = tempfile::tempdir().expect("temp dir");
    let (tenant_dir, data) = (dir.path().join("shop"), dir.path().join("data"));
    std::fs::create_dir_all(&tenant_dir).expect("mkdir");
    write_priced_tenant(&tenant_dir, 10_000);
    let runtime = runtime();
    let start = |data: &Path| {
        let engine = Engine::new(Store::open(data).expect("store"), Arc::clone(&runtime));
        engine
            .add_tenant(Tenant::load(&tenant_dir, &plugin_dir(), &runtime, &|_| None).expect("loads"))
            .expect("added");
        engine
    };
    let engine = start(&data);
    assert_eq!(say(&engine, "old", "price"), ["Rooms?"]);

    write_priced_tenant(&tenant_dir, 20_000);
    engine.reload("shop", &|_| None).expect("reloads with the new config");
    drop(engine);
    let engine = start(&data);

    let old = say(&engine, "old", "3");
    let new = {
        say(&engine, "new", "price");
        say(&engine, "new", "3")
    };
    assert_eq!(old.last().map(String::as_str), Some("Total 10,000 AMD. Book?"), "the config it started with");
    let metrics = switchboard::telemetry::render();
    assert!(
        metrics.lines().any(|line| line.starts_with("switchboard_plugin_calls_total{")
            && line.contains("plugin=\"pricing\"")
            && line.contains("outcome=\"ok\"")
            && line.contains("version=\"")),
        "each plugin call is counted by tenant, plugin, version and outcome:\n{metrics}"
    );
    assert!(metrics.contains("switchboard_plugin_fuel"), "{metrics}");
    assert_eq!(
        new.last().map(String::as_str),
        Some("Total 20,000 AMD. Book?"),
        "a new one gets the new config"
    );
}
