//! The words the host says itself, in English, Russian and Armenian, and how
//! values, quotes and remedies are written for the customer.

use crate::calendar::Calendar;
use crate::contract::{Amount, Money, QuickReply, Quote, Remedy, Value};
use crate::flow::{Flow, check_placeholders as placeholders};

use super::Conversation;

#[derive(Debug, Clone, Copy)]
pub(super) enum Phrase {
    Human,
    HumanComing,
    ConfirmAgain,
    ConfirmWord,
    Cancelled,
    YesOrNo,
    PickOne,
    Remedies,
    Yes,
    No,
    SeeYou,
    RescheduleWord,
    Rescheduling,
    NotRelevant,
    NoMoreMessages,
    Approved,
    Rejected,
    TextOnly,
}

pub(super) fn phrase(locale: &str, phrase: Phrase) -> String {
    let (en, ru, hy) = match phrase {
        Phrase::Human => ("Talk to a person", "Связаться с человеком", "Խոսել մարդու հետ"),
        Phrase::HumanComing => (
            "I'm passing you to a colleague, who will reply here shortly.",
            "Передаю вас коллеге, он скоро ответит здесь.",
            "Փոխանցում եմ ձեզ գործընկերոջս, նա շուտով կպատասխանի այստեղ։",
        ),
        Phrase::ConfirmAgain => (
            "This is a big step, so once more: reply \"Confirm\" to go ahead.",
            "Это важный шаг, поэтому ещё раз: ответьте «Подтверждаю», чтобы продолжить.",
            "Սա կարևոր քայլ է, ուստի ևս մեկ անգամ՝ պատասխանեք «Հաստատում եմ»՝ շարունակելու համար։",
        ),
        Phrase::ConfirmWord => ("Confirm", "Подтверждаю", "Հաստատում եմ"),
        Phrase::Cancelled => ("OK, I won't do that.", "Хорошо, не буду.", "Լավ, չեմ անի։"),
        Phrase::YesOrNo => {
            ("Please answer yes or no.", "Ответьте, пожалуйста, да или нет.", "Պատասխանեք այո կամ ոչ։")
        }
        Phrase::PickOne => ("Please pick one:", "Выберите вариант:", "Ընտրեք տարբերակը՝"),
        Phrase::Remedies => (
            "Good news: this can be returned. What would you prefer?",
            "Хорошие новости: возврат возможен. Что вы предпочитаете?",
            "Լավ լուր՝ վերադարձը հնարավոր է։ Ի՞նչ եք նախընտրում։",
        ),
        Phrase::Yes => ("Yes", "Да", "Այո"),
        Phrase::No => ("No", "Нет", "Ոչ"),
        Phrase::SeeYou => {
            ("Thank you, see you then!", "Спасибо, ждём вас!", "Շնորհակալություն, սպասում ենք ձեզ։")
        }
        Phrase::RescheduleWord => ("Reschedule", "Перенести", "Տեղափոխել"),
        Phrase::Rescheduling => (
            "Of course, let's find another time.",
            "Конечно, подберём другое время.",
            "Իհարկե, այլ ժամ գտնենք։",
        ),
        Phrase::NotRelevant => ("Not relevant", "Не актуально", "Արդիական չէ"),
        Phrase::TextOnly => (
            "Sorry, I can only read text messages. Could you write it, please?",
            "Извините, я понимаю только текст. Напишите, пожалуйста, словами.",
            "Ներողություն, ես հասկանում եմ միայն տեքստ։ Խնդրում եմ, գրեք բառերով։",
        ),
        Phrase::Approved => ("Approved by {by}.", "Одобрено: {by}.", "Հաստատված է՝ {by}։"),
        Phrase::Rejected => ("Rejected by {by}.", "Отклонено: {by}.", "Մերժված է՝ {by}։"),
        Phrase::NoMoreMessages => (
            "Understood, we won't write about this again.",
            "Понятно, больше не будем об этом писать.",
            "Հասկանալի է, այլևս չենք գրի այս մասին։",
        ),
    };
    match locale {
        "ru" => ru,
        "hy" => hy,
        _ => en,
    }
    .to_owned()
}

