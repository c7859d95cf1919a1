//! People on their own channels: a queue owner, approver or backup whose
//! staff record names their Telegram, WhatsApp, Messenger or Instagram
//! identity hears of the handoffs, approval requests, escalations and
//! assignments that reach them there, with buttons (take over; approve,
//! reject), and answers with a tap.
//!
//! A button's payload names an action and a conversation
//! (`staff:approve:whatsapp:37491000001`). It acts only when it comes from an
//! identity on the tenant's staff list, and only within that person's right:
//! an approval is decided by its approver, its backup, the person it waits
//! for or an admin. From anyone else the payload is dropped and the message
//! is handled as what they typed, so a customer cannot approve anything.
//!
//! Notices go out through the outbox in the same atomic write as the turn
//! that caused them, so a handoff acknowledged is a handoff announced.

use switchboard_core::contract::{Channel, Identity, QuickReply, Value};
use switchboard_core::conversation::{Conversation, Effects, Status};
use switchboard_core::event::EventBody;
use switchboard_store::StoredConversation;

use super::outbox::Notice;
use super::turn::Applied;
use super::{Engine, EngineError, InboundMessage, Role, StaffMember, TurnOutcome};
use crate::tenant::Tenant;

/// The payload prefix of a staff member's button.
const PREFIX: &str = "staff:";

/// What a staff member's button asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Approve,
    Reject,
    Take,
}

/// `staff:{action}:{conversation}`.
pub(super) fn parse(payload: &str) -> Option<(Action, &str)> {
    let (action, conversation) = payload.strip_prefix(PREFIX)?.split_once(':')?;
    let action = match action {
        "approve" => Action::Approve,
        "reject" => Action::Reject,
        "take" => Action::Take,
        _ => return None,
    };
    (!conversation.is_empty()).then_some((action, conversation))
}

/// A staff contact: a provider identity the host can write to.
pub fn valid_staff_contact(identity: &str) -> bool {
    Identity::parse(identity).is_some_and(|identity| {
        !identity.id.is_empty()
            && identity.id.len() <= 128
            && matches!(
                identity.channel,
                Channel::Whatsapp | Channel::Telegram | Channel::Messenger | Channel::Instagram
            )
    })
}

/// Whether `member` may approve or reject `conversation`'s request: its
/// approver or backup, the person whose queue it waits in (after an
/// escalation, the backup's), or an admin. Being assigned it is not enough:
/// anyone may be given a conversation, and a decision is the approver's.
pub fn may_decide(conversation: &Conversation, member: &str, role: Role) -> bool {
    let named =
        |field: &str| matches!(conversation.fields.get(field), Some(Value::Text(name)) if name == member);
    let queued = matches!(&conversation.status, Status::Human { queue, .. } if queue == member);
    role == Role::Admin || named("approver") || named("backup") || queued
}

/// Whether a request in `conversation` waits for an approver's decision.
pub(super) fn waits_for_decision(conversation: &Conversation) -> bool {
    matches!(conversation.status, Status::Human { .. }) && conversation.fields.contains_key("approver")
}

/// Whether `member` may take `conversation` over: it waits for nobody
/// yet, or for them already; an admin may take it from anyone.
fn may_take(conversation: &Conversation, member: &StaffMember) -> bool {
    match &conversation.status {
        Status::Human { assignee, .. } => {
            member.role == Role::Admin || assignee.as_deref().is_none_or(|assignee| assignee == member.id)
        }
        _ => false,
    }
}

