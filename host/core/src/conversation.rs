//! The conversation state machine: `(state, inbound message, plugin decisions)
//! -> (new state, replies, events, timer requests)`.
//!
//! [`Conversation::handle`] takes one inbound message and moves the
//! conversation on as far as it can without the customer: it detects the
//! intent, validates the answer it was waiting for, asks the next field, runs
//! the intent's plugin steps, asks for confirmation, and completes or hands
//! off. Plugins are reached through the [`Plugins`] trait, so this module does
//! no IO: the engine passes the wasm runtime, tests pass canned decisions.
//!
//! - `advance.rs`: the loop after each answer (fields, steps, confirmation, done).
//! - `decisions.rs`: applying what a plugin step decided.
//! - `handoff.rs`: routing and the handoff card.
//! - `render.rs`: the words: placeholders, quotes, built-in phrases.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::contract::{
    Channel, Classification, ClassifyInput, Contact, Decision, LeadTier, Message, PluginConfig, QuickReply,
    Route, Scalar, StepInput, Value,
};
use crate::event::{DomainEvent, EventBody, Sender};
use crate::failure::FailureCode;
use crate::flow::{Facts, FieldKind, Flow};
use crate::text::guess_locale;
use crate::understand::{Understanding, understand};

mod advance;
mod code;
mod decisions;
mod handoff;
mod knowledge;
mod listen;
mod reactions;
mod render;
mod signals;
mod timers;

use knowledge::ANSWER_PAYLOAD;
pub use listen::UNDERSTANDING_STEP;
pub use render::render_value;

/// Everything the host remembers about one conversation between messages.
///
/// Stored as JSON once per customer and rewritten every turn, so fields at
/// their default are left out (and read back as the default): about a fifth
/// of a typical state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// The identity (`channel:id`) the customer first wrote from. Other
    /// identities linked to this customer continue this conversation, so it
    /// is the customer's stable id: what plugins see as `contact.id`.
    pub id: String,
    pub tenant: String,
    /// The channel the customer wrote from last, where replies go.
    pub channel: Channel,
    /// `contact.id` here is the identity the customer wrote from last, the
    /// address replies go to; plugins get [`Conversation::plugin_contact`].
    pub contact: Contact,
    /// The flow version this conversation started with; kept until it ends.
    pub flow_version: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    pub fields: BTreeMap<String, Value>,
    /// Fields given up on (`on_exhausted = "skip"`); never asked again.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub skipped: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub score: i32,
    /// Each step's share of the score, so a step that runs again replaces its share.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub score_parts: BTreeMap<String, i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<LeadTier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    pub awaiting: Awaiting,
    /// The next plugin step of the intent to run.
    #[serde(default, skip_serializing_if = "is_default")]
    pub next_step: usize,
    #[serde(default, skip_serializing_if = "is_default")]
    pub failed_validations: u32,
    /// The customer confirmed the current intent's action.
    #[serde(default, skip_serializing_if = "is_default")]
    pub confirmed: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub greeted: bool,
    pub started_at: i64,
    pub updated_at: i64,
    /// When the customer last wrote: messaging windows count from it.
    #[serde(default)]
    pub last_customer_at: i64,
    /// The customer has never written: the conversation began with a signal
    /// from the business, so no messaging window is open.
    #[serde(default, skip_serializing_if = "is_default")]
    pub silent: bool,
    /// What the customer told us in earlier rounds that holds beyond one
    /// request (phone, email, name), by field name: never asked again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profile: BTreeMap<String, Value>,
    /// Timers waiting to fire, by key: the truth. The scheduler's index in
    /// the store has an entry for each (and, until they fall due, for timers
    /// since moved or cancelled, which fire nothing).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub timers: BTreeMap<String, PendingTimer>,
    /// What the flow's `[[remember]]` keeps about this customer across
    /// conversations (their claims, bookings), by its `as` name, oldest first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub memory: BTreeMap<String, Vec<Remembered>>,
    /// The `[[knowledge]]` answers given in this round: one asked again
    /// means it did not help, and a person takes over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answered: Vec<String>,
    /// A one-time code sent and not yet answered (`code` fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_code: Option<PendingCode>,
    /// One-time codes sent this round, whatever became of them.
    #[serde(default, skip_serializing_if = "is_default")]
    pub codes_sent: u32,
}