pub(super) fn yes_no_options(locale: &str) -> Vec<QuickReply> {
    vec![
        QuickReply { title: phrase(locale, Phrase::Yes), payload: "yes".to_owned() },
        QuickReply { title: phrase(locale, Phrase::No), payload: "no".to_owned() },
    ]
}

/// Replace `{field}` placeholders with the conversation's values; a choice
/// shows its title in the customer's language, not its stored value.
pub(super) fn fill(template: &str, conversation: &Conversation, calendar: &Calendar, flow: &Flow) -> String {
    let locale = conversation.locale();
    let intent = conversation.intent.as_deref().and_then(|name| flow.intent(name));
    let mut text = template.to_owned();
    for name in placeholders(template) {
        let title = |value: &Value| {
            let Value::Text(chosen) = value else { return None };
            let field = intent?.field(name)?;
            let option = field.options.iter().find(|option| option.value == *chosen)?;
            Some(option.title.get(locale, &flow.default_locale).to_owned())
        };
        let value = match name {
            "name" => conversation.contact.display_name.clone().unwrap_or_default(),
            "remedy" => match conversation.fields.get(name) {
                Some(Value::Text(payload)) => remedy_name(payload, locale),
                _ => "—".to_owned(),
            },
            _ => conversation
                .fields
                .get(name)
                .map(|value| title(value).unwrap_or_else(|| render_value(value, locale, calendar)))
                .unwrap_or_else(|| "—".to_owned()),
        };
        text = text.replace(&format!("{{{name}}}"), &value);
    }
    text
}

