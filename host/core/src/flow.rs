//! A tenant's conversation flow: what it understands, what it asks, which
//! plugins it calls, and when a human takes over. Users write it in TOML; see
//! `flow.schema.json` (from `switchboard flow schema`) for editor support, and
//! `examples/*/flow.toml` for complete ones.
//!
//! [`Flow::parse`] turns text into a checked flow or a list of [`Problem`]s,
//! each with a line, a column and a hint (`check.rs`). A flow that parses is
//! internally consistent: every intent, field, plugin step and queue it names
//! exists.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::contract::Priority;

mod check;
mod condition;
mod duration;

pub use check::{Problem, Problems, placeholders as check_placeholders};
pub use condition::{Facts, Match, Test, When};
pub use duration::Duration;

/// Text in several languages, keyed by locale (`en`, `ru`, `hy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Localized(pub BTreeMap<String, String>);

impl Localized {
    /// The text for `locale`, else for `fallback`, else any.
    pub fn get(&self, locale: &str, fallback: &str) -> &str {
        self.0
            .get(locale)
            .or_else(|| self.0.get(fallback))
            .or_else(|| self.0.values().next())
            .map_or("", String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(|text| text.trim().is_empty())
    }
}

/// Phrases per locale.
pub type Phrases = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Names this revision. A conversation keeps the flow version it started
    /// with until it ends.
    pub version: String,
    /// The locale used when a customer's language is not known or not covered.
    pub default_locale: String,
    /// Said once, before the first question of a new conversation.
    #[serde(default)]
    pub greeting: Localized,
    /// Shown with the intent buttons when the customer's wish is unclear.
    pub menu: Localized,
    #[serde(default)]
    pub handoff: HandoffRules,
    #[serde(default)]
    pub queues: Vec<Queue>,
    /// Checked in order; the first rule that matches picks the queue.
    #[serde(default)]
    pub routing: Vec<RoutingRule>,
    pub intents: Vec<Intent>,
    /// Timers set when an event happens (`on = "quote.sent"`), and kinds
    /// plugins may schedule (an approval escalation, say), in addition to
    /// those the intents request when they complete.
    #[serde(default)]
    pub timers: Vec<TimerSpec>,
    /// What the host remembers about a customer across conversations (their
    /// claims, bookings, orders), for plugins to see as step input.
    #[serde(default)]
    pub remember: Vec<Remember>,
    /// Signals the business's own systems post about a customer
    /// (`POST …/signals`): `payment.failed`, `order.created`. Timers may be
    /// set `on` them, intents `start_on` them; any other name is refused.
    #[serde(default)]
    pub signals: Vec<SignalSpec>,
    /// Questions customers ask and their answers (the top 30 of a support
    /// desk), matched by the same understanding that detects intents. After
    /// an answer the customer is asked whether it solved the problem.
    #[serde(default)]
    pub knowledge: Vec<Knowledge>,
    /// "Not relevant", "stop": any of these stops every pending follow-up.
    #[serde(default)]
    pub opt_out: Phrases,
    /// A tenant's own understanding step, run on every typed message beside
    /// the built-in one and merged with it by confidence.
    #[serde(default)]
    pub understanding: Option<UnderstandingStep>,
}

