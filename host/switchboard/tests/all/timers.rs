//! The follow-up ladders of SCENARIOS.md through the real engine, store and
//! scheduler, on a test clock: nothing sleeps through the hours.

use std::path::Path;
use std::sync::Arc;

use switchboard::engine::{Engine, InboundMessage};
use switchboard::scheduler;
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Channel, Contact};
use switchboard_core::event::EventBody;
use switchboard_store::Store;

use crate::support::{plugin_dir, runtime};

/// Every ladder in one flow. The tenant works 08:00-20:00 UTC every day.
const LADDERS: &str = r#"
version = "ladders-1"
default_locale = "en"
menu.en = "Visit, price, news, renewal or cancel?"
opt_out.en = ["not relevant"]

[[intents]]
name = "visit"
title.en = "Visit"
triggers.en = ["visit"]
[[intents.fields]]
name = "when"
type = "datetime"
prompt.en = "When?"
[intents.done]
reply.en = "Booked for {when}."
state = "booked"
event = "booking.created"
[[intents.done.timers]]
kind = "remind-24h"
before_field = "when"
minutes_before = 1440
say.en = "Tomorrow at {when}."
options = ["confirm", "reschedule"]
template = "visit_reminder"
[[intents.done.timers]]
kind = "remind-2h"
before_field = "when"
minutes_before = 120
say.en = "In 2 hours."
[[intents.done.timers]]
kind = "remind-10m"
before_field = "when"
minutes_before = 10
say.en = "In 10 minutes."
[[intents.done.timers]]
kind = "no-show"
after_field = "when"
minutes_after = 30
say.en = "We missed you."
options = ["reschedule"]
event = "booking.no_show"

[[intents]]
name = "price"
title.en = "Price"
triggers.en = ["price"]
[intents.done]
reply.en = "It is 10,000 AMD."
state = "quoted"
[[intents.done.timers]]
kind = "quote-4h"
minutes_after = 240
say.en = "Any questions about the price?"
[[intents.done.timers]]
kind = "quote-next-day"
minutes_after = 1440
say.en = "Shall we go ahead?"

[[intents]]
name = "news"
title.en = "News"
triggers.en = ["news"]
[intents.done]
reply.en = "I'll keep you posted."
state = "closed"
[[intents.done.timers]]
kind = "reactivate-day-1"
minutes_after = 1440
say.en = "Day 1: still interested?"
options = ["stop"]
[[intents.done.timers]]
kind = "reactivate-day-3"
minutes_after = 4320
say.en = "Day 3: a new offer."
options = ["stop"]
[[intents.done.timers]]
kind = "reactivate-day-7"
minutes_after = 10080
say.en = "Day 7: last note from us."
options = ["stop"]

[[intents]]
name = "renewal"
title.en = "Renewal"
triggers.en = ["subscription"]
[[intents.fields]]
name = "ends"
type = "date"
prompt.en = "When does it end?"
[intents.done]
reply.en = "Noted: it ends on {ends}."
state = "closed"
[[intents.done.timers]]
kind = "renew-14d"
before_field = "ends"
minutes_before = 20160
next_opening = true
say.en = "Your subscription ends on {ends}. Renew?"

[[intents]]
name = "cancel"
title.en = "Cancel"
triggers.en = ["cancel"]
[intents.done]
reply.en = "Cancelled. Sorry to see you go."
state = "closed"
[[intents.done.timers]]
kind = "win-back"
minutes_after = 43200
cancel_on_reply = false
say.en = "It's been a month: 20% off if you come back."

[[timers]]
kind = "call-back"
minutes_after = 0
say.en = "As promised, we're getting back to you."
"#;

const HOURS: &str = "[calendar]\ntimezone = \"UTC\"\nhours.mon = [\"08:00-20:00\"]\nhours.tue = [\"08:00-20:00\"]\n\
    hours.wed = [\"08:00-20:00\"]\nhours.thu = [\"08:00-20:00\"]\nhours.fri = [\"08:00-20:00\"]\n\
    hours.sat = [\"08:00-20:00\"]\nhours.sun = [\"08:00-20:00\"]\n";

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

