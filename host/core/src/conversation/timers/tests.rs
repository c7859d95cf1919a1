//! Timers with plain values: a test clock is just the `now` each call gets.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::calendar::{Calendar, CalendarConfig};
use crate::contract::{Channel, Contact, Decision, StepInput, Value};
use crate::conversation::{
    Conversation, Effects, Inbound, OutsideWindow, Plugins, ScheduledTimer, Setting, Status, StepFailed,
};
use crate::failure::FailureCode;
use crate::flow::Flow;

const FLOW: &str = r#"
version = "timers-1"
default_locale = "en"
menu.en = "Visit or price?"
menu.ru = "Визит или цена?"
opt_out.en = ["not relevant"]
opt_out.ru = ["не актуально"]

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
timers = [
    { kind = "remind-24h", before_field = "when", minutes_before = 1440, say.en = "Tomorrow: {when}.", options = ["confirm", "reschedule", "stop"], template = "visit_reminder" },
    { kind = "remind-10m", before_field = "when", minutes_before = 10, say.en = "In 10 minutes!" },
    { kind = "no-show", after_field = "when", minutes_after = 30, say.en = "We missed you.", options = ["reschedule"], event = "booking.no_show" },
]

[[intents]]
name = "price"
title.en = "Price"
triggers.en = ["price"]

[intents.done]
reply.en = "It is 10,000 AMD."
state = "quoted"
timers = [
    { kind = "nudge-4h", minutes_after = 240, say.en = "Still thinking it over?", options = ["stop"] },
    { kind = "nudge-next-day", minutes_after = 1440, say.en = "Any questions?" , message_tag = "POST_PURCHASE_UPDATE" },
]

[[timers]]
kind = "approval-escalate"
minutes_after = 120
say.en = "Still waiting for an answer; I've asked the backup approver."
escalate_to_field = "backup"
"#;

struct NoCalls;

impl Plugins for NoCalls {
    fn call(&mut self, plugin: &str, _: StepInput) -> Result<Vec<Decision>, StepFailed> {
        Err(StepFailed::new(FailureCode::Unavailable, plugin))
    }
}

fn at(text: &str) -> i64 {
    text.parse::<Timestamp>().expect("a timestamp").as_millisecond()
}

/// Europe/Berlin, open 09:00-18:00 on weekdays.
fn office() -> Calendar {
    let hours =
        ["mon", "tue", "wed", "thu", "fri"].map(|day| (day.to_owned(), vec!["09:00-18:00".to_owned()]));
    Calendar::new(&CalendarConfig {
        timezone: "Europe/Berlin".into(),
        hours: hours.into(),
        holidays: Vec::new(),
    })
    .expect("a valid calendar")
}

struct Sim {
    flow: Flow,
    calendar: Calendar,
    conversation: Conversation,
    events: Vec<String>,
}

impl Sim {
    fn new(channel: Channel, now: i64) -> Self {
        let flow = Flow::parse("timers.toml", FLOW, &BTreeSet::new()).expect("the test flow is valid");
        let contact = Contact { id: "c".into(), display_name: None, locale: "en".into() };
        let conversation = Conversation::new("c", "acme", channel, contact, &flow, now);
        Self { flow, calendar: office(), conversation, events: Vec::new() }
    }

    fn keep(&mut self, effects: Effects) -> Effects {
        self.events.extend(effects.events.iter().map(|event| {
            let value = serde_json::to_value(&event.body).expect("serialises");
            match value["data"].get("reason").or(value["data"].get("kind")).and_then(|v| v.as_str()) {
                Some(detail) => format!("{} {detail}", event.body.name()),
                None => event.body.name(),
            }
        }));
        effects
    }

    fn say(&mut self, text: &str, payload: Option<&str>, now: i64) -> Effects {
        let inbound = Inbound { text: text.into(), payload: payload.map(str::to_owned), at: now };
        let setting = Setting { flow: &self.flow, calendar: &self.calendar };
        let effects = self.conversation.handle(setting, &inbound, &mut NoCalls);
        self.keep(effects)
    }

    fn fire(&mut self, key: &str, now: i64) -> Effects {
        let setting = Setting { flow: &self.flow, calendar: &self.calendar };
        let effects = self.conversation.fire_timer(setting, key, now);
        self.keep(effects)
    }

    fn due(&self, key: &str) -> Option<i64> {
        self.conversation.timers.get(key).map(|timer| timer.due_at)
    }

