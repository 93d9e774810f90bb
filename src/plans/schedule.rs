//! When a touch falls due: the schedule language of plan files, parsed into [`When`], and the
//! days each rule gives in a range of dates (pure).
//!
//! - `after = "3d"` / `"2w"` / `"1y"`: that long after the contact entered the plan;
//! - `on = "birthday"` (any contact date column, `MM-DD` or `YYYY-MM-DD`; 29 February falls on
//!   28 February in common years), `on = "12-25"`, `on = "4th thu of nov"`,
//!   `on = "last mon of may"`, `on = "hijri 10-01"` (Umm al-Qura): once a year;
//! - `cron = "0 0 9 1 * *"` (6 or 7 fields, the `cron` crate): every day it fires.

use crate::calendar;
use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use std::str::FromStr;

/// A yearly date rule (`on = ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Yearly {
    /// A date column of the contact (`birthday`, `anniversary`, `home_purchase`, ...).
    Column(String),
    /// The same month and day every year.
    Fixed {
        /// 1 … 12.
        month: u32,
        /// 1 … 31.
        day: u32,
    },
    /// The nth (1 … 5, or -1 for the last) weekday of a month.
    NthWeekday {
        /// 1 … 5, or -1.
        n: i32,
        /// The weekday.
        weekday: chrono::Weekday,
        /// 1 … 12.
        month: u32,
    },
    /// A Hijri (Umm al-Qura) month and day.
    Hijri {
        /// 1 (Muharram) … 12 (Dhu al-Hijjah).
        month: u8,
        /// 1 … 30.
        day: u8,
    },
}

/// When a touch falls due.
#[derive(Debug, Clone)]
pub enum When {
    /// Days after the contact entered the plan.
    After(i64),
    /// Once a year.
    On(Yearly),
    /// Every day a cron expression fires on (its time of day is the default send time).
    Cron(Box<cron::Schedule>),
}

impl PartialEq for When {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (When::After(a), When::After(b)) => a == b,
            (When::On(a), When::On(b)) => a == b,
            (When::Cron(a), When::Cron(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

impl serde::Serialize for When {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&match self {
            When::After(d) => format!("after {d}d"),
            When::On(y) => format!("on {y:?}"),
            When::Cron(c) => format!("cron {c}"),
        })
    }
}

/// Parses `"0d"`, `"3d"`, `"2w"`, `"1y"` (365 days) into days.
pub fn parse_duration_days(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: expected e.g. \"3d\", \"2w\" or \"1y\""))?;
    match unit {
        "d" => Ok(n),
        "w" => Ok(n * 7),
        "y" => Ok(n * 365),
        _ => Err(format!("bad duration {s:?}: the unit must be d (days), w (weeks) or y (years)")),
    }
}

/// Parses the value of `on = ...`.
pub fn parse_on(s: &str) -> Result<Yearly, String> {
    let text = s.trim().to_ascii_lowercase();
    if let Some(rest) = text.strip_prefix("hijri ") {
        let (m, d) = month_day(rest).ok_or_else(|| format!("on: {s:?}: expected \"hijri MM-DD\", e.g. \"hijri 10-01\" (1 Shawwal)"))?;
        if !(1..=12).contains(&m) || !(1..=30).contains(&d) {
            return Err(format!("on: {s:?}: a Hijri month is 1-12 and a day 1-30"));
        }
        return Ok(Yearly::Hijri {
            month: m as u8,
            day: d as u8,
        });
    }
    if let Some((m, d)) = month_day(&text) {
        if calendar::yearly(2000, m, d).is_none() {
            return Err(format!("on: {s:?}: no such day"));
        }
        return Ok(Yearly::Fixed { month: m, day: d });
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if let [nth, weekday, "of", month] = words.as_slice() {
        let n = match *nth {
            "1st" | "first" => 1,
            "2nd" | "second" => 2,
            "3rd" | "third" => 3,
            "4th" | "fourth" => 4,
            "5th" | "fifth" => 5,
            "last" => -1,
            _ => return Err(format!("on: {s:?}: expected 1st, 2nd, 3rd, 4th, 5th or last")),
        };
        let weekday = calendar::parse_weekday(weekday).ok_or_else(|| format!("on: {s:?}: unknown weekday {weekday:?}"))?;
        let month = calendar::parse_month(month).ok_or_else(|| format!("on: {s:?}: unknown month {month:?}"))?;
        return Ok(Yearly::NthWeekday { n, weekday, month });
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !text.starts_with(|c: char| c.is_ascii_digit()) {
        return Ok(Yearly::Column(text));
    }
    Err(format!(
        "on: {s:?}: expected a date column (\"birthday\"), \"MM-DD\", \"4th thu of nov\", \"last mon of may\" or \"hijri MM-DD\""
    ))
}

fn month_day(s: &str) -> Option<(u32, u32)> {
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    Some((m.parse().ok()?, d.parse().ok()?))
}

/// Parses a 6- or 7-field cron expression (seconds first), naming the form on error.
pub fn parse_cron(s: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(s.trim())
        .map_err(|e| format!("cron: {s:?} is not a 6-field cron expression (sec min hour day month weekday, e.g. \"0 0 9 1 * *\"): {e}"))
}

/// Parses `at = "09:00"`.
pub fn parse_at(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| format!("at: {s:?}: expected HH:MM (24-hour), e.g. \"09:00\""))
}

/// A date column value: `YYYY-MM-DD` (the date itself, then every year) or `MM-DD`.
fn column_date(value: &str) -> Option<(Option<NaiveDate>, u32, u32)> {
    if let Ok(d) = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d") {
        return Some((Some(d), d.month(), d.day()));
    }
    let (m, d) = month_day(value.trim())?;
    calendar::yearly(2000, m, d).map(|_| (None, m, d))
}

