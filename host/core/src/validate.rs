//! Built-in checks for collected fields: phone, email, dates and times in the
//! tenant's zone, numbers, money, choices, patterns and yes/no, each with an
//! explanation in the customer's language when the answer does not fit.

use jiff::ToSpan;
use jiff::civil::{Date, Time};

use crate::calendar::Calendar;
use crate::contract::{Money, Value};
use crate::flow::{FieldKind, FieldSpec};
use crate::text::{same_word, words};

/// Why an answer was not accepted. [`Invalid::explain`] says it to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    Empty,
    Phone,
    Email,
    Date,
    Time,
    Past,
    Number,
    Range { min: Option<String>, max: Option<String> },
    Choice,
    Pattern,
    YesNo,
}

impl Invalid {
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::Empty => "empty",
            Invalid::Phone => "phone",
            Invalid::Email => "email",
            Invalid::Date => "date",
            Invalid::Time => "time",
            Invalid::Past => "past",
            Invalid::Number => "number",
            Invalid::Range { .. } => "range",
            Invalid::Choice => "choice",
            Invalid::Pattern => "pattern",
            Invalid::YesNo => "yes_no",
        }
    }

    pub fn explain(&self, locale: &str) -> String {
        let pick = |en: &str, ru: &str, hy: &str| {
            match locale {
                "ru" => ru,
                "hy" => hy,
                _ => en,
            }
            .to_owned()
        };
        match self {
            Invalid::Empty => pick("I didn't catch that.", "Не понял ответ.", "Չհասկացա պատասխանը։"),
            Invalid::Phone => pick(
                "That doesn't look like a phone number. Please include the country code, e.g. +374 91 123456.",
                "Это не похоже на номер телефона. Укажите его с кодом страны, например +374 91 123456.",
                "Սա հեռախոսահամարի նման չէ։ Նշեք երկրի կոդով, օրինակ՝ +374 91 123456։",
            ),
            Invalid::Email => pick(
                "Please check the email address, e.g. name@example.com.",
                "Проверьте адрес почты, например name@example.com.",
                "Ստուգեք էլ. հասցեն, օրինակ՝ name@example.com։",
            ),
            Invalid::Date => pick(
                "Please send a date like 25.12 or say \"tomorrow\".",
                "Пришлите дату, например 25.12, или напишите «завтра».",
                "Ուղարկեք ամսաթիվ, օրինակ՝ 25.12, կամ գրեք «վաղը»։",
            ),
            Invalid::Time => pick(
                "Please add a time, e.g. \"tomorrow 15:00\".",
                "Добавьте время, например «завтра 15:00».",
                "Ավելացրեք ժամը, օրինակ՝ «վաղը 15:00»։",
            ),
            Invalid::Past => pick(
                "That date has already passed. Please choose a later one.",
                "Эта дата уже прошла. Выберите более позднюю.",
                "Այդ ամսաթիվն արդեն անցել է։ Ընտրեք ավելի ուշ օր։",
            ),
            Invalid::Number => pick("Please send a number.", "Пришлите число.", "Ուղարկեք թիվ։"),
            Invalid::Range { min, max } => {
                let (min, max) = (min.as_deref().unwrap_or("…"), max.as_deref().unwrap_or("…"));
                match locale {
                    "ru" => format!("Нужно число от {min} до {max}."),
                    "hy" => format!("Անհրաժեշտ է թիվ {min}-ից {max}։"),
                    _ => format!("Please send a number from {min} to {max}."),
                }
            }
            Invalid::Choice => pick(
                "Please pick one of the options.",
                "Выберите один из вариантов.",
                "Ընտրեք տարբերակներից մեկը։",
            ),
            Invalid::Pattern => pick(
                "That doesn't look right. Please check and send it again.",
                "Похоже, тут ошибка. Проверьте и пришлите ещё раз.",
                "Կարծես սխալ կա։ Ստուգեք և կրկին ուղարկեք։",
            ),
            Invalid::YesNo => pick(
                "Please answer yes or no.",
                "Ответьте, пожалуйста, да или нет.",
                "Պատասխանեք այո կամ ոչ։",
            ),
        }
    }
}