/// `[understanding]`: which plugin binding classifies messages.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnderstandingStep {
    /// A plugin binding of the tenant whose component exports
    /// `understanding.classify` (WIT 0.2.0). When it fails or times out,
    /// the built-in understanding serves alone.
    pub plugin: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    pub name: String,
    /// The button label in the fallback menu.
    pub title: Localized,
    /// Trigger phrases per locale. Matching ignores case and punctuation and
    /// tolerates word endings ("заказ" matches "заказа").
    #[serde(default)]
    pub triggers: Phrases,
    /// `false`: not offered in the fallback menu, and no triggers needed;
    /// reached from another intent (a step's `on_deny`) or a signal.
    #[serde(default = "default_true")]
    pub menu: bool,
    /// Signals from the business's own systems that start this intent
    /// (`POST …/signals` with `payment.failed`, `order.created`): the bot
    /// writes first. Not while the customer is in the middle of another.
    #[serde(default)]
    pub start_on: Vec<String>,
    /// The approved WhatsApp template a signal-started intent's first
    /// message goes as once the 24 h window has closed (its text is the
    /// body parameter); without one it is not sent, with an event.
    #[serde(default)]
    pub template: Option<String>,
    /// The Messenger/Instagram message tag for the same.
    #[serde(default)]
    pub message_tag: Option<String>,
    /// Urgent intents (payment problems, outages) jump the human queue.
    #[serde(default)]
    pub priority: Priority,
    /// Asked one at a time, in this order, skipping ones already known.
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    /// Plugin steps, run in order once every required field is known.
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    /// Asked before the final action. Placeholders `{field}` are filled in.
    #[serde(default)]
    pub confirm: Option<Confirm>,
    pub done: Done,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    pub prompt: Localized,
    /// For `choice` fields: the allowed values, shown as quick replies.
    #[serde(default)]
    pub options: Vec<ChoiceOption>,
    /// For `number` and `money` (in major units): the allowed range.
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// For `date` and `datetime`: which way from today the date lies. A
    /// purchase date is `past`, a booking `future` (the default). The year
    /// of "26.11" and the week of "в пятницу" follow it.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// The old spelling of `direction = "any"`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_past: bool,
    /// `false`: never asked, only filled when the customer mentions it (a
    /// budget, a preferred day). Every field is taken from any message that
    /// carries it, asked or not.
    #[serde(default = "default_true")]
    pub ask: bool,
    /// For `number`: the units that mark a number as this field's when it
    /// comes unasked (`["км", "km", "կմ"]` for a distance).
    #[serde(default)]
    pub units: Vec<String>,
    /// What the host already knows fills the field without asking: the
    /// sender's number on WhatsApp for `phone` fields, the provider's display
    /// name for a `text` field called `name`. `offer` asks, with the known
    /// value as a button to tap; `ask` ignores it.
    #[serde(default)]
    pub known: Known,
    /// For `phone`: the country code for numbers written the local way, with
    /// a leading 0 (`091 123456` becomes `+37491123456` with `"374"`).
    #[serde(default)]
    pub country_code: Option<String>,
    /// For `money`: the currency assumed when the customer names none.
    #[serde(default)]
    pub currency: Option<String>,
    /// For `pattern` fields (order ids and the like): a regular expression the
    /// whole answer must match, after trimming.
    #[serde(default)]
    pub pattern: Option<String>,
    /// A plugin binding that validates the answer instead of the built-in
    /// check. It sets the field when the answer is good.
    #[serde(default)]
    pub validator: Option<String>,
    /// Wrong answers allowed before `on_exhausted` applies.
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default)]
    pub on_exhausted: Exhausted,
    /// Said when an answer does not validate; the built-in explanation otherwise.
    #[serde(default)]
    pub invalid: Localized,
    /// Plugin steps run as soon as this field is collected: a price preview,
    /// a lead re-scored as answers arrive.
    #[serde(default)]
    pub on_collect: Vec<StepSpec>,
    /// Ask it only when this holds (the photo only when the item is
    /// defective). Checked each time the next question is picked.
    #[serde(default)]
    pub when: Option<When>,
    /// For `code`: the field holding the phone on record the code goes to
    /// (on WhatsApp), usually set by a plugin step from the order system.
    #[serde(default)]
    pub send_to: Option<String>,
    /// For `code`: how long a code is good for.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub expires: Option<Duration>,
}

fn default_retries() -> u32 {
    2
}

