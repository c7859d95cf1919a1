//! End-to-end conversation cases as data: `tests/cases/<name>/` holds
//! `case.toml` (the clock and the tenants), `script.txt` (the inbound
//! messages) and `transcript.txt` (the expected replies and events).
//!
//! Script lines are `tenant/contact> text`; `[N]` as the text taps the Nth
//! button of that contact's last reply. Lines starting with `#` are comments.
//! Each message arrives one minute after the previous one.
//!
//! `tenant/contact ! payment.failed {"plan": "Gold"}` is a signal from the
//! business's own systems about that customer (`POST …/signals`), with its
//! fields as JSON (`"@locale": "en"` gives a new customer's language).
//!
//! `{code}` in a message is the one-time code the host last sent that
//! customer (`type = "code"` fields), as they would read it on their phone.
//!
//! `~ 4h` lets time pass (any duration a flow may write: `30m`, `1d`,
//! `2h 30m`): every timer due meanwhile fires through the engine's
//! scheduler path, at its due time, and what it sends is in the transcript.
//!
//! Run with `UPDATE_EXPECT=1` to rewrite the transcripts after an intended
//! change, then review the diff.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use switchboard::engine::{Engine, InboundMessage};
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Channel, Contact, QuickReply};
use switchboard_core::conversation::OutsideWindow;
use switchboard_core::event::EventBody;
use switchboard_core::flow::Duration;
use switchboard_store::Store;

use crate::support::{plugin_dir, repo_root, runtime, vars};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// RFC 3339: when the first message arrives.
    now: String,
    /// Tenant directories, relative to the case folder.
    tenants: Vec<String>,
    #[serde(default = "whatsapp")]
    channel: Channel,
}

fn whatsapp() -> Channel {
    Channel::Whatsapp
}