/// A one-time code waiting for the customer to type it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCode {
    pub field: String,
    pub code: String,
    pub expires_at: i64,
    /// Wrong codes typed so far.
    pub attempts: u32,
}

/// One remembered event: when, and the fields the flow keeps with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    pub at: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Value>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A timer waiting to fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingTimer {
    pub kind: String,
    pub due_at: i64,
    /// A customer message cancels it (a silence follow-up).
    pub cancel_on_reply: bool,
    /// What a plugin attached when it asked for the timer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub payload: String,
    /// For a timer anchored to a field (a booking's reminders): the intent
    /// and fields it was set with. The conversation may start another
    /// round before it fires, and the reminder is still about this booking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<TimerContext>,
}

/// What a field-anchored timer renders and checks against when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerContext {
    pub intent: Option<String>,
    pub fields: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// The bot is answering.
    Bot,
    /// A human has it; the bot stays silent until they hand it back or close it.
    Human { queue: String, assignee: Option<String> },
    /// Finished in a terminal state; the next message starts afresh.
    Ended { state: String },
}

/// What the conversation waits for from the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "awaiting", rename_all = "snake_case")]
pub enum Awaiting {
    Nothing,
    /// The menu was shown.
    Intent,
    Field {
        field: String,
        attempts: u32,
    },
    /// Quick-reply options offered by a plugin (slots, remedies).
    Choice {
        field: String,
        options: Vec<Choice>,
        attempts: u32,
    },
    Confirm {
        second: bool,
    },
    /// "Did this solve it?" after a `[[knowledge]]` answer.
    Resolved {
        answer: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub title: String,
    pub payload: String,
    pub value: Value,
}

impl Choice {
    pub fn quick_reply(&self) -> QuickReply {
        QuickReply { title: self.title.clone(), payload: self.payload.clone() }
    }
}

/// One inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    pub text: String,
    /// A quick-reply or button payload, when the customer tapped one.
    #[serde(default)]
    pub payload: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
}

/// One message to the customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbound {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
    /// Set when the channel's free-form window has closed: how the message
    /// may still be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside_window: Option<OutsideWindow>,
    /// Another identity than the conversation's to send it to
    /// (`whatsapp:37491000001` for a one-time code to the phone on record).
    /// It is never shown in the conversation itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// How a message goes out after a channel's 24 h customer-service window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutsideWindow {
    /// A WhatsApp template approved for the tenant; the text is its body parameter.
    Template { name: String, language: String },
    /// A Messenger/Instagram message tag.
    Tag(String),
}

/// What handling one message produced, for the engine to persist and send.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Effects {
    pub outbound: Vec<Outbound>,
    pub events: Vec<DomainEvent>,
    /// Timers set (or moved) by this turn, for the store's due index.
    pub timers: Vec<ScheduledTimer>,
    /// Timers that no longer stand: fired, cancelled, or moved (their old
    /// due time). The store's index keeps their entries until they fall due;
    /// the conversation's `timers` map, not the index, decides what fires.
    pub cancelled_timers: Vec<ScheduledTimer>,
}

impl Effects {
    pub fn merge(&mut self, other: Effects) {
        self.outbound.extend(other.outbound);
        self.events.extend(other.events);
        self.timers.extend(other.timers);
        self.cancelled_timers.extend(other.cancelled_timers);
    }
}

/// The payload prefix channels give a message whose kind the host cannot
/// read (`unsupported:sticker`); the conversation says it reads text only.
pub const UNSUPPORTED: &str = "unsupported:";

/// WhatsApp, Messenger and Instagram allow free-form messages for 24 hours
/// after the customer's last message.
pub const MESSAGING_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// The reason recorded when a message is not sent because the window closed.
pub const WINDOW_CLOSED: &str = "window_closed";

/// A timer for the scheduler, its due time resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledTimer {
    pub key: String,
    pub kind: String,
    pub due_at: i64,
}

/// Why a plugin step produced no decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepFailed {
    pub code: FailureCode,
    pub message: String,
    /// The SHA-256 of the component that failed, when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl StepFailed {
    /// A failure before any component ran (nothing bound, no budget).
    pub fn new(code: FailureCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), version: None }
    }
}