    fn book(&mut self, when: &str, now: i64) {
        self.say("visit", None, now);
        self.say(when, None, now);
        assert!(matches!(self.conversation.status, Status::Ended { .. }), "{:?}", self.events);
    }
}

fn keys(timers: &[ScheduledTimer]) -> Vec<&str> {
    timers.iter().map(|timer| timer.key.as_str()).collect()
}

fn texts(effects: &Effects) -> Vec<&str> {
    effects.outbound.iter().map(|message| message.text.as_str()).collect()
}

#[test]
fn booking_reminders_count_back_from_the_booking_and_carry_buttons() {
    // Booked on Monday for Wednesday 10:00 Berlin (09:00 UTC).
    let mut sim = Sim::new(Channel::Telegram, at("2026-01-05T10:00:00Z"));
    sim.book("2026-01-07 10:00", at("2026-01-05T10:00:00Z"));
    assert_eq!(sim.due("remind-24h"), Some(at("2026-01-06T09:00:00Z")));
    assert_eq!(sim.due("remind-10m"), Some(at("2026-01-07T08:50:00Z")));
    assert_eq!(sim.due("no-show"), Some(at("2026-01-07T09:30:00Z")));

    let fired = sim.fire("remind-24h", at("2026-01-06T09:00:00Z"));
    assert_eq!(texts(&fired), ["Tomorrow: 7 Jan 2026, 10:00."]);
    let buttons: Vec<&str> = fired.outbound[0].quick_replies.iter().map(|b| b.payload.as_str()).collect();
    assert_eq!(buttons, ["timer:remind-24h:confirm", "timer:remind-24h:reschedule", "timer:remind-24h:stop"]);
    assert_eq!(keys(&fired.cancelled_timers), ["remind-24h"]);
    assert_eq!(sim.fire("remind-24h", at("2026-01-06T09:00:01Z")), Effects::default(), "fires once");

    let confirmed = sim.say("Confirm", Some("timer:remind-24h:confirm"), at("2026-01-06T09:05:00Z"));
    assert_eq!(texts(&confirmed), ["Thank you, see you then!"]);
    assert!(sim.due("remind-10m").is_some(), "a reply does not cancel booking reminders");
}

#[test]
fn a_reminder_due_after_its_booking_is_skipped_not_sent() {
    let mut sim = Sim::new(Channel::Telegram, at("2026-01-05T10:00:00Z"));
    sim.book("2026-01-07 10:00", at("2026-01-05T10:00:00Z"));
    // The host was down over the booking; the 10-minute reminder is pointless now.
    let late = sim.fire("remind-10m", at("2026-01-07T09:20:00Z"));
    assert!(late.outbound.is_empty());
    assert!(sim.events.contains(&"timer.skipped too_late".to_owned()), "{:?}", sim.events);
    // The no-show check is due after the booking, so it still goes out, with its event.
    let no_show = sim.fire("no-show", at("2026-01-07T09:31:00Z"));
    assert_eq!(texts(&no_show), ["We missed you."]);
    assert!(sim.events.contains(&"booking.no_show".to_owned()));
}

#[test]
fn reschedule_asks_again_and_moves_the_reminders() {
    let mut sim = Sim::new(Channel::Telegram, at("2026-01-05T10:00:00Z"));
    sim.book("2026-01-07 10:00", at("2026-01-05T10:00:00Z"));
    sim.fire("remind-24h", at("2026-01-06T09:00:00Z"));
    let asked = sim.say("Reschedule", Some("timer:remind-24h:reschedule"), at("2026-01-06T09:01:00Z"));
    assert_eq!(texts(&asked), ["Of course, let's find another time.", "When?"]);
    let booked = sim.say("2026-01-09 15:00", None, at("2026-01-06T09:02:00Z"));
    assert_eq!(texts(&booked), ["Booked for 9 Jan 2026, 15:00."]);
    assert_eq!(sim.due("remind-10m"), Some(at("2026-01-09T13:50:00Z")), "moved, not duplicated");
    assert!(booked.timers.iter().any(|timer| timer.key == "remind-10m"));
    let moved = booked.cancelled_timers.iter().find(|timer| timer.key == "remind-10m");
    assert_eq!(moved.map(|timer| timer.due_at), Some(at("2026-01-07T08:50:00Z")), "the old index entry goes");
    assert_eq!(sim.conversation.timers.len(), 3);
    let moved_reminder = sim.fire("remind-24h", at("2026-01-08T14:00:00Z"));
    assert_eq!(texts(&moved_reminder), ["Tomorrow: 9 Jan 2026, 15:00."], "about the new time");
}

