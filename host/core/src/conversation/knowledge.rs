//! Answers from the flow's `[[knowledge]]`: the answer with its buttons,
//! then "Did this solve it?". Yes ends the round resolved; no, the same
//! question again, or an answer marked `handoff` brings a person in with
//! the card.

use crate::contract::QuickReply;
use crate::event::EventBody;
use crate::validate::yes_no;

use super::handoff::Reason;
use super::render::{self, Phrase};
use super::{Awaiting, Inbound, Turn};

/// The payload of a button that gives an answer: `answer:{name}`.
pub(super) const ANSWER_PAYLOAD: &str = "answer:";

impl Turn<'_, '_> {
    pub(super) fn give_answer(&mut self, name: &str) {
        let flow = self.setting.flow;
        let Some(entry) = flow.knowledge(name) else { return };
        let payload = serde_json::json!({ "answer": name });
        if self.conversation.answered.iter().any(|given| given == name) {
            // Asked again: the answer did not do it.
            self.record(EventBody::Domain { name: "answer.repeated".to_owned(), payload });
            self.handoff(Reason::Unresolved(name.to_owned()));
            return;
        }
        self.conversation.answered.push(name.to_owned());
        self.record(EventBody::Domain { name: "answer.given".to_owned(), payload });
        let locale = self.conversation.locale().to_owned();
        let buttons: Vec<QuickReply> = entry
            .buttons
            .iter()
            .filter_map(|button| {
                let payload = match (&button.intent, &button.answer) {
                    (Some(intent), _) => format!("intent:{intent}"),
                    (None, Some(answer)) => format!("{ANSWER_PAYLOAD}{answer}"),
                    (None, None) => return None,
                };
                Some(QuickReply {
                    title: button.title.get(&locale, &flow.default_locale).to_owned(),
                    payload,
                })
            })
            .collect();
        let text = self.text(&entry.answer);
        // The buttons go with the question that follows, beside yes and no:
        // one message to tap on (an answer that hands off keeps them).
        if entry.handoff.is_some() {
            self.say(text, buttons.clone());
        } else {
            self.say(text, Vec::new());
        }
        if let Some(queue) = &entry.handoff {
            self.conversation.route = Some(crate::contract::Route {
                queue: queue.clone(),
                priority: entry.priority,
                assignee: None,
                backup: None,
            });
            // The answer says a person takes it from here.
            self.handoff_reply = Some(String::new());
            self.handoff(Reason::Knowledge(name.to_owned()));
            return;
        }
        self.conversation.intent = None;
        self.conversation.awaiting = Awaiting::Resolved { answer: name.to_owned() };
        let mut options = render::yes_no_options(&locale);
        options.extend(buttons);
        self.say(render::phrase(&locale, Phrase::DidItHelp), options);
    }

    /// The answer to "Did this solve it?"; anything else is a new message.
    pub(super) fn answer_resolved(&mut self, given: &str, answer: &str, inbound: &Inbound) {
        let payload = serde_json::json!({ "answer": given });
        // "Нет, а как сбросить часы?" is another question, not a no.
        let another = inbound.payload.is_none()
            && (!self.understanding.answers.is_empty() || self.understanding.intent().is_some());
        match yes_no(answer) {
            Some(true) if !another => {
                self.record(EventBody::Domain { name: "answer.resolved".to_owned(), payload });
                let locale = self.conversation.locale().to_owned();
                self.say(render::phrase(&locale, Phrase::GladItHelped), Vec::new());
                self.end("resolved");
            }
            Some(false) if !another => {
                self.record(EventBody::Domain { name: "answer.unresolved".to_owned(), payload });
                self.handoff(Reason::Unresolved(given.to_owned()));
            }
            _ => {
                self.conversation.awaiting = Awaiting::Nothing;
                self.choose_intent(inbound);
            }
        }
    }
}
