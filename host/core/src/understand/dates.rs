//! Dates and times as customers write them, in Russian, Armenian and English:
//! `сегодня`, `послезавтра`, `в пятницу`, `через 3 дня`, `на следующей
//! неделе`, `вечером`, `վաղը`, `վաղը չէ մյուս օրը`, `ուրբաթ`, `next Friday`,
//! `in two days`, `tomorrow evening`, and absolute `26.11`, `26/11`,
//! `26 ноября`, `Nov 26`, `նոյեմբերի 26`, with or without a year.
//!
//! A mention is found first and resolved later: `26.11` is this year's or
//! last year's 26 November depending on whether the field looks back (a
//! purchase date) or ahead (a booking).

use jiff::ToSpan;
use jiff::civil::{Date, Time, Weekday};
use serde::{Deserialize, Serialize};

use super::tokens::Token;
use crate::flow::Direction;
use crate::text::one_typo;

/// Part of the day, for a slot preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartOfDay {
    Morning,
    Afternoon,
    Evening,
}

impl PartOfDay {
    pub fn name(self) -> &'static str {
        match self {
            PartOfDay::Morning => "morning",
            PartOfDay::Afternoon => "afternoon",
            PartOfDay::Evening => "evening",
        }
    }
}

/// Which day a message names, before the year or the week is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Day {
    /// Relative to today, in days: tomorrow is 1, yesterday is -1.
    Offset { days: i32 },
    /// A full date, year included.
    Exact { date: Date },
    /// A day and month: the year comes from the field's direction.
    DayMonth { day: i8, month: i8 },
    /// A weekday; `next` for "next Friday" / "в следующую пятницу".
    Weekday {
        #[serde(with = "weekday_name")]
        weekday: Weekday,
        next: bool,
    },
    /// "Next week": its Monday.
    NextWeek,
}

/// A date or time mentioned in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateMention {
    pub day: Option<Day>,
    pub time: Option<Time>,
    pub part: Option<PartOfDay>,
}

impl DateMention {
    /// The calendar day this names, looking in `direction` from `today`.
    /// A time or part of day alone means today.
    pub fn date(&self, today: Date, direction: Direction) -> Option<Date> {
        let Some(day) = self.day else {
            return (self.time.is_some() || self.part.is_some()).then_some(today);
        };
        match day {
            Day::Offset { days } => today.checked_add(i64::from(days).days()).ok(),
            Day::Exact { date } => Some(date),
            Day::DayMonth { day, month } => {
                let this_year = Date::new(today.year(), month, day).ok();
                let other = |years: i16| Date::new(today.year() + years, month, day).ok();
                match direction {
                    Direction::Future => this_year.filter(|date| *date >= today).or_else(|| other(1)),
                    Direction::Past => this_year.filter(|date| *date <= today).or_else(|| other(-1)),
                    // The nearest of last year's, this year's and next year's.
                    Direction::Any => [other(-1), this_year, other(1)]
                        .into_iter()
                        .flatten()
                        .min_by_key(|date| (*date - today).get_days().abs()),
                }
            }
            Day::Weekday { weekday, next } => {
                let ahead =
                    i64::from(weekday.to_monday_zero_offset() - today.weekday().to_monday_zero_offset())
                        .rem_euclid(7);
                match direction {
                    Direction::Past => {
                        let back = (7 - ahead) % 7;
                        let back = if next { back + 7 } else { back };
                        today.checked_sub(back.days()).ok()
                    }
                    _ => {
                        let ahead = if next && ahead == 0 { 7 } else { ahead };
                        today.checked_add(ahead.days()).ok()
                    }
                }
            }
            Day::NextWeek => {
                let to_monday = 7 - i64::from(today.weekday().to_monday_zero_offset());
                today.checked_add(to_monday.days()).ok()
            }
        }
    }
}

/// Weekdays by their English names in serialised understandings.
mod weekday_name {
    use jiff::civil::Weekday;
    use serde::{Deserialize, Deserializer, Serializer};

    const NAMES: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

