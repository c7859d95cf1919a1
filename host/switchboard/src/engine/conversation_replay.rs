//! Whole-conversation replay: a tenant's recorded conversations re-run,
//! message by message, through a candidate flow or plugin versions in a
//! sandbox engine (its own temporary store, no delivery, no outbound HTTP
//! or secrets), and each turn's replies compared with what the customer
//! was sent.
//!
//! What is replayed is each recorded `message.received`, at its recorded
//! time; what is compared is the bot's `message.sent` of the same turn.
//! Timers, agents' actions and button payloads are not replayed, and
//! plugin `kv` starts empty.

use serde::Serialize;
use switchboard_core::contract::Contact;
use switchboard_core::event::{EventBody, Sender};
use switchboard_store::Store;

use super::{Engine, EngineError, InboundMessage};
use crate::tenant::Candidate;

/// The most conversations one replay runs.
pub const MAX_CONVERSATIONS: usize = 50;
/// The most turns of one conversation replayed.
const MAX_TURNS: usize = 200;
/// The most turns of one replay, and how long it may take: the turns left
/// are counted as `unreplayed`.
const MAX_TOTAL_TURNS: usize = 2_000;
const BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// One turn whose replies differ.
#[derive(Debug, Clone, Serialize)]
pub struct TranscriptDifference {
    pub conversation: String,
    /// The turn's place in the conversation, from 1.
    pub turn: usize,
    /// What the customer wrote.
    pub said: String,
    pub recorded: Vec<String>,
    pub candidate: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ConversationReplay {
    pub conversations: usize,
    pub turns: usize,
    /// Conversations whose every turn answered the same.
    pub same: usize,
    pub changed: usize,
    /// Each turn that answered differently (the first of each conversation
    /// and those after it), oldest first.
    pub differences: Vec<TranscriptDifference>,
    /// Turns left when the replay's time or turn budget ran out.
    pub unreplayed: usize,
}

impl Engine {
    /// Re-run `conversations` of `tenant` (at most [`MAX_CONVERSATIONS`])
    /// through `candidate`, and compare. Compiles: call it off the async
    /// runtime. One at a time on the host, like a step replay.
    pub fn replay_conversations(
        &self,
        tenant: &str,
        conversations: &[String],
        candidate: &Candidate,
    ) -> Result<ConversationReplay, EngineError> {
        let _one_at_a_time = self.replay_slot()?;
        let running = self.tenant(tenant)?;
        let sandboxed = running.with_candidate(candidate, &self.runtime).map_err(|error| {
            EngineError::Invalid { tenant: tenant.to_owned(), problems: format!("{error:#}") }
        })?;
        let sandbox = Engine::new(Store::temporary()?, self.runtime.clone());
        sandbox.add_tenant(sandboxed)?;

        let mut report = ConversationReplay::default();
        let until = std::time::Instant::now() + BUDGET;
        for id in conversations.iter().take(MAX_CONVERSATIONS) {
            let events = self.conversation_events(tenant, id)?;
            let contact = self.store.conversation(tenant, id)?.map(|stored| stored.conversation.contact);
            report.conversations += 1;
            let mut changed = false;
            let said: Vec<_> = events
                .iter()
                .enumerate()
                .filter_map(|(at, event)| match &event.body {
                    EventBody::MessageReceived { text } => Some((at, event, text.clone())),
                    _ => None,
                })
                .take(MAX_TURNS)
                .collect();
            let turns = said.len();
            for (turn, (position, event, text)) in said.into_iter().enumerate() {
                if report.turns >= MAX_TOTAL_TURNS || std::time::Instant::now() >= until {
                    report.unreplayed += turns - turn;
                    break;
                }
                report.turns += 1;
                // The bot's replies of that turn: its events follow it, at its
                // time, until the next message.
                let recorded: Vec<String> = events[position + 1..]
                    .iter()
                    .take_while(|later| {
                        later.at == event.at && !matches!(later.body, EventBody::MessageReceived { .. })
                    })
                    .filter_map(|later| match &later.body {
                        EventBody::MessageSent { text, by: Sender::Bot } => Some(text.clone()),
                        _ => None,
                    })
                    .collect();
                let message = InboundMessage {
                    channel: event.channel,
                    contact: Contact {
                        id: id.clone(),
                        display_name: contact.as_ref().and_then(|contact| contact.display_name.clone()),
                        locale: contact
                            .as_ref()
                            .map_or_else(|| "en".to_owned(), |contact| contact.locale.clone()),
                    },
                    text: text.clone(),
                    payload: None,
                    message_id: None,
                    at: event.at,
                };
                let candidate: Vec<String> = match sandbox.handle(tenant, message) {
                    Ok(outcome) => outcome.replies.into_iter().map(|reply| reply.text).collect(),
                    Err(error) => vec![format!("(the turn failed: {error})")],
                };
                if candidate != recorded {
                    changed = true;
                    report.differences.push(TranscriptDifference {
                        conversation: id.clone(),
                        turn: turn + 1,
                        said: text,
                        recorded,
                        candidate,
                    });
                }
            }
            if changed {
                report.changed += 1;
            } else {
                report.same += 1;
            }
        }
        Ok(report)
    }
}
