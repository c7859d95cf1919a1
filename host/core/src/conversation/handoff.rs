//! Routing and handing a conversation to a human, with a card that spares the
//! customer from repeating themselves.

use crate::contract::{HandoffCard as PluginCard, Priority};
use crate::event::{EventBody, HandoffCard};

use super::render::{self, Phrase, render_value};
use super::{Awaiting, Status, Turn};

/// Why a human is needed.
#[derive(Debug, Clone)]
pub(super) enum Reason {
    Asked,
    Negative,
    HotLead,
    Escalated(String),
    FailedValidations(String),
    StepFailed(String),
    Plugin(PluginCard),
    /// A knowledge-base answer did not help (the customer said so, or asked again).
    Unresolved(String),
    /// A knowledge-base answer that a person finishes (payment, account).
    Knowledge(String),
    /// The flow hands the completed intent to a person (`done.handoff`).
    Completed(String),
}

impl Reason {
    fn describe(&self) -> String {
        match self {
            Reason::Asked => "the customer asked for a human".to_owned(),
            Reason::Negative => "negative signal in the customer's message".to_owned(),
            Reason::HotLead => "hot lead: score above the handoff threshold".to_owned(),
            Reason::Escalated(reason) => format!("policy escalation: {reason}"),
            Reason::FailedValidations(field) => format!("repeated invalid answers for {field}"),
            Reason::StepFailed(step) => format!("the {step} step failed"),
            Reason::Plugin(card) => card.reason.clone(),
            Reason::Unresolved(answer) => format!("the {answer:?} answer did not solve it"),
            Reason::Knowledge(answer) => format!("{answer:?} needs a person"),
            Reason::Completed(intent) => format!("the flow hands a completed {intent:?} to a person"),
        }
    }

    /// The stable name dashboards group handoffs by (`reason` is prose).
    fn cause(&self) -> &'static str {
        match self {
            Reason::Asked => "asked",
            Reason::Negative => "negative",
            Reason::HotLead => "hot_lead",
            Reason::Escalated(_) => "policy",
            Reason::FailedValidations(_) => "invalid_answers",
            Reason::StepFailed(_) => "step_failed",
            Reason::Plugin(_) => "plugin",
            Reason::Unresolved(_) => "unresolved",
            Reason::Knowledge(_) => "knowledge",
            Reason::Completed(_) => "flow",
        }
    }

    fn next_step(&self) -> String {
        match self {
            Reason::Asked | Reason::Negative => "Reply personally; read the summary first.".to_owned(),
            Reason::HotLead => "Call the customer today and propose a meeting.".to_owned(),
            Reason::Escalated(_) => "Review the case against the policy and decide.".to_owned(),
            Reason::FailedValidations(field) => format!("Collect {field} with the customer directly."),
            Reason::StepFailed(_) => "Finish the request by hand; the automation could not.".to_owned(),
            Reason::Plugin(card) => card.suggested_next_step.clone(),
            Reason::Unresolved(answer) => {
                format!("The customer tried the {answer:?} answer; troubleshoot with them directly.")
            }
            Reason::Knowledge(_) => "Take it from here; the customer has had the standard answer.".to_owned(),
            Reason::Completed(_) => {
                "Follow up on what the customer chose; the summary has their answers.".to_owned()
            }
        }
    }
}

impl Turn<'_, '_> {
    pub(super) fn handoff(&mut self, reason: Reason) {
        let (queue, priority, assignee, _) = self.route(true);
        let conversation = &*self.conversation;
        let flow = self.setting.flow;
        let intent_title = conversation
            .intent
            .as_deref()
            .and_then(|name| flow.intent(name))
            .map(|intent| intent.title.get("en", &flow.default_locale).to_owned());
        let name = conversation.contact.display_name.clone();
        let known: Vec<String> = conversation
            .fields
            .iter()
            .map(|(field, value)| format!("{field}: {}", render_value(value, "en", self.setting.calendar)))
            .collect();
        let mut summary = format!(
            "{} wrote on {:?} in {}{}.",
            name.as_deref().unwrap_or("A customer"),
            conversation.channel,
            conversation.contact.locale,
            intent_title.map(|title| format!(" about \"{title}\"")).unwrap_or_default(),
        );
        if !known.is_empty() {
            summary.push_str(&format!("\nKnown: {}.", known.join("; ")));
        }
        let described = match &reason {
            Reason::Plugin(card) if !card.summary.is_empty() => {
                format!("{} ({})", reason.describe(), card.summary)
            }
            _ => reason.describe(),
        };
        summary.push_str(&format!("\nHanded over because {described}."));
        let card = HandoffCard {
            name,
            contact: conversation.contact.id.clone(),
            channel: conversation.channel,
            intent: conversation.intent.clone(),
            fields: conversation.fields.clone(),
            score: conversation.score,
            tier: conversation.tier,
            reason: reason.describe(),
            cause: reason.cause().to_owned(),
            summary,
            suggested_next_step: reason.next_step(),
            queue: queue.clone(),
            priority,
            assignee: assignee.clone(),
        };
        self.record(EventBody::HandoffRequested { card });
        self.conversation.status = Status::Human { queue, assignee };
        self.conversation.awaiting = Awaiting::Nothing;
        // A text set for this handoff (empty: the flow already said it), or
        // the flow's handoff reply, or the host's own.
        let reply = self.handoff_reply.take().unwrap_or_else(|| {
            let reply = flow.handoff.reply.get(self.conversation.locale(), &flow.default_locale).to_owned();
            if reply.is_empty() {
                render::phrase(self.conversation.locale(), Phrase::HumanComing)
            } else {
                reply
            }
        });
        self.say(reply, Vec::new());
    }

    /// Pick the queue, priority and owner, and record it. Business hours decide
    /// between a queue's owner and its after-hours owner.
    pub(super) fn route(&mut self, for_handoff: bool) -> (String, Priority, Option<String>, bool) {
        let flow = self.setting.flow;
        let after_hours = !self.setting.calendar.is_open(self.now);
        let facts = self.conversation.facts(after_hours, self.now);
        let rule = flow.routing.iter().find(|rule| rule.when.holds(facts));
        let conversation = &*self.conversation;
        if rule.is_none() && !for_handoff && conversation.route.is_none() {
            return (String::new(), Priority::Normal, None, after_hours);
        }
        let intent_priority = conversation
            .intent
            .as_deref()
            .and_then(|name| flow.intent(name))
            .map_or(Priority::Normal, |intent| intent.priority);
        let plugin_route = conversation.route.as_ref();
        let queue = rule
            .map(|rule| rule.queue.clone())
            .or_else(|| plugin_route.map(|route| route.queue.clone()))
            .unwrap_or_else(|| flow.handoff.queue.clone());
        let priority =
            [rule.map(|rule| rule.priority), plugin_route.map(|route| route.priority), Some(intent_priority)]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or_default();
        let owner = flow.queue(&queue).and_then(|queue| {
            if after_hours {
                queue.after_hours_owner.clone().or(queue.owner.clone())
            } else {
                queue.owner.clone()
            }
        });
        let assignee =
            plugin_route.and_then(|route| route.assignee.clone()).filter(|_| !after_hours).or(owner);
        self.record(EventBody::ConversationRouted {
            queue: queue.clone(),
            priority,
            assignee: assignee.clone(),
            after_hours,
        });
        (queue, priority, assignee, after_hours)
    }
}