    pub fn serialize<S: Serializer>(weekday: &Weekday, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(NAMES[weekday.to_monday_zero_offset() as usize])
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Weekday, D::Error> {
        let name = String::deserialize(deserializer)?;
        let index = NAMES
            .iter()
            .position(|known| *known == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown weekday {name:?}")))?;
        Weekday::from_monday_zero_offset(index as i8).map_err(serde::de::Error::custom)
    }
}

/// The first date, time and part of day a message mentions, marking the tokens they cover.
pub fn find(tokens: &[Token], used: &mut [bool]) -> Option<DateMention> {
    let mut mention = DateMention { day: None, time: None, part: None };
    let mut index = 0;
    while index < tokens.len() {
        if used[index] {
            index += 1;
            continue;
        }
        if let Some((length, found)) = at(tokens, index) {
            let free = (index..index + length).all(|i| !used[i]);
            if free {
                match found {
                    Found::Day(day) if mention.day.is_none() => mention.day = Some(day),
                    Found::Time(time) if mention.time.is_none() => mention.time = Some(time),
                    Found::Part(part) if mention.part.is_none() => mention.part = Some(part),
                    Found::DayAndPart(day, part) => {
                        mention.day = mention.day.or(Some(day));
                        mention.part = mention.part.or(Some(part));
                    }
                    _ => {}
                }
                used[index..index + length].iter_mut().for_each(|flag| *flag = true);
                index += length;
                continue;
            }
        }
        index += 1;
    }
    (mention.day.is_some() || mention.time.is_some() || mention.part.is_some()).then_some(mention)
}

enum Found {
    Day(Day),
    Time(Time),
    Part(PartOfDay),
    DayAndPart(Day, PartOfDay),
    /// Words about time that name no day ("this week").
    Nothing,
}

/// A mention starting at `tokens[index]`, and how many tokens it takes.
fn at(tokens: &[Token], index: usize) -> Option<(usize, Found)> {
    let token = &tokens[index];
    let next = tokens.get(index + 1);
    let after_next = tokens.get(index + 2);
    let word = token.text.as_str();

    // Phrases of several words first: "day after tomorrow", "վաղը չէ մյուս օրը".
    if word == "day"
        && next.is_some_and(|n| n.is(&["after"]))
        && after_next.is_some_and(|n| n.is(&["tomorrow"]))
    {
        return Some((3, Found::Day(Day::Offset { days: 2 })));
    }
    if word == "վաղը" && next.is_some_and(|n| n.is(&["չէ", "չե"])) {
        let length = match (after_next, tokens.get(index + 3)) {
            (Some(other), Some(day)) if other.starts(&["մյուս"]) && day.starts(&["օր"]) => 4,
            (Some(other), _) if other.starts(&["մյուս"]) => 3,
            _ => 2,
        };
        return Some((length, Found::Day(Day::Offset { days: 2 })));
    }
    // "This week" names no day ("այս շաբաթ" is not Saturday); a how-soon option may take it.
    let this = token.is(&["this", "этой", "эту", "այս"]);
    if this && next.is_some_and(|n| n.starts(&["week", "недел"]) || n.is(&["շաբաթ"])) {
        return Some((2, Found::Nothing));
    }
    if token.is(&["на"])
        && next.is_some_and(|n| n.is(&["этой"]))
        && after_next.is_some_and(|n| n.starts(&["недел"]))
    {
        return Some((3, Found::Nothing));
    }
    if let Some(days) = relative_day(word) {
        return Some((1, Found::Day(Day::Offset { days })));
    }
    if word == "tonight" {
        return Some((1, Found::DayAndPart(Day::Offset { days: 0 }, PartOfDay::Evening)));
    }
    // "next week", "на следующей неделе", "հաջորդ շաբաթ" (շաբաթ alone is Saturday).
    let next_word = token.starts(&["следующ", "next", "հաջորդ", "sleduyush"]);
    if next_word && let Some(following) = next {
        if following.starts(&["недел", "week", "nedel"]) || following.is(&["շաբաթ", "շաբաթը"])
        {
            return Some((2, Found::Day(Day::NextWeek)));
        }
        if let Some(weekday) = weekday(&following.text) {
            return Some((2, Found::Day(Day::Weekday { weekday, next: true })));
        }
    }
    // "через 3 дня", "in two days", "in a week", "3 օրից", "3 օր հետո", "մեկ շաբաթից".
    if token.is(&["через", "in", "cherez"])
        && let Some(count) = next.and_then(|n| count(&n.text))
        && let Some(unit) = after_next.and_then(|n| unit_days(&n.text))
    {
        return Some((3, Found::Day(Day::Offset { days: count * unit })));
    }
    // "3 дня назад", "неделю назад", "3 days ago", "3 օր առաջ".
    let ago = |at: Option<&Token>| at.is_some_and(|n| n.is(&["назад", "ago", "առաջ"]));
    if let Some(count) = count(word)
        && let Some(unit) = next.and_then(|n| unit_days(&n.text).or_else(|| armenian_after(&n.text)))
        && ago(after_next)
    {
        return Some((3, Found::Day(Day::Offset { days: -count * unit })));
    }
    if let Some(unit) = unit_days(word)
        && ago(next)
    {
        return Some((2, Found::Day(Day::Offset { days: -unit })));
    }
    if token.is(&["через", "in"])
        && let Some(unit) = next.and_then(|n| unit_days(&n.text))
    {
        return Some((2, Found::Day(Day::Offset { days: unit })));
    }
    if let Some(count) = count(word)
        && let Some(following) = next
        && let Some(unit) = armenian_after(&following.text)
    {
        let takes_heto = after_next.is_some_and(|n| n.is(&["հետո"]));
        return Some((if takes_heto { 3 } else { 2 }, Found::Day(Day::Offset { days: count * unit })));
    }
    if let Some(weekday) = weekday(word) {
        return Some((1, Found::Day(Day::Weekday { weekday, next: false })));
    }
    if let Some(part) = part_of_day(word) {
        return Some((1, Found::Part(part)));
    }
    if let Some(time) = clock(token, next) {
        let length = if next.is_some_and(|n| n.is(&["am", "pm"])) { 2 } else { 1 };
        return Some((length, Found::Time(time)));
    }
    let bare = ["-ին", "-ը", "-ից", "-ի", "-го", "-е"].iter().find_map(|suffix| word.strip_suffix(suffix));
    if let Some(date) = numeric_date(bare.unwrap_or(word)) {
        return Some((1, Found::Day(date)));
    }
    // "26 ноября", "26 Nov 2026", "26-го ноября", "Nov 26", "նոյեմբերի 26-ին".
    if let Some(day) = day_number(word)
        && let Some(month) = next.and_then(|n| month(&n.text))
    {
        return Some(with_year(tokens, index + 2, 2, day, month));
    }
    if let Some(month) = month(word)
        && let Some(day) = next.and_then(|n| day_number(&n.text))
    {
        return Some(with_year(tokens, index + 2, 2, day, month));
    }
    None
}

fn with_year(tokens: &[Token], year_at: usize, length: usize, day: i8, month: i8) -> (usize, Found) {
    let year = tokens
        .get(year_at)
        .filter(|token| token.is_digits() && token.text.len() == 4)
        .and_then(|token| token.text.parse::<i16>().ok());
    match year.and_then(|year| Date::new(year, month, day).ok()) {
        Some(date) => (length + 1, Found::Day(Day::Exact { date })),
        None => (length, Found::Day(Day::DayMonth { day, month })),
    }
}

/// Near misses that are other words: breakfast is not tomorrow.
const NOT_DATES: &[&str] = &["завтрак", "завтрака", "завтраки", "вчерашний"];

fn relative_day(word: &str) -> Option<i32> {
    if let Some(days) = exact_relative_day(word) {
        return Some(days);
    }
    if NOT_DATES.contains(&word) {
        return None;
    }
    const FORMS: &[&str] =
        &["сегодня", "завтра", "послезавтра", "tomorrow", "yesterday", "today", "позавчера"];
    FORMS.iter().find(|form| one_typo(word, form)).and_then(|form| exact_relative_day(form))
}

fn exact_relative_day(word: &str) -> Option<i32> {
    let days = match word {
        "today" | "сегодня" | "сегодняшний" | "այսօր" | "aysor" | "segodnya" | "sevodnya" => {
            0
        }
        "tomorrow" | "tmrw" | "завтра" | "վաղը" | "վաղ" | "vaghy" | "vaxy" | "vaghe" | "vaxe" | "zavtra" => {
            1
        }
        "послезавтра" | "poslezavtra" => 2,
        "yesterday" | "вчера" | "երեկ" | "vchera" | "yerek" => -1,
        "позавчера" => -2,
        _ => return None,
    };
    Some(days)
}

fn weekday(word: &str) -> Option<Weekday> {
    exact_weekday(word).or_else(|| {
        const FULL: [(&str, Weekday); 29] = [
            ("понедельник", Weekday::Monday),
            ("вторник", Weekday::Tuesday),
            ("среду", Weekday::Wednesday),
            ("четверг", Weekday::Thursday),
            ("пятницу", Weekday::Friday),
            ("пятница", Weekday::Friday),
            ("субботу", Weekday::Saturday),
            ("суббота", Weekday::Saturday),
            ("воскресенье", Weekday::Sunday),
            ("monday", Weekday::Monday),
            ("tuesday", Weekday::Tuesday),
            ("wednesday", Weekday::Wednesday),
            ("thursday", Weekday::Thursday),
            ("friday", Weekday::Friday),
            ("saturday", Weekday::Saturday),
            ("sunday", Weekday::Sunday),
            ("երկուշաբթի", Weekday::Monday),
            ("երեքշաբթի", Weekday::Tuesday),
            ("չորեքշաբթի", Weekday::Wednesday),
            ("հինգշաբթի", Weekday::Thursday),
            ("ուրբաթ", Weekday::Friday),
            ("ուրբաթը", Weekday::Friday),
            ("կիրակի", Weekday::Sunday),
            ("понеделник", Weekday::Monday),
            ("пятнецу", Weekday::Friday),
            ("суботу", Weekday::Saturday),
            ("субота", Weekday::Saturday),
            ("четверк", Weekday::Thursday),
            ("воскресение", Weekday::Sunday),
        ];
        FULL.iter().find(|(form, _)| one_typo(word, form)).map(|(_, weekday)| *weekday)
    })
}

fn exact_weekday(word: &str) -> Option<Weekday> {
    const NAMES: [(&[&str], Weekday); 7] = [
        (&["понедельн", "monday", "mon", "երկուշաբթի"], Weekday::Monday),
        (&["вторник", "tuesday", "tue", "երեքշաբթի"], Weekday::Tuesday),
        (&["сред", "wednesday", "wed", "չորեքշաբթի"], Weekday::Wednesday),
        (&["четверг", "thursday", "thu", "հինգշաբթի"], Weekday::Thursday),
        (&["пятниц", "friday", "fri", "ուրբաթ"], Weekday::Friday),
        (&["суббот", "saturday", "sat", "շաբաթ"], Weekday::Saturday),
        (&["воскресен", "sunday", "sun", "կիրակի"], Weekday::Sunday),
    ];
    NAMES.iter().find_map(|(stems, weekday)| {
        let hit = stems.iter().any(|stem| {
            // Three-letter English abbreviations and "среда"/"шабат" must be whole words
            // ("sun" is not "sunny", "сред" is not "среди").
            match *stem {
                "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun" => word == *stem,
                "сред" => matches!(word, "среда" | "среду" | "среды" | "среде"),
                "շաբաթ" => matches!(word, "շաբաթ" | "շաբաթը" | "շաբաթի"),
                _ => word.starts_with(stem),
            }
        });
        hit.then_some(*weekday)
    })
}

fn part_of_day(word: &str) -> Option<PartOfDay> {
    let part = match word {
        "morning" | "утром" | "утро" | "утра" | "առավոտ" | "առավոտյան" | "առավոտը" => {
            PartOfDay::Morning
        }
        "afternoon" | "днем" | "днём" | "ցերեկ" | "ցերեկը" | "կեսօրից" => {
            PartOfDay::Afternoon
        }
        "evening" | "вечером" | "вечер" | "вечера" | "երեկո" | "երեկոյան" | "երեկոն" => {
            PartOfDay::Evening
        }
        _ => return None,
    };
    Some(part)
}

/// A small count in words or digits: "3", "two", "три", "երեք".
fn count(word: &str) -> Option<i32> {
    if let Ok(number) = word.parse::<i32>() {
        return (0..=366).contains(&number).then_some(number);
    }
    const WORDS: [(&[&str], i32); 10] = [
        (&["one", "a", "an", "один", "одну", "մեկ"], 1),
        (&["two", "два", "две", "երկու"], 2),
        (&["three", "три", "երեք"], 3),
        (&["four", "четыре", "չորս"], 4),
        (&["five", "пять", "հինգ"], 5),
        (&["six", "шесть", "վեց"], 6),
        (&["seven", "семь", "յոթ"], 7),
        (&["eight", "восемь", "ութ"], 8),
        (&["nine", "девять", "ինը"], 9),
        (&["ten", "десять", "տասը"], 10),
    ];
    WORDS.iter().find(|(forms, _)| forms.contains(&word)).map(|(_, number)| *number)
}

/// "день"/"дня"/"дней", "days", "неделю", "week": how many days one unit is.
fn unit_days(word: &str) -> Option<i32> {
    match word {
        "день" | "дня" | "дней" | "day" | "days" => Some(1),
        "неделю" | "недели" | "недель" | "week" | "weeks" => Some(7),
        _ => None,
    }
}

/// Armenian "in N days/weeks": `օրից`, `օր` (+ `հետո`), `շաբաթից`.
fn armenian_after(word: &str) -> Option<i32> {
    match word {
        "օրից" | "օր" => Some(1),
        "շաբաթից" => Some(7),
        _ => None,
    }
}

/// `15:00`, `9:30`, `3pm`, `3 pm`.
fn clock(token: &Token, next: Option<&Token>) -> Option<Time> {
    let word = token.text.as_str();
    if let Some((hour, minute)) = word.split_once(':') {
        let (hour, minute) = (hour.parse::<i8>().ok()?, minute.parse::<i8>().ok()?);
        return Time::new(hour, minute, 0, 0).ok();
    }
    let (digits, half) = if let Some(digits) = word.strip_suffix("pm") {
        (digits, Some(12))
    } else if let Some(digits) = word.strip_suffix("am") {
        (digits, Some(0))
    } else if token.is_digits() && next.is_some_and(|n| n.is(&["pm"])) {
        (word, Some(12))
    } else if token.is_digits() && next.is_some_and(|n| n.is(&["am"])) {
        (word, Some(0))
    } else {
        return None;
    };
    let hour = digits.parse::<i8>().ok().filter(|hour| (1..=12).contains(hour))?;
    Time::new(hour % 12 + half?, 0, 0, 0).ok()
}

/// `26.11`, `26/11`, `26.11.2026`, `26.11.26`, `2026-11-26`.
fn numeric_date(word: &str) -> Option<Day> {
    if let Ok(date) = word.parse::<Date>() {
        return Some(Day::Exact { date });
    }
    let parts: Vec<&str> = word.split(['.', '/']).collect();
    let number = |text: &str| -> Option<i16> {
        (!text.is_empty() && text.len() <= 4 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())?
    };
    match parts.as_slice() {
        [day, month] => {
            let (day, month) = (number(day)?, number(month)?);
            let (day, month) = (i8::try_from(day).ok()?, i8::try_from(month).ok()?);
            // Checked against a leap year, so 29.02 is a date.
            Date::new(2028, month, day).ok()?;
            Some(Day::DayMonth { day, month })
        }
        [day, month, year] => {
            let year = number(year)?;
            let year = if year < 100 { 2000 + year } else { year };
            let date =
                Date::new(year, i8::try_from(number(month)?).ok()?, i8::try_from(number(day)?).ok()?).ok()?;
            Some(Day::Exact { date })
        }
        _ => None,
    }
}

/// `26`, `26-го`, `26th`, `26-ին`, `26-ը`.
fn day_number(word: &str) -> Option<i8> {
    let digits: String = word.chars().take_while(char::is_ascii_digit).collect();
    let rest = &word[digits.len()..];
    let suffix_ok = matches!(
        rest,
        "" | "-го" | "го" | "-е" | "th" | "st" | "nd" | "rd" | "-ին" | "ին" | "-ը" | "ը" | "-ի"
    );
    let day = digits.parse::<i8>().ok()?;
    (suffix_ok && (1..=31).contains(&day)).then_some(day)
}

fn month(word: &str) -> Option<i8> {
    const MONTHS: [&[&str]; 12] = [
        &["январ", "jan", "հունվար"],
        &["феврал", "feb", "փետրվար"],
        &["март", "мар", "mar", "մարտ"],
        &["апрел", "apr", "ապրիլ"],
        &["мая", "май", "may", "մայիս"],
        &["июн", "jun", "հունիս"],
        &["июл", "jul", "հուլիս"],
        &["август", "aug", "օգոստոս"],
        &["сентябр", "sep", "սեպտեմբեր"],
        &["октябр", "oct", "հոկտեմբեր"],
        &["ноябр", "nov", "նոյեմբեր"],
        &["декабр", "dec", "դեկտեմբեր"],
    ];
    MONTHS
        .iter()
        .position(|stems| stems.iter().any(|stem| word.starts_with(stem)))
        .map(|index| index as i8 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::understand::tokens::tokenize;

    /// Wednesday 2 December 2026.
    fn today() -> Date {
        Date::new(2026, 12, 2).expect("date")
    }

    fn mention(text: &str) -> Option<DateMention> {
        let tokens = tokenize(text);
        let mut used = vec![false; tokens.len()];
        find(&tokens, &mut used)
    }

    fn date(text: &str, direction: Direction) -> Option<Date> {
        mention(text)?.date(today(), direction)
    }

    fn d(month: i8, day: i8) -> Option<Date> {
        Date::new(2026, month, day).ok()
    }

    #[test]
    fn relative_days_in_three_languages() {
        for (text, expected) in [
            ("сегодня", d(12, 2)),
            ("Можно на завтра?", d(12, 3)),
            ("Послезавтра", d(12, 4)),
            ("Վաղը", d(12, 3)),
            ("վաղը չէ մյուս օրը", d(12, 4)),
            ("այսօր", d(12, 2)),
            ("tomorrow evening", d(12, 3)),
            ("the day after tomorrow", d(12, 4)),
            ("через 3 дня", d(12, 5)),
            ("in two days", d(12, 4)),
            ("через неделю", d(12, 9)),
            ("3 օրից", d(12, 5)),
            ("vaghy", d(12, 3)),
            ("неделю назад", d(11, 25)),
            ("3 дня назад", d(11, 29)),
            ("3 օր առաջ", d(11, 29)),
        ] {
            assert_eq!(date(text, Direction::Future), expected, "{text}");
        }
    }

    #[test]
    fn weekdays_look_ahead_or_back_by_direction() {
        assert_eq!(date("в пятницу", Direction::Future), d(12, 4));
        assert_eq!(date("нет, в пятницу", Direction::Past), d(11, 27));
        assert_eq!(date("next Friday", Direction::Future), d(12, 4));
        assert_eq!(date("ուրբաթ", Direction::Future), d(12, 4));
        // Today is Wednesday: "в среду" is today, "next Wednesday" a week on.
        assert_eq!(date("в среду", Direction::Future), d(12, 2));
        assert_eq!(date("next wednesday", Direction::Future), d(12, 9));
        assert_eq!(date("на следующей неделе", Direction::Future), d(12, 7));
        assert_eq!(date("հաջորդ շաբաթ", Direction::Future), d(12, 7));
        assert_eq!(date("շաբաթ", Direction::Future), d(12, 5));
    }

    #[test]
    fn the_year_follows_the_fields_direction() {
        assert_eq!(date("26.11", Direction::Past), d(11, 26));
        assert_eq!(date("26.11", Direction::Future), Date::new(2027, 11, 26).ok());
        assert_eq!(date("26/11", Direction::Any), d(11, 26));
        assert_eq!(date("25.12", Direction::Future), d(12, 25));
        assert_eq!(date("10.11", Direction::Past), d(11, 10));
        assert_eq!(date("5.01", Direction::Any), Date::new(2027, 1, 5).ok());
        assert_eq!(date("26 ноября", Direction::Past), d(11, 26));
        assert_eq!(date("Nov 26", Direction::Past), d(11, 26));
        assert_eq!(date("նոյեմբերի 26-ին", Direction::Past), d(11, 26));
        assert_eq!(date("26 ноября 2025", Direction::Future), Date::new(2025, 11, 26).ok());
        assert_eq!(date("26.11.2025", Direction::Future), Date::new(2025, 11, 26).ok());
        assert_eq!(date("2026-11-26", Direction::Future), d(11, 26));
    }

    #[test]
    fn times_and_parts_of_day() {
        let found = mention("завтра вечером").expect("a mention");
        assert_eq!(found.part, Some(PartOfDay::Evening));
        assert_eq!(found.day, Some(Day::Offset { days: 1 }));
        let found = mention("tomorrow at 3pm").expect("a mention");
        assert_eq!(found.time, Time::new(15, 0, 0, 0).ok());
        let found = mention("в 15:30").expect("a mention");
        assert_eq!(found.time, Time::new(15, 30, 0, 0).ok());
        assert_eq!(found.date(today(), Direction::Future), d(12, 2));
    }

    #[test]
    fn numbers_that_are_not_dates_are_left_alone() {
        for text in [
            "40 стульев",
            "150 000 драм",
            "A-1001",
            "sunny",
            "среди",
            "32.13",
            "завтрак",
            "Այս շաբաթ ազատ եք",
            "на этой неделе",
        ] {
            assert_eq!(mention(text), None, "{text}");
        }
    }
}