fn at(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().expect("a timestamp").as_millisecond()
}

pub fn write_ladders(dir: &Path, extra: &str) -> std::path::PathBuf {
    let tenant = dir.join("ladders");
    std::fs::create_dir_all(&tenant).expect("mkdir");
    std::fs::write(tenant.join("flow.toml"), LADDERS).expect("write flow");
    let toml = format!("name = \"ladders\"\nflow = \"flow.toml\"\n{extra}\n{HOURS}");
    std::fs::write(tenant.join("tenant.toml"), toml).expect("write tenant");
    tenant
}

/// One customer, the engine and the scheduler, on a clock the test moves.
struct Sim {
    engine: Arc<Engine>,
    /// The engine's store, for what only a test does: read raw outbox
    /// entries and write due-index entries the engine never would.
    store: Store,
    channel: Channel,
    now: i64,
    /// Events already looked at.
    seen: usize,
    _dir: tempfile::TempDir,
}

impl Sim {
    fn new(channel: Channel, start: &str) -> Self {
        Self::with(Store::temporary().expect("store"), channel, start, "")
    }

    fn with(store: Store, channel: Channel, start: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let tenant_dir = write_ladders(dir.path(), extra);
        let runtime = runtime();
        let engine = Engine::new(store.clone(), Arc::clone(&runtime));
        engine
            .add_tenant(Tenant::load(&tenant_dir, &plugin_dir(), &runtime, &|_| None).expect("loads"))
            .expect("added");
        Self { engine: Arc::new(engine), store, channel, now: at(start), seen: 0, _dir: dir }
    }

    fn conversation(&self) -> String {
        format!("{}:c1", self.channel.as_str())
    }

    /// What `contact` writes on the sim's channel, now.
    fn message(&self, contact: &str, text: &str, payload: Option<&str>) -> InboundMessage {
        InboundMessage {
            channel: self.channel,
            contact: Contact { id: contact.to_owned(), display_name: None, locale: "en".to_owned() },
            text: text.to_owned(),
            payload: payload.map(str::to_owned),
            message_id: None,
            at: self.now,
        }
    }

    fn send(&mut self, text: &str, payload: Option<&str>) -> Vec<String> {
        let message = self.message(&self.conversation(), text, payload);
        self.engine.handle("ladders", message).expect("handled");
        self.sent()
    }

    fn say(&mut self, text: &str) -> Vec<String> {
        self.send(text, None)
    }

    /// Move the clock, firing every timer when it falls due, as the
    /// scheduler would; what the timers said, each as `day+HH:MM text`.
    fn advance(&mut self, by: i64) -> Vec<String> {
        let until = self.now + by;
        let mut said = Vec::new();
        while let Some(due) = self.engine.next_due().expect("next due").filter(|due| *due <= until) {
            self.now = self.now.max(due);
            scheduler::fire_due(&self.engine, self.now).expect("fired");
            said.extend(self.sent().into_iter().map(|text| format!("{} {text}", clock(self.now))));
        }
        self.now = until;
        said
    }

    /// The bot's messages since the last look.
    fn sent(&mut self) -> Vec<String> {
        let events = self.events();
        let new = events[self.seen..].to_vec();
        self.seen = events.len();
        new.into_iter()
            .filter_map(|body| match body {
                EventBody::MessageSent { text, .. } => Some(text),
                _ => None,
            })
            .collect()
    }

    fn events(&self) -> Vec<EventBody> {
        let events = self.engine.conversation_events("ladders", &self.conversation()).expect("events");
        events.into_iter().map(|event| event.body).collect()
    }

    fn event_names(&self) -> Vec<String> {
        self.events().iter().map(EventBody::name).collect()
    }