/// How the state machine reaches plugins. The engine implements it with the
/// wasm runtime (filling in each binding's config); tests with plain values.
pub trait Plugins {
    fn call(&mut self, plugin: &str, input: StepInput) -> Result<Vec<Decision>, StepFailed>;

    /// A fresh one-time code: six random digits. Hosts without randomness
    /// keep this default, which fails, and the conversation goes to a human.
    fn one_time_code(&mut self) -> Result<String, StepFailed> {
        Err(StepFailed::new(FailureCode::Unavailable, "no randomness for a one-time code here"))
    }

    /// The next number of a tenant's sequence (`[intents.done.number]`):
    /// never the same twice for one tenant. Hosts without a counter keep
    /// this default, which fails, and the conversation goes to a human.
    fn next_number(&mut self, sequence: &str) -> Result<u64, StepFailed> {
        Err(StepFailed::new(FailureCode::Unavailable, format!("no counter for {sequence:?} here")))
    }

    /// Run a binding's `understanding.classify` (the flow's `[understanding]`).
    /// Hosts without understanding plugins keep this default, which fails, so
    /// the built-in understanding serves alone.
    fn classify(&mut self, plugin: &str, _input: ClassifyInput) -> Result<Classification, StepFailed> {
        Err(StepFailed::new(FailureCode::Unavailable, format!("{plugin:?} cannot classify here")))
    }
}

/// For turns that call no plugin (a timer firing).
struct NoPlugins;

impl Plugins for NoPlugins {
    fn call(&mut self, plugin: &str, _input: StepInput) -> Result<Vec<Decision>, StepFailed> {
        Err(StepFailed::new(FailureCode::Unavailable, format!("{plugin:?} is not called here")))
    }
}

/// The tenant-wide facts a turn needs.
#[derive(Debug, Clone, Copy)]
pub struct Setting<'a> {
    pub flow: &'a Flow,
    pub calendar: &'a Calendar,
}

impl Conversation {
    pub fn new(id: &str, tenant: &str, channel: Channel, contact: Contact, flow: &Flow, now: i64) -> Self {
        Self {
            id: id.to_owned(),
            tenant: tenant.to_owned(),
            channel,
            contact,
            flow_version: flow.version.clone(),
            status: Status::Bot,
            intent: None,
            fields: BTreeMap::new(),
            skipped: BTreeSet::new(),
            score: 0,
            score_parts: BTreeMap::new(),
            tier: None,
            route: None,
            awaiting: Awaiting::Nothing,
            next_step: 0,
            failed_validations: 0,
            confirmed: false,
            greeted: false,
            started_at: now,
            updated_at: now,
            last_customer_at: now,
            silent: false,
            profile: BTreeMap::new(),
            timers: BTreeMap::new(),
            memory: BTreeMap::new(),
            answered: Vec::new(),
            pending_code: None,
            codes_sent: 0,
        }
    }

    /// The customer as plugins see them: `id` is the conversation's, the
    /// same whichever linked channel they write from (as the contract
    /// says), not the address of their latest message.
    pub fn plugin_contact(&self) -> Contact {
        Contact { id: self.id.clone(), ..self.contact.clone() }
    }

    /// Handle one inbound message.
    pub fn handle(&mut self, setting: Setting<'_>, inbound: &Inbound, plugins: &mut dyn Plugins) -> Effects {
        let mut turn = Turn::begin(self, setting, plugins, inbound.at);
        turn.inbound(inbound);
        turn.flush_note();
        turn.after_events(0);
        turn.effects
    }

    /// An agent hands the conversation back to the bot.
    pub fn hand_back(&mut self, agent: &str, now: i64) -> Effects {
        let mut effects = Effects::default();
        if matches!(self.status, Status::Human { .. }) {
            self.status = Status::Bot;
            self.awaiting = Awaiting::Nothing;
            self.intent = None;
            self.next_step = 0;
            self.updated_at = now;
            effects.events.push(self.event(now, EventBody::HandoffReturned { by: agent.to_owned() }));
        }
        effects
    }

