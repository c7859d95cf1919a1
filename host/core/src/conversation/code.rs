//! One-time codes (`type = "code"` fields): a code sent to the contact point
//! on record (the phone an order was placed with), typed back by the
//! customer, good until it expires and for a limited number of tries.
//!
//! The code goes out on WhatsApp to the phone in the field's `send_to`,
//! never into the conversation itself: it is not in the turn's replies to
//! the customer, the transcript or the event log, which records only that a
//! code was sent and to which masked number.

use crate::contract::Value;
use crate::event::EventBody;
use crate::flow::{Duration, FieldSpec};

use super::handoff::Reason;
use super::{Awaiting, Outbound, PendingCode, StepFailed, Turn};
use crate::failure::FailureCode;

/// How long a code is good for unless the field says.
const DEFAULT_EXPIRY: Duration = Duration::minutes(10);

/// Codes sent in one round: beyond, a person checks instead,
/// so nobody can make the tenant text someone else's phone without end.
const MAX_SENDS: u32 = 3;

impl Turn<'_, '_> {
    /// Send a fresh code for `field`; false (with a handoff) when there is
    /// nowhere to send it or no code to send.
    pub(super) fn send_code(&mut self, field: &FieldSpec) -> bool {
        let phone = field.send_to.as_deref().and_then(|name| match self.conversation.fields.get(name) {
            Some(Value::Text(phone)) => Some(phone.chars().filter(char::is_ascii_digit).collect::<String>()),
            _ => None,
        });
        let Some(phone) = phone.filter(|digits| (8..=15).contains(&digits.len())) else {
            let message = format!("no phone on record in {:?} to send a code to", field.send_to);
            self.host_failed(&field.name, StepFailed::new(FailureCode::HostError, message));
            return false;
        };
        let sent = self.conversation.codes_sent;
        if sent >= MAX_SENDS {
            self.conversation.pending_code = None;
            let payload = serde_json::json!({ "field": field.name, "sent": sent });
            self.record(EventBody::Domain { name: "code.failed".to_owned(), payload });
            self.handoff(Reason::FailedValidations(field.name.clone()));
            return false;
        }
        let code = match self.plugins.one_time_code() {
            Ok(code) => code,
            Err(failure) => {
                self.host_failed(&field.name, failure);
                return false;
            }
        };
        let expiry = field.expires.unwrap_or(DEFAULT_EXPIRY);
        let text = code_text(self.conversation.locale(), &code, expiry);
        self.conversation.pending_code = Some(PendingCode {
            field: field.name.clone(),
            code,
            expires_at: self.now + expiry.as_millis(),
            attempts: 0,
        });
        self.conversation.codes_sent = sent + 1;
        let masked = format!("+{}{}", "•".repeat(phone.len().saturating_sub(2)), &phone[phone.len() - 2..]);
        let payload = serde_json::json!({ "field": field.name, "to": masked });
        self.record(EventBody::Domain { name: "code.sent".to_owned(), payload });
        self.effects.outbound.push(Outbound {
            text,
            to: Some(format!("whatsapp:{phone}")),
            ..Outbound::default()
        });
        true
    }

    /// The customer typed something back while a code was awaited.
    pub(super) fn answer_code(&mut self, field: &FieldSpec, attempts: u32, answer: &str) {
        let locale = self.conversation.locale().to_owned();
        let Some(pending) =
            self.conversation.pending_code.clone().filter(|pending| pending.field == field.name)
        else {
            // Nothing outstanding (a restart, a state from before): a new one.
            self.ask(field, None);
            return;
        };
        if self.now > pending.expires_at {
            let payload = serde_json::json!({ "field": field.name });
            self.record(EventBody::Domain { name: "code.expired".to_owned(), payload });
            self.say(phrase(&locale, Words::Expired), Vec::new());
            self.ask(field, None);
            return;
        }
        let typed: String = answer.chars().filter(char::is_ascii_digit).collect();
        if constant_time_equal(typed.as_bytes(), pending.code.as_bytes()) {
            self.conversation.pending_code = None;
            let payload = serde_json::json!({ "field": field.name });
            self.record(EventBody::Domain { name: "code.verified".to_owned(), payload });
            self.collect(&field.name, Value::Boolean(true));
            return;
        }
        let tries = pending.attempts + 1;
        self.record(EventBody::FieldInvalid {
            field: field.name.clone(),
            reason: "wrong_code".to_owned(),
            attempt: attempts + 1,
        });
        if tries > field.retries {
            self.conversation.pending_code = None;
            let payload = serde_json::json!({ "field": field.name, "attempts": tries });
            self.record(EventBody::Domain { name: "code.failed".to_owned(), payload });
            self.exhausted(field);
            return;
        }
        if let Some(pending) = self.conversation.pending_code.as_mut() {
            pending.attempts = tries;
        }
        self.conversation.awaiting = Awaiting::Field { field: field.name.clone(), attempts: attempts + 1 };
        let left = field.retries + 1 - tries;
        self.say(phrase(&locale, Words::Wrong).replace("{left}", &left.to_string()), Vec::new());
    }
}

/// Equal, in time that does not depend on where they first differ.
fn constant_time_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |differ, (x, y)| differ | (x ^ y)) == 0
}

enum Words {
    Wrong,
    Expired,
}

fn phrase(locale: &str, words: Words) -> String {
    let (en, ru, hy) = match words {
        Words::Wrong => (
            "That code is not right. Tries left: {left}.",
            "Код неверный. Осталось попыток: {left}.",
            "Կոդը սխալ է։ Մնացած փորձեր՝ {left}։",
        ),
        Words::Expired => (
            "That code has expired; here is a new one.",
            "Срок действия кода истёк; отправляю новый.",
            "Կոդի ժամկետն անցել է, ուղարկում եմ նորը։",
        ),
    };
    match locale {
        "ru" => ru,
        "hy" => hy,
        _ => en,
    }
    .to_owned()
}

/// The message the code itself goes in.
fn code_text(locale: &str, code: &str, expiry: Duration) -> String {
    let minutes = expiry.as_minutes();
    match locale {
        "ru" => {
            format!("Ваш код подтверждения: {code}. Он действует {minutes} мин. Никому его не сообщайте.")
        }
        "hy" => format!("Ձեր հաստատման կոդը՝ {code}։ Գործում է {minutes} րոպե։ Ոչ մեկին մի ասեք այն։"),
        _ => format!("Your verification code: {code}. It is good for {minutes} min. Never share it."),
    }
}
