//! [`Timestamp`]: a UTC instant to the second, as the repository names, records and buckets
//! backups. Every calendar computation is in UTC, so retention does not depend on the manager's
//! time zone or on daylight-saving changes. The calendar is chrono's (proleptic Gregorian); this
//! type fixes the two text forms the repository writes and reads.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const SECONDS_PER_DAY: i64 = 86_400;

/// A UTC instant, whole seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A broken-down UTC date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (e.g. 2026).
    pub year: i64,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month, 1 to 31.
    pub day: u32,
    /// Hour, 0 to 23.
    pub hour: u32,
    /// Minute, 0 to 59.
    pub minute: u32,
    /// Second, 0 to 59.
    pub second: u32,
}

impl Timestamp {
    /// Now, truncated to the second.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }

    /// `secs` seconds after the Unix epoch.
    pub fn from_unix(secs: i64) -> Timestamp {
        Timestamp(secs)
    }

    /// A system time, truncated to the second.
    pub fn from_system_time(t: SystemTime) -> Timestamp {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Err(e) => Timestamp(-i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX)),
        }
    }

    /// A UTC date and time. Fields past their range carry over as chrono's arithmetic does
    /// (February 30th is March 1st or 2nd); a month outside 1 to 12 is clamped.
    pub fn from_civil(c: Civil) -> Timestamp {
        let year = i32::try_from(c.year).unwrap_or(if c.year < 0 { i32::MIN } else { i32::MAX });
        let first = NaiveDate::from_ymd_opt(year, c.month.clamp(1, 12), 1).unwrap_or(if year < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        });
        let days = first.signed_duration_since(NaiveDate::default()).num_days();
        Timestamp(
            (days + i64::from(c.day) - 1) * SECONDS_PER_DAY
                + i64::from(c.hour) * 3600
                + i64::from(c.minute) * 60
                + i64::from(c.second),
        )
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// As a system time.
    pub fn to_system_time(self) -> SystemTime {
        if self.0 >= 0 {
            UNIX_EPOCH + Duration::from_secs(self.0.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(self.0.unsigned_abs())
        }
    }

    /// This instant plus `secs` seconds (negative: minus).
    pub fn plus_seconds(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }

    /// As a chrono UTC time; an instant beyond chrono's range (about 262,000 years either
    /// side) is clamped to it.
    fn datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0, 0).unwrap_or(if self.0 < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }

    /// The broken-down UTC date and time.
    pub fn civil(self) -> Civil {
        let t = self.datetime();
        Civil {
            year: i64::from(t.year()),
            month: t.month(),
            day: t.day(),
            hour: t.hour(),
            minute: t.minute(),
            second: t.second(),
        }
    }

    /// RFC 3339 in UTC: `2026-11-21T02:58:00Z`.
    pub fn rfc3339(self) -> String {
        self.datetime().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// Parses what [`Timestamp::rfc3339`] writes (fractional seconds are accepted and dropped).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        // chrono's own RFC 3339 parser also takes offsets, a space or `t` for `T` and leap
        // seconds: the repository writes none of those, so the shape is checked here first.
        let (whole, fraction) = s.strip_suffix('Z')?.split_at_checked(19)?;
        let fraction_ok = fraction.is_empty()
            || fraction
                .strip_prefix('.')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()));
        (fraction_ok && shaped(whole, "dddd-dd-ddTdd:dd:dd"))
            .then(|| Self::parsed(whole, "%Y-%m-%dT%H:%M:%S"))
            .flatten()
    }

    /// The compact form used in names: `20261121T025800Z`.
    pub fn compact(self) -> String {
        self.datetime().format("%Y%m%dT%H%M%SZ").to_string()
    }

    /// Parses [`Timestamp::compact`]'s form.
    pub fn parse_compact(s: &str) -> Option<Timestamp> {
        shaped(s, "ddddddddTddddddZ")
            .then(|| Self::parsed(s, "%Y%m%dT%H%M%SZ"))
            .flatten()
    }

    /// `s` read with chrono's `format`, refusing impossible dates (February 30th, hour 24)
    /// and leap seconds.
    fn parsed(s: &str, format: &str) -> Option<Timestamp> {
        let t = NaiveDateTime::parse_from_str(s, format).ok()?;
        (t.nanosecond() < 1_000_000_000).then(|| Timestamp(t.and_utc().timestamp()))
    }

    /// The hour since the epoch (retention's hourly bucket).
    pub fn hour_bucket(self) -> i64 {
        self.0.div_euclid(3600)
    }

    /// The day since the epoch (retention's daily bucket).
    pub fn day_bucket(self) -> i64 {
        self.0.div_euclid(SECONDS_PER_DAY)
    }

    /// The ISO 8601 week as `year * 100 + week` (retention's weekly bucket). ISO weeks start on
    /// Monday and belong to the year of their Thursday, so 2021-01-03 is in week 53 of 2020.
    pub fn iso_week_bucket(self) -> i64 {
        let (year, week) = self.iso_week();
        year * 100 + i64::from(week)
    }

    /// The ISO 8601 year and week number.
    pub fn iso_week(self) -> (i64, u32) {
        let week = self.datetime().iso_week();
        (i64::from(week.year()), week.week())
    }

    /// `year * 12 + month` (retention's monthly bucket).
    pub fn month_bucket(self) -> i64 {
        let t = self.datetime();
        i64::from(t.year()) * 12 + i64::from(t.month())
    }

    /// The year (retention's yearly bucket).
    pub fn year_bucket(self) -> i64 {
        i64::from(self.datetime().year())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(deserializer)?;
        Timestamp::parse_rfc3339(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{s}` is not a UTC RFC 3339 time like 2026-11-21T02:58:00Z"
            ))
        })
    }
}

/// Whether `s` has `shape`'s length with an ASCII digit at each `d` and the same byte elsewhere.
fn shaped(s: &str, shape: &str) -> bool {
    s.len() == shape.len()
        && s.bytes().zip(shape.bytes()).all(|(c, want)| match want {
            b'd' => c.is_ascii_digit(),
            _ => c == want,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn formats_and_parses_both_forms() {
        let t = Timestamp::from_unix(1_794_970_680);
        assert_eq!(t.rfc3339(), "2026-11-18T02:58:00Z");
        assert_eq!(t.compact(), "20261118T025800Z");
        assert_eq!(Timestamp::parse_compact("20261118T025800Z"), Some(t));
        assert_eq!(at("2026-11-18T02:58:00Z"), t);
        assert_eq!(at("2026-11-18T02:58:00.250Z"), t);
        assert_eq!(Timestamp::from_unix(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp::from_unix(-1).rfc3339(), "1969-12-31T23:59:59Z");
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-11-18T24:00:00Z",
            "2026-11-18T02:58:00+01:00",
            "2026-11-18 02:58:00Z",
            "2026-11-18T02:58:00.Z",
            "2026-12-31T23:59:60Z",
            "2026-11-18t02:58:00Z",
            "+2026-11-18T02:58:00Z",
            "2026-11-18T02:58:00z",
            "2026-11-18T02:58:00.2é",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(Timestamp::parse_compact("20260230T000000Z"), None);
        assert_eq!(Timestamp::parse_compact("2026111T025800Z"), None);
        assert_eq!(Timestamp::parse_compact("20261231T235960Z"), None);
        assert_eq!(Timestamp::parse_compact("+2026111T025800Z"), None);
    }

    #[test]
    fn civil_dates_round_trip_across_leap_years() {
        for day in -800_000..800_000 {
            let t = Timestamp::from_unix(day * SECONDS_PER_DAY + 3723);
            assert_eq!(Timestamp::from_civil(t.civil()), t);
        }
        assert_eq!(at("2024-02-29T12:00:00Z").civil().day, 29);
        assert_eq!(at("2000-03-01T00:00:00Z").civil().month, 3);
    }

    #[test]
    fn iso_weeks_follow_the_thursday_rule() {
        assert_eq!(at("2021-01-03T23:59:59Z").iso_week(), (2020, 53));
        assert_eq!(at("2021-01-04T00:00:00Z").iso_week(), (2021, 1));
        assert_eq!(at("2026-01-01T00:00:00Z").iso_week(), (2026, 1));
        assert_eq!(at("2026-12-31T00:00:00Z").iso_week(), (2026, 53));
        assert_eq!(at("2024-12-30T00:00:00Z").iso_week(), (2025, 1));
        assert_eq!(at("2026-04-05T18:00:00Z").iso_week(), (2026, 14));
        assert_eq!(at("2026-04-06T00:00:00Z").iso_week(), (2026, 15));
    }
}