/// Words staff read on their channel, in the flow's default language.
fn words(locale: &str) -> [&'static str; 8] {
    match locale {
        "ru" => [
            "Взять себе",
            "Одобрить",
            "Отклонить",
            "Вы взяли разговор; отвечайте в консоли.",
            "Одобрено.",
            "Отклонено.",
            "Это уже решено или передано другому.",
            "Это решает согласующий, его заместитель или администратор.",
        ],
        "hy" => [
            "Վերցնել",
            "Հաստատել",
            "Մերժել",
            "Զրույցը ձերն է, պատասխանեք վահանակում։",
            "Հաստատված է։",
            "Մերժված է։",
            "Սա արդեն որոշված է կամ փոխանցված։",
            "Սա որոշում է հաստատողը, նրա փոխարինողը կամ ադմինիստրատորը։",
        ],
        _ => [
            "Take over",
            "Approve",
            "Reject",
            "It's yours; reply in the console.",
            "Approved.",
            "Rejected.",
            "That was already decided or handed on.",
            "Only the approver, the backup or an admin decides this.",
        ],
    }
}

impl Engine {
    /// Set the identities a staff member is reached on; each is one
    /// person's in the tenant.
    pub fn set_staff_contacts(
        &self,
        tenant: &str,
        id: &str,
        contacts: &[String],
    ) -> Result<Option<StaffMember>, EngineError> {
        let Some(mut member) = self.staff_member(tenant, id)? else { return Ok(None) };
        if let Some(bad) = contacts.iter().find(|contact| !valid_staff_contact(contact)) {
            return Err(EngineError::Invalid {
                tenant: tenant.to_owned(),
                problems: format!(
                    "{bad:?} is not an identity the host can write to; write channel:id on whatsapp, telegram, messenger or instagram"
                ),
            });
        }
        for other in self.staff(tenant)?.into_iter().filter(|other| other.id != id) {
            if let Some(taken) = contacts.iter().find(|contact| other.contacts.contains(contact)) {
                return Err(EngineError::Invalid {
                    tenant: tenant.to_owned(),
                    problems: format!("{taken:?} is already {:?}'s", other.id),
                });
            }
        }
        member.contacts = contacts.to_vec();
        member.contacts.dedup();
        self.store_staff(tenant, &member)?;
        Ok(Some(member))
    }

    /// The staff member an identity belongs to, if any.
    pub(super) fn staff_by_identity(
        &self,
        tenant: &str,
        identity: &str,
    ) -> Result<Option<StaffMember>, EngineError> {
        Ok(self
            .staff(tenant)?
            .into_iter()
            .find(|member| member.contacts.iter().any(|contact| contact == identity)))
    }

    /// Notices for the people a turn's events reach on their own channels:
    /// a handoff's owner, an escalation's backup, an assignee.
    pub(super) fn notices(
        &self,
        tenant: &Tenant,
        stored: &StoredConversation,
        effects: &Effects,
    ) -> Vec<Notice> {
        let conversation = &stored.conversation;
        let approval = effects.events.iter().any(|event| {
            matches!(&event.body, EventBody::Domain { name, .. } if name == "approval.requested" || name == "approval.escalated")
        });
        let mut reached: Vec<(String, String)> = Vec::new();
        for event in &effects.events {
            match &event.body {
                EventBody::HandoffRequested { card } => {
                    let person = card.assignee.clone().unwrap_or_else(|| card.queue.clone());
                    reached.push((person, card.summary.clone()));
                }
                EventBody::Domain { name, payload } if name == "approval.escalated" => {
                    if let Some(to) = payload.get("to").and_then(|to| to.as_str()) {
                        reached.push((to.to_owned(), summary(conversation)));
                    }
                }
                EventBody::ConversationAssigned { assignee: Some(assignee), by } if assignee != by => {
                    reached.push((assignee.clone(), summary(conversation)));
                }
                _ => {}
            }
        }
        if reached.is_empty() {
            return Vec::new();
        }
        let staff = match self.staff(&tenant.name) {
            Ok(staff) => staff,
            Err(error) => {
                tracing::warn!(tenant = %tenant.name, %error, "staff not read; no notices on their channels");
                return Vec::new();
            }
        };
        let locale = tenant.flow.default_locale.as_str();
        let [take, approve, reject, ..] = words(locale);
        let buttons: Vec<QuickReply> = if approval {
            vec![
                QuickReply {
                    title: approve.to_owned(),
                    payload: format!("{PREFIX}approve:{}", conversation.id),
                },
                QuickReply {
                    title: reject.to_owned(),
                    payload: format!("{PREFIX}reject:{}", conversation.id),
                },
            ]
        } else {
            vec![QuickReply { title: take.to_owned(), payload: format!("{PREFIX}take:{}", conversation.id) }]
        };
        reached
            .into_iter()
            .filter_map(|(person, text)| Some((staff.iter().find(|member| member.id == person)?, text)))
            .flat_map(|(member, text)| {
                let buttons = buttons.clone();
                member.contacts.iter().filter_map(move |contact| {
                    let identity = Identity::parse(contact)?;
                    Some(Notice {
                        channel: identity.channel,
                        to: identity.id,
                        text: text.clone(),
                        quick_replies: buttons.clone(),
                    })
                })
            })
            .collect()
    }