#[test]
fn conversation_cases() {
    let root = repo_root().join("tests/cases");
    let mut names: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/cases exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.join("case.toml").exists())
        .collect();
    names.sort();
    assert!(names.len() >= 10, "expected the case folders in {}", root.display());
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for dir in &names {
        let actual = run_case(dir);
        let expected_path = dir.join("transcript.txt");
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if update {
            std::fs::write(&expected_path, &actual).expect("write transcript");
        } else if actual != expected {
            failures.push(format!("{}:\n{}", dir.display(), diff(&expected, &actual)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ (UPDATE_EXPECT=1 rewrites them):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn run_case(dir: &Path) -> String {
    let case: Case = toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).expect("case.toml"))
        .expect("case.toml parses");
    let start = case.now.parse::<jiff::Timestamp>().expect("now is RFC 3339").as_millisecond();
    let runtime = runtime();
    let engine = Engine::new(Store::temporary().expect("a store"), Arc::clone(&runtime));
    for tenant in &case.tenants {
        let tenant =
            Tenant::load(&dir.join(tenant), &plugin_dir(), &runtime, &vars).expect("the tenant loads");
        engine.add_tenant(tenant).expect("the tenant is added");
    }
    let script = std::fs::read_to_string(dir.join("script.txt")).expect("script.txt");
    let mut buttons: HashMap<String, Vec<QuickReply>> = HashMap::new();
    let mut transcript = String::new();
    let offset = case_offset(&case.now);
    let mut clock = start - 60_000;
    let lines = script.lines().filter(|line| !line.trim().is_empty() && !line.starts_with('#'));
    for (index, line) in lines.enumerate() {
        if let Some(wait) = line.strip_prefix("~ ") {
            let wait =
                Duration::try_from(wait.to_owned()).unwrap_or_else(|error| panic!("{line:?}: {error}"));
            let _ = writeln!(transcript, "~ {wait}");
            clock += wait.as_millis();
            pass_time(&engine, clock, offset, &mut transcript, &mut buttons);
            continue;
        }
        clock += 60_000;
        if let Some((who, posted)) = line.split_once(" ! ") {
            let (name, fields) = posted.split_once(' ').unwrap_or((posted, "{}"));
            let mut fields: std::collections::BTreeMap<String, serde_json::Value> =
                serde_json::from_str(fields).unwrap_or_else(|error| panic!("{line:?}: fields: {error}"));
            // `"@locale": "en"`: the language of a customer not yet known.
            let locale = fields.remove("@locale").and_then(|locale| locale.as_str().map(str::to_owned));
            let fields = fields
                .into_iter()
                .map(|(name, value)| {
                    use switchboard_core::contract::Value;
                    let value = match value {
                        serde_json::Value::String(text) => Value::Text(text),
                        serde_json::Value::Number(number) => {
                            Value::Number(number.as_f64().expect("a number"))
                        }
                        serde_json::Value::Bool(flag) => Value::Boolean(flag),
                        other => serde_json::from_value(other).expect("a field value"),
                    };
                    (name, value)
                })
                .collect();
            let (tenant, contact) = who.split_once('/').expect("tenant/contact");
            let signal = switchboard::engine::Signal {
                to: contact.to_owned(),
                channel: case.channel,
                name: name.to_owned(),
                fields,
                id: Some(format!("s{index}")),
                locale,
                display_name: Some(capitalise(contact)),
                at: clock,
            };
            let outcome = engine.signal(tenant, signal).unwrap_or_else(|error| panic!("{line:?}: {error}"));
            let _ = writeln!(transcript, "{who} ! {posted}");
            write_outcome(&mut transcript, who, &outcome, &mut buttons);
            continue;
        }
        let (who, text) =
            line.split_once("> ").unwrap_or_else(|| panic!("{}: bad script line {line:?}", dir.display()));
        let (tenant, contact) = who.split_once('/').expect("tenant/contact");
        let (text, payload) = match text
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => {
                let options = buttons.get(who).unwrap_or_else(|| panic!("{line:?}: no buttons to tap"));
                let option =
                    options.get(n - 1).unwrap_or_else(|| panic!("{line:?}: only {} buttons", options.len()));
                (option.title.clone(), Some(option.payload.clone()))
            }
            None => (text.to_owned(), None),
        };
        // `{code}`: the one-time code the host sent this customer, as they
        // would read it on their phone.
        let typed = if text.contains("{code}") {
            let stored = engine.conversation(tenant, contact).expect("read").expect("a conversation");
            let code = stored.conversation.pending_code.expect("a code was sent").code;
            text.replace("{code}", &code)
        } else {
            text.clone()
        };
        let message = InboundMessage {
            channel: case.channel,
            contact: Contact {
                id: contact.to_owned(),
                display_name: Some(capitalise(contact)),
                locale: String::new(),
            },
            text: typed,
            payload: payload.clone(),
            message_id: Some(format!("m{index}")),
            at: clock,
        };
        let outcome = engine.handle(tenant, message).unwrap_or_else(|error| panic!("{line:?}: {error}"));
        let tapped = payload.map(|payload| format!(" ({payload})")).unwrap_or_default();
        let _ = writeln!(transcript, "{who}> {text}{tapped}");
        write_outcome(&mut transcript, who, &outcome, &mut buttons);
    }
    transcript
}

/// Fire every timer due up to `until`, each at its due time, as the
/// scheduler would; timers they set that fall due by then fire too.
fn pass_time(
    engine: &Engine,
    until: i64,
    offset: jiff::tz::Offset,
    transcript: &mut String,
    buttons: &mut HashMap<String, Vec<QuickReply>>,
) {
    for _ in 0..1000 {
        let due = engine.due_timers(until, 1).expect("due timers");
        let Some(timer) = due.first() else { return };
        let outcomes = engine.fire_due(&due, timer.due_at.max(0)).expect("timers fire");
        for outcome in outcomes.iter().filter(|outcome| !outcome.events.is_empty()) {
            let contact = outcome.conversation.rsplit(':').next().unwrap_or(&outcome.conversation);
            let who = format!("{}/{contact}", timer.tenant);
            let at = jiff::Timestamp::from_millisecond(timer.due_at)
                .expect("a time")
                .to_zoned(offset.to_time_zone());
            let _ = writeln!(transcript, "  ⏰ {} {who}", at.strftime("%a %d.%m %H:%M"));
            write_outcome(transcript, &who, outcome, buttons);
        }
    }
    panic!("timers keep falling due before {until}: a timer sets itself again at once?");
}

/// The case's UTC offset, for showing when timers fire.
fn case_offset(now: &str) -> jiff::tz::Offset {
    let zoned: jiff::Zoned = format!("{now}[{}]", &now[now.len() - 6..]).parse().expect("now has an offset");
    zoned.offset()
}

fn write_outcome(
    transcript: &mut String,
    who: &str,
    outcome: &switchboard::engine::TurnOutcome,
    buttons: &mut HashMap<String, Vec<QuickReply>>,
) {
    {
        for reply in &outcome.replies {
            let options: Vec<&str> = reply.quick_replies.iter().map(|option| option.title.as_str()).collect();
            let options =
                if options.is_empty() { String::new() } else { format!(" [{}]", options.join(" | ")) };
            let through = match &reply.outside_window {
                Some(OutsideWindow::Template { name, .. }) => format!(" (template {name})"),
                Some(OutsideWindow::Tag(tag)) => format!(" (tag {tag})"),
                None => String::new(),
            };
            let _ = writeln!(transcript, "  < {}{options}{through}", reply.text.replace('\n', "\n    "));
            if !reply.quick_replies.is_empty() {
                buttons.insert(who.to_owned(), reply.quick_replies.clone());
            }
        }
        for event in &outcome.events {
            // What a build burned and its hash change with every build: not data.
            if matches!(
                event.body,
                EventBody::MessageReceived { .. } | EventBody::MessageSent { .. } | EventBody::StepRan { .. }
            ) {
                continue;
            }
            let mut data = serde_json::to_value(&event.body)
                .ok()
                .and_then(|value| value.get("data").cloned())
                .unwrap_or_default();
            if let Some(data) = data.as_object_mut() {
                data.remove("version");
            }
            let _ = writeln!(transcript, "  · {} {data}", event.body.name());
        }
    }
}

fn capitalise(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The first differing lines, enough to see what changed.
fn diff(expected: &str, actual: &str) -> String {
    let (expected, actual): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let first =
        expected.iter().zip(&actual).position(|(a, b)| a != b).unwrap_or(expected.len().min(actual.len()));
    let mut out = String::new();
    for line in expected.iter().skip(first).take(6) {
        let _ = writeln!(out, "  - {line}");
    }
    for line in actual.iter().skip(first).take(6) {
        let _ = writeln!(out, "  + {line}");
    }
    out
}

/// The schema editors read (`#:schema ../../flow.schema.json`) is the one
/// the parser enforces: `switchboard flow schema > flow.schema.json` after
/// the flow language changes.
#[test]
fn the_committed_flow_schema_is_the_parsers() {
    let committed = std::fs::read_to_string(repo_root().join("flow.schema.json")).expect("flow.schema.json");
    let current = format!(
        "{}\n",
        serde_json::to_string_pretty(&switchboard_core::flow::Flow::json_schema()).expect("a schema")
    );
    assert!(
        committed == current,
        "flow.schema.json is stale: run `cargo run -- flow schema > flow.schema.json` and commit it"
    );
}

/// Every example tenant's flow passes `flow check`, and so do the cases' own tenants.
#[test]
fn every_example_flow_checks() {
    let examples = repo_root().join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).expect("examples/") {
        let dir = entry.expect("an entry").path();
        if !dir.join("tenant.toml").exists() {
            continue;
        }
        let runtime = runtime();
        Tenant::load(&dir, &plugin_dir(), &runtime, &vars)
            .unwrap_or_else(|error| panic!("{}: {error:#}", dir.display()));
        checked += 1;
    }
    assert!(checked >= 4, "expected the example tenants in {}", examples.display());
}
