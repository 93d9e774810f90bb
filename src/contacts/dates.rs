//! Dates as spreadsheets and exports write them: ISO (`1985-05-17`, with a time of day as CRMs
//! stamp leads: `2026-06-01 13:45`), US (`5/17/1985`, `05/17/85`), European (`17.05.1985`,
//! `17/05/1985`), month names (`17-May-85`, `May 17, 1985`), year-less birthdays (`--05-17`,
//! `05-17`), and the placeholders of empty cells (`0/0/00`, `00/00/0000`, `-`, `n/a`). A
//! day/month order that the value alone cannot tell (`05/06/1985`) is read by the order given
//! (`--date-format us|eu`, `[contacts] date_format`), else by what the other values of its
//! column tell ([`ColumnLook`]: one `17/05/1985` makes the column day first), else refused with
//! what to set — nothing is imported wrong.

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
    /// Its column was looked at and cannot tell (every value could be either, or its values
    /// disagree): such a value is refused briefly, the column's note says what to set.
    Undecided,
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
    let n = Numeric::split(&date_part).ok_or_else(|| not_a_date(value))?;
    match n.shape() {
        Shape::YearFirst => whole(n.nums[0] as i32, n.nums[1], n.nums[2], value),
        Shape::MonthDay => month_day(&date_part, '-', value),
        Shape::Ordered => {
            let (month, day) = order_of(n.nums[0], n.nums[1], n.sep, order, value)?;
            match n.nums.get(2) {
                Some(y) => whole(full_year(*y, n.year_digits), month, day, value),
                None => check_month_day(month, day, value),
            }
        }
        Shape::Other => Err(not_a_date(value)),
    }
}

/// A date written in numbers only: its parts and their separator.
struct Numeric {
    nums: Vec<u32>,
    sep: char,
    first_digits: usize,
    year_digits: usize,
}

/// How a [`Numeric`] date is laid out.
enum Shape {
    /// `1985-05-17`.
    YearFirst,
    /// `05-17`: month and day, as ISO writes a year-less date.
    MonthDay,
    /// Day and month in an order to find out (`5/17/1985`, `17.05.85`, `5/17`).
    Ordered,
    /// Not a date.
    Other,
}

impl Numeric {
    /// The parts of `text` (no time of day, no letters), or `None` for no separator or a
    /// part that is not a number.
    fn split(text: &str) -> Option<Numeric> {
        let sep = ['-', '/', '.'].into_iter().find(|s| text.contains(*s))?;
        let parts: Vec<&str> = text.split(sep).collect();
        let nums = parts.iter().map(|p| p.parse::<u32>().ok()).collect::<Option<Vec<u32>>>()?;
        Some(Numeric {
            sep,
            first_digits: parts[0].len(),
            year_digits: parts.get(2).map_or(0, |p| p.len()),
            nums,
        })
    }

    fn shape(&self) -> Shape {
        match (self.nums.len(), self.first_digits) {
            (3, 4) => Shape::YearFirst,
            (3, _) => Shape::Ordered,
            (2, 2) if self.sep == '-' => Shape::MonthDay,
            (2, _) => Shape::Ordered,
            _ => Shape::Other,
        }
    }
}

/// What one value says about the order of its column's dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    /// Its second part is above 12 (`5/17/1985`).
    MonthFirst,
    /// Its first part is above 12 (`17/05/1985`).
    DayFirst,
    /// Both parts could be the month (`05/06/1985`).
    Either,
    /// Nothing: not an ordered date (ISO, a month name, `17.05.1985`, a placeholder, junk).
    Nothing,
}

fn tells(value: &str) -> Told {
    let text: String = value.trim().chars().map(western_digit).collect();
    let date_part = text.split(['T', 't', ' ']).next().unwrap_or("");
    let Some(n) = Numeric::split(date_part) else {
        return Told::Nothing;
    };
    let (a, b) = (n.nums[0], n.nums[1]);
    match n.shape() {
        Shape::Ordered if n.sep == '.' || a == 0 || b == 0 || a > 31 || b > 31 => Told::Nothing,
        Shape::Ordered if a > 12 && b <= 12 => Told::DayFirst,
        Shape::Ordered if b > 12 && a <= 12 => Told::MonthFirst,
        Shape::Ordered if a <= 12 && b <= 12 && a != b => Told::Either,
        _ => Told::Nothing,
    }
}

/// Self-telling values seen, with nothing else in the column, after which a column counts as
/// written in a format that tells by itself (ISO, month names) and the rest is not looked at.
const SETTLED_AFTER: u64 = 1000;

/// What the values of one date column say about their day/month order, from all of them: a
/// column with `17/05/1985` in it is day first, one with `5/17/1985` month first; a column
/// whose values could all be either, or that holds both kinds, cannot tell.
#[derive(Debug, Clone, Default)]
pub struct ColumnLook {
    month_first: Option<(u64, String)>,
    day_first: Option<(u64, String)>,
    either: Option<(u64, String)>,
    either_count: u64,
    self_telling: u64,
}