    fn pending(&self) -> Vec<String> {
        let stored = self.engine.conversation("ladders", &self.conversation()).expect("read");
        let pending: Vec<String> =
            stored.map(|stored| stored.conversation.timers.into_keys().collect()).unwrap_or_default();
        // The scheduler's index holds every one of the conversation's timers
        // (and, until they fall due, entries of timers since cancelled or moved).
        assert!(
            self.engine.pending_timer_count().expect("counts") >= pending.len(),
            "every pending timer is indexed"
        );
        pending
    }
}

/// `Mon 10:00`, for reading ladders at a glance.
fn clock(ms: i64) -> String {
    let zoned = jiff::Timestamp::from_millisecond(ms).expect("a time").to_zoned(jiff::tz::TimeZone::UTC);
    zoned.strftime("%a %H:%M").to_string()
}

#[test]
fn booking_reminders_fire_at_24h_2h_and_10m_then_the_no_show_check() {
    // Monday 2026-01-05 09:00; the visit is Wednesday at 15:00.
    let mut sim = Sim::new(Channel::Telegram, "2026-01-05T09:00:00Z");
    sim.say("I'd like a visit");
    assert_eq!(sim.say("2026-01-07 15:00"), ["Booked for 7 Jan 2026, 15:00."]);
    assert_eq!(sim.pending(), ["no-show", "remind-10m", "remind-24h", "remind-2h"]);
    assert_eq!(
        sim.advance(3 * DAY),
        [
            "Tue 15:00 Tomorrow at 7 Jan 2026, 15:00.",
            "Wed 13:00 In 2 hours.",
            "Wed 14:50 In 10 minutes.",
            "Wed 15:30 We missed you.",
        ]
    );
    assert!(sim.pending().is_empty(), "each fired once and is gone");
    assert!(sim.event_names().contains(&"booking.no_show".to_owned()));
}

#[test]
fn rescheduling_from_a_reminder_moves_the_remaining_reminders() {
    let mut sim = Sim::new(Channel::Telegram, "2026-01-05T09:00:00Z");
    sim.say("visit");
    sim.say("2026-01-07 15:00");
    assert_eq!(sim.advance(DAY + 6 * HOUR), ["Tue 15:00 Tomorrow at 7 Jan 2026, 15:00."]);
    assert_eq!(
        sim.send("Reschedule", Some("timer:remind-24h:reschedule")),
        ["Of course, let's find another time.", "When?"]
    );
    assert_eq!(sim.say("2026-01-09 11:00"), ["Booked for 9 Jan 2026, 11:00."]);
    // Nothing fires at the old time; everything at the new one.
    assert_eq!(
        sim.advance(5 * DAY),
        [
            "Thu 11:00 Tomorrow at 9 Jan 2026, 11:00.",
            "Fri 09:00 In 2 hours.",
            "Fri 10:50 In 10 minutes.",
            "Fri 11:30 We missed you.",
        ]
    );
}

#[test]
fn quote_silence_gets_two_nudges_and_a_reply_cancels_the_rest() {
    let mut sim = Sim::new(Channel::Telegram, "2026-01-05T09:00:00Z");
    sim.say("price?");
    assert_eq!(sim.advance(5 * HOUR), ["Mon 13:00 Any questions about the price?"]);
    sim.say("thanks, thinking");
    assert!(sim.pending().is_empty(), "the reply cancelled the next-day nudge");
    assert!(sim.advance(3 * DAY).is_empty());

    // Silent all the way: both nudges.
    let mut silent = Sim::new(Channel::Telegram, "2026-01-05T09:00:00Z");
    silent.say("price?");
    assert_eq!(
        silent.advance(2 * DAY),
        ["Mon 13:00 Any questions about the price?", "Tue 09:00 Shall we go ahead?"]
    );
}

#[test]
fn a_follow_up_due_at_night_waits_for_the_morning() {
    // A quote at 18:30: +4 h is 22:30, after hours; it goes at 08:00.
    let mut sim = Sim::new(Channel::Telegram, "2026-01-05T18:30:00Z");
    sim.say("price?");
    assert_eq!(sim.advance(DAY)[0], "Tue 08:00 Any questions about the price?");
}

