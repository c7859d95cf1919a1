//! A tenant's time: its zone, business hours and holidays.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};

/// How a tenant writes its calendar in `tenant.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// An IANA zone, e.g. `Asia/Yerevan`.
    pub timezone: String,
    /// `mon` .. `sun` to opening ranges such as `"10:00-19:00"`; a missing day is closed.
    #[serde(default)]
    pub hours: BTreeMap<String, Vec<String>>,
    /// Closed all day, as `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown time zone {0:?}")]
    Zone(String),
    #[error("unknown weekday {0:?} (use mon, tue, wed, thu, fri, sat, sun)")]
    Weekday(String),
    #[error("opening hours {0:?} are not HH:MM-HH:MM with the start first")]
    Hours(String),
    #[error("holiday {0:?} is not a YYYY-MM-DD date")]
    Holiday(String),
}

#[derive(Debug, Clone)]
pub struct Calendar {
    zone: TimeZone,
    /// Opening ranges per weekday (Monday first), in minutes after midnight.
    hours: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
}

impl Calendar {
    /// A tenant that lists no hours at all is taken to be open around the clock.
    pub fn new(config: &CalendarConfig) -> Result<Self, CalendarError> {
        let zone =
            TimeZone::get(&config.timezone).map_err(|_| CalendarError::Zone(config.timezone.clone()))?;
        let mut hours: [Vec<(u16, u16)>; 7] = Default::default();
        if config.hours.is_empty() {
            hours = around_the_clock();
        }
        for (day, ranges) in &config.hours {
            let index = weekday(day).ok_or_else(|| CalendarError::Weekday(day.clone()))?;
            for range in ranges {
                hours[index].push(parse_range(range).ok_or_else(|| CalendarError::Hours(range.clone()))?);
            }
        }
        let holidays = config
            .holidays
            .iter()
            .map(|day| day.parse::<Date>().map_err(|_| CalendarError::Holiday(day.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Self { zone, hours, holidays })
    }

    /// Open around the clock, in UTC: for tests and tenants without hours.
    pub fn always_open() -> Self {
        Self { zone: TimeZone::UTC, hours: around_the_clock(), holidays: BTreeSet::new() }
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// `at_ms` (Unix milliseconds) in the tenant's zone.
    pub fn local(&self, at_ms: i64) -> Zoned {
        Timestamp::from_millisecond(at_ms).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned(self.zone.clone())
    }

    /// Whether a human is at work at `at_ms`.
    pub fn is_open(&self, at_ms: i64) -> bool {
        let local = self.local(at_ms);
        if self.holidays.contains(&local.date()) {
            return false;
        }
        let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
        let day = local.weekday().to_monday_zero_offset() as usize;
        self.hours[day].iter().any(|(open, close)| (*open..*close).contains(&minute))
    }

    /// The first moment at or after `at_ms` when the business is open: `at_ms`
    /// itself during hours, else the start of the next opening range (looking
    /// up to two weeks ahead; a calendar with no hours at all keeps `at_ms`).
    pub fn next_open(&self, at_ms: i64) -> i64 {
        if self.is_open(at_ms) {
            return at_ms;
        }
        let local = self.local(at_ms);
        let mut date = local.date();
        for _ in 0..15 {
            if !self.holidays.contains(&date) {
                let day = date.weekday().to_monday_zero_offset() as usize;
                let mut ranges = self.hours[day].clone();
                ranges.sort_unstable();
                for (open, _) in ranges {
                    let time = Time::new(
                        i8::try_from(open / 60).unwrap_or(0),
                        i8::try_from(open % 60).unwrap_or(0),
                        0,
                        0,
                    )
                    .unwrap_or(Time::midnight());
                    if let Some(start) = self.timestamp(date, time)
                        && start > at_ms
                    {
                        return start;
                    }
                }
            }
            let Some(next) = date.tomorrow().ok() else { break };
            date = next;
        }
        at_ms
    }

    /// The moment `minutes` of open time have passed since `at_ms`: two
    /// business hours from Friday 18:00, with Saturday 11:00-16:00 the next
    /// opening and 19:00 the close, is Saturday 12:00. Nights, weekends and
    /// holidays do not count. Looks up to 400 days ahead; a calendar never
    /// open that long counts the wall clock instead.
    pub fn after_open_time(&self, at_ms: i64, minutes: u64) -> i64 {
        let mut left = i64::try_from(minutes).unwrap_or(i64::MAX / 60_000).saturating_mul(60_000);
        let mut date = self.local(at_ms).date();
        for _ in 0..400 {
            if !self.holidays.contains(&date) {
                let day = date.weekday().to_monday_zero_offset() as usize;
                let mut ranges = self.hours[day].clone();
                ranges.sort_unstable();
                for (open, close) in ranges {
                    let (Some(start), Some(end)) = (self.minute_of(date, open), self.minute_of(date, close))
                    else {
                        continue;
                    };
                    let from = start.max(at_ms);
                    if end <= from {
                        continue;
                    }
                    if left <= end - from {
                        return from + left;
                    }
                    left -= end - from;
                }
            }
            let Some(next) = date.tomorrow().ok() else { break };
            date = next;
        }
        at_ms.saturating_add(i64::try_from(minutes).unwrap_or(0).saturating_mul(60_000))
    }

    /// `minute` minutes after midnight on `date` (1440 is the next midnight).
    fn minute_of(&self, date: Date, minute: u16) -> Option<i64> {
        if minute >= 24 * 60 {
            return self.timestamp(date.tomorrow().ok()?, Time::midnight());
        }
        let time = Time::new(i8::try_from(minute / 60).ok()?, i8::try_from(minute % 60).ok()?, 0, 0).ok()?;
        self.timestamp(date, time)
    }

    /// `minutes` before `at_ms`, counting whole days on the calendar: a 24 h
    /// reminder for 10:00 is at 10:00 the day before, even across a DST change.
    pub fn minutes_before(&self, at_ms: i64, minutes: u64) -> i64 {
        self.shift(at_ms, minutes, -1)
    }

    /// `minutes` after `at_ms`, counting whole days on the calendar.
    pub fn minutes_after(&self, at_ms: i64, minutes: u64) -> i64 {
        self.shift(at_ms, minutes, 1)
    }

    fn shift(&self, at_ms: i64, minutes: u64, sign: i64) -> i64 {
        let days = i64::try_from(minutes / (24 * 60)).unwrap_or(0);
        let rest = i64::try_from(minutes % (24 * 60)).unwrap_or(0);
        let span = jiff::Span::new().days(sign * days).minutes(sign * rest);
        match self.local(at_ms).checked_add(span) {
            Ok(shifted) => shifted.timestamp().as_millisecond(),
            Err(_) => at_ms + sign * i64::try_from(minutes).unwrap_or(0) * 60_000,
        }
    }

    /// A local date and time as Unix milliseconds (the later instant in a DST gap or fold).
    pub fn timestamp(&self, date: Date, time: Time) -> Option<i64> {
        let zoned = date.to_datetime(time).to_zoned(self.zone.clone()).ok()?;
        Some(zoned.timestamp().as_millisecond())
    }
}

/// Every day open from midnight to midnight.
fn around_the_clock() -> [Vec<(u16, u16)>; 7] {
    std::array::from_fn(|_| vec![(0, 24 * 60)])
}

fn weekday(name: &str) -> Option<usize> {
    let day = match name.to_ascii_lowercase().get(..3)? {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    };
    Some(day.to_monday_zero_offset() as usize)
}

fn parse_range(range: &str) -> Option<(u16, u16)> {
    let (open, close) = range.split_once('-')?;
    let minutes = |text: &str| -> Option<u16> {
        let (hour, minute) = text.trim().split_once(':')?;
        let (hour, minute): (u16, u16) = (hour.parse().ok()?, minute.parse().ok()?);
        (hour <= 24 && minute < 60 && hour * 60 + minute <= 24 * 60).then_some(hour * 60 + minute)
    };
    let (open, close) = (minutes(open)?, minutes(close)?);
    (open < close).then_some((open, close))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yerevan_salon() -> Calendar {
        Calendar::new(&CalendarConfig {
            timezone: "Asia/Yerevan".to_owned(),
            hours: [("mon".to_owned(), vec!["10:00-13:00".to_owned(), "14:00-19:00".to_owned()])].into(),
            holidays: vec!["2026-01-12".to_owned()],
        })
        .expect("a valid calendar")
    }

    fn at(text: &str) -> i64 {
        text.parse::<Timestamp>().expect("a timestamp").as_millisecond()
    }

    /// Weekdays 10:00-19:00, Saturday 11:00-16:00, in Yerevan (UTC+4);
    /// 2026-01-03, a Saturday, is a holiday.
    fn office() -> Calendar {
        let weekdays =
            ["mon", "tue", "wed", "thu", "fri"].map(|day| (day.to_owned(), vec!["10:00-19:00".to_owned()]));
        let mut hours: BTreeMap<String, Vec<String>> = weekdays.into_iter().collect();
        hours.insert("sat".to_owned(), vec!["11:00-16:00".to_owned()]);
        Calendar::new(&CalendarConfig {
            timezone: "Asia/Yerevan".to_owned(),
            hours,
            holidays: vec!["2026-01-03".to_owned()],
        })
        .expect("a valid calendar")
    }

    #[test]
    fn business_time_counts_open_hours_only() {
        let office = office();
        // Within hours: the wall clock.
        assert_eq!(office.after_open_time(at("2026-01-06T06:30:00Z"), 120), at("2026-01-06T08:30:00Z"));
        // An hour before closing: the rest the next morning.
        assert_eq!(office.after_open_time(at("2026-01-06T14:00:00Z"), 120), at("2026-01-07T07:00:00Z"));
        // At night: from the opening.
        assert_eq!(office.after_open_time(at("2026-01-06T18:00:00Z"), 120), at("2026-01-07T08:00:00Z"));
        // Friday 18:00 + 2 h: Saturday's opening hours count.
        assert_eq!(office.after_open_time(at("2026-01-09T14:00:00Z"), 120), at("2026-01-10T08:00:00Z"));
        // Friday 18:00 + 2 h with Saturday a holiday, and Sunday closed: Monday.
        assert_eq!(office.after_open_time(at("2026-01-02T14:00:00Z"), 120), at("2026-01-05T07:00:00Z"));
        // Exactly at closing, nothing left: it is due at the close.
        assert_eq!(office.after_open_time(at("2026-01-06T14:00:00Z"), 60), at("2026-01-06T15:00:00Z"));
        // Around the clock, it is the wall clock.
        assert_eq!(
            Calendar::always_open().after_open_time(at("2026-01-06T23:30:00Z"), 120),
            at("2026-01-07T01:30:00Z")
        );
    }

    #[test]
    fn hours_are_in_the_tenants_zone() {
        let salon = yerevan_salon();
        // Monday 2026-01-05, 10:30 in Yerevan is 06:30 UTC.
        assert!(salon.is_open(at("2026-01-05T06:30:00Z")));
        assert!(!salon.is_open(at("2026-01-05T05:59:00Z")), "09:59 local");
        assert!(!salon.is_open(at("2026-01-05T09:30:00Z")), "lunch break");
        assert!(!salon.is_open(at("2026-01-06T06:30:00Z")), "Tuesday is not listed");
        assert!(!salon.is_open(at("2026-01-12T06:30:00Z")), "a Monday holiday");
    }

    #[test]
    fn closed_times_move_to_the_next_opening() {
        let salon = yerevan_salon();
        // Monday 12:30 local is open: unchanged.
        assert_eq!(salon.next_open(at("2026-01-05T08:30:00Z")), at("2026-01-05T08:30:00Z"));
        // Monday 13:30, the lunch break: 14:00 the same day.
        assert_eq!(salon.next_open(at("2026-01-05T09:30:00Z")), at("2026-01-05T10:00:00Z"));
        // Monday 23:00: next Monday is 2026-01-12, a holiday, so 2026-01-19 10:00.
        assert_eq!(salon.next_open(at("2026-01-05T19:00:00Z")), at("2026-01-19T06:00:00Z"));
        // Open around the clock: never moved.
        let always = Calendar::always_open();
        assert_eq!(always.next_open(at("2026-01-05T03:00:00Z")), at("2026-01-05T03:00:00Z"));
    }

    #[test]
    fn whole_days_are_calendar_days_across_dst() {
        let berlin =
            Calendar::new(&CalendarConfig { timezone: "Europe/Berlin".to_owned(), ..Default::default() })
                .expect("a valid calendar");
        // Clocks go forward on 2026-03-29 at 02:00. A 10:00 booking on the 30th
        // (08:00 UTC) is reminded at 10:00 on the 29th, also 08:00 UTC, as
        // both days are in CEST...
        assert_eq!(berlin.minutes_before(at("2026-03-30T08:00:00Z"), 24 * 60), at("2026-03-29T08:00:00Z"));
        // ...while a 10:00 booking on the 29th (08:00 UTC, CEST) is reminded at
        // 10:00 CET on the 28th (09:00 UTC): 23 hours of elapsed time.
        assert_eq!(berlin.minutes_before(at("2026-03-29T08:00:00Z"), 24 * 60), at("2026-03-28T09:00:00Z"));
        // Minutes below a day are elapsed time: 2 h before 03:30 CEST is 00:30 CET.
        assert_eq!(berlin.minutes_before(at("2026-03-29T01:30:00Z"), 120), at("2026-03-28T23:30:00Z"));
        assert_eq!(berlin.minutes_after(at("2026-03-28T09:00:00Z"), 24 * 60), at("2026-03-29T08:00:00Z"));
    }

    #[test]
    fn bad_calendars_say_what_is_wrong() {
        let config = |timezone: &str, day: &str, range: &str| CalendarConfig {
            timezone: timezone.to_owned(),
            hours: [(day.to_owned(), vec![range.to_owned()])].into(),
            holidays: Vec::new(),
        };
        assert_eq!(
            Calendar::new(&config("Mars/Base", "mon", "10:00-11:00")).err(),
            Some(CalendarError::Zone("Mars/Base".into()))
        );
        assert_eq!(
            Calendar::new(&config("UTC", "funday", "10:00-11:00")).err(),
            Some(CalendarError::Weekday("funday".into()))
        );
        assert_eq!(
            Calendar::new(&config("UTC", "mon", "19:00-10:00")).err(),
            Some(CalendarError::Hours("19:00-10:00".into()))
        );
    }
}