    /// A person takes a handed-off conversation, or gives it to someone
    /// (`None`: back to the queue). Nothing happens to one the bot has.
    pub fn assign(&mut self, assignee: Option<&str>, by: &str, now: i64) -> Effects {
        let mut effects = Effects::default();
        if let Status::Human { assignee: current, .. } = &mut self.status
            && current.as_deref() != assignee
        {
            *current = assignee.map(str::to_owned);
            self.updated_at = now;
            let body =
                EventBody::ConversationAssigned { assignee: assignee.map(str::to_owned), by: by.to_owned() };
            effects.events.push(self.event(now, body));
        }
        effects
    }

    /// An agent (or the system) closes the conversation; every pending timer
    /// stops but those the flow keeps past a close (a win-back).
    pub fn close(&mut self, setting: Setting<'_>, state: &str, now: i64) -> Effects {
        let mut effects = Effects::default();
        if !matches!(self.status, Status::Ended { .. }) {
            self.status = Status::Ended { state: state.to_owned() };
            self.awaiting = Awaiting::Nothing;
            self.updated_at = now;
            effects.events.push(self.event(now, EventBody::ConversationClosed { state: state.to_owned() }));
        }
        let kept = |kind: &str| setting.flow.timer(kind).is_some_and(|(_, spec)| spec.keep_on_close);
        effects.merge(self.cancel_timers(now, "closed", |_, timer| !kept(&timer.kind)));
        effects
    }

    /// A human agent writes to the customer. Outside the channel's window a
    /// free-form message is refused with an event instead of breaching it.
    pub fn agent_reply(&mut self, text: &str, now: i64) -> Effects {
        self.updated_at = now;
        if self.window_closed(now) {
            let reason = WINDOW_CLOSED.to_owned();
            return Effects {
                events: vec![self.event(now, EventBody::MessageRefused { text: text.to_owned(), reason })],
                ..Effects::default()
            };
        }
        Effects {
            outbound: vec![Outbound { text: text.to_owned(), ..Outbound::default() }],
            events: vec![
                self.event(now, EventBody::MessageSent { text: text.to_owned(), by: Sender::Agent }),
            ],
            ..Effects::default()
        }
    }

    /// An agent writes after the window closed, through the channel's
    /// fallback (a template or a message tag), which the provider allows.
    pub fn agent_reply_through(&mut self, text: &str, fallback: OutsideWindow, now: i64) -> Effects {
        self.updated_at = now;
        Effects {
            outbound: vec![Outbound {
                text: text.to_owned(),
                outside_window: Some(fallback),
                ..Outbound::default()
            }],
            events: vec![
                self.event(now, EventBody::MessageSent { text: text.to_owned(), by: Sender::Agent }),
            ],
            ..Effects::default()
        }
    }

    /// How a message may still go once the window has closed: the WhatsApp
    /// template or the Messenger/Instagram tag the flow names for it, if any.
    pub(crate) fn window_fallback(
        &self,
        template: Option<&String>,
        tag: Option<&String>,
    ) -> Option<OutsideWindow> {
        match self.channel {
            Channel::Whatsapp => template.map(|name| OutsideWindow::Template {
                name: name.clone(),
                language: self.locale().to_owned(),
            }),
            _ => tag.cloned().map(OutsideWindow::Tag),
        }
    }

    /// Whether the channel's customer-service window (24 h from the
    /// customer's last message on WhatsApp, Messenger and Instagram) has closed.
    pub fn window_closed(&self, now: i64) -> bool {
        let windowed = matches!(self.channel, Channel::Whatsapp | Channel::Messenger | Channel::Instagram);
        let last = if self.last_customer_at == 0 { self.started_at } else { self.last_customer_at };
        windowed && (self.silent || now - last > MESSAGING_WINDOW_MS)
    }

    pub fn event(&self, at: i64, body: EventBody) -> DomainEvent {
        DomainEvent {
            at,
            tenant: self.tenant.clone(),
            conversation: self.id.clone(),
            channel: self.channel,
            body,
        }
    }

    /// The locale to answer in: the contact's, if the flow speaks it.
    pub fn locale(&self) -> &str {
        &self.contact.locale
    }