#[test]
fn the_reactivation_ladder_stops_after_its_last_step_or_on_not_relevant() {
    let mut sim = Sim::new(Channel::Telegram, "2026-01-05T09:00:00Z");
    sim.say("any news?");
    assert_eq!(
        sim.advance(30 * DAY),
        [
            "Tue 09:00 Day 1: still interested?",
            "Thu 09:00 Day 3: a new offer.",
            "Mon 09:00 Day 7: last note from us."
        ]
    );

    let mut stopped = Sim::new(Channel::Telegram, "2026-01-05T09:00:00Z");
    stopped.say("any news?");
    assert_eq!(stopped.advance(DAY + HOUR), ["Tue 09:00 Day 1: still interested?"]);
    assert_eq!(
        stopped.send("Not relevant", Some("timer:reactivate-day-1:stop")),
        ["Understood, we won't write about this again."]
    );
    assert!(stopped.pending().is_empty());
    assert!(stopped.advance(30 * DAY).is_empty());
}

#[test]
fn renewal_is_reminded_14_days_ahead_and_a_cancellation_gets_a_win_back() {
    let mut sim = Sim::new(Channel::Telegram, "2026-01-05T09:00:00Z");
    sim.say("my subscription");
    sim.say("2026-02-01");
    let said = sim.advance(30 * DAY);
    assert_eq!(said, ["Sun 08:00 Your subscription ends on 1 Feb 2026. Renew?"]);

    let mut leaving = Sim::new(Channel::Telegram, "2026-01-05T09:00:00Z");
    leaving.say("cancel please");
    assert_eq!(leaving.advance(31 * DAY), ["Wed 09:00 It's been a month: 20% off if you come back."]);
}

#[test]
fn outside_the_whatsapp_window_a_reminder_goes_as_the_template() {
    let extra = "[channels.whatsapp]\napp_secret = \"s\"\nverify_token = \"v\"\naccess_token = \"t\"\n\
                 phone_number_id = \"1065\"\napi_base = \"http://127.0.0.1:9\"";
    let mut sim =
        Sim::with(Store::temporary().expect("store"), Channel::Whatsapp, "2026-01-01T09:00:00Z", extra);
    sim.say("visit");
    sim.say("2026-01-07 15:00");
    let outbox_before = sim.store.outbox("ladders", 100).expect("outbox").len();
    // Six days without a word from the customer: the 24 h window is closed.
    sim.advance(5 * DAY + 7 * HOUR);
    let outbox = sim.store.outbox("ladders", 100).expect("outbox");
    let reminder: serde_json::Value = serde_json::from_slice(&outbox[outbox_before].1).expect("JSON");
    assert_eq!(reminder["outside_window"]["template"]["name"], "visit_reminder");
    // The 2 h reminder has no template: skipped with an event, never sent free-form.
    sim.advance(DAY);
    let skipped = sim
        .events()
        .into_iter()
        .filter(|event| matches!(event, EventBody::TimerSkipped { reason, .. } if reason == "window_closed"));
    assert_eq!(skipped.count(), 3, "the 2 h, 10 min and no-show messages");
}

#[test]
fn timers_due_while_the_host_was_down_fire_once_on_start_and_stale_ones_are_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data");
    {
        let mut sim =
            Sim::with(Store::open(&path).expect("store"), Channel::Telegram, "2026-01-05T09:00:00Z", "");
        sim.say("visit");
        sim.say("2026-01-07 15:00");
    }
    // Back up on Wednesday at 15:05, after the visit began: every reminder
    // meant for before it is dropped with an event; the no-show check is still ahead.
    let mut sim =
        Sim::with(Store::open(&path).expect("store"), Channel::Telegram, "2026-01-07T15:05:00Z", "");
    sim.sent();
    assert_eq!(scheduler::fire_due(&sim.engine, sim.now).expect("fired"), 3);
    assert!(sim.sent().is_empty());
    let skipped = sim
        .events()
        .into_iter()
        .filter(|event| matches!(event, EventBody::TimerSkipped { reason, .. } if reason == "too_late"));
    assert_eq!(skipped.count(), 3);
    assert_eq!(sim.advance(HOUR), ["Wed 15:30 We missed you."]);
    assert_eq!(scheduler::fire_due(&sim.engine, sim.now + DAY).expect("fired"), 0, "nothing fires twice");
}