impl FieldSpec {
    /// A field with every option at its default, for code that builds flows.
    pub fn new(name: &str, kind: FieldKind) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            prompt: Localized::default(),
            options: Vec::new(),
            min: None,
            max: None,
            direction: None,
            allow_past: false,
            ask: true,
            units: Vec::new(),
            known: Known::default(),
            country_code: None,
            currency: None,
            pattern: None,
            validator: None,
            retries: default_retries(),
            on_exhausted: Exhausted::default(),
            invalid: Localized::default(),
            on_collect: Vec::new(),
            when: None,
            send_to: None,
            expires: None,
        }
    }

    /// Which way a date field looks from today.
    pub fn direction(&self) -> Direction {
        self.direction.unwrap_or(if self.allow_past { Direction::Any } else { Direction::Future })
    }
}

/// Which way from today a date field's dates lie.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Today or earlier: a purchase date.
    Past,
    /// Today or later: a booking, a move.
    #[default]
    Future,
    /// Either: the nearest date that fits.
    Any,
}

/// What to do with a fact the host knows before asking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Known {
    /// Fill the field with it and do not ask.
    #[default]
    Use,
    /// Ask, offering it as a button.
    Offer,
    /// Ask as if it were not known.
    Ask,
}

/// How many days ahead a choice option stands for: `"0"` (today), `"1-2"`,
/// `"3-"` (three days or later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DayRange {
    pub from: i64,
    pub to: Option<i64>,
}

impl DayRange {
    pub fn contains(&self, days: i64) -> bool {
        days >= self.from && self.to.is_none_or(|to| days <= to)
    }
}

impl TryFrom<String> for DayRange {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let wrong = || format!("days {text:?} is not N, N-M or N- (days from today)");
        let number = |part: &str| part.trim().parse::<i64>().ok().filter(|days| *days >= 0);
        let range = match text.split_once('-') {
            None => {
                let days = number(&text).ok_or_else(wrong)?;
                DayRange { from: days, to: Some(days) }
            }
            Some((from, "")) => DayRange { from: number(from).ok_or_else(wrong)?, to: None },
            Some((from, to)) => {
                let (from, to) = (number(from).ok_or_else(wrong)?, number(to).ok_or_else(wrong)?);
                if to < from {
                    return Err(wrong());
                }
                DayRange { from, to: Some(to) }
            }
        };
        Ok(range)
    }
}

