//! Built-in checks for collected fields: phone, email, dates and times in the
//! tenant's zone, numbers, money, choices, patterns and yes/no, each with an
//! explanation in the customer's language when the answer does not fit.

use crate::calendar::Calendar;
use crate::contract::Value;
use crate::flow::{FieldKind, FieldSpec};
use crate::text::{same_word, words};
use crate::understand::tokens::tokenize;
use crate::understand::{Clock, Understanding, date_value, money_value};

/// Why an answer was not accepted. [`Invalid::explain`] says it to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    Empty,
    Phone,
    Email,
    Date,
    Time,
    Past,
    Future,
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
            Invalid::Future => "future",
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
            Invalid::Future => pick(
                "That date is still ahead. Which day was it?",
                "Эта дата ещё не наступила. Какого числа это было?",
                "Այդ ամսաթիվը դեռ չի եկել։ Ո՞ր օրն էր։",
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

/// Check `answer` (a message text, or a quick-reply payload) against `field`,
/// the field the customer was asked for.
pub fn validate(field: &FieldSpec, answer: &str, calendar: &Calendar, now_ms: i64) -> Result<Value, Invalid> {
    let answer = answer.trim();
    if answer.is_empty() {
        return Err(Invalid::Empty);
    }
    let clock = Clock { calendar, now: now_ms };
    match field.kind {
        FieldKind::Text | FieldKind::Quantity => Ok(Value::Text(answer.to_owned())),
        FieldKind::Phone => phone(answer, field.country_code.as_deref()).map(Value::Text),
        FieldKind::Email => email(answer).map(Value::Text),
        FieldKind::Number => {
            let quantities = quantities(answer);
            // An amount of money is not an answer to "how many km?"; it may fill another field.
            let number = quantities.iter().find(|q| !q.is_money()).ok_or(Invalid::Number)?;
            in_range(field, number.value).map(Value::Number)
        }
        FieldKind::Money => {
            let quantities = quantities(answer);
            let amount =
                quantities.iter().find(|q| q.is_money()).or(quantities.first()).ok_or(Invalid::Number)?;
            money_value(field, amount)
        }
        FieldKind::Date | FieldKind::Datetime => {
            let tokens = tokenize(answer);
            let mut used = vec![false; tokens.len()];
            let mention = crate::understand::dates::find(&tokens, &mut used).ok_or(Invalid::Date)?;
            if field.kind == FieldKind::Date && mention.day.is_none() {
                return Err(Invalid::Date);
            }
            date_value(field, &mention, clock)
        }
        FieldKind::Choice => choice(field, answer, clock).map(Value::Text),
        FieldKind::Pattern => {
            let pattern = field.pattern.as_deref().unwrap_or(".*");
            let anchored = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|_| Invalid::Pattern)?;
            let candidate = answer.trim_start_matches('#');
            if anchored.is_match(candidate) {
                return Ok(Value::Text(candidate.to_owned()));
            }
            // "вот номер: A-1001": the id inside a sentence.
            let inside = regex::Regex::new(&format!(r"(?:^|[^\w-])#?({pattern})(?:$|[^\w-])"))
                .map_err(|_| Invalid::Pattern)?;
            inside
                .captures(answer)
                .and_then(|captures| captures.get(1))
                .map(|hit| Value::Text(hit.as_str().to_owned()))
                .ok_or(Invalid::Pattern)
        }
        FieldKind::Boolean => yes_no(answer).map(Value::Boolean).ok_or(Invalid::YesNo),
        // Checked against the code sent, by the conversation: here only its shape.
        FieldKind::Code => {
            let digits: String = answer.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
            if (4..=8).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
                Ok(Value::Text(digits))
            } else {
                Err(Invalid::Pattern)
            }
        }
    }
}

fn quantities(answer: &str) -> Vec<crate::understand::Quantity> {
    let tokens = tokenize(answer);
    let mut used = vec![false; tokens.len()];
    crate::understand::numbers::find(&tokens, &mut used)
}

/// `+` and 8 to 15 digits; spaces, dashes, dots and brackets are dropped. A
/// local number (leading 0, no `+`) gets the country code in place of the 0.
pub(crate) fn phone(answer: &str, country_code: Option<&str>) -> Result<String, Invalid> {
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

pub(crate) fn email(answer: &str) -> Result<String, Invalid> {
    let (local, domain) = answer.split_once('@').ok_or(Invalid::Email)?;
    let plausible = !local.is_empty()
        && !answer.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@');
    plausible.then(|| answer.to_lowercase()).ok_or(Invalid::Email)
}

pub(crate) fn in_range(field: &FieldSpec, number: f64) -> Result<f64, Invalid> {
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

fn choice(field: &FieldSpec, answer: &str, clock: Clock<'_>) -> Result<String, Invalid> {
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
        .or_else(|| {
            // "Послезавтра" answers "how urgent?" when the options say how soon.
            let understanding = Understanding {
                date: {
                    let tokens = tokenize(answer);
                    let mut used = vec![false; tokens.len()];
                    crate::understand::dates::find(&tokens, &mut used)
                },
                ..Understanding::default()
            };
            understanding.choice_by_date(field, clock)
        })
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
