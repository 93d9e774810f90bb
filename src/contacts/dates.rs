//! Dates as spreadsheets and exports write them: ISO (`1985-05-17`, with a time of day as CRMs
//! stamp leads: `2026-06-01 13:45`), US (`5/17/1985`, `05/17/85`), European (`17.05.1985`,
//! `17/05/1985`), month names (`17-May-85`, `May 17, 1985`), year-less birthdays (`--05-17`,
//! `05-17`), and the placeholders of empty cells (`0/0/00`, `00/00/0000`, `-`, `n/a`). A
//! day/month order that the value alone cannot tell (`05/06/1985`) is read by the order given
//! (`--date-format us|eu`, `[contacts] date_format`), else refused with what to set — nothing is
//! imported wrong.

use chrono::NaiveDate;

/// Which comes first in a numeric date whose value does not tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DayOrder {
    /// Only what the value itself tells (a part above 12 is the day); else an error.
    #[default]
    Auto,
    /// Month first (`5/6/1985` is May 6): the US.
    MonthFirst,
    /// Day first (`5/6/1985` is 5 June): most of the world.
    DayFirst,
}

impl DayOrder {
    /// `auto`, `us` (or `mdy`), `eu` (or `dmy`).
    pub fn parse(s: &str) -> Result<DayOrder, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(DayOrder::Auto),
            "us" | "mdy" | "month-first" => Ok(DayOrder::MonthFirst),
            "eu" | "dmy" | "day-first" => Ok(DayOrder::DayFirst),
            other => Err(format!("{other:?}: expected auto, us (month first) or eu (day first)")),
        }
    }
}

/// A date cell, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    /// A placeholder of an empty cell.
    Empty,
    /// A whole date.
    Date(NaiveDate),
    /// A month and day without a year (a birthday): `(month, day)`.
    MonthDay(u32, u32),
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// Reads `value` (Arabic-Indic digits too) in `order`.
pub fn read(value: &str, order: DayOrder) -> Result<Day, String> {
    let text: String = value.trim().chars().map(western_digit).collect();
    let lower = text.to_ascii_lowercase();
    if matches!(lower.as_str(), "-" | "--" | "n/a" | "na" | "none" | "null")
        || (!lower.is_empty() && lower.chars().all(|c| c == '0' || "/.- :".contains(c)))
    {
        return Ok(Day::Empty);
    }
    // A time of day after the date: `2026-06-01 13:45`, `2026-06-01T13:45:00Z`.
    let date_part = lower.split(['t', ' ']).next().unwrap_or("").to_string();
    let date_part = if lower.contains(':') && !date_part.is_empty() {
        date_part
    } else {
        lower.clone()
    };
    if let Some(rest) = date_part.strip_prefix("--") {
        return month_day(rest, '-', value);
    }
    if date_part.chars().any(|c| c.is_ascii_alphabetic()) {
        return named_month(&lower, value);
    }
    let sep = ['-', '/', '.']
        .into_iter()
        .find(|s| date_part.contains(*s))
        .ok_or_else(|| not_a_date(value))?;
    let parts: Vec<&str> = date_part.split(sep).collect();
    let nums: Vec<u32> = parts
        .iter()
        .map(|p| p.parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| not_a_date(value))?;
    match (parts.len(), parts[0].len()) {
        (3, 4) => whole(nums[0] as i32, nums[1], nums[2], value),
        (3, _) => {
            let year = full_year(nums[2], parts[2].len());
            let (month, day) = order_of(nums[0], nums[1], sep, order, value)?;
            whole(year, month, day, value)
        }
        (2, _) if sep == '-' && parts[0].len() == 2 => month_day(&date_part, '-', value),
        (2, _) => {
            let (month, day) = order_of(nums[0], nums[1], sep, order, value)?;
            check_month_day(month, day, value)
        }
        _ => Err(not_a_date(value)),
    }
}

/// Which of `a`, `b` is the month: a part above 12 is the day; `.` is day first; else `order`.
fn order_of(a: u32, b: u32, sep: char, order: DayOrder, value: &str) -> Result<(u32, u32), String> {
    if sep == '.' || a > 12 {
        return Ok((b, a));
    }
    if b > 12 {
        return Ok((a, b));
    }
    match order {
        DayOrder::MonthFirst => Ok((a, b)),
        DayOrder::DayFirst => Ok((b, a)),
        DayOrder::Auto if a == b => Ok((a, b)),
        DayOrder::Auto => Err(format!(
            "{value:?} could be month/day or day/month: say which with --date-format us (month first) or eu (day first), or [contacts] date_format"
        )),
    }
}

/// A two-digit year as Excel reads it: 00–29 → 2000s, 30–99 → 1900s.
fn full_year(y: u32, digits: usize) -> i32 {
    match (digits, y) {
        (2, 0..=29) => 2000 + y as i32,
        (2, _) => 1900 + y as i32,
        _ => y as i32,
    }
}

