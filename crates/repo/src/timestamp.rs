//! [`Timestamp`]: a UTC instant to the second, as the repository names, records and buckets
//! backups. Every calendar computation is in UTC, so retention does not depend on the manager's
//! time zone or on daylight-saving changes.
//!
//! The civil-date conversions are Howard Hinnant's `days_from_civil` / `civil_from_days`
//! algorithms (proleptic Gregorian calendar), small enough not to warrant a date crate.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

    /// A UTC date and time.
    pub fn from_civil(c: Civil) -> Timestamp {
        let days = days_from_civil(c.year, c.month, c.day);
        Timestamp(
            days * SECONDS_PER_DAY
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

    /// The broken-down UTC date and time.
    pub fn civil(self) -> Civil {
        let days = self.0.div_euclid(SECONDS_PER_DAY);
        let secs = self.0.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        // In range by construction: secs < 86400.
        let secs = u32::try_from(secs).unwrap_or(0);
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
        }
    }

    /// RFC 3339 in UTC: `2026-11-21T02:58:00Z`.
    pub fn rfc3339(self) -> String {
        let c = self.civil();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }

    /// Parses what [`Timestamp::rfc3339`] writes (fractional seconds are accepted and dropped).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return None;
        }
        if b[13] != b':' || b[16] != b':' || !s.ends_with('Z') {
            return None;
        }
        let fraction = &s[19..s.len() - 1];
        if !(fraction.is_empty()
            || (fraction.len() > 1
                && fraction.starts_with('.')
                && fraction[1..].bytes().all(|c| c.is_ascii_digit())))
        {
            return None;
        }
        Self::checked(
            digits(&s[0..4])?,
            digits(&s[5..7])?,
            digits(&s[8..10])?,
            digits(&s[11..13])?,
            digits(&s[14..16])?,
            digits(&s[17..19])?,
        )
    }

    /// The compact form used in names: `20261121T025800Z`.
    pub fn compact(self) -> String {
        let c = self.civil();
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }

    /// Parses [`Timestamp::compact`]'s form.
    pub fn parse_compact(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        Self::checked(
            digits(&s[0..4])?,
            digits(&s[4..6])?,
            digits(&s[6..8])?,
            digits(&s[9..11])?,
            digits(&s[11..13])?,
            digits(&s[13..15])?,
        )
    }

    /// A timestamp from fields, refusing impossible dates (February 30th, hour 24).
    fn checked(year: u32, month: u32, day: u32, h: u32, m: u32, s: u32) -> Option<Timestamp> {
        let c = Civil {
            year: i64::from(year),
            month,
            day,
            hour: h,
            minute: m,
            second: s,
        };
        if !(1..=12).contains(&month) || day == 0 || h > 23 || m > 59 || s > 59 {
            return None;
        }
        let t = Timestamp::from_civil(c);
        // A day past the month's end comes back as another date.
        (t.civil() == c).then_some(t)
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
        let days = self.day_bucket();
        // 1970-01-01 was a Thursday: Monday = 0.
        let weekday = (days + 3).rem_euclid(7);
        let thursday = days - weekday + 3;
        let (year, _, _) = civil_from_days(thursday);
        let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
        (year, u32::try_from(week).unwrap_or(0))
    }

    /// `year * 12 + month` (retention's monthly bucket).
    pub fn month_bucket(self) -> i64 {
        let c = self.civil();
        c.year * 12 + i64::from(c.month)
    }

    /// The year (retention's yearly bucket).
    pub fn year_bucket(self) -> i64 {
        self.civil().year
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

fn digits(s: &str) -> Option<u32> {
    if s.bytes().all(|c| c.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // In range by construction: 1..=31 and 1..=12.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
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
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(Timestamp::parse_compact("20260230T000000Z"), None);
        assert_eq!(Timestamp::parse_compact("2026111T025800Z"), None);
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