impl Yearly {
    /// Every day in `[from, to]` the rule gives; `column` reads the contact's date columns.
    pub fn days<'a>(&self, from: NaiveDate, to: NaiveDate, column: impl Fn(&str) -> Option<&'a str>) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        if from > to {
            return out;
        }
        let from_column = match self {
            Yearly::Column(name) => match column(name).and_then(column_date) {
                Some(parsed) => Some(parsed),
                None => return out,
            },
            _ => None,
        };
        for year in from.year()..=to.year() {
            match self {
                Yearly::Column(_) => {
                    let Some((since, m, d)) = from_column else { return out };
                    // A full date is an event: its anniversaries come after it.
                    out.extend(calendar::yearly(year, m, d).filter(|day| since.is_none_or(|s| *day > s)));
                }
                Yearly::Fixed { month, day } => out.extend(calendar::yearly(year, *month, *day)),
                Yearly::NthWeekday { n, weekday, month } => out.extend(calendar::nth_weekday(year, *month, *weekday, *n)),
                Yearly::Hijri { month, day } => out.extend(calendar::hijri_days_in_year(year, *month, *day)),
            }
        }
        out.retain(|d| *d >= from && *d <= to);
        out
    }

    /// True when the rule is the same for every contact (its days can be computed once a run).
    pub fn is_shared(&self) -> bool {
        !matches!(self, Yearly::Column(_))
    }
}

