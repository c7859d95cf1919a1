//! Lengths of time in a flow, written the friendly way: `"90m"`, `"4h"`,
//! `"1d"`, `"2h 30m"`, `"1 day"`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A whole number of minutes. Days count in the tenant's calendar (the same
/// wall-clock time a day later, across a DST change) unless the timer counts
/// business time, where a day is 24 open hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Duration {
    minutes: u64,
}

impl Duration {
    pub const fn minutes(minutes: u64) -> Self {
        Self { minutes }
    }

    pub const fn as_minutes(self) -> u64 {
        self.minutes
    }

    pub const fn as_millis(self) -> i64 {
        self.minutes as i64 * 60_000
    }
}

impl TryFrom<String> for Duration {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let wrong = |why: &str| {
            format!("{text:?} is not a duration ({why}); write it like \"30m\", \"4h\", \"1d\" or \"2h 30m\"")
        };
        let span: jiff::Span = text.trim().parse().map_err(|_| wrong("unreadable"))?;
        if span.is_negative() {
            return Err(wrong("negative"));
        }
        if span.get_years() != 0 || span.get_months() != 0 {
            return Err(wrong("months and years differ in length; count days"));
        }
        if span.get_seconds() != 0
            || span.get_milliseconds() != 0
            || span.get_microseconds() != 0
            || span.get_nanoseconds() != 0
        {
            return Err(wrong("timers count whole minutes"));
        }
        let minutes = i64::from(span.get_weeks()) * 7 * 1440
            + i64::from(span.get_days()) * 1440
            + i64::from(span.get_hours()) * 60
            + span.get_minutes();
        Ok(Self { minutes: u64::try_from(minutes).map_err(|_| wrong("too long"))? })
    }
}

impl From<Duration> for String {
    fn from(duration: Duration) -> String {
        duration.to_string()
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, hours, minutes) = (self.minutes / 1440, self.minutes % 1440 / 60, self.minutes % 60);
        let mut parts = Vec::new();
        if days > 0 {
            parts.push(format!("{days}d"));
        }
        if hours > 0 {
            parts.push(format!("{hours}h"));
        }
        if minutes > 0 || parts.is_empty() {
            parts.push(format!("{minutes}m"));
        }
        formatter.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::Duration;

    fn parse(text: &str) -> Result<u64, String> {
        Duration::try_from(text.to_owned()).map(Duration::as_minutes)
    }

    #[test]
    fn friendly_durations_read_as_minutes() {
        assert_eq!(parse("90m"), Ok(90));
        assert_eq!(parse("4h"), Ok(240));
        assert_eq!(parse("1d"), Ok(1440));
        assert_eq!(parse("2h 30m"), Ok(150));
        assert_eq!(parse("1 day"), Ok(1440));
        assert_eq!(parse("1w"), Ok(7 * 1440));
    }

    #[test]
    fn what_is_not_whole_minutes_forward_is_refused_with_the_way_to_write_it() {
        for text in ["soon", "1 month", "30s", "-1h", ""] {
            let error = parse(text).expect_err(text);
            assert!(error.contains("write it like"), "{text}: {error}");
        }
    }

    #[test]
    fn written_back_the_way_it_reads() {
        for (text, shown) in [("150m", "2h 30m"), ("1d", "1d"), ("0m", "0m"), ("26h", "1d 2h")] {
            assert_eq!(Duration::try_from(text.to_owned()).unwrap().to_string(), shown);
        }
    }
}