    /// What a flow's `when` is checked against, at `now`.
    pub fn facts(&self, after_hours: bool, now: i64) -> Facts<'_> {
        let awaiting = match &self.awaiting {
            _ if !matches!(self.status, Status::Bot) => "nothing",
            Awaiting::Nothing => "nothing",
            Awaiting::Intent => "intent",
            Awaiting::Field { field, .. } | Awaiting::Choice { field, .. } => field,
            Awaiting::Confirm { .. } => "confirm",
            Awaiting::Resolved { .. } => "resolved",
        };
        Facts {
            fields: &self.fields,
            intent: self.intent.as_deref(),
            score: self.score,
            tier: self.tier,
            after_hours,
            awaiting,
            now,
        }
    }

    /// Start over after a terminal state, keeping who the customer is and
    /// what is scheduled (a booking's reminders outlive a question about prices).
    fn restart(&mut self, flow: &Flow, now: i64) {
        let contact = self.contact.clone();
        let timers = std::mem::take(&mut self.timers);
        let memory = std::mem::take(&mut self.memory);
        let mut profile = std::mem::take(&mut self.profile);
        profile.extend(
            self.fields
                .iter()
                .filter(|(name, value)| listen::lasting(flow, name, value))
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        *self = Self {
            greeted: true,
            timers,
            memory,
            profile,
            ..Self::new(&self.id, &self.tenant, self.channel, contact, flow, now)
        };
    }
}

/// One message being handled.
struct Turn<'a, 'p> {
    conversation: &'a mut Conversation,
    setting: Setting<'a>,
    plugins: &'p mut dyn Plugins,
    now: i64,
    effects: Effects,
    /// A plugin's wording for the options it offered, said with them.
    pending_offer_text: Option<String>,
    /// What the understanding pass found in the message being handled.
    understanding: Understanding,
    /// Fields taken from the message without being asked: said back before
    /// the next question ("Записываю: стрижка, завтра (03.12)").
    noted: Vec<String>,
    /// A denial already led to another intent this turn: a second one is a
    /// plain denial, so two intents that deny into each other cannot loop.
    denied_into: bool,
    /// Said instead of the flow's handoff reply by the next handoff (a
    /// step's `escalated` text).
    handoff_reply: Option<String>,
}

impl<'a, 'p> Turn<'a, 'p> {
    /// A turn of `conversation` at `now`, nothing done yet.
    fn begin(
        conversation: &'a mut Conversation,
        setting: Setting<'a>,
        plugins: &'p mut dyn Plugins,
        now: i64,
    ) -> Self {
        Turn {
            conversation,
            setting,
            plugins,
            now,
            effects: Effects::default(),
            pending_offer_text: None,
            understanding: Understanding::default(),
            noted: Vec::new(),
            denied_into: false,
            handoff_reply: None,
        }
    }

    fn flow(&self) -> &Flow {
        self.setting.flow
    }

    fn record(&mut self, body: EventBody) {
        let event = self.conversation.event(self.now, body);
        self.effects.events.push(event);
    }

    fn say(&mut self, text: impl Into<String>, quick_replies: Vec<QuickReply>) {
        let mut text = text.into();
        if text.trim().is_empty() {
            return;
        }
        if let Some(note) = self.take_note() {
            text = format!("{note}\n{text}");
        }
        let mut quick_replies = quick_replies;
        if let Some(max) = render::button_limit(self.conversation.channel) {
            for reply in &mut quick_replies {
                reply.title = render::fit_title(&reply.title, max);
            }
        }
        self.record(EventBody::MessageSent { text: text.clone(), by: Sender::Bot });
        self.effects.outbound.push(Outbound { text, quick_replies, outside_window: None, to: None });
    }

