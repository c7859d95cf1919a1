//! What the model is told, and the calendar arithmetic it needs.

use serde_json::json;
use switchboard_sdk::{ClassifyInput, FieldKind};

const TASK: &str = "You read one message a customer sent to a small business and answer with one \
JSON object, nothing else: {\"intent\": NAME or null, \"confidence\": 0..1, \"locale\": \"ru\"|\"hy\"|\"en\"|..., \
\"entities\": [{\"field\": NAME, \"value\": VALUE, \"confidence\": 0..1}]}. \
Choose the intent only from the intents given, and only when the message asks for it; \
give entities only for the fields given, only for what the message says. \
Values: a choice field's value is one of its options exactly; dates are YYYY-MM-DD and \
date-times YYYY-MM-DDTHH:MM, in the business's local time, counted from `today`; \
numbers and money are JSON numbers (money in major units, or {\"amount\": N, \"currency\": \"AMD\"}); \
booleans are true or false; everything else is a string. \
Customers write Russian, Armenian and English, often with typos or in Latin letters.";

pub fn system(instructions: Option<&str>) -> String {
    match instructions {
        Some(instructions) => format!("{instructions}\n\n{TASK}"),
        None => TASK.to_owned(),
    }
}

/// The message and its context, as JSON the model reads.
pub fn user(input: &ClassifyInput, utc_offset_minutes: i32) -> String {
    let local_ms = input.now + i64::from(utc_offset_minutes) * 60_000;
    let intents: Vec<_> = input
        .intents
        .iter()
        .map(|intent| {
            let fields: Vec<_> = intent
                .fields
                .iter()
                .map(|field| {
                    let mut spec = json!({"name": field.name, "kind": kind_name(field.kind)});
                    if !field.options.is_empty() {
                        spec["options"] = json!(field.options);
                    }
                    spec
                })
                .collect();
            json!({"name": intent.name, "examples": intent.examples, "fields": fields})
        })
        .collect();
    json!({
        "message": input.text,
        "today": date(local_ms.div_euclid(86_400_000)),
        "weekday": WEEKDAYS[(local_ms.div_euclid(86_400_000) + 3).rem_euclid(7) as usize],
        "current_intent": input.active_intent,
        "asking_for": input.asking,
        "intents": intents,
    })
    .to_string()
}

const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

fn kind_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Text => "text",
        FieldKind::Number => "number",
        FieldKind::Money => "money",
        FieldKind::Date => "date",
        FieldKind::Datetime => "datetime",
        FieldKind::Phone => "phone",
        FieldKind::Email => "email",
        FieldKind::Choice => "choice",
        FieldKind::Boolean => "boolean",
        FieldKind::Pattern => "pattern",
        FieldKind::Quantity => "quantity",
    }
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` in local time, as UTC milliseconds.
pub fn local_timestamp(text: &str, utc_offset_minutes: i32) -> Option<i64> {
    let text = text.trim();
    let (day, time) = match text.split_once(['T', ' ']) {
        Some((day, time)) => (day, Some(time)),
        None => (text, None),
    };
    let mut parts = day.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let minutes = match time {
        Some(time) => {
            let mut parts = time.splitn(3, ':').map(|part| part.get(..2).unwrap_or(part).parse::<i64>());
            let (hour, minute) = (parts.next()?.ok()?, parts.next()?.ok()?);
            if hour > 23 || minute > 59 {
                return None;
            }
            hour * 60 + minute
        }
        None => 0,
    };
    let local_minutes = days_from_civil(year, month, day) * 1_440 + minutes;
    Some((local_minutes - i64::from(utc_offset_minutes)) * 60_000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `YYYY-MM-DD` of a day number since 1970-01-01.
fn date(days: i64) -> String {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_day_numbers() {
        for (text, days) in
            [("1970-01-01", 0), ("2026-01-01", 20_454), ("2024-02-29", 19_782), ("2000-03-01", 11_017)]
        {
            assert_eq!(date(days), text);
            assert_eq!(local_timestamp(text, 0), Some(days * 86_400_000), "{text}");
        }
    }

    #[test]
    fn local_times_are_moved_to_utc_by_the_offset() {
        // 15:00 in Yerevan (UTC+4) is 11:00 UTC.
        let at = local_timestamp("2026-12-04T15:00", 240).unwrap();
        assert_eq!(at, local_timestamp("2026-12-04T11:00", 0).unwrap());
        assert_eq!(local_timestamp("2026-13-01", 0), None);
        assert_eq!(local_timestamp("tomorrow", 0), None);
        assert_eq!(local_timestamp("2026-12-04T25:00", 0), None);
    }
}