impl From<DayRange> for String {
    fn from(range: DayRange) -> String {
        match range.to {
            Some(to) if to == range.from => to.to_string(),
            Some(to) => format!("{}-{to}", range.from),
            None => format!("{}-", range.from),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Number,
    Money,
    /// A calendar date in the tenant's time zone ("25.12", "tomorrow").
    Date,
    /// A date and time in the tenant's time zone ("tomorrow 15:00").
    Datetime,
    Phone,
    Email,
    Choice,
    Pattern,
    Boolean,
    /// A count and what it counts ("40 стульев"), kept as text.
    Quantity,
    /// A one-time code the host sends to the contact point in `send_to`
    /// and checks, with an expiry (`expires`) and limited tries (`retries`).
    /// Filled only by the answer to its own question, never from anything
    /// else a message carries; `true` once the right code comes back.
    Code,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    /// What is stored in the field.
    pub value: String,
    pub title: Localized,
    /// Other words that pick this option.
    #[serde(default)]
    pub synonyms: Vec<String>,
    /// A shorter title per locale for buttons with little room (WhatsApp
    /// and Messenger allow 20 characters).
    #[serde(default)]
    pub short: Localized,
    /// For options that say how soon ("today", "this week"): the days from
    /// today they stand for, so "послезавтра" picks one.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub days: Option<DayRange>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Exhausted {
    /// Hand the conversation to a human, with what is known so far.
    #[default]
    Handoff,
    /// Go on without the field.
    Skip,
    /// Drop the intent and show the menu again.
    Menu,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// The step name the plugin sees (`step-input.step`).
    pub name: String,
    /// A plugin binding of the tenant.
    pub plugin: String,
    /// What happens when the plugin traps, hits a limit or returns an error.
    #[serde(default)]
    pub on_failure: FailurePolicy,
    /// Said instead of the plugin's answer when `on_failure = "default"`.
    #[serde(default)]
    pub default: Localized,
    /// Fields this plugin sets, so later texts may mention them as `{field}`.
    #[serde(default)]
    pub sets: Vec<String>,
    /// Run it only when this holds; otherwise go on as if it had decided nothing.
    #[serde(default)]
    pub when: Option<When>,
    /// After the step denies (a return outside the window), go on with this
    /// intent instead of ending: an alternative offered, not a dead end. The
    /// fields it declares that are known carry over.
    #[serde(default)]
    pub on_deny: Option<String>,
    /// Said to the customer when the step escalates to a human, instead of
    /// the handoff reply: why, and by when (`{reply_by}`, from the handoff's
    /// `reply_within` in business hours).
    #[serde(default)]
    pub escalated: Localized,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Go on as if the step had decided nothing.
    Skip,
    /// Say the step's `default` text and go on.
    Default,
    /// Call once more; hand off if that fails too.
    Retry,
    /// Hand the conversation to a human.
    #[default]
    Handoff,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    pub prompt: Localized,
    /// Ask a second time, for expensive actions ("Reply 'Confirm'").
    #[serde(default)]
    pub double: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Done {
    /// Said when the intent completes; may be left out when a plugin already
    /// had the last word.
    #[serde(default)]
    pub reply: Localized,
    /// Other outcomes, checked in order: the first whose `when` holds
    /// replaces `reply`, and `state`, `event` and `handoff` where it gives them.
    #[serde(default)]
    pub variants: Vec<DoneVariant>,
    /// Instead of ending, hand the conversation to a person in this queue,
    /// with the card (a cancellation to a retention specialist).
    #[serde(default)]
    pub handoff: Option<String>,
    /// The terminal state the conversation ends in.
    pub state: Terminal,
    /// A domain event recorded with the collected fields, e.g. `booking.created`.
    #[serde(default)]
    pub event: Option<String>,
    /// Timers to request when the intent completes (reminders, follow-ups).
    #[serde(default)]
    pub timers: Vec<TimerSpec>,
    /// A number for what was created (an RMA, a booking), unique in the
    /// tenant, stored in a field so texts can say it (`{rma}`).
    #[serde(default)]
    pub number: Option<Numbering>,
}

/// `[intents.done.number]`: the host counts per tenant and sequence, so no
/// two customers ever get the same number.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Numbering {
    /// The field the number is stored in.
    pub field: String,
    /// Written before the digits: `"RMA-"` gives `RMA-000042`.
    #[serde(default)]
    pub prefix: String,
    /// The digits, zero-padded to this many.
    #[serde(default = "default_digits")]
    pub digits: u8,
    /// Intents that share a sequence count together; the field name by default.
    #[serde(default)]
    pub sequence: Option<String>,
}

fn default_digits() -> u8 {
    6
}

impl Numbering {
    pub fn sequence(&self) -> &str {
        self.sequence.as_deref().unwrap_or(&self.field)
    }

    pub fn format(&self, number: u64) -> String {
        format!("{}{number:0width$}", self.prefix, width = usize::from(self.digits.min(20)))
    }
}

/// `[[signals]]`: what the business's systems may post.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalSpec {
    /// Lowercase words joined by dots: `payment.failed`.
    pub name: String,
    /// The fields it carries, which texts may mention (`{plan}`); others
    /// are kept in its event but not offered to texts.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// `[[knowledge]]`: one question and its answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Knowledge {
    /// Unique in the flow; events and KPIs name the answer by it.
    pub name: String,
    /// How customers ask it, per locale, matched like an intent's triggers.
    pub triggers: Phrases,
    pub answer: Localized,
    /// Buttons sent with the answer: an intent to start or another answer.
    #[serde(default)]
    pub buttons: Vec<AnswerButton>,
    /// After the answer a person in this queue takes over (payment and
    /// account problems), instead of asking whether it helped.
    #[serde(default)]
    pub handoff: Option<String>,
    /// How soon that person should answer: urgent categories jump the queue.
    #[serde(default)]
    pub priority: Priority,
}

/// A button on an answer: exactly one of `intent` and `answer`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerButton {
    pub title: Localized,
    /// Starts this intent (one the menu offers).
    #[serde(default)]
    pub intent: Option<String>,
    /// Gives this `[[knowledge]]` answer.
    #[serde(default)]
    pub answer: Option<String>,
}