    fn inbound(&mut self, inbound: &Inbound) {
        self.conversation.updated_at = self.now;
        self.conversation.last_customer_at = self.now;
        self.conversation.silent = false;
        let timer_answer = inbound.payload.as_deref().and_then(timers::parse_answer);
        if matches!(self.conversation.status, Status::Ended { .. }) && timer_answer.is_none() {
            let flow = self.setting.flow;
            self.conversation.restart(flow, self.now);
        }
        self.record(EventBody::MessageReceived { text: inbound.text.clone() });
        self.cancel_on_reply();
        if let Status::Human { .. } = self.conversation.status {
            return;
        }
        if let Some((kind, option)) = timer_answer {
            self.answer_timer(&kind, option);
            return;
        }
        if inbound.payload.as_deref().is_some_and(|payload| payload.starts_with(UNSUPPORTED)) {
            // Whatever was awaited still is: the customer can answer in text.
            let locale = self.conversation.locale().to_owned();
            self.say(render::phrase(&locale, render::Phrase::TextOnly), Vec::new());
            return;
        }
        self.understanding = understand(self.flow(), &inbound.text);
        if inbound.payload.is_none() {
            self.classify(&inbound.text);
        }
        if inbound.payload.is_none() {
            // A tap says nothing about the language: its title is ours.
            self.follow_language(&inbound.text);
        }
        let signals = self.understanding.signals;
        if inbound.payload.as_deref() == Some("handoff") || signals.human {
            self.handoff(handoff::Reason::Asked);
            return;
        }
        if signals.negative {
            self.handoff(handoff::Reason::Negative);
            return;
        }
        if !self.conversation.timers.is_empty() && signals.opt_out {
            self.stop_timers();
            return;
        }
        if !self.conversation.greeted {
            self.conversation.greeted = true;
            let greeting = self.text(&self.flow().greeting);
            self.say(greeting, Vec::new());
        }
        if inbound.payload.is_none()
            && (signals.reschedule || signals.cancel)
            && self.booking_request(signals)
        {
            return;
        }
        let answer = inbound.payload.clone().unwrap_or_else(|| inbound.text.clone());
        match self.conversation.awaiting.clone() {
            Awaiting::Field { field, attempts } => self.answer_field(&field, attempts, &answer, inbound),
            Awaiting::Choice { field, options, attempts } => {
                self.answer_choice(&field, &options, attempts, &answer)
            }
            Awaiting::Confirm { second } => self.answer_confirm(second, &answer),
            Awaiting::Resolved { answer: given } => self.answer_resolved(&given, &answer, inbound),
            Awaiting::Nothing | Awaiting::Intent => self.choose_intent(inbound),
        }
    }

    /// Customers switch language mid-conversation; answer in the one they write in,
    /// if the flow speaks it.
    fn follow_language(&mut self, text: &str) {
        // Order numbers, phones, emails and amounts are written in Latin letters
        // and digits whatever the customer's language; they say nothing about it.
        if let Awaiting::Field { field, .. } = &self.conversation.awaiting {
            let intent = self.conversation.intent.as_deref().and_then(|name| self.flow().intent(name));
            let kind = intent.and_then(|intent| intent.field(field)).map(|spec| spec.kind);
            if kind.is_none_or(|kind| {
                matches!(
                    kind,
                    FieldKind::Phone
                        | FieldKind::Email
                        | FieldKind::Pattern
                        | FieldKind::Number
                        | FieldKind::Money
                        | FieldKind::Code
                )
            }) {
                return;
            }
        }
        if let Some(locale) = guess_locale(text)
            && locale != self.conversation.contact.locale
            && self.flow().menu.0.contains_key(locale)
        {
            self.conversation.contact.locale = locale.to_owned();
        }
    }

    fn choose_intent(&mut self, inbound: &Inbound) {
        let chosen = inbound.payload.as_deref().and_then(|payload| payload.strip_prefix("intent:"));
        // Only what the menu offers: an intent reached from another (an
        // alternative after a denial) cannot be started by a crafted payload.
        if let Some(name) = chosen.filter(|name| self.flow().intent(name).is_some_and(|intent| intent.menu)) {
            self.start_intent(name);
            return;
        }
        if let Some(name) =
            inbound.payload.as_deref().and_then(|payload| payload.strip_prefix(ANSWER_PAYLOAD))
            && self.flow().knowledge(name).is_some()
        {
            self.give_answer(name);
            return;
        }
        // A question the knowledge base answers, unless an intent is as sure.
        let answer = self.understanding.answers.first().filter(|answer| {
            self.understanding.intents.first().is_none_or(|intent| answer.confidence > intent.confidence)
        });
        if let Some(answer) = answer {
            let name = answer.intent.clone();
            self.give_answer(&name);
            return;
        }
        let candidates = &self.understanding.intents;
        match self.understanding.intent() {
            Some(candidate) => {
                let intent = candidate.intent.clone();
                self.start_intent(&intent);
            }
            None if candidates.is_empty() => {
                self.record(EventBody::IntentUnclear { candidates: Vec::new() });
                self.menu(None);
            }
            None => {
                let top = candidates[0].confidence;
                let tied: Vec<String> = candidates
                    .iter()
                    .filter(|candidate| candidate.confidence >= top)
                    .map(|candidate| candidate.intent.clone())
                    .collect();
                self.record(EventBody::IntentUnclear { candidates: tied.clone() });
                self.menu(Some(&tied));
            }
        }
    }

