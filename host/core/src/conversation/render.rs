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
    NoBooking,
    BookingCancelled,
    DidItHelp,
    GladItHelped,
}

pub(super) fn phrase(locale: &str, phrase: Phrase) -> String {
    let (en, ru, hy) = match phrase {
        Phrase::Human => ("Talk to a person", "Позвать человека", "Խոսել մարդու հետ"),
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
        Phrase::NoBooking => {
            ("I couldn't find a booking of yours.", "Не нашёл вашей записи.", "Ձեր գրանցումը չգտա։")
        }
        Phrase::BookingCancelled => (
            "Your booking is cancelled. Write any time to book again.",
            "Запись отменена. Напишите, когда захотите записаться снова.",
            "Գրանցումը չեղարկված է։ Գրեք, երբ ցանկանաք նորից գրանցվել։",
        ),
        Phrase::DidItHelp => ("Did this solve it?", "Это помогло?", "Սա օգնե՞ց։"),
        Phrase::GladItHelped => (
            "Glad it helped! Write any time if something else comes up.",
            "Рад, что помогло! Пишите, если что-то ещё понадобится.",
            "Ուրախ եմ, որ օգնեց։ Գրեք, եթե այլ բան պետք լինի։",
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
    let mut text = template.to_owned();
    for name in placeholders(template) {
        let value = match name {
            "name" if !conversation.fields.contains_key("name") => {
                conversation.contact.display_name.clone().unwrap_or_default()
            }
            _ if conversation.fields.contains_key(name) => field_value(conversation, calendar, flow, name),
            _ => "—".to_owned(),
        };
        text = text.replace(&format!("{{{name}}}"), &value);
    }
    text
}

/// One collected field as the customer reads it.
fn field_value(conversation: &Conversation, calendar: &Calendar, flow: &Flow, name: &str) -> String {
    let locale = conversation.locale();
    let Some(value) = conversation.fields.get(name) else { return "—".to_owned() };
    if let ("remedy", Value::Text(payload)) = (name, value) {
        return remedy_name(payload, locale);
    }
    let intent = conversation.intent.as_deref().and_then(|intent| flow.intent(intent));
    let title = match value {
        Value::Text(chosen) => intent
            .and_then(|intent| intent.field(name))
            .and_then(|field| field.options.iter().find(|option| option.value == *chosen))
            .map(|option| option.title.get(locale, &flow.default_locale).to_owned()),
        _ => None,
    };
    title.unwrap_or_else(|| render_value(value, locale, calendar))
}

/// A field taken from a message unasked, as it is said back: a choice by its
/// title, a near date with its day ("завтра, 03.12").
pub(super) fn field_text(
    conversation: &Conversation,
    calendar: &Calendar,
    flow: &Flow,
    name: &str,
    now: i64,
) -> String {
    let text = field_value(conversation, calendar, flow, name);
    let locale = conversation.locale();
    let intent = conversation.intent.as_deref().and_then(|intent| flow.intent(intent));
    // The unit in the customer's script ("km", not "км", in English).
    let units = intent.and_then(|intent| intent.field(name)).map_or(&[][..], |field| field.units.as_slice());
    let unit = units.iter().find(|unit| script_locale(unit) == Some(locale)).or_else(|| units.first());
    let at = match conversation.fields.get(name) {
        Some(Value::Datetime(at)) => *at,
        Some(Value::Number(_)) if let Some(unit) = unit => return format!("{text} {unit}"),
        _ => return text,
    };
    let local = calendar.local(at);
    if local.hour() != 0 || local.minute() != 0 {
        return text;
    }
    let date = local.date();
    let text = match locale {
        "ru" | "hy" => date.strftime("%d.%m").to_string(),
        _ => format!("{} {}", date.day(), EN_MONTHS[date.month() as usize - 1]),
    };
    let days = (date - calendar.local(now).date()).get_days();
    let relative = match (days, locale) {
        (0, "ru") => "сегодня",
        (1, "ru") => "завтра",
        (2, "ru") => "послезавтра",
        (0, "hy") => "այսօր",
        (1, "hy") => "վաղը",
        (2, "hy") => "վաղը չէ մյուս օրը",
        (0, _) => "today",
        (1, _) => "tomorrow",
        _ => return text,
    };
    format!("{relative}, {text}")
}

/// The locale whose script a short word (a unit, "км") is written in.
fn script_locale(word: &str) -> Option<&'static str> {
    word.chars().find(|character| character.is_alphabetic()).map(|first| match first {
        '\u{0530}'..='\u{058F}' => "hy",
        '\u{0400}'..='\u{04FF}' => "ru",
        _ => "en",
    })
}

/// "Записываю: стрижка, завтра (03.12)." for values taken unasked.
pub(super) fn noted(locale: &str, values: &[String]) -> String {
    let list = values.join("; ");
    match locale {
        "ru" => format!("Записываю: {list}."),
        "hy" => format!("Գրանցում եմ՝ {list}։"),
        _ => format!("Noted: {list}."),
    }
}

/// A value as a customer reads it, in their locale: dates in the tenant's
/// zone (`02.12.2026`, `2 Dec 2026`), money with the locale's separators
/// and currency (`150 000 драм`, `150,000 AMD`).
pub fn render_value(value: &Value, locale: &str, calendar: &Calendar) -> String {
    match value {
        Value::Text(text) => text.clone(),
        Value::Number(number) => number_text(*number, locale),
        Value::Money(money) => money_text(money, locale),
        Value::Datetime(at) => datetime_text(*at, locale, calendar),
        Value::Boolean(flag) => phrase(locale, if *flag { Phrase::Yes } else { Phrase::No }),
        Value::List(items) => items
            .iter()
            .map(|item| match item {
                crate::contract::Scalar::Text(text) => text.clone(),
                crate::contract::Scalar::Number(number) => number_text(*number, locale),
                crate::contract::Scalar::Money(money) => money_text(money, locale),
                crate::contract::Scalar::Datetime(at) => datetime_text(*at, locale, calendar),
                crate::contract::Scalar::Boolean(flag) => {
                    phrase(locale, if *flag { Phrase::Yes } else { Phrase::No })
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

const EN_MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `05.01.2026 18:00` in Russian and Armenian, `5 Jan 2026, 18:00` in English;
/// midnight is a date alone.
fn datetime_text(at: i64, locale: &str, calendar: &Calendar) -> String {
    let local = calendar.local(at);
    let date = date_text(local.date(), locale);
    if local.hour() == 0 && local.minute() == 0 {
        return date;
    }
    let time = local.strftime("%H:%M");
    match locale {
        "ru" | "hy" => format!("{date} {time}"),
        _ => format!("{date}, {time}"),
    }
}

pub(super) fn date_text(date: jiff::civil::Date, locale: &str) -> String {
    match locale {
        "ru" | "hy" => date.strftime("%d.%m.%Y").to_string(),
        _ => format!("{} {} {}", date.day(), EN_MONTHS[date.month() as usize - 1], date.year()),
    }
}

fn number_text(number: f64, locale: &str) -> String {
    let text = if number.fract() == 0.0 { format!("{number:.0}") } else { number.to_string() };
    match locale {
        "ru" | "hy" => text.replace('.', ","),
        _ => text,
    }
}

fn trim_number(number: f64) -> String {
    number_text(number, "en")
}

/// `150,000 AMD` and `$299.50` in English, `150 000 драм` in Russian,
/// `150 000 դրամ` in Armenian.
pub(super) fn money_text(money: &Money, locale: &str) -> String {
    let amount = amount_text(money.amount_minor, locale);
    let code = money.currency.as_str();
    match (locale, code) {
        ("ru", "AMD") => format!("{amount} драм"),
        ("hy", "AMD") => format!("{amount} դրամ"),
        ("ru", "RUB") => format!("{amount} ₽"),
        ("ru" | "hy", "USD") => format!("{amount} $"),
        ("ru" | "hy", "EUR") => format!("{amount} €"),
        (_, "USD") => format!("${amount}"),
        (_, "EUR") => format!("€{amount}"),
        _ => format!("{amount} {code}"),
    }
}

/// Grouped by thousands the locale's way: `150,000.50` or `150 000,50`.
fn amount_text(minor: i64, locale: &str) -> String {
    let (group, decimal) = match locale {
        "ru" | "hy" => (' ', ','),
        _ => (',', '.'),
    };
    let (units, cents) = (minor / 100, (minor % 100).abs());
    let digits = units.abs().to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(digit);
    }
    let sign = if minor < 0 { "-" } else { "" };
    if cents == 0 { format!("{sign}{grouped}") } else { format!("{sign}{grouped}{decimal}{cents:02}") }
}

pub(super) fn quote_total_value(quote: &Quote, locale: &str) -> Value {
    match quote.total {
        Amount::Exact(total) => Value::Money(Money::new(total, quote.currency.clone())),
        Amount::Range(low, high) => Value::Text(format!(
            "{}-{}",
            amount_text(low, locale),
            money_text(&Money::new(high, quote.currency.clone()), locale)
        )),
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
            let total = money_text(&Money::new(item.total_minor, quote.currency.clone()), locale);
            format!("• {}{quantity}: {total}", item.label)
        })
        .collect();
    lines.push(match quote.total {
        Amount::Exact(amount) => {
            format!("{total}: {}", money_text(&Money::new(amount, quote.currency.clone()), locale))
        }
        Amount::Range(low, high) => {
            let (from, to) = from_to;
            let high = money_text(&Money::new(high, quote.currency.clone()), locale);
            format!("{total}: {from} {} {to} {high}", amount_text(low, locale))
                .trim_start()
                .replace("  ", " ")
        }
    });
    if !quote.factors.is_empty() {
        lines.push(format!("{depends}: {}.", quote.factors.join(", ")));
    }
    if let Some(until) = quote.valid_until {
        lines.push(format!("{valid} {}.", date_text(calendar.local(until).date(), locale)));
    }
    lines.join("\n")
}

/// When a person will answer, said the customer's way: "сегодня до 16:00",
/// "завтра до 11:00", "до 11:00 12.01".
pub(super) fn reply_by(at: i64, now: i64, locale: &str, calendar: &Calendar) -> String {
    let local = calendar.local(at);
    let time = local.strftime("%H:%M").to_string();
    let days = (local.date() - calendar.local(now).date()).get_days();
    let date = match locale {
        "ru" | "hy" => local.date().strftime("%d.%m").to_string(),
        _ => format!("{} {}", local.day(), EN_MONTHS[local.month() as usize - 1]),
    };
    match (locale, days) {
        ("ru", 0) => format!("сегодня до {time}"),
        ("ru", 1) => format!("завтра до {time}"),
        ("ru", _) => format!("до {time} {date}"),
        ("hy", 0) => format!("այսօր մինչև {time}"),
        ("hy", 1) => format!("վաղը մինչև {time}"),
        ("hy", _) => format!("մինչև {date}, {time}"),
        (_, 0) => format!("today by {time}"),
        (_, 1) => format!("tomorrow by {time}"),
        _ => format!("by {time} on {date}"),
    }
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
            format!("{} {}", pick("Store credit", "Бонусы", "Բոնուս"), money_text(money, locale)),
        ),
        Remedy::FullRefund(money) => (
            "full_refund".to_owned(),
            format!("{} {}", pick("Refund", "Возврат денег", "Գումարի վերադարձ"), money_text(money, locale)),
        ),
        Remedy::PartialRefund(money) => (
            "partial_refund".to_owned(),
            format!(
                "{} {}",
                pick("Partial refund", "Частичный возврат", "Մասնակի վերադարձ"),
                money_text(money, locale)
            ),
        ),
    }
}

/// How many characters a channel shows on a button: WhatsApp and
/// Messenger/Instagram quick replies 20, Telegram 64; web chat no limit.
pub fn button_limit(channel: crate::contract::Channel) -> Option<usize> {
    use crate::contract::Channel;
    match channel {
        Channel::Whatsapp | Channel::Messenger | Channel::Instagram => Some(20),
        Channel::Telegram => Some(64),
        Channel::Webchat | Channel::Internal => None,
    }
}

/// A button title within `max` characters, never cut inside a word or an
/// amount: the currency is written as its sign, then words of the label
/// give way from the end, the amount last. ("Частичный возврат 31 500 драм"
/// becomes "Частичный 31 500 ֏".)
pub fn fit_title(title: &str, max: usize) -> String {
    let fits = |text: &str| text.chars().count() <= max;
    if fits(title) {
        return title.to_owned();
    }
    let signed = title
        .split(' ')
        .map(|word| match word {
            "драм" | "դրամ" | "AMD" => "֏",
            "USD" => "$",
            "EUR" => "€",
            "RUB" => "₽",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ");
    if fits(&signed) {
        return signed;
    }
    // The amount is the tail from the first word with a digit or a sign.
    let words: Vec<&str> = signed.split(' ').collect();
    let amount_at = words
        .iter()
        .position(|word| word.chars().any(|c| c.is_ascii_digit() || "֏$€₽".contains(c)))
        .unwrap_or(words.len());
    let (label, amount) = words.split_at(amount_at);
    let amount = amount.join(" ");
    for keep in (1..label.len()).rev() {
        let shorter = format!("{} {amount}", label[..keep].join(" "));
        if fits(shorter.trim()) {
            return shorter.trim().to_owned();
        }
    }
    if !amount.is_empty() && fits(&amount) && label.is_empty() {
        return amount;
    }
    // Without the amount, as many whole words of the label as fit.
    let mut kept = String::new();
    for word in label.iter().chain(std::iter::once(&amount.as_str())) {
        let next = if kept.is_empty() { (*word).to_owned() } else { format!("{kept} {word}") };
        if !fits(&next) {
            break;
        }
        kept = next;
    }
    if kept.is_empty() {
        // One word longer than the button: cut it, and show that it was.
        kept = signed.chars().take(max.saturating_sub(1)).collect::<String>() + "…";
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_titles_fit_without_cutting_a_word_or_an_amount() {
        assert_eq!(fit_title("Частичный возврат 31 500 драм", 20), "Частичный 31 500 ֏");
        assert_eq!(fit_title("Partial refund 315,000 AMD", 20), "Partial 315,000 ֏");
        assert_eq!(fit_title("Связаться с менеджером", 20), "Связаться с");
        assert_eq!(fit_title("Haircut", 20), "Haircut");
        assert_eq!(fit_title("Գումարի մասնակի վերադարձ", 20), "Գումարի մասնակի");
        for title in ["Частичный возврат 31 500 драм", "Store credit 1,234,567.50 AMD", "Mon 05.01 17:00"]
        {
            let fitted = fit_title(title, 20);
            assert!(fitted.chars().count() <= 20, "{fitted}");
            for word in fitted.split(' ') {
                assert!(title.contains(word) || "֏$€₽".contains(word), "{word} is whole in {title}");
            }
        }
    }

    #[test]
    fn amounts_are_grouped_with_cents_only_when_present() {
        assert_eq!(amount_text(15_000_000, "en"), "150,000");
        assert_eq!(amount_text(15_000_000, "ru"), "150 000");
        assert_eq!(amount_text(29_950, "en"), "299.50");
        assert_eq!(amount_text(29_950, "hy"), "299,50");
        assert_eq!(amount_text(-100, "en"), "-1");
        assert_eq!(amount_text(0, "en"), "0");
    }

    #[test]
    fn money_reads_the_locales_way() {
        let amd = Money::new(15_000_000, "AMD");
        assert_eq!(money_text(&amd, "ru"), "150 000 драм");
        assert_eq!(money_text(&amd, "hy"), "150 000 դրամ");
        assert_eq!(money_text(&amd, "en"), "150,000 AMD");
        assert_eq!(money_text(&Money::new(29_950, "USD"), "en"), "$299.50");
    }
}