/// `[[remember]]`: an event the host keeps per customer, across
/// conversations, and shows to plugins.
///
/// With `event = "rma.created"`, `as = "claims"` and `keep = ["order_id"]`,
/// every step input carries `prior_claims` (how many) and
/// `prior_claims_order_id` (the kept values, oldest first).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Remember {
    /// A domain event the flow records (`done.event`, a timer's `event`).
    pub event: String,
    /// The name plugins see it by, after `prior_`.
    #[serde(rename = "as")]
    pub name: String,
    /// Fields of the conversation kept with each.
    #[serde(default)]
    pub keep: Vec<String>,
    /// How many are kept per customer; older ones are forgotten.
    #[serde(default = "default_remembered")]
    pub last: u16,
}

fn default_remembered() -> u16 {
    20
}

/// One outcome of an intent: `[[intents.done.variants]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DoneVariant {
    pub when: When,
    #[serde(default)]
    pub reply: Localized,
    #[serde(default)]
    pub state: Option<Terminal>,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub handoff: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Terminal {
    Booked,
    Quoted,
    Paid,
    Resolved,
    Closed,
    Renewed,
    Paused,
    Cancelled,
}

/// Something to do later: a booking reminder, a silence follow-up, a step of
/// a reactivation ladder, an approval escalation. Kinds are unique in a flow;
/// the scheduler finds a fired timer's spec by its kind.
///
/// When it is due, one of:
/// - `after` (or `minutes_after`): that long after it is set: when its
///   intent completes, when the event `on` names happens, or when a plugin
///   asks for it;
/// - `before_field` with `before` (or `minutes_before`): that long before
///   the datetime in a field (a booking's reminders);
/// - `after_field` with `after`: that long after it (a no-show check).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimerSpec {
    pub kind: String,
    /// Set whenever this event is recorded in a conversation: `quote.sent`,
    /// `slot.offered`, `handoff.requested`, or a domain event such as
    /// `lead.created`. Only for `[[timers]]`, not an intent's `done.timers`.
    #[serde(default)]
    pub on: Option<String>,
    /// How long after it is set, or after `after_field`: `"4h"`, `"1d"`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub after: Option<Duration>,
    /// How long before `before_field`: `"24h"`, `"10m"`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub before: Option<Duration>,
    /// Minutes before the datetime in this field (a booking-relative
    /// reminder). Whole days count in the tenant's calendar, so a 24 h
    /// reminder lands at the same wall-clock time across a DST change.
    #[serde(default)]
    pub before_field: Option<String>,
    #[serde(default)]
    pub minutes_before: Option<u64>,
    /// Minutes after the datetime in this field (a no-show check)...
    #[serde(default)]
    pub after_field: Option<String>,
    /// ...or, without `after_field`, minutes after the intent completes (a follow-up).
    #[serde(default)]
    pub minutes_after: Option<u64>,
    /// Set it only when this holds, and fire it only if it still does (a
    /// nudge for a booking that is still not confirmed).
    #[serde(default)]
    pub when: Option<When>,
    /// What to send when it fires; `{field}` placeholders are filled in.
    #[serde(default)]
    pub say: Localized,
    /// Other texts for other states of the conversation, checked in order
    /// when it fires; the first whose `when` holds is said instead of `say`.
    #[serde(default)]
    pub variants: Vec<SayVariant>,
    /// Buttons sent with it.
    #[serde(default)]
    pub options: Vec<TimerOption>,
    /// A domain event recorded when it fires, e.g. `booking.no_show`.
    #[serde(default)]
    pub event: Option<String>,
    /// Any customer message cancels it. Defaults to true for follow-ups
    /// (not relative to a field), false otherwise.
    #[serde(default)]
    pub cancel_on_reply: Option<bool>,
    /// Events that cancel it when recorded after it was set: the intent
    /// completing (`lead.created`), a human taking over (`handoff.requested`),
    /// the conversation ending (`conversation.closed`).
    #[serde(default)]
    pub cancel_on: Vec<String>,
    /// Kept when a person closes the conversation: a win-back set when the
    /// customer cancelled, which the retention specialist's close must not stop.
    #[serde(default)]
    pub keep_on_close: bool,
    /// Count `after` in business time: only open hours, across nights,
    /// weekends and holidays, in the tenant's zone ("2 business hours").
    /// A plugin's own delay for this kind counts the same way.
    #[serde(default)]
    pub business_hours: Option<bool>,
    /// Move a due time that falls outside business hours to the next
    /// opening. Defaults to true for follow-ups that do not count business
    /// time, false otherwise.
    #[serde(default)]
    pub next_opening: Option<bool>,
    /// Skip it, with an event, if it fires more than this many minutes late
    /// (after downtime). A field-relative reminder is always skipped once
    /// the field's time has passed.
    #[serde(default)]
    pub late_after_minutes: Option<u64>,
    /// The approved WhatsApp template to send instead once the 24 h window
    /// has closed; the message text is its one body parameter.
    #[serde(default)]
    pub template: Option<String>,
    /// The Messenger/Instagram message tag (e.g. `CONFIRMED_EVENT_UPDATE`)
    /// that allows sending once the 24 h window has closed.
    #[serde(default)]
    pub message_tag: Option<String>,
    /// Approval escalation: if a human still has the conversation, move it
    /// to the queue named in this field (the backup approver).
    #[serde(default)]
    pub escalate_to_field: Option<String>,
}