impl ColumnLook {
    /// Looks at the value at `line`.
    pub fn see(&mut self, line: u64, value: &str) {
        let keep = |slot: &mut Option<(u64, String)>| {
            slot.get_or_insert_with(|| (line, value.trim().to_string()));
        };
        match tells(value) {
            Told::MonthFirst => keep(&mut self.month_first),
            Told::DayFirst => keep(&mut self.day_first),
            Told::Either => {
                self.either_count += 1;
                keep(&mut self.either)
            }
            Told::Nothing => self.self_telling += 1,
        }
    }

    /// True once nothing more the column holds can change [`ColumnLook::order`] in practice:
    /// a thousand values that tell by themselves and none that needs the column.
    pub fn settled(&self) -> bool {
        self.self_telling >= SETTLED_AFTER && self.month_first.is_none() && self.day_first.is_none() && self.either.is_none()
    }

    /// How the column's values whose order the value does not tell are read.
    pub fn order(&self) -> DayOrder {
        match (&self.month_first, &self.day_first, &self.either) {
            (_, _, None) => DayOrder::Auto,
            (Some(_), None, _) => DayOrder::MonthFirst,
            (None, Some(_), _) => DayOrder::DayFirst,
            _ => DayOrder::Undecided,
        }
    }

    /// One note for a column that cannot tell: what it holds, how many values were not read,
    /// and what to set.
    pub fn note(&self, header: &str) -> Option<String> {
        let (line, example) = self.either.as_ref()?;
        let set = "say which with --date-format us (month first) or eu (day first), or [contacts] date_format";
        let n = self.either_count;
        match (&self.month_first, &self.day_first) {
            (None, None) => Some(format!(
                "column {header:?}: every date in it could be month/day or day/month (line {line}: {example:?}), so its {n} date(s) were not read; {set}"
            )),
            (Some((ml, m)), Some((dl, d))) => Some(format!(
                "column {header:?} holds month-first dates (line {ml}: {m:?}) and day-first dates (line {dl}: {d:?}): its {n} date(s) that could be either were not read; correct the file, or {set}"
            )),
            _ => None,
        }
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
        _ if a == b => Ok((a, b)),
        DayOrder::Undecided => Err(format!(
            "{value:?} could be month/day or day/month, as other dates of its column (see the note on the column)"
        )),
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

    fn look(values: &[&str]) -> ColumnLook {
        let mut look = ColumnLook::default();
        for (i, v) in values.iter().enumerate() {
            look.see(i as u64 + 2, v);
        }
        look
    }

    #[test]
    fn a_column_tells_the_order_its_values_cannot() {
        // One day above 12 anywhere makes the whole column day first, and the other way round.
        let eu = look(&["05/06/1985", "", "17/05/1990", "03/04/1979"]);
        assert_eq!((eu.order(), eu.note("Birthday")), (DayOrder::DayFirst, None));
        assert_eq!(s("05/06/1985", eu.order()), Ok(Some("1985-06-05".into())));
        let us = look(&["05/06/1985", "5/17/1985 13:45", "0/0/00"]);
        assert_eq!(us.order(), DayOrder::MonthFirst);
        // ISO, month names and dotted dates tell by themselves: nothing to decide.
        assert_eq!(look(&["1985-05-17", "17-May-85", "05.06.1985", "--05-17"]).order(), DayOrder::Auto);
        // Every value could be either: one note, naming a line and what to set.
        let unsure = look(&["05/06/1985", "03/04/1990"]);
        assert_eq!(unsure.order(), DayOrder::Undecided);
        let note = unsure.note("Birthday").unwrap();
        assert!(
            note.contains("line 2: \"05/06/1985\"") && note.contains("2 date(s)") && note.contains("--date-format us"),
            "{note}"
        );
        let e = s("03/04/1990", DayOrder::Undecided).unwrap_err();
        assert!(e.contains("see the note") && !e.contains("--date-format"), "{e}");
        // Both kinds in one column: the ones that could be either are not guessed.
        let mixed = look(&["5/17/1985", "17/05/1985", "05/06/1985"]);
        assert_eq!(mixed.order(), DayOrder::Undecided);
        assert!(
            mixed.note("B").unwrap().contains("month-first dates (line 2"),
            "{:?}",
            mixed.note("B")
        );
        assert_eq!(s("5/17/1985", mixed.order()), Ok(Some("1985-05-17".into())));
        // A long column of ISO dates is settled early; one ambiguous value unsettles it.
        let iso: Vec<&str> = std::iter::repeat_n("1985-05-17", 1000).collect();
        assert!(look(&iso).settled());
        let mut more = iso.clone();
        more.push("05/06/1985");
        assert!(!look(&more).settled());
    }
}