/// Check `answer` (a message text, or a quick-reply payload) against `field`.
pub fn validate(field: &FieldSpec, answer: &str, calendar: &Calendar, now_ms: i64) -> Result<Value, Invalid> {
    let answer = answer.trim();
    if answer.is_empty() {
        return Err(Invalid::Empty);
    }
    match field.kind {
        FieldKind::Text => Ok(Value::Text(answer.to_owned())),
        FieldKind::Phone => phone(answer, field.country_code.as_deref()).map(Value::Text),
        FieldKind::Email => email(answer).map(Value::Text),
        FieldKind::Number => {
            let number = first_number(answer).ok_or(Invalid::Number)?;
            in_range(field, number).map(Value::Number)
        }
        FieldKind::Money => {
            let number = first_number(answer).ok_or(Invalid::Number)?;
            let number = in_range(field, number)?;
            let currency = currency_in(answer).or(field.currency.clone()).unwrap_or_else(|| "USD".to_owned());
            Ok(Value::Money(Money::new((number * 100.0).round() as i64, currency)))
        }
        FieldKind::Date => {
            let (date, _) = date_time(answer, calendar, now_ms)?;
            let at = calendar.timestamp(date, Time::midnight()).ok_or(Invalid::Date)?;
            if !field.allow_past && date < calendar.local(now_ms).date() {
                return Err(Invalid::Past);
            }
            Ok(Value::Datetime(at))
        }
        FieldKind::Datetime => {
            let (date, time) = date_time(answer, calendar, now_ms)?;
            let at = calendar.timestamp(date, time.ok_or(Invalid::Time)?).ok_or(Invalid::Date)?;
            if !field.allow_past && at < now_ms {
                return Err(Invalid::Past);
            }
            Ok(Value::Datetime(at))
        }
        FieldKind::Choice => choice(field, answer).map(Value::Text),
        FieldKind::Pattern => {
            let pattern = field.pattern.as_deref().unwrap_or(".*");
            let anchored = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|_| Invalid::Pattern)?;
            let candidate = answer.trim_start_matches('#');
            anchored.is_match(candidate).then(|| Value::Text(candidate.to_owned())).ok_or(Invalid::Pattern)
        }
        FieldKind::Boolean => yes_no(answer).map(Value::Boolean).ok_or(Invalid::YesNo),
    }
}

/// `+` and 8 to 15 digits; spaces, dashes, dots and brackets are dropped. A
/// local number (leading 0, no `+`) gets the country code in place of the 0.
fn phone(answer: &str, country_code: Option<&str>) -> Result<String, Invalid> {
    let international = answer.starts_with('+');
    let mut digits = String::new();
    for (index, character) in answer.chars().enumerate() {
        match character {
            '0'..='9' => digits.push(character),
            '+' if index == 0 => {}
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(Invalid::Phone),
        }
    }
    if let (false, Some(code), Some(local)) = (international, country_code, digits.strip_prefix('0')) {
        digits = format!("{code}{local}");
    }
    if !(8..=15).contains(&digits.len()) {
        return Err(Invalid::Phone);
    }
    Ok(format!("+{digits}"))
}

fn email(answer: &str) -> Result<String, Invalid> {
    let (local, domain) = answer.split_once('@').ok_or(Invalid::Email)?;
    let plausible = !local.is_empty()
        && !answer.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@');
    plausible.then(|| answer.to_lowercase()).ok_or(Invalid::Email)
}

fn first_number(answer: &str) -> Option<f64> {
    // "5 000", "5,5" and "1 200.50" are all numbers people write.
    let mut number = String::new();
    let mut started = false;
    for character in answer.chars() {
        match character {
            '0'..='9' => {
                started = true;
                number.push(character);
            }
            '.' | ',' if started => number.push('.'),
            ' ' | '\u{a0}' if started => {}
            _ if started => break,
            _ => {}
        }
    }
    number.trim_end_matches('.').parse().ok()
}

fn in_range(field: &FieldSpec, number: f64) -> Result<f64, Invalid> {
    let below = field.min.is_some_and(|min| number < min);
    let above = field.max.is_some_and(|max| number > max);
    if below || above {
        return Err(Invalid::Range {
            min: field.min.map(|n| n.to_string()),
            max: field.max.map(|n| n.to_string()),
        });
    }
    Ok(number)
}

fn currency_in(answer: &str) -> Option<String> {
    let lower = answer.to_lowercase();
    [
        ("$", "USD"),
        ("usd", "USD"),
        ("€", "EUR"),
        ("eur", "EUR"),
        ("֏", "AMD"),
        ("amd", "AMD"),
        ("драм", "AMD"),
        ("դրամ", "AMD"),
        ("₽", "RUB"),
        ("руб", "RUB"),
    ]
    .iter()
    .find(|(mark, _)| lower.contains(mark))
    .map(|(_, code)| (*code).to_owned())
}

