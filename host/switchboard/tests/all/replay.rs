//! Production step calls are recorded with the turn, and a candidate build
//! replays against them: the same build answers the same, a new config
//! changes answers, and a build that fails is a regression.

use std::path::Path;
use std::sync::Arc;

use switchboard::engine::{CallInput, CallOutcome, Engine, InboundMessage, REDACTED};
use switchboard::replay::{Thresholds, Verdict};
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Channel, Contact, PluginConfig};
use switchboard_store::Store;

use crate::support::{plugin_dir, runtime};

const FLOW: &str = "version = \"v1\"\ndefault_locale = \"en\"\nmenu.en = \"?\"\n\
    [[intents]]\nname = \"quote\"\ntitle.en = \"Quote\"\ntriggers.en = [\"price\"]\n\
    [[intents.fields]]\nname = \"rooms\"\ntype = \"number\"\nprompt.en = \"Rooms?\"\n\
    [[intents.fields]]\nname = \"email\"\ntype = \"email\"\nprompt.en = \"Email?\"\n\
    [[intents.steps]]\nname = \"price\"\nplugin = \"pricing\"\n\
    [intents.confirm]\nprompt.en = \"Total {total}. Book?\"\n\
    [intents.done]\nreply.en = \"Booked.\"\nstate = \"booked\"\n";

fn write_tenant(dir: &Path, recording: &str) {
    let tenant = format!(
        "name = \"shop\"\nflow = \"flow.toml\"\n[calendar]\ntimezone = \"UTC\"\n{recording}\n\
         [plugins.pricing]\ncomponent = \"pricing_calculator\"\n\
         config = {{ currency = \"AMD\", pricing = {{ modifiers = {{ base_minor = 1000000, base_label = \"Move\", \
         modifiers = [] }} }} }}\n"
    );
    std::fs::write(dir.join("tenant.toml"), tenant).expect("write tenant");
    std::fs::write(dir.join("flow.toml"), FLOW).expect("write flow");
}

fn say(engine: &Engine, contact: &str, text: &str) -> Vec<String> {
    let message = InboundMessage {
        channel: Channel::Telegram,
        contact: Contact {
            id: contact.to_owned(),
            display_name: Some("Ann".into()),
            locale: "en".to_owned(),
        },
        text: text.to_owned(),
        payload: None,
        message_id: None,
        at: 1_767_600_000_000,
    };
    engine.handle("shop", message).expect("handled").replies.into_iter().map(|reply| reply.text).collect()
}

fn engine_with(recording: &str) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_tenant(dir.path(), recording);
    let runtime = runtime();
    let engine = Engine::new(Store::temporary().expect("store"), Arc::clone(&runtime));
    engine
        .add_tenant(Tenant::load(dir.path(), &plugin_dir(), &runtime, &|_| None).expect("loads"))
        .expect("added");
    (engine, dir)
}

fn quote(engine: &Engine, contact: &str, rooms: &str) {
    say(engine, contact, "price");
    say(engine, contact, rooms);
    let replies = say(engine, contact, "ann@example.com");
    assert!(replies.last().is_some_and(|reply| reply.starts_with("Total")), "{replies:?}");
}

#[test]
fn step_calls_are_recorded_and_a_candidate_replays_against_them() {
    let (engine, _dir) = engine_with("");
    quote(&engine, "a", "2");
    quote(&engine, "b", "5");

    let recorded = engine.recorded_calls("shop", "pricing", 0, 100).expect("read");
    assert_eq!(recorded.calls.len(), 2, "{recorded:?}");
    let call = &recorded.calls[0];
    let CallInput::Step(input) = &call.input else { panic!("a step call: {call:?}") };
    assert_eq!((input.step.as_str(), input.conversation.as_str()), ("price", call.conversation.as_str()));
    assert!(input.config.is_empty(), "the config is kept by hash, not in every call");
    assert!(recorded.configs.contains_key(&call.config), "the config it ran with comes along");
    assert!(matches!(&call.outcome, CallOutcome::Ok { answer } if answer.to_string().contains("quote")));
    assert!(call.fuel > 0 && call.peak_memory_bytes > 0);
    assert!(engine.recorded_calls("shop", "other", 0, 100).expect("read").calls.is_empty());
    assert_eq!(engine.recorded_calls("shop", "pricing", 0, 1).expect("read").calls.len(), 1, "limit");

    let same = std::fs::read(plugin_dir().join("pricing_calculator.wasm")).expect("component");
    let report = engine.replay("shop", "pricing", &same, None, 0, 100).expect("replayed");
    assert_eq!((report.calls, report.tally.same), (2, 2), "{report:?}");
    assert!(report.regressions(&Thresholds::default()).is_empty(), "{report:?}");
    let fuel = report.fuel_ratio.expect("a fuel ratio");
    assert!((0.5..2.0).contains(&fuel), "the same build burns about the same fuel: {fuel}");

    let dearer = PluginConfig::from(serde_json::json!({
        "currency": "AMD",
        "pricing": { "modifiers": { "base_minor": 2000000, "base_label": "Move", "modifiers": [] } }
    }));
    let report = engine.replay("shop", "pricing", &same, Some(dearer), 0, 100).expect("replayed");
    assert_eq!(report.tally.changed, 2, "{report:?}");
    assert!(report.differences.iter().all(|difference| difference.verdict == Verdict::Changed));
    assert!(report.regressions(&Thresholds::default()).is_empty(), "a change is not a regression by default");
    let strict = Thresholds { fail_on_change: true, ..Thresholds::default() };
    assert_eq!(report.regressions(&strict).len(), 1);

    let failing = std::fs::read(plugin_dir().join("hostile_fixture.wasm")).expect("component");
    let report = engine.replay("shop", "pricing", &failing, None, 0, 100).expect("replayed");
    assert_eq!(report.tally.new_failures, 2, "{report:?}");
    assert!(!report.regressions(&Thresholds::default()).is_empty());

    let error = engine.replay("shop", "pricing", b"not wasm", None, 0, 100).expect_err("refused");
    assert!(error.to_string().contains("not a component this host takes"), "{error}");
}