/// A value as a customer reads it: dates in the tenant's zone, money with its currency.
pub fn render_value(value: &Value, locale: &str, calendar: &Calendar) -> String {
    match value {
        Value::Text(text) => text.clone(),
        Value::Number(number) => trim_number(*number),
        Value::Money(money) => money_text(money),
        Value::Datetime(at) => {
            let local = calendar.local(*at);
            if local.hour() == 0 && local.minute() == 0 {
                local.strftime("%d.%m.%Y").to_string()
            } else {
                local.strftime("%d.%m.%Y %H:%M").to_string()
            }
        }
        Value::Boolean(flag) => phrase(locale, if *flag { Phrase::Yes } else { Phrase::No }),
        Value::List(items) => items
            .iter()
            .map(|item| match item {
                crate::contract::Scalar::Text(text) => text.clone(),
                crate::contract::Scalar::Number(number) => trim_number(*number),
                crate::contract::Scalar::Money(money) => money_text(money),
                crate::contract::Scalar::Datetime(at) => {
                    calendar.local(*at).strftime("%d.%m.%Y %H:%M").to_string()
                }
                crate::contract::Scalar::Boolean(flag) => flag.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn trim_number(number: f64) -> String {
    if number.fract() == 0.0 { format!("{number:.0}") } else { number.to_string() }
}

/// `150,000 AMD`, `299.50 USD`.
fn money_text(money: &Money) -> String {
    format!("{} {}", amount_text(money.amount_minor), money.currency)
}

fn amount_text(minor: i64) -> String {
    let (units, cents) = (minor / 100, (minor % 100).abs());
    let digits = units.abs().to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if minor < 0 { "-" } else { "" };
    if cents == 0 { format!("{sign}{grouped}") } else { format!("{sign}{grouped}.{cents:02}") }
}

pub(super) fn quote_total_value(quote: &Quote) -> Value {
    match quote.total {
        Amount::Exact(total) => Value::Money(Money::new(total, quote.currency.clone())),
        Amount::Range(low, high) => {
            Value::Text(format!("{}-{} {}", amount_text(low), amount_text(high), quote.currency))
        }
    }
}

/// A quote as a message: line items, the total (or range), what moves it, validity.
pub(super) fn quote(quote: &Quote, locale: &str, calendar: &Calendar) -> String {
    let (total, from_to, depends, valid) = match locale {
        "ru" => ("Итого", ("от", "до"), "Цена зависит от", "Действует до"),
        "hy" => ("Ընդամենը", ("", "-"), "Գինը կախված է", "Վավեր է մինչև"),
        _ => ("Total", ("from", "to"), "The price depends on", "Valid until"),
    };
    let mut lines: Vec<String> = quote
        .line_items
        .iter()
        .map(|item| {
            let quantity = if item.quantity == 1.0 {
                String::new()
            } else {
                format!(" × {}", trim_number(item.quantity))
            };
            format!("• {}{quantity}: {} {}", item.label, amount_text(item.total_minor), quote.currency)
        })
        .collect();
    lines.push(match quote.total {
        Amount::Exact(amount) => format!("{total}: {} {}", amount_text(amount), quote.currency),
        Amount::Range(low, high) => {
            let (from, to) = from_to;
            format!("{total}: {from} {} {to} {} {}", amount_text(low), amount_text(high), quote.currency)
                .replace("  ", " ")
        }
    });
    if !quote.factors.is_empty() {
        lines.push(format!("{depends}: {}.", quote.factors.join(", ")));
    }
    if let Some(until) = quote.valid_until {
        lines.push(format!("{valid} {}.", calendar.local(until).strftime("%d.%m.%Y")));
    }
    lines.join("\n")
}

pub(super) fn denied(locale: &str, reason: &str) -> String {
    match locale {
        "ru" => format!("К сожалению, оформить возврат не получится: {reason}."),
        "hy" => format!("Ցավոք, վերադարձը հնարավոր չէ՝ {reason}։"),
        _ => format!("I'm sorry, this can't be returned: {reason}."),
    }
}

/// What a chosen remedy is called, without its amount.
fn remedy_name(payload: &str, locale: &str) -> String {
    let (en, ru, hy) = match payload {
        "exchange" => ("an exchange", "обмен", "փոխանակում"),
        "store_credit" => ("store credit", "бонусы на счёт", "բոնուս"),
        "full_refund" => ("a full refund", "полный возврат денег", "գումարի ամբողջական վերադարձ"),
        "partial_refund" => ("a partial refund", "частичный возврат денег", "գումարի մասնակի վերադարձ"),
        other => return other.to_owned(),
    };
    match locale {
        "ru" => ru,
        "hy" => hy,
        _ => en,
    }
    .to_owned()
}

/// `(payload, title)` for a remedy option.
pub(super) fn remedy(remedy: &Remedy, locale: &str) -> (String, String) {
    let pick = |en: &str, ru: &str, hy: &str| match locale {
        "ru" => ru.to_owned(),
        "hy" => hy.to_owned(),
        _ => en.to_owned(),
    };
    match remedy {
        Remedy::Exchange => ("exchange".to_owned(), pick("Exchange", "Обмен", "Փոխանակում")),
        Remedy::StoreCredit(money) => (
            "store_credit".to_owned(),
            format!("{} {}", pick("Store credit", "Бонусы", "Բոնուս"), money_text(money)),
        ),
        Remedy::FullRefund(money) => (
            "full_refund".to_owned(),
            format!("{} {}", pick("Refund", "Возврат денег", "Գումարի վերադարձ"), money_text(money)),
        ),
        Remedy::PartialRefund(money) => (
            "partial_refund".to_owned(),
            format!(
                "{} {}",
                pick("Partial refund", "Частичный возврат", "Մասնակի վերադարձ"),
                money_text(money)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_with_cents_only_when_present() {
        assert_eq!(amount_text(15_000_000), "150,000");
        assert_eq!(amount_text(29_950), "299.50");
        assert_eq!(amount_text(-100), "-1");
        assert_eq!(amount_text(0), "0");
    }
}