    /// A staff member's tap (`member` is the staff member the sending
    /// identity belongs to): decide or take the conversation it names, and
    /// tell them how it went.
    pub(super) fn staff_action(
        &self,
        tenant: &Tenant,
        member: &StaffMember,
        message: &InboundMessage,
        action: Action,
        target: &str,
    ) -> Result<Applied, EngineError> {
        let nothing = || {
            Applied::duplicate(
                &tenant.name,
                TurnOutcome {
                    conversation: target.to_owned(),
                    replies: Vec::new(),
                    events: Vec::new(),
                    status: Status::Bot,
                    duplicate: false,
                },
            )
        };
        let Some(identity) = Identity::parse(&message.contact.id) else { return Ok(nothing()) };
        let _turn = self.hold_turn(&tenant.name, target)?;
        let Some(mut stored) = self.store.conversation(&tenant.name, target)? else {
            tracing::info!(tenant = %tenant.name, staff = %member.id, target, "a staff button for a conversation that is gone");
            return Ok(nothing());
        };
        let [_, _, _, took, approved, rejected, stale, forbidden] = words(&tenant.flow.default_locale);
        let waiting = matches!(stored.conversation.status, Status::Human { .. });
        // A decision needs a request waiting for one.
        let approval = waits_for_decision(&stored.conversation);
        let at = message.at;
        let (effects, answer) = match action {
            _ if !waiting => (Effects::default(), stale),
            Action::Take if !may_take(&stored.conversation, member) => (Effects::default(), stale),
            Action::Take => (stored.conversation.assign(Some(&member.id), &member.id, at), took),
            Action::Approve | Action::Reject if !approval => (Effects::default(), stale),
            Action::Approve | Action::Reject
                if !may_decide(&stored.conversation, &member.id, member.role) =>
            {
                (Effects::default(), forbidden)
            }
            Action::Approve => (stored.conversation.decide(true, &member.id, None, at), approved),
            Action::Reject => (stored.conversation.decide(false, &member.id, None, at), rejected),
        };
        let reply = Notice {
            channel: identity.channel,
            to: identity.id,
            text: format!("{answer} {}", summary(&stored.conversation)),
            quick_replies: Vec::new(),
        };
        let flow = self.flow_for(tenant, &stored.conversation.flow_version, &stored.plugin_pins)?;
        let setting = switchboard_core::conversation::Setting { flow: &flow, calendar: &tenant.calendar };
        let effects = stored.conversation.react(setting, effects);
        let dedupe = message.message_id.as_deref().map(|id| (message.channel.as_str(), id));
        self.apply_with(tenant, &stored, effects, dedupe, vec![reply])
    }
}

/// One line about a conversation for the person it reaches.
fn summary(conversation: &Conversation) -> String {
    let name = conversation.contact.display_name.as_deref().unwrap_or("A customer");
    let intent = conversation.intent.as_deref().unwrap_or("a conversation");
    format!("{name} ({intent}, {}).", conversation.id)
}
