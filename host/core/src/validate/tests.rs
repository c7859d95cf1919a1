use super::*;
use crate::calendar::CalendarConfig;
use crate::contract::Money;
use crate::flow::{ChoiceOption, Localized};

fn field(kind: FieldKind) -> FieldSpec {
    FieldSpec::new("f", kind)
}

fn yerevan() -> Calendar {
    Calendar::new(&CalendarConfig { timezone: "Asia/Yerevan".to_owned(), ..CalendarConfig::default() })
        .expect("zone")
}

/// Monday 2026-01-05 12:00 in Yerevan.
const NOW: i64 = 1_767_600_000_000;

fn check(kind: FieldKind, answer: &str) -> Result<Value, Invalid> {
    validate(&field(kind), answer, &yerevan(), NOW)
}

fn local(text: &str) -> Value {
    let zoned = format!("{text}[Asia/Yerevan]").parse::<jiff::Zoned>().expect("zoned");
    Value::Datetime(zoned.timestamp().as_millisecond())
}

#[test]
fn phones_are_normalised_to_e164() {
    assert_eq!(check(FieldKind::Phone, "+374 (91) 12-34-56"), Ok(Value::Text("+37491123456".to_owned())));
    assert_eq!(check(FieldKind::Phone, "12345"), Err(Invalid::Phone));
    let mut local = field(FieldKind::Phone);
    local.country_code = Some("374".to_owned());
    assert_eq!(validate(&local, "091 123456", &yerevan(), NOW), Ok(Value::Text("+37491123456".to_owned())));
    assert_eq!(
        validate(&local, "+7 912 345 67 89", &yerevan(), NOW),
        Ok(Value::Text("+79123456789".to_owned()))
    );
    assert_eq!(check(FieldKind::Phone, "call me"), Err(Invalid::Phone));
}

#[test]
fn emails_need_a_local_part_and_a_dotted_domain() {
    assert_eq!(check(FieldKind::Email, "Ani@Example.com"), Ok(Value::Text("ani@example.com".to_owned())));
    for bad in ["ani@", "@example.com", "ani@example", "a ni@example.com"] {
        assert_eq!(check(FieldKind::Email, bad), Err(Invalid::Email), "{bad}");
    }
}

#[test]
fn dates_and_times_are_read_in_the_tenants_zone() {
    assert_eq!(check(FieldKind::Datetime, "завтра 15:00"), Ok(local("2026-01-06T15:00")));
    assert_eq!(check(FieldKind::Datetime, "վաղը 10:30"), Ok(local("2026-01-06T10:30")));
    assert_eq!(check(FieldKind::Datetime, "07.01 at 9:15"), Ok(local("2026-01-07T09:15")));
    assert_eq!(check(FieldKind::Date, "2026-02-01"), Ok(local("2026-02-01T00:00")));
    assert_eq!(
        check(FieldKind::Date, "03.01"),
        Ok(local("2027-01-03T00:00")),
        "a passed day-month means next year"
    );
    assert_eq!(check(FieldKind::Datetime, "tomorrow"), Err(Invalid::Time));
    assert_eq!(check(FieldKind::Datetime, "today 09:00"), Err(Invalid::Past));
    assert_eq!(check(FieldKind::Date, "01.01.2026"), Err(Invalid::Past));
    assert_eq!(check(FieldKind::Date, "31.02.2026"), Err(Invalid::Date));
}

#[test]
fn numbers_and_money_accept_how_people_write_them() {
    let mut rooms = field(FieldKind::Number);
    rooms.min = Some(1.0);
    rooms.max = Some(10.0);
    assert_eq!(validate(&rooms, "3 rooms", &yerevan(), NOW), Ok(Value::Number(3.0)));
    assert!(matches!(validate(&rooms, "25", &yerevan(), NOW), Err(Invalid::Range { .. })));
    let mut budget = field(FieldKind::Money);
    budget.currency = Some("AMD".to_owned());
    assert_eq!(
        validate(&budget, "150 000", &yerevan(), NOW),
        Ok(Value::Money(Money::new(15_000_000, "AMD")))
    );
    assert_eq!(validate(&budget, "$300", &yerevan(), NOW), Ok(Value::Money(Money::new(30_000, "USD"))));
}

#[test]
fn choices_match_by_value_number_title_or_synonym() {
    let mut size = field(FieldKind::Choice);
    for (value, ru) in [("studio", "Студия"), ("two_rooms", "Двушка")] {
        size.options.push(ChoiceOption {
            value: value.to_owned(),
            title: Localized([("ru".to_owned(), ru.to_owned())].into()),
            synonyms: vec![format!("{value} flat")],
            short: Localized::default(),
            days: None,
        });
    }
    let pick = |answer: &str| validate(&size, answer, &yerevan(), NOW);
    assert_eq!(pick("two_rooms"), Ok(Value::Text("two_rooms".to_owned())));
    assert_eq!(pick("1"), Ok(Value::Text("studio".to_owned())));
    assert_eq!(pick("у нас двушка"), Ok(Value::Text("two_rooms".to_owned())));
    assert_eq!(pick("a palace"), Err(Invalid::Choice));
}

#[test]
fn patterns_match_the_answer_or_a_whole_word_in_it() {
    let mut order = field(FieldKind::Pattern);
    order.pattern = Some("[A-Z]-\\d{4}".to_owned());
    assert_eq!(validate(&order, "#A-1001", &yerevan(), NOW), Ok(Value::Text("A-1001".to_owned())));
    assert_eq!(validate(&order, "вот номер: A-1001", &yerevan(), NOW), Ok(Value::Text("A-1001".to_owned())));
    assert_eq!(validate(&order, "AB-10012", &yerevan(), NOW), Err(Invalid::Pattern));
}

#[test]
fn yes_and_no_in_three_languages() {
    assert_eq!(yes_no("Да, конечно"), Some(true));
    assert_eq!(yes_no("այո"), Some(true));
    assert_eq!(yes_no("no thanks"), Some(false));
    assert_eq!(yes_no("maybe"), None);
}
