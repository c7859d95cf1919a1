//! A turn: one inbound message, or one agent's action, applied to a
//! conversation under its turn lock and committed as one batch.

use std::sync::Arc;

use std::collections::BTreeMap;

use switchboard_core::contract::{Channel, Contact, Identity, Value};
use switchboard_core::conversation::{Conversation, Effects, Inbound, Setting, Status};
use switchboard_core::event::DomainEvent;
use switchboard_store::{Committed, StoredConversation, TurnRecord};

use super::links::verified_contact_points;
use super::locks::TurnGuard;
use super::plugins::RuntimePlugins;
use super::{Engine, EngineError, InboundMessage, Signal, TurnOutcome, outbox};

/// The dedupe namespace of signals' ids.
const SIGNAL_DEDUPE: &str = "signal";
use crate::tenant::Tenant;

impl Engine {
    /// [`Engine::handle`] from async code: waits for the tenant's slot and
    /// the conversation's turn lock without holding a thread, then runs the
    /// turn on the blocking pool.
    pub async fn handle_async(
        self: &Arc<Self>,
        tenant: String,
        message: InboundMessage,
    ) -> Result<TurnOutcome, EngineError> {
        let conversation = self.conversation_of(&tenant, &message.contact.id)?;
        // The conversation's lock first: a turn waiting behind another of
        // its conversation holds none of the tenant's slots meanwhile.
        let held = self.turns.hold_async(&tenant, &conversation).await;
        let slot = self.slot(&tenant).await;
        let engine = Arc::clone(self);
        let turn = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let started = std::time::Instant::now();
            let applied = engine.apply_message(&tenant, message, Some(held));
            engine.store.durable()?;
            crate::telemetry::turn(&tenant, started.elapsed());
            Ok(engine.announce(applied?))
        });
        turn.await.unwrap_or_else(|joined| {
            Err(EngineError::Setup {
                tenant: String::new(),
                message: format!("a turn failed to run: {joined}"),
            })
        })
    }

    /// Handle one inbound message: the whole turn, persisted and flushed.
    pub fn handle(&self, tenant_name: &str, message: InboundMessage) -> Result<TurnOutcome, EngineError> {
        let mut outcomes = self.handle_many(tenant_name, vec![message])?;
        Ok(outcomes.pop().expect("one outcome per message"))
    }

    /// Handle several inbound messages in order (a webhook that carries a
    /// batch, or a caller with many conversations in flight), sharing one
    /// disk sync: every turn is applied as it is handled, and all are on
    /// disk before this returns. One outcome per message, in order.
    ///
    /// A conversation's turn lock is released once its turn is applied, so
    /// its next message may be handled before this one is on disk. That is
    /// safe because sled's log is ordered: whatever acknowledges the later
    /// turn syncs the earlier one too, and nothing reads a turn back to
    /// acknowledge or send it without syncing first (duplicates, the outbox).
    pub fn handle_many(
        &self,
        tenant_name: &str,
        messages: Vec<InboundMessage>,
    ) -> Result<Vec<TurnOutcome>, EngineError> {
        let started = std::time::Instant::now();
        let mut applied = Vec::with_capacity(messages.len());
        for message in messages {
            match self.apply_message(tenant_name, message, None) {
                Ok(turn) => applied.push(turn),
                Err(error) => {
                    // What was applied is kept: a retry finds it a duplicate.
                    self.store.durable()?;
                    return Err(error);
                }
            }
        }
        self.store.durable()?;
        let took = started.elapsed();
        Ok(applied
            .into_iter()
            .map(|turn| {
                crate::telemetry::turn(tenant_name, took);
                self.announce(turn)
            })
            .collect())
    }

    /// A signal from the business's own systems about a customer (a payment
    /// failed, an order was created): recorded in their conversation, which
    /// it may start (`start_on`), as one turn on disk when this returns. A
    /// repeat of a signal `id` is answered as a duplicate.
    pub fn signal(&self, tenant_name: &str, signal: Signal) -> Result<TurnOutcome, EngineError> {
        let tenant = self.tenant(tenant_name)?;
        let Some(spec) = tenant.flow.signal(&signal.name) else {
            return Err(EngineError::UnknownSignal {
                name: signal.name,
                declared: tenant.flow.signals.iter().map(|signal| signal.name.clone()).collect(),
            });
        };
        // Only the facts the flow declares for it: nothing else a sender
        // writes may land in the conversation (an approver, a code's phone).
        if let Some(field) = signal.fields.keys().find(|field| !spec.fields.contains(field)) {
            return Err(EngineError::BadSignal(format!(
                "signal {:?} carries no field {field:?}; the flow declares {}",
                signal.name,
                if spec.fields.is_empty() { "none".to_owned() } else { spec.fields.join(", ") }
            )));
        }
        let message = InboundMessage {
            channel: signal.channel,
            contact: Contact {
                id: signal.to,
                display_name: signal.display_name,
                locale: signal.locale.unwrap_or_else(|| tenant.flow.default_locale.clone()),
            },
            text: String::new(),
            payload: None,
            message_id: signal.id,
            at: signal.at,
        };
        let applied = self.apply_arrival(tenant_name, message, Some((signal.name, signal.fields)), None)?;
        self.store.durable()?;
        Ok(self.announce(applied))
    }

    /// One inbound message's turn, applied to the store but not yet synced.
    /// `held` is the conversation's turn lock if the caller took it already.
    fn apply_message(
        &self,
        tenant_name: &str,
        message: InboundMessage,
        held: Option<TurnGuard>,
    ) -> Result<Applied, EngineError> {
        self.apply_arrival(tenant_name, message, None, held)
    }

    /// A message's turn, or with `signal` a signal's (its name and fields),
    /// which the customer did not write.
    fn apply_arrival(
        &self,
        tenant_name: &str,
        mut message: InboundMessage,
        signal: Option<(String, BTreeMap<String, Value>)>,
        mut held: Option<TurnGuard>,
    ) -> Result<Applied, EngineError> {
        let _working = self.admission.working(tenant_name);
        let tenant = self.tenant(tenant_name)?;
        let limit = tenant.quotas.events_per_day.unwrap_or(self.events_per_day);
        if let Err(retry_after_secs) = self.daily.check(tenant_name, limit, message.at) {
            metrics::counter!("switchboard_messages_refused_total", "reason" => "events_per_day")
                .increment(1);
            return Err(EngineError::DailyQuota { tenant: tenant_name.to_owned(), limit, retry_after_secs });
        }
        // A staff member's button acts on the conversation it names; from
        // anyone else it is dropped, and the message is what they typed.
        if signal.is_none()
            && let Some((action, target)) = message.payload.as_deref().and_then(super::staff_channels::parse)
        {
            let target = target.to_owned();
            // Who sent it first: nothing about the conversation it names is
            // anyone else's to learn, not even whether a retry is a repeat.
            match self.staff_by_identity(tenant_name, &message.contact.id)? {
                Some(member) => {
                    if let Some(message_id) = &message.message_id
                        && self.store.seen(tenant_name, message.channel.as_str(), message_id)?
                    {
                        return Ok(Applied::duplicate(tenant_name, self.duplicate(tenant_name, &target)?));
                    }
                    // Only the conversation acted on is locked, never two at once.
                    drop(held.take());
                    return self.staff_action(&tenant, &member, &message, action, &target);
                }
                None => {
                    tracing::warn!(
                        tenant = tenant_name,
                        "a staff button from an identity on no staff list; taken as text"
                    );
                    message.payload = None;
                }
            }
        }
        // Signals are deduplicated by their own ids, apart from messages'.
        let channel_name = if signal.is_some() { SIGNAL_DEDUPE } else { message.channel.as_str() };
        let identity = message.contact.id.clone();
        let mut conversation_id = self.conversation_of(tenant_name, &identity)?;
        if let Some(id) = &message.message_id
            && self.store.seen(tenant_name, channel_name, id)?
        {
            return Ok(Applied::duplicate(tenant_name, self.duplicate(tenant_name, &conversation_id)?));
        }
        // The identity may have been linked elsewhere since the caller locked.
        let mut turn = match held {
            Some(held) if held.key == (tenant_name.to_owned(), conversation_id.clone()) => held,
            stale => {
                // Never two at once: only the scheduler takes more than one,
                // in order, and a turn holding one it no longer needs could
                // deadlock with it.
                drop(stale);
                self.turns.hold(tenant_name, &conversation_id)
            }
        };
        // Or since it was looked up: linked anew, or its link removed with
        // the conversation it led to (retention). Followed again under the
        // lock, so a turn never writes to a conversation the identity no
        // longer leads to.
        loop {
            let now = self.conversation_of(tenant_name, &identity)?;
            if now == conversation_id {
                break;
            }
            drop(turn);
            conversation_id = now;
            turn = self.turns.hold(tenant_name, &conversation_id);
        }
        // And across nodes, now that the conversation is settled.
        let _across_nodes = self.store.lock_turn(tenant_name, &conversation_id)?;

        let span = tracing::info_span!("turn", tenant = tenant_name, conversation = %conversation_id);
        let _entered = span.enter();
        let (mut stored, new) = match self.store.conversation(tenant_name, &conversation_id)? {
            Some(stored) => (stored, false),
            None => {
                let conversation = Conversation::new(
                    &conversation_id,
                    tenant_name,
                    message.channel,
                    message.contact.clone(),
                    &tenant.flow,
                    message.at,
                );
                let (pins, config_pins) = tenant.pins_for(&conversation_id);
                // Begun by a signal: the customer has not written, so their
                // channel's messaging window is not open.
                let conversation = Conversation { silent: signal.is_some(), ..conversation };
                let mut stored = StoredConversation::new(conversation, pins);
                stored.config_pins = config_pins;
                (stored, true)
            }
        };
        // Replies go to the channel and identity the customer wrote from
        // last: a signal about a customer already known changes neither.
        if signal.is_none() || new {
            stored.conversation.channel = message.channel;
            stored.conversation.contact.id = identity;
        }
        if stored.conversation.contact.display_name.is_none() {
            stored.conversation.contact.display_name = message.contact.display_name.clone();
        }
        if matches!(stored.conversation.status, Status::Ended { .. }) {
            // A fresh round starts on the tenant's current versions.
            stored.conversation.flow_version = tenant.flow.version.clone();
            (stored.plugin_pins, stored.config_pins) = tenant.pins_for(&conversation_id);
        }
        let flow = self.flow_for(&tenant, &stored.conversation.flow_version, &stored.plugin_pins)?;
        let inbound =
            Inbound { text: message.text.clone(), payload: message.payload.clone(), at: message.at };
        let mut plugins = RuntimePlugins::new(self, &tenant, &stored.plugin_pins, &stored.config_pins);
        let setting = Setting { flow: &flow, calendar: &tenant.calendar };
        let is_signal = signal.is_some();
        let mut effects = match signal {
            Some((name, fields)) => {
                stored.conversation.signal(setting, &name, fields, message.at, &mut plugins)
            }
            None => stored.conversation.handle(setting, &inbound, &mut plugins),
        };
        let calls = std::mem::take(&mut plugins.calls);
        // Which build answered each step, and what it used: after the
        // turn's own events.
        let conversation = &stored.conversation;
        effects.events.extend(std::mem::take(&mut plugins.ran).into_iter().map(|body| DomainEvent {
            at: message.at,
            tenant: tenant_name.to_owned(),
            conversation: conversation.id.clone(),
            channel: conversation.channel,
            body,
        }));
        // What the customer wrote proves what they own; a signal proves nothing.
        let linking = tenant.link_by_contact && !is_signal;
        let mut verified = if linking { verified_contact_points(&flow, &effects) } else { Vec::new() };
        if linking && new && message.channel == Channel::Whatsapp {
            // A WhatsApp id is a phone number WhatsApp has verified.
            let identity = &stored.conversation.contact.id;
            let wa_id = Identity::id_on(identity, Channel::Whatsapp).unwrap_or(identity);
            verified.push(("phone", format!("+{wa_id}")));
        }
        let applied = self.apply(
            &tenant,
            &stored,
            effects,
            message.message_id.as_deref().map(|id| (channel_name, id)),
        )?;
        if !applied.is_duplicate() {
            self.keep_step_calls(tenant_name, &calls);
        }
        for (kind, value) in verified {
            self.link_by_contact_point(&stored.conversation, kind, &value, message.at)?;
        }
        Ok(applied)
    }

    /// An agent hands a conversation back to the bot.
    pub fn hand_back(
        &self,
        tenant: &str,
        conversation: &str,
        agent: &str,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        self.agent_action(tenant, conversation, |conversation| conversation.hand_back(agent, now))
    }

    /// An agent closes a conversation, in `state` (`closed` unless the
    /// agent gave a reason: `resolved`, `spam`, ...).
    pub fn close(
        &self,
        tenant: &str,
        conversation: &str,
        state: &str,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        self.with_conversation(tenant, conversation, |conversation, setting| {
            Ok(conversation.close(setting, state, now))
        })
    }

    /// A person takes a handed-off conversation or gives it to someone.
    pub fn assign(
        &self,
        tenant: &str,
        conversation: &str,
        assignee: Option<&str>,
        by: &str,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        self.agent_action(tenant, conversation, |conversation| conversation.assign(assignee, by, now))
    }

    /// An agent writes to the customer.
    pub fn agent_reply(
        &self,
        tenant: &str,
        conversation: &str,
        text: &str,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        self.agent_action(tenant, conversation, |conversation| conversation.agent_reply(text, now))
    }

    /// An agent writes after the channel's messaging window closed, through
    /// its fallback (`template`, which must be the channel's configured
    /// template or tag); None if it is not.
    pub fn agent_reply_outside_window(
        &self,
        tenant: &str,
        conversation: &str,
        text: &str,
        template: &str,
        now: i64,
    ) -> Result<Option<TurnOutcome>, EngineError> {
        let served = self.tenant(tenant)?;
        let Some(stored) = self.store.conversation(tenant, conversation)? else {
            return Err(EngineError::UnknownConversation {
                tenant: tenant.to_owned(),
                conversation: conversation.to_owned(),
            });
        };
        let channel = stored.conversation.channel;
        let locale = stored.conversation.locale().to_owned();
        let fallback = crate::channels::provider(channel).window_fallback(&served.channels, &locale);
        let Some(fallback) = fallback.filter(|fallback| fallback_name(fallback) == template) else {
            return Ok(None);
        };
        self.agent_action(tenant, conversation, |conversation| {
            conversation.agent_reply_through(text, fallback, now)
        })
        .map(Some)
    }

    /// Cancel one of a conversation's pending timers (an agent, through the API).
    pub fn cancel_timer(
        &self,
        tenant: &str,
        conversation: &str,
        key: &str,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        self.agent_action(tenant, conversation, |conversation| conversation.cancel_timer(key, "agent", now))
    }

    /// Set a timer of a kind the conversation's flow declares, due at `due_at`.
    pub fn schedule_timer(
        &self,
        tenant: &str,
        conversation: &str,
        kind: &str,
        due_at: i64,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        // Setting a timer reacts to its own events already.
        self.with_conversation_reacting(tenant, conversation, false, |conversation, setting| {
            conversation
                .schedule_timer(setting, kind, due_at, now)
                .ok_or_else(|| EngineError::UnknownTimerKind(kind.to_owned()))
        })
    }

    /// An approver approves or rejects an internal request that waits for a
    /// decision. `agent`: a staff member deciding as an agent, who must be
    /// the request's approver, backup or the queue it waits in (checked
    /// under the turn lock, against the request as it is); `None` for an
    /// admin or a key.
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &self,
        tenant: &str,
        conversation: &str,
        approved: bool,
        by: &str,
        note: Option<&str>,
        agent: Option<&str>,
        now: i64,
    ) -> Result<TurnOutcome, EngineError> {
        self.with_conversation(tenant, conversation, |conversation, _| {
            if let Some(agent) = agent
                && !super::may_decide(conversation, agent, super::Role::Agent)
            {
                return Err(EngineError::NotYours(
                    "only the request's approver, its backup or an admin decides it".to_owned(),
                ));
            }
            if !super::staff_channels::waits_for_decision(conversation) {
                return Err(EngineError::NothingToDecide);
            }
            Ok(conversation.decide(approved, by, note, now))
        })
    }

    fn agent_action(
        &self,
        tenant: &str,
        conversation_id: &str,
        action: impl FnOnce(&mut Conversation) -> Effects,
    ) -> Result<TurnOutcome, EngineError> {
        self.with_conversation(tenant, conversation_id, |conversation, _| Ok(action(conversation)))
    }

    /// Run `action` on a stored conversation under its turn lock, with its
    /// pinned flow, and commit what it did and what its events set off.
    fn with_conversation(
        &self,
        tenant: &str,
        conversation_id: &str,
        action: impl FnOnce(&mut Conversation, Setting<'_>) -> Result<Effects, EngineError>,
    ) -> Result<TurnOutcome, EngineError> {
        self.with_conversation_reacting(tenant, conversation_id, true, action)
    }

    fn with_conversation_reacting(
        &self,
        tenant: &str,
        conversation_id: &str,
        react: bool,
        action: impl FnOnce(&mut Conversation, Setting<'_>) -> Result<Effects, EngineError>,
    ) -> Result<TurnOutcome, EngineError> {
        let found = self.tenant(tenant)?;
        let _turn = self.hold_turn(tenant, conversation_id)?;
        let _working = self.admission.working(tenant);
        let mut stored = self.store.conversation(tenant, conversation_id)?.ok_or_else(|| {
            EngineError::UnknownConversation {
                tenant: tenant.to_owned(),
                conversation: conversation_id.to_owned(),
            }
        })?;
        let flow = self.flow_for(&found, &stored.conversation.flow_version, &stored.plugin_pins)?;
        let setting = Setting { flow: &flow, calendar: &found.calendar };
        let effects = action(&mut stored.conversation, setting)?;
        let effects = if react { stored.conversation.react(setting, effects) } else { effects };
        self.commit(&found, &stored, effects, None)
    }

    /// Apply a turn, wait until it is on disk, then announce it.
    fn commit(
        &self,
        tenant: &Tenant,
        stored: &StoredConversation,
        effects: Effects,
        dedupe: Option<(&str, &str)>,
    ) -> Result<TurnOutcome, EngineError> {
        let applied = self.apply(tenant, stored, effects, dedupe)?;
        self.store.durable()?;
        Ok(self.announce(applied))
    }

    /// Apply a turn to the store, not yet synced: see [`Engine::handle_many`].
    pub(super) fn apply(
        &self,
        tenant: &Tenant,
        stored: &StoredConversation,
        effects: Effects,
        dedupe: Option<(&str, &str)>,
    ) -> Result<Applied, EngineError> {
        self.apply_with(tenant, stored, effects, dedupe, Vec::new())
    }

    /// [`Engine::apply`], with notices to staff beyond those the turn's
    /// events call for.
    pub(super) fn apply_with(
        &self,
        tenant: &Tenant,
        stored: &StoredConversation,
        effects: Effects,
        dedupe: Option<(&str, &str)>,
        mut notices: Vec<outbox::Notice>,
    ) -> Result<Applied, EngineError> {
        notices.extend(self.notices(tenant, stored, &effects));
        let outbox = outbox::entries(tenant, stored, &effects, &notices);
        let tenant = tenant.name.as_str();
        let record =
            TurnRecord { stored, events: &effects.events, dedupe, outbox: &outbox, timers: &effects.timers };
        if self.store.apply_turn(tenant, &record)? == Committed::Duplicate {
            return Ok(Applied::duplicate(tenant, self.duplicate(tenant, &stored.conversation.id)?));
        }
        Ok(Applied::turn(tenant, stored, effects).with_outbox(!outbox.is_empty()))
    }

    /// Once a turn is on disk: count its events and push its web chat replies.
    pub(super) fn announce(&self, applied: Applied) -> TurnOutcome {
        let Applied { tenant, web_chat, outbox, outcome } = applied;
        crate::telemetry::events(&tenant, &outcome.events);
        if let Some(last) = outcome.events.last() {
            self.daily.count(&tenant, outcome.events.len(), last.at);
        }
        if let Some(to) = web_chat {
            self.publish(&tenant, &to, &outcome.replies);
        }
        if outbox {
            self.outbox.mark(&tenant);
        }
        outcome
    }

    /// A repeat of a message already handled: nothing to do, but the first
    /// may have been applied and not yet synced, so sync before answering.
    pub(super) fn duplicate(&self, tenant: &str, conversation: &str) -> Result<TurnOutcome, EngineError> {
        self.store.durable()?;
        let status = self
            .store
            .conversation(tenant, conversation)?
            .map_or(Status::Bot, |stored| stored.conversation.status);
        Ok(TurnOutcome {
            conversation: conversation.to_owned(),
            replies: Vec::new(),
            events: Vec::new(),
            status,
            duplicate: true,
        })
    }
}

/// A turn applied to the store and not yet announced.
pub(super) struct Applied {
    tenant: String,
    /// The visitor's identity, for a web chat conversation.
    web_chat: Option<String>,
    /// Whether the turn left entries in the outbox.
    outbox: bool,
    outcome: TurnOutcome,
}

impl Applied {
    /// A turn of `stored` that produced `effects`.
    pub(super) fn turn(tenant: &str, stored: &StoredConversation, effects: Effects) -> Self {
        let conversation = &stored.conversation;
        Self {
            tenant: tenant.to_owned(),
            web_chat: (conversation.channel == Channel::Webchat).then(|| conversation.contact.id.clone()),
            outbox: false,
            outcome: TurnOutcome {
                conversation: conversation.id.clone(),
                // What went to another identity (a one-time code) is not
                // the customer's to see here, nor the web chat's.
                replies: effects.outbound.into_iter().filter(|reply| reply.to.is_none()).collect(),
                events: effects.events,
                status: conversation.status.clone(),
                duplicate: false,
            },
        }
    }

    /// A duplicate has nothing to announce.
    pub(super) fn duplicate(tenant: &str, outcome: TurnOutcome) -> Self {
        Self { tenant: tenant.to_owned(), web_chat: None, outbox: false, outcome }
    }

    pub(super) fn is_duplicate(&self) -> bool {
        self.outcome.duplicate
    }

    pub(super) fn with_outbox(self, outbox: bool) -> Self {
        Self { outbox, ..self }
    }
}

/// A window fallback's name, as the console offers it.
pub fn fallback_name(fallback: &switchboard_core::conversation::OutsideWindow) -> &str {
    match fallback {
        switchboard_core::conversation::OutsideWindow::Template { name, .. } => name,
        switchboard_core::conversation::OutsideWindow::Tag(tag) => tag,
    }
}