fn whole(year: i32, month: u32, day: u32, value: &str) -> Result<Day, String> {
    if !(1..=12).contains(&month) {
        return Err(format!("{value:?}: there is no month {month}"));
    }
    NaiveDate::from_ymd_opt(year, month, day).map(Day::Date).ok_or_else(|| {
        let name = NaiveDate::from_ymd_opt(year, month, 1)
            .map(|d| d.format("%B %Y").to_string())
            .unwrap_or_default();
        format!("{value:?}: {name} has no day {day}")
    })
}

fn month_day(text: &str, sep: char, value: &str) -> Result<Day, String> {
    let mut it = text.split(sep).map(|p| p.parse::<u32>());
    match (it.next(), it.next(), it.next()) {
        (Some(Ok(m)), Some(Ok(d)), None) => check_month_day(m, d, value),
        _ => Err(not_a_date(value)),
    }
}

fn check_month_day(month: u32, day: u32, value: &str) -> Result<Day, String> {
    // 2000 is a leap year: 02-29 is a birthday.
    match NaiveDate::from_ymd_opt(2000, month, day) {
        Some(_) => Ok(Day::MonthDay(month, day)),
        None => Err(format!("{value:?}: there is no such day of the year")),
    }
}

/// `17-May-85`, `17 May 1985`, `May 17, 1985`, `May 17`.
fn named_month(lower: &str, value: &str) -> Result<Day, String> {
    let words: Vec<&str> = lower.split(['-', ' ', ',', '/']).filter(|w| !w.is_empty()).collect();
    let month = words
        .iter()
        .position(|w| MONTHS.iter().any(|m| w.starts_with(m)))
        .ok_or_else(|| not_a_date(value))?;
    let m = MONTHS.iter().position(|n| words[month].starts_with(n)).unwrap_or(0) as u32 + 1;
    let numbers: Vec<(u32, usize)> = words
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != month)
        .map(|(_, w)| w.parse::<u32>().map(|n| (n, w.len())))
        .collect::<Result<_, _>>()
        .map_err(|_| not_a_date(value))?;
    match numbers.as_slice() {
        [(d, _)] => check_month_day(m, *d, value),
        [(d, _), (y, digits)] => whole(full_year(*y, *digits), m, *d, value),
        _ => Err(not_a_date(value)),
    }
}

fn not_a_date(value: &str) -> String {
    format!("expected a date, got {value:?} (YYYY-MM-DD, 5/17/1985, 17.05.1985, 17-May-1985)")
}

/// `٠`–`٩` and `۰`–`۹` as ASCII digits.
fn western_digit(c: char) -> char {
    match c {
        '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
        '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
        _ => c,
    }
}

/// `1985-05-17`, or `05-17` for a month and day.
pub fn iso(day: Day) -> Option<String> {
    match day {
        Day::Empty => None,
        Day::Date(d) => Some(d.to_string()),
        Day::MonthDay(m, d) => Some(format!("{m:02}-{d:02}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn year_of(day: Day) -> Option<i32> {
        match day {
            Day::Date(d) => Some(d.year()),
            _ => None,
        }
    }

    fn s(v: &str, order: DayOrder) -> Result<Option<String>, String> {
        read(v, order).map(iso)
    }

    #[test]
    fn the_dates_people_have() {
        let auto = DayOrder::Auto;
        for (v, want) in [
            ("1985-05-17", "1985-05-17"),
            ("2026-06-01 13:45", "2026-06-01"),
            ("2026-06-01T13:45:00Z", "2026-06-01"),
            ("5/17/1985", "1985-05-17"),
            ("05/17/85", "1985-05-17"),
            ("17.05.1985", "1985-05-17"),
            ("17/05/1985", "1985-05-17"),
            ("17-May-85", "1985-05-17"),
            ("May 17, 1985", "1985-05-17"),
            ("17 may 1985", "1985-05-17"),
            ("1/2/07", "2007-01-02"),
            ("١٧/٠٥/١٩٨٥", "1985-05-17"),
            ("--05-17", "05-17"),
            ("05-17", "05-17"),
            ("May 17", "05-17"),
            ("5/5/1985", "1985-05-05"),
        ] {
            let v = if v == "1/2/07" { s(v, DayOrder::MonthFirst) } else { s(v, auto) };
            assert_eq!(v, Ok(Some(want.to_string())), "{want}");
        }
        for empty in ["0/0/00", "00/00/0000", "-", "n/a", "0000-00-00"] {
            assert_eq!(s(empty, auto), Ok(None), "{empty}");
        }
    }

    #[test]
    fn what_cannot_be_told_or_does_not_exist_is_said() {
        let e = s("05/06/1985", DayOrder::Auto).unwrap_err();
        assert!(e.contains("--date-format us") && e.contains("date_format"), "{e}");
        assert_eq!(s("05/06/1985", DayOrder::DayFirst), Ok(Some("1985-06-05".into())));
        assert_eq!(s("05/06/1985", DayOrder::MonthFirst), Ok(Some("1985-05-06".into())));
        let e = s("1991-02-30", DayOrder::Auto).unwrap_err();
        assert!(e.contains("February 1991 has no day 30"), "{e}");
        assert!(s("soon", DayOrder::Auto).is_err());
        assert_eq!(year_of(read("17-May-29", DayOrder::Auto).unwrap()), Some(2029));
    }
}