/// A timer's text for a state of the conversation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SayVariant {
    pub when: When,
    pub say: Localized,
}

impl TimerSpec {
    /// A follow-up on silence: counted from when it is set, not from a field.
    pub fn is_follow_up(&self) -> bool {
        self.before_field.is_none() && self.after_field.is_none()
    }

    pub fn cancels_on_reply(&self) -> bool {
        self.cancel_on_reply.unwrap_or_else(|| self.is_follow_up())
    }

    /// `after` counts open hours only.
    pub fn counts_business_time(&self) -> bool {
        self.business_hours == Some(true) && self.is_follow_up()
    }

    /// A due time out of hours moves to the next opening. Follow-ups do by
    /// default; `business_hours = false` still says they do not.
    pub fn moves_to_next_opening(&self) -> bool {
        self.next_opening.unwrap_or_else(|| self.is_follow_up() && self.business_hours.is_none())
    }

    /// How long after it is set (or after `after_field`).
    pub fn delay(&self) -> Option<Duration> {
        self.after.or(self.minutes_after.map(Duration::minutes))
    }

    /// How long before `before_field`.
    pub fn lead(&self) -> Option<Duration> {
        self.before.or(self.minutes_before.map(Duration::minutes))
    }

    /// The field this timer is anchored to, if any.
    pub fn anchor(&self) -> Option<&str> {
        self.before_field.as_deref().or(self.after_field.as_deref())
    }
}