#[test]
fn a_reply_cancels_silence_follow_ups_only() {
    let mut sim = Sim::new(Channel::Telegram, at("2026-01-05T10:00:00Z"));
    sim.say("price", None, at("2026-01-05T10:00:00Z"));
    assert_eq!(sim.due("nudge-4h"), Some(at("2026-01-05T14:00:00Z")));
    let replied = sim.say("hmm, and a visit?", None, at("2026-01-05T11:00:00Z"));
    assert_eq!(keys(&replied.cancelled_timers), ["nudge-4h", "nudge-next-day"]);
    assert!(sim.conversation.timers.is_empty());
    assert_eq!(sim.fire("nudge-4h", at("2026-01-05T14:00:00Z")), Effects::default());
}

#[test]
fn a_follow_up_due_at_night_moves_to_the_next_opening() {
    // A quote at 16:00 Berlin on Friday: +4 h is 20:00, closed; Monday 09:00 it is.
    let mut sim = Sim::new(Channel::Telegram, at("2026-01-09T15:00:00Z"));
    let quoted = sim.say("price", None, at("2026-01-09T15:00:00Z"));
    assert_eq!(sim.due("nudge-4h"), Some(at("2026-01-12T08:00:00Z")));
    let requested = quoted.events.iter().find_map(|event| match &event.body {
        crate::event::EventBody::TimerRequested { kind, requested_at, .. } if kind == "nudge-4h" => {
            *requested_at
        }
        _ => None,
    });
    assert_eq!(requested, Some(at("2026-01-09T19:00:00Z")), "the event says where it was moved from");
}

#[test]
fn outside_the_window_a_reminder_goes_as_a_template_or_not_at_all() {
    let mut sim = Sim::new(Channel::Whatsapp, at("2026-01-01T10:00:00Z"));
    sim.book("2026-01-07 10:00", at("2026-01-01T10:00:00Z"));
    // Five days of silence: WhatsApp's 24 h window is long closed.
    let fired = sim.fire("remind-24h", at("2026-01-06T09:00:00Z"));
    assert_eq!(
        fired.outbound[0].outside_window,
        Some(OutsideWindow::Template { name: "visit_reminder".into(), language: "en".into() })
    );
    // The 10-minute reminder has no template: skipped with an event, never sent free-form.
    let skipped = sim.fire("remind-10m", at("2026-01-07T08:50:00Z"));
    assert!(skipped.outbound.is_empty());
    assert!(sim.events.contains(&"timer.skipped window_closed".to_owned()), "{:?}", sim.events);
    // Agents are held to the same window.
    let refused = sim.conversation.agent_reply("Hello?", at("2026-01-07T08:51:00Z"));
    assert!(refused.outbound.is_empty());
    assert_eq!(refused.events[0].body.name(), "message.refused");
}

#[test]
fn messenger_uses_the_message_tag_after_the_window() {
    let mut sim = Sim::new(Channel::Messenger, at("2026-01-05T10:00:00Z"));
    sim.say("price", None, at("2026-01-05T10:00:00Z"));
    let next_day = sim.fire("nudge-next-day", at("2026-01-06T10:00:01Z"));
    assert_eq!(next_day.outbound[0].outside_window, Some(OutsideWindow::Tag("POST_PURCHASE_UPDATE".into())));
}

#[test]
fn not_relevant_stops_every_ladder() {
    let mut sim = Sim::new(Channel::Telegram, at("2026-01-05T10:00:00Z"));
    sim.book("2026-01-07 10:00", at("2026-01-05T10:00:00Z"));
    let stopped = sim.say("Не актуально, спасибо", None, at("2026-01-05T11:00:00Z"));
    assert_eq!(stopped.cancelled_timers.len(), 3);
    assert_eq!(texts(&stopped), ["Понятно, больше не будем об этом писать."]);
    assert!(sim.conversation.timers.is_empty());
}

#[test]
fn closing_a_conversation_cancels_its_timers() {
    let mut sim = Sim::new(Channel::Telegram, at("2026-01-05T10:00:00Z"));
    sim.say("price", None, at("2026-01-05T10:00:00Z"));
    let setting = Setting { flow: &sim.flow, calendar: &sim.calendar };
    let closed = sim.conversation.close(setting, "closed", at("2026-01-05T10:30:00Z"));
    assert_eq!(keys(&closed.cancelled_timers), ["nudge-4h", "nudge-next-day"]);
}