#[test]
fn agents_list_set_and_cancel_timers() {
    let mut sim = Sim::new(Channel::Telegram, "2026-01-05T09:00:00Z");
    sim.say("price?");
    let conversation = sim.conversation();
    let due = sim.now + 2 * HOUR;
    sim.engine.schedule_timer("ladders", &conversation, "call-back", due, sim.now).expect("scheduled");
    assert_eq!(sim.pending(), ["call-back", "quote-4h", "quote-next-day"]);
    let unknown = sim.engine.schedule_timer("ladders", &conversation, "nope", due, sim.now);
    assert!(unknown.is_err());
    sim.engine.cancel_timer("ladders", &conversation, "quote-4h", sim.now).expect("cancelled");
    assert_eq!(
        sim.advance(DAY),
        ["Mon 11:00 As promised, we're getting back to you.", "Tue 09:00 Shall we go ahead?"]
    );
}

/// The office example: an internal request, a silent approver, the backup.
fn office() -> (Arc<Engine>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = runtime();
    let engine = Engine::new(Store::temporary().expect("store"), Arc::clone(&runtime));
    let examples = crate::support::repo_root().join("examples/office");
    engine
        .add_tenant(Tenant::load(&examples, &plugin_dir(), &runtime, &|_| None).expect("loads"))
        .expect("added");
    (Arc::new(engine), dir)
}

fn staff(engine: &Engine, text: &str, at: i64) -> Vec<String> {
    let message = InboundMessage {
        channel: Channel::Internal,
        contact: Contact {
            id: "staff:mariam".to_owned(),
            display_name: Some("Mariam".to_owned()),
            locale: "en".to_owned(),
        },
        text: text.to_owned(),
        payload: None,
        message_id: None,
        at,
    };
    engine.handle("office", message).expect("handled").replies.into_iter().map(|reply| reply.text).collect()
}