/// A button on a fired timer's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimerOption {
    /// "I'll be there": recorded, and thanked for.
    Confirm,
    /// Clear the anchor field and run the intent again (new slots at once);
    /// completing it moves the reminders.
    Reschedule,
    /// "Not relevant": stop every pending timer of the conversation.
    Stop,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffRules {
    /// "Talk to a human", per locale.
    #[serde(default)]
    pub phrases: Phrases,
    /// Negative signals that bring a human in early.
    #[serde(default)]
    pub negative: Phrases,
    /// Hand off once the lead score reaches this.
    #[serde(default)]
    pub score_at_least: Option<i32>,
    /// Hand off after this many failed validations in one conversation.
    #[serde(default = "default_failed_validations")]
    pub max_failed_validations: u32,
    /// Hand off when a policy plugin escalates.
    #[serde(default = "default_true")]
    pub on_escalate: bool,
    /// The queue when no routing rule matches.
    #[serde(default = "default_queue")]
    pub queue: String,
    /// Told to the customer when a human takes over.
    #[serde(default)]
    pub reply: Localized,
    /// How soon, in business hours, a person answers a handoff: the
    /// `{reply_by}` a step's `escalated` text promises.
    #[serde(default = "default_reply_within")]
    #[schemars(with = "String")]
    pub reply_within: Duration,
}

fn default_reply_within() -> Duration {
    Duration::minutes(120)
}

impl Default for HandoffRules {
    fn default() -> Self {
        Self {
            phrases: Phrases::new(),
            negative: Phrases::new(),
            score_at_least: None,
            max_failed_validations: default_failed_validations(),
            on_escalate: true,
            queue: default_queue(),
            reply: Localized::default(),
            reply_within: default_reply_within(),
        }
    }
}

fn default_failed_validations() -> u32 {
    3
}

fn default_true() -> bool {
    true
}

fn default_queue() -> String {
    "support".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    pub name: String,
    /// Who picks up during business hours.
    #[serde(default)]
    pub owner: Option<String>,
    /// Who is on call evenings, weekends and holidays.
    #[serde(default)]
    pub after_hours_owner: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    pub when: When,
    pub queue: String,
    #[serde(default)]
    pub priority: Priority,
}

impl Flow {
    pub fn intent(&self, name: &str) -> Option<&Intent> {
        self.intents.iter().find(|intent| intent.name == name)
    }

    /// Every plugin binding the flow calls as a step (`handler.run`): intent
    /// steps, field validators and on-collect steps.
    pub fn step_plugins(&self) -> BTreeSet<&str> {
        let mut names = BTreeSet::new();
        for intent in &self.intents {
            names.extend(intent.steps.iter().map(|step| step.plugin.as_str()));
            for field in &intent.fields {
                names.extend(field.validator.as_deref());
                names.extend(field.on_collect.iter().map(|step| step.plugin.as_str()));
            }
        }
        names
    }

    pub fn signal(&self, name: &str) -> Option<&SignalSpec> {
        self.signals.iter().find(|signal| signal.name == name)
    }

    pub fn knowledge(&self, name: &str) -> Option<&Knowledge> {
        self.knowledge.iter().find(|entry| entry.name == name)
    }

    /// The timers an event sets.
    pub fn timers_on<'a>(&'a self, event: &'a str) -> impl Iterator<Item = &'a TimerSpec> + 'a {
        self.timers.iter().filter(move |spec| spec.on.as_deref() == Some(event))
    }

    /// The spec of a timer kind, wherever the flow declares it, with the
    /// intent that requests it.
    pub fn timer(&self, kind: &str) -> Option<(Option<&Intent>, &TimerSpec)> {
        let in_intents = self.intents.iter().find_map(|intent| {
            intent.done.timers.iter().find(|spec| spec.kind == kind).map(|spec| (Some(intent), spec))
        });
        in_intents.or_else(|| self.timers.iter().find(|spec| spec.kind == kind).map(|spec| (None, spec)))
    }

    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.iter().find(|queue| queue.name == name)
    }

    /// The JSON Schema of the flow file, for editors.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Flow)).unwrap_or_default()
    }
}

impl Intent {
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|field| field.name == name)
    }
}