#[test]
fn silent_approvers_are_escalated_to_the_backup_once() {
    let mut sim = Sim::new(Channel::Internal, at("2026-01-05T10:00:00Z"));
    let conversation = &mut sim.conversation;
    conversation.status = Status::Human { queue: "anna".into(), assignee: Some("anna".into()) };
    conversation.fields.insert("backup".into(), Value::Text("aram".into()));
    conversation.timers.insert(
        "approval".into(),
        super::PendingTimer {
            kind: "approval-escalate".into(),
            due_at: at("2026-01-05T12:00:00Z"),
            cancel_on_reply: false,
            payload: String::new(),
            context: None,
        },
    );
    let fired = sim.fire("approval", at("2026-01-05T12:00:00Z"));
    assert_eq!(texts(&fired), ["Still waiting for an answer; I've asked the backup approver."]);
    assert_eq!(
        sim.conversation.status,
        Status::Human { queue: "aram".into(), assignee: Some("aram".into()) }
    );
    assert!(sim.events.contains(&"approval.escalated".to_owned()));
}

#[test]
fn a_24h_reminder_keeps_its_wall_clock_time_across_the_dst_change() {
    // Berlin moves its clocks forward on Sunday 2026-03-29 at 02:00. A visit
    // that Sunday at 10:00 CEST (08:00 UTC) is reminded on Saturday at 10:00
    // CET (09:00 UTC): 23 hours of elapsed time, a day by the wall clock.
    let mut sim = Sim::new(Channel::Telegram, at("2026-03-25T10:00:00Z"));
    sim.book("2026-03-29 10:00", at("2026-03-25T10:00:00Z"));
    assert_eq!(sim.due("remind-24h"), Some(at("2026-03-28T09:00:00Z")));
    assert_eq!(sim.due("remind-10m"), Some(at("2026-03-29T07:50:00Z")));
}

#[test]
fn catching_up_fires_every_due_timer_in_order_in_one_turn_and_leaves_later_ones() {
    let mut sim = Sim::new(Channel::Telegram, at("2026-01-05T10:00:00Z"));
    sim.book("2026-01-07 10:00", at("2026-01-05T10:00:00Z"));
    let no_show = sim.due("no-show").expect("the no-show check is set");
    // The host was down from before the first reminder until just before the visit.
    let setting = Setting { flow: &sim.flow, calendar: &sim.calendar };
    let caught_up = sim.conversation.fire_due_timers(setting, at("2026-01-07T08:55:00Z"));
    let caught_up = sim.keep(caught_up);
    assert_eq!(keys(&caught_up.cancelled_timers), ["remind-24h", "remind-10m"]);
    assert_eq!(texts(&caught_up), ["Tomorrow: 7 Jan 2026, 10:00.", "In 10 minutes!"]);
    let pending: Vec<&str> = sim.conversation.timers.keys().map(String::as_str).collect();
    assert_eq!(pending, ["no-show"], "not due yet");
    assert_eq!(sim.due("no-show"), Some(no_show));

    // Down again over the visit: the check-in is still sent, once.
    let setting = Setting { flow: &sim.flow, calendar: &sim.calendar };
    let after = sim.conversation.fire_due_timers(setting, at("2026-01-07T12:00:00Z"));
    assert_eq!(texts(&after), ["We missed you."]);
    let setting = Setting { flow: &sim.flow, calendar: &sim.calendar };
    assert_eq!(sim.conversation.fire_due_timers(setting, at("2026-01-07T12:00:01Z")), Effects::default());
}

#[test]
fn a_booking_reminder_stays_about_its_booking_after_the_customer_asks_something_else() {
    let mut sim = Sim::new(Channel::Telegram, at("2026-01-05T10:00:00Z"));
    sim.book("2026-01-07 10:00", at("2026-01-05T10:00:00Z"));
    // A new round starts with fresh fields; the booking's reminders stay.
    sim.say("price", None, at("2026-01-05T11:00:00Z"));
    assert!(!sim.conversation.fields.contains_key("when"));
    let reminder = sim.fire("remind-24h", at("2026-01-06T09:00:00Z"));
    assert_eq!(texts(&reminder), ["Tomorrow: 7 Jan 2026, 10:00."]);
    // And the booking's start still makes a late reminder pointless.
    let late = sim.fire("remind-10m", at("2026-01-07T09:20:00Z"));
    assert!(late.outbound.is_empty());
    assert!(sim.events.contains(&"timer.skipped too_late".to_owned()), "{:?}", sim.events);
}