/// The days in `[from, to]` a cron schedule fires on, with the time of day of its first firing
/// each day. One step per day, however often the expression fires within a day.
pub fn cron_days(schedule: &cron::Schedule, from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveTime)> {
    let mut out: Vec<(NaiveDate, NaiveTime)> = Vec::new();
    let mut cursor = from.pred_opt().and_then(|d| d.and_hms_opt(23, 59, 59));
    while let Some(after) = cursor {
        let Some(t) = schedule.after(&Utc.from_utc_datetime(&after)).next() else {
            break;
        };
        let day = t.date_naive();
        if day > to {
            break;
        }
        out.push((day, t.time()));
        cursor = day.and_hms_opt(23, 59, 59);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn year(rule: &str, y: i32, columns: &[(&str, &str)]) -> Vec<NaiveDate> {
        let r = parse_on(rule).unwrap();
        r.days(
            NaiveDate::from_ymd_opt(y, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(y, 12, 31).unwrap(),
            |c| columns.iter().find(|(k, _)| *k == c).map(|(_, v)| *v),
        )
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_days("0d"), Ok(0));
        assert_eq!(parse_duration_days("2w"), Ok(14));
        assert_eq!(parse_duration_days("1y"), Ok(365));
        assert!(parse_duration_days("3m").is_err());
        assert!(parse_duration_days("d").is_err());
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse_on("birthday"), Ok(Yearly::Column("birthday".into())));
        assert_eq!(parse_on("12-25"), Ok(Yearly::Fixed { month: 12, day: 25 }));
        assert_eq!(
            parse_on("4th thu of nov"),
            Ok(Yearly::NthWeekday {
                n: 4,
                weekday: Weekday::Thu,
                month: 11
            })
        );
        assert_eq!(
            parse_on("Last Mon of May"),
            Ok(Yearly::NthWeekday {
                n: -1,
                weekday: Weekday::Mon,
                month: 5
            })
        );
        assert_eq!(parse_on("hijri 10-01"), Ok(Yearly::Hijri { month: 10, day: 1 }));
        for bad in [
            "13-01",
            "02-30",
            "6th mon of may",
            "4th thu of smarch",
            "hijri 13-01",
            "hijri 10-31",
            "12/25",
            "",
        ] {
            assert!(parse_on(bad).is_err(), "{bad}");
        }
        assert!(parse_at("09:00").is_ok() && parse_at("9am").is_err() && parse_at("25:00").is_err());
        assert!(parse_cron("0 0 9 1 * *").is_ok());
        let e = parse_cron("0 9 1 * *").unwrap_err();
        assert!(e.contains("6-field"), "{e}");
    }

    #[test]
    fn contact_date_columns_every_year_and_leap_days() {
        assert_eq!(year("birthday", 2027, &[("birthday", "05-17")]), vec![d("2027-05-17")]);
        assert_eq!(year("birthday", 2027, &[("birthday", "1980-05-17")]), vec![d("2027-05-17")]);
        assert_eq!(
            year("birthday", 2027, &[("birthday", "02-29")]),
            vec![d("2027-02-28")],
            "common year"
        );
        assert_eq!(year("birthday", 2028, &[("birthday", "02-29")]), vec![d("2028-02-29")], "leap year");
        assert_eq!(
            year("home_purchase", 2026, &[("home_purchase", "2026-06-01")]),
            vec![],
            "not the purchase day itself"
        );
        assert_eq!(
            year("home_purchase", 2027, &[("home_purchase", "2026-06-01")]),
            vec![d("2027-06-01")]
        );
        assert_eq!(year("anniversary", 2027, &[]), vec![], "no such column: never");
        assert_eq!(year("anniversary", 2027, &[("anniversary", "someday")]), vec![]);
    }

    #[test]
    fn fixed_and_weekday_rules() {
        assert_eq!(year("12-25", 2026, &[]), vec![d("2026-12-25")]);
        assert_eq!(year("4th thu of nov", 2026, &[]), vec![d("2026-11-26")]);
        assert_eq!(year("4th thu of nov", 2027, &[]), vec![d("2027-11-25")]);
        assert_eq!(year("last mon of may", 2026, &[]), vec![d("2026-05-25")]);
        assert_eq!(year("2nd sun of may", 2027, &[]), vec![d("2027-05-09")]);
        assert_eq!(year("5th fri of feb", 2026, &[]), vec![], "no fifth Friday that month");
    }

    #[test]
    fn hijri_rules_follow_umm_al_qura() {
        assert_eq!(year("hijri 10-01", 2025, &[]), vec![d("2025-03-30")]);
        assert_eq!(year("hijri 10-01", 2026, &[]), vec![d("2026-03-20")]);
        assert_eq!(year("hijri 10-01", 2027, &[]), vec![d("2027-03-09")]);
        assert_eq!(year("hijri 10-01", 2028, &[]), vec![d("2028-02-26")]);
        assert_eq!(year("hijri 12-10", 2025, &[]), vec![d("2025-06-06")]);
        assert_eq!(year("hijri 12-10", 2026, &[]), vec![d("2026-05-27")]);
        assert_eq!(year("hijri 12-10", 2027, &[]), vec![d("2027-05-16")]);
        assert_eq!(year("hijri 12-10", 2028, &[]), vec![d("2028-05-05")]);
        assert_eq!(year("hijri 09-01", 2027, &[]), vec![d("2027-02-08")], "Ramadan");
    }

    #[test]
    fn ranges_cut_at_both_ends() {
        let r = parse_on("12-25").unwrap();
        let days = r.days(d("2025-12-26"), d("2027-12-24"), |_| None);
        assert_eq!(days, vec![d("2026-12-25")]);
        assert!(r.days(d("2026-12-26"), d("2026-12-01"), |_| None).is_empty());
    }

    #[test]
    fn cron_days_and_times() {
        let s = parse_cron("0 30 9 1 * *").unwrap();
        let days = cron_days(&s, d("2026-11-01"), d("2027-01-31"));
        assert_eq!(
            days.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
            vec![d("2026-11-01"), d("2026-12-01"), d("2027-01-01")]
        );
        assert_eq!(days[0].1, NaiveTime::from_hms_opt(9, 30, 0).unwrap());
        let hourly = parse_cron("0 0 * * * *").unwrap();
        assert_eq!(
            cron_days(&hourly, d("2026-11-01"), d("2026-11-02")).len(),
            2,
            "one occurrence a day"
        );
        let mondays = parse_cron("0 0 8 * * Mon").unwrap();
        assert_eq!(cron_days(&mondays, d("2026-11-01"), d("2026-11-30")).len(), 5);
    }
}