    fn start_intent(&mut self, intent: &str) {
        self.enter_intent(intent);
        // The message that named the intent often carries its fields too.
        let taken = self.take_values(None, false);
        self.noted.extend(taken);
        self.advance();
    }

    /// Make `intent` the one the conversation is in, from its start; the
    /// caller advances (or is the loop that does).
    fn enter_intent(&mut self, intent: &str) {
        self.record(EventBody::IntentDetected { intent: intent.to_owned() });
        let conversation = &mut *self.conversation;
        conversation.intent = Some(intent.to_owned());
        conversation.next_step = 0;
        conversation.confirmed = false;
        conversation.awaiting = Awaiting::Nothing;
    }

    /// The fallback menu: the candidates if some matched, else every intent.
    fn menu(&mut self, only: Option<&[String]>) {
        let locale = self.conversation.locale().to_owned();
        let flow = self.setting.flow;
        let options = flow
            .intents
            .iter()
            .filter(|intent| intent.menu && only.is_none_or(|only| only.contains(&intent.name)))
            .map(|intent| QuickReply {
                title: intent.title.get(&locale, &flow.default_locale).to_owned(),
                payload: format!("intent:{}", intent.name),
            })
            .chain(std::iter::once(QuickReply {
                title: render::phrase(&locale, render::Phrase::Human),
                payload: "handoff".to_owned(),
            }))
            .collect();
        self.conversation.awaiting = Awaiting::Intent;
        let prompt = self.text(&flow.menu);
        self.say(prompt, options);
    }

    fn text(&self, localized: &crate::flow::Localized) -> String {
        localized.get(self.conversation.locale(), &self.flow().default_locale).to_owned()
    }

    /// What the flow's conditions are checked against, now.
    fn facts(&self) -> Facts<'_> {
        self.conversation.facts(!self.setting.calendar.is_open(self.now), self.now)
    }

    fn holds(&self, when: Option<&crate::flow::When>) -> bool {
        when.is_none_or(|when| when.holds(self.facts()))
    }

    /// The step input every plugin call starts from: the collected fields,
    /// and what the host remembers of the customer (`prior_claims`, ...).
    fn step_input(&self, step: &str, message: Option<Message>) -> StepInput {
        let conversation = &*self.conversation;
        let mut fields = conversation.fields.clone();
        for remember in &self.setting.flow.remember {
            let kept = conversation.memory.get(&remember.name).map_or(&[][..], Vec::as_slice);
            fields.insert(format!("prior_{}", remember.name), Value::Number(kept.len() as f64));
            for field in &remember.keep {
                let values = kept
                    .iter()
                    .filter_map(|remembered| remembered.fields.get(field).and_then(scalar))
                    .collect();
                fields.insert(format!("prior_{}_{field}", remember.name), Value::List(values));
            }
        }
        StepInput {
            tenant: conversation.tenant.clone(),
            conversation: conversation.id.clone(),
            step: step.to_owned(),
            channel: conversation.channel,
            contact: conversation.plugin_contact(),
            intent: conversation.intent.clone(),
            message,
            fields,
            score: conversation.score,
            now: self.now,
            config: PluginConfig::default(),
        }
    }
}

/// A field's value as an item of a list, if it can be one.
fn scalar(value: &Value) -> Option<Scalar> {
    Some(match value {
        Value::Text(text) => Scalar::Text(text.clone()),
        Value::Number(number) => Scalar::Number(*number),
        Value::Money(money) => Scalar::Money(money.clone()),
        Value::Datetime(at) => Scalar::Datetime(*at),
        Value::Boolean(flag) => Scalar::Boolean(*flag),
        Value::List(_) => return None,
    })
}

#[cfg(test)]
mod tests;