#[test]
fn a_silent_approver_is_escalated_to_the_backup_and_the_decision_is_audited() {
    let (engine, _dir) = office();
    // Monday 2026-01-05, 10:00 in Yerevan (06:00 UTC).
    let start = at("2026-01-05T06:00:00Z");
    staff(&engine, "I need to buy a printer", start);
    staff(&engine, "Gyumri", start + MINUTE);
    staff(&engine, "2 laser printers", start + 2 * MINUTE);
    staff(&engine, "240000 AMD", start + 3 * MINUTE);
    let routed = staff(&engine, "this week", start + 4 * MINUTE);
    assert_eq!(routed[0], "Sent to narek for approval. You'll hear back here.");
    // The requester asks for news: that does not call off the escalation.
    staff(&engine, "any news?", start + HOUR);

    let fired = scheduler::fire_due(&engine, start + 4 * MINUTE + 2 * HOUR).expect("fired");
    assert_eq!(fired, 1);
    let stored = engine.conversation("office", "staff:mariam").expect("read").expect("exists");
    assert_eq!(
        stored.conversation.status,
        switchboard_core::conversation::Status::Human { queue: "aram".into(), assignee: Some("aram".into()) }
    );

    let decided = engine
        .decide(
            "office",
            "staff:mariam",
            true,
            "aram",
            Some("Order from the usual supplier."),
            None,
            start + 3 * HOUR,
        )
        .expect("decided");
    assert_eq!(decided.replies[0].text, "Approved by aram. Order from the usual supplier.");
    // Decided is decided: a second decision, either way, changes nothing.
    let again = engine.decide("office", "staff:mariam", false, "aram", None, None, start + 4 * HOUR);
    assert!(matches!(again, Err(switchboard::engine::EngineError::NothingToDecide)), "{again:?}");

    let audit: Vec<String> = engine
        .conversation_events("office", "staff:mariam")
        .expect("events")
        .into_iter()
        .filter_map(|event| match event.body {
            EventBody::Domain { name, payload } if name.starts_with("approval.") => Some(format!(
                "{name} {}",
                payload
                    .get("by")
                    .or(payload.get("to"))
                    .or(payload.get("approver"))
                    .unwrap_or(&serde_json::Value::Null)
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        audit,
        ["approval.requested \"narek\"", "approval.escalated \"aram\"", "approval.decided \"aram\""]
    );
    assert_eq!(scheduler::fire_due(&engine, start + 30 * DAY).expect("fired"), 0, "nothing left to escalate");
}

#[test]
fn an_index_entry_its_conversation_disagrees_with_fires_nothing_and_is_settled() {
    let mut sim = Sim::new(Channel::Telegram, "2026-01-05T09:00:00Z");
    sim.say("price?");
    let store = &sim.store;
    let stored = store.conversation("ladders", &sim.conversation()).expect("read").expect("exists");
    // A due-index entry the conversation knows nothing of, and one for a
    // real timer at the wrong time.
    let ghost = switchboard_core::conversation::ScheduledTimer {
        key: "ghost".into(),
        kind: "quote-4h".into(),
        due_at: sim.now,
    };
    let early =
        switchboard_core::conversation::ScheduledTimer { key: "quote-next-day".into(), ..ghost.clone() };
    let record = switchboard_store::TurnRecord {
        stored: &stored,
        events: &[],
        dedupe: None,
        outbox: &[],
        timers: &[ghost, early],
    };
    store.commit_turn("ladders", &record).expect("written");
    assert_eq!(store.pending_timer_count(), 4);
    assert_eq!(scheduler::fire_due(&sim.engine, sim.now).expect("fired"), 0, "nothing was due for real");
    assert_eq!(
        store.pending_timer_count(),
        2,
        "the ghost and the early entry are settled; the real two wait"
    );
    assert_eq!(
        sim.advance(2 * DAY),
        ["Mon 13:00 Any questions about the price?", "Tue 09:00 Shall we go ahead?"]
    );
}

#[test]
fn a_backlog_fired_on_several_threads_fires_every_timer_once() {
    let sim = Sim::new(Channel::Telegram, "2026-01-05T09:00:00Z");
    let conversations: Vec<String> = (0..300).map(|n| format!("telegram:c{n}")).collect();
    for id in &conversations {
        for text in ["visit", "2026-01-07 15:00"] {
            sim.engine.handle("ladders", sim.message(id, text, None)).expect("handled");
        }
    }
    // Down until after the no-show check: three reminders each are too late,
    // and the check fires. Several pages, taken by three threads at once.
    let now = at("2026-01-07T15:35:00Z");
    assert_eq!(scheduler::fire_due_on(&sim.engine, now, 3).expect("fired"), 300 * 4);
    for id in &conversations {
        let events = sim.engine.conversation_events("ladders", id).expect("events");
        let settled: Vec<String> = events
            .into_iter()
            .filter_map(|event| match event.body {
                EventBody::TimerFired { key, .. } => Some(format!("fired {key}")),
                EventBody::TimerSkipped { key, .. } => Some(format!("skipped {key}")),
                _ => None,
            })
            .collect();
        assert_eq!(
            settled,
            ["skipped remind-24h", "skipped remind-2h", "skipped remind-10m", "fired no-show"],
            "{id}"
        );
    }
    assert_eq!(sim.engine.pending_timer_count().expect("counts"), 0);
    assert_eq!(scheduler::fire_due_on(&sim.engine, now + DAY, 3).expect("fired"), 0, "nothing fires twice");
}