#[test]
fn each_step_names_the_build_that_answered_or_failed_in_its_event() {
    use switchboard_core::event::EventBody;
    let (engine, _dir) = engine_with("");
    let turn = |contact: &str, text: &str| {
        let message = InboundMessage {
            channel: Channel::Telegram,
            contact: Contact { id: contact.to_owned(), display_name: None, locale: "en".to_owned() },
            text: text.to_owned(),
            payload: None,
            message_id: None,
            at: 1_767_600_000_000,
        };
        engine.handle("shop", message).expect("handled").events
    };
    turn("a", "price");
    turn("a", "2");
    let events = turn("a", "ann@example.com");
    let hash = engine.tenant("shop").expect("tenant").plugins["pricing"].plugin.hash().to_string();
    let ran = events
        .iter()
        .find_map(|event| match &event.body {
            EventBody::StepRan { step, plugin, version, fuel, .. } => Some((step, plugin, version, *fuel)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a step.ran event: {events:?}"));
    assert_eq!((ran.0.as_str(), ran.1.as_str(), ran.2), ("price", "pricing", &hash));
    assert!(ran.3 > 0, "it says what it burned");
}

#[test]
fn a_tenant_redacts_what_it_must_not_keep_or_records_nothing() {
    let (engine, _dir) =
        engine_with("[recording]\nredact_fields = [\"email\"]\nredact_message = true\nredact_contact = true");
    quote(&engine, "a", "2");
    let recorded = engine.recorded_calls("shop", "pricing", 0, 100).expect("read");
    let call = recorded.calls.first().expect("recorded");
    let kept = serde_json::to_string(call).expect("json");
    assert!(!kept.contains("ann@example.com") && !kept.contains("Ann"), "{kept}");
    assert!(kept.contains(REDACTED));
    // A step that runs once the fields are in sees no message of its own.
    assert_eq!(call.redacted, ["email", "contact"]);
    assert!(call.conversation.starts_with("redacted-"), "the id is the identity: {}", call.conversation);

    let (engine, _dir) = engine_with("[recording]\nsteps = false");
    quote(&engine, "a", "2");
    assert!(engine.recorded_calls("shop", "pricing", 0, 100).expect("read").calls.is_empty());
}

#[test]
fn recorded_conversations_replay_through_a_candidate_and_their_transcripts_are_compared() {
    use switchboard::tenant::Candidate;
    let (engine, _dir) = engine_with("");
    quote(&engine, "a", "2");
    quote(&engine, "b", "5");
    let ids: Vec<String> = engine
        .conversations("shop", None, 10)
        .expect("listed")
        .into_iter()
        .map(|stored| stored.conversation.id)
        .collect();
    assert_eq!(ids.len(), 2);

    let unchanged = engine.replay_conversations("shop", &ids, &Candidate::default()).expect("replayed");
    assert_eq!((unchanged.conversations, unchanged.turns, unchanged.same), (2, 6, 2), "{unchanged:?}");

    let dearer = serde_json::json!({
        "currency": "AMD",
        "pricing": { "modifiers": { "base_minor": 2000000, "base_label": "Move", "modifiers": [] } }
    });
    let mut candidate = Candidate::default();
    candidate.plugins.insert("pricing".into(), (None, Some(dearer)));
    candidate.flow = Some(FLOW.replace("Total {total}. Book?", "It comes to {total}. Shall I book it?"));
    let report = engine.replay_conversations("shop", &ids, &candidate).expect("replayed");
    assert_eq!((report.changed, report.differences.len()), (2, 2), "{report:?}");
    let difference = &report.differences[0];
    assert_eq!((difference.turn, difference.said.as_str()), (3, "ann@example.com"));
    assert!(difference.recorded.iter().any(|reply| reply.starts_with("Total 10,000")), "{difference:?}");
    assert!(
        difference.candidate.iter().any(|reply| reply.starts_with("It comes to 20,000")),
        "{difference:?}"
    );

    candidate.flow = Some("version = \"broken\"".into());
    let error = engine.replay_conversations("shop", &ids, &candidate).expect_err("a broken flow");
    assert!(error.to_string().contains("candidate flow"), "{error}");
    assert_eq!(
        engine.recorded_calls("shop", "pricing", 0, 100).expect("read").calls.len(),
        2,
        "the sandbox records nothing here"
    );
}