/// A date (and maybe a time) in the tenant's zone: `2026-01-05`, `05.01.2026`,
/// `5.1`, today/tomorrow in three languages, with an optional `HH:MM`.
fn date_time(answer: &str, calendar: &Calendar, now_ms: i64) -> Result<(Date, Option<Time>), Invalid> {
    let today = calendar.local(now_ms).date();
    let mut date = None;
    let mut time = None;
    for token in answer.split(|c: char| c.is_whitespace() || c == ',') {
        let token = token.trim_matches(|c: char| !c.is_alphanumeric());
        if token.is_empty() {
            continue;
        }
        if let Some(parsed) = clock(token) {
            time = Some(parsed);
        } else if let Some(parsed) = calendar_date(token, today) {
            date = Some(parsed);
        }
    }
    let relative = words(answer);
    let says =
        |options: &[&str]| relative.iter().any(|word| options.iter().any(|option| same_word(word, option)));
    if date.is_none() {
        if says(&["tomorrow", "завтра", "վաղը"]) {
            date = today.checked_add(1.day()).ok();
        } else if says(&["today", "tonight", "сегодня", "այսօր"]) {
            date = Some(today);
        }
    }
    match (date, time) {
        (Some(date), time) => Ok((date, time)),
        (None, Some(_)) => Ok((today, time)),
        (None, None) => Err(Invalid::Date),
    }
}

fn clock(token: &str) -> Option<Time> {
    let (hour, minute) = token.split_once(':')?;
    Time::new(hour.parse().ok()?, minute.parse().ok()?, 0, 0).ok()
}

fn calendar_date(token: &str, today: Date) -> Option<Date> {
    if let Ok(date) = token.parse::<Date>() {
        return Some(date);
    }
    let parts: Vec<&str> = token.split(['.', '/']).collect();
    let number = |text: &str| text.parse::<i16>().ok();
    match parts.as_slice() {
        [day, month] => {
            let (day, month) = (number(day)?, number(month)?);
            // "25.12" means the next 25 December, this year or next.
            let this_year = Date::new(today.year(), month as i8, day as i8).ok()?;
            if this_year >= today {
                Some(this_year)
            } else {
                Date::new(today.year() + 1, month as i8, day as i8).ok()
            }
        }
        [day, month, year] => {
            let year = number(year)?;
            let year = if year < 100 { 2000 + year } else { year };
            Date::new(year, number(month)? as i8, number(day)? as i8).ok()
        }
        _ => None,
    }
}

fn choice(field: &FieldSpec, answer: &str) -> Result<String, Invalid> {
    if let Some(option) = field.options.iter().find(|option| option.value == answer) {
        return Ok(option.value.clone());
    }
    // "2" picks the second option, as people answer numbered lists.
    if let Ok(index) = answer.parse::<usize>()
        && let Some(option) = index.checked_sub(1).and_then(|index| field.options.get(index))
    {
        return Ok(option.value.clone());
    }
    let said = words(answer);
    let matches = |phrase: &str| {
        let phrase = words(phrase);
        crate::text::contains_phrase(&said, &phrase)
    };
    field
        .options
        .iter()
        .find(|option| {
            matches(&option.value)
                || option.title.0.values().any(|title| matches(title))
                || option.synonyms.iter().any(|synonym| matches(synonym))
        })
        .map(|option| option.value.clone())
        .ok_or(Invalid::Choice)
}

/// Yes or no in English, Russian or Armenian; `None` when neither.
pub fn yes_no(answer: &str) -> Option<bool> {
    const YES: &[&str] = &[
        "yes",
        "yeah",
        "yep",
        "ok",
        "okay",
        "sure",
        "confirm",
        "да",
        "ага",
        "конечно",
        "подтверждаю",
        "այո",
        "հա",
        "լավ",
        "հաստատում",
    ];
    const NO: &[&str] = &["no", "nope", "cancel", "нет", "не", "отмена", "ոչ", "չէ", "չեմ"];
    let said = words(answer);
    let has = |list: &[&str]| said.iter().any(|word| list.iter().any(|option| same_word(word, option)));
    match (has(YES), has(NO)) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
