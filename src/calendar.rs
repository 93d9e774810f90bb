//! Calendar arithmetic shared by plans (when a touch falls due) and templates (how a date is
//! written): the Umm al-Qura Hijri calendar (ICU4X `icu_calendar`, the tables Saudi Arabia
//! publishes), nth and last weekdays of a month, and month and weekday names in English and
//! Arabic. Pure functions, no I/O.

use chrono::{Datelike, NaiveDate, Weekday};
use icu_calendar::Date;
use icu_calendar::cal::{Hijri, Iso};

/// A date of the Umm al-Qura Hijri calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HijriDate {
    /// Year after the Hijra (AH).
    pub year: i32,
    /// Month 1 (Muharram) … 12 (Dhu al-Hijjah).
    pub month: u8,
    /// Day of the month, 1 … 30.
    pub day: u8,
}

/// The Umm al-Qura date of a Gregorian day.
pub fn to_hijri(day: NaiveDate) -> Option<HijriDate> {
    let iso = Date::try_new_iso(day.year(), day.month() as u8, day.day() as u8).ok()?;
    let h = iso.to_calendar(Hijri::new_umm_al_qura());
    Some(HijriDate {
        year: h.year().extended_year(),
        month: h.month().ordinal,
        day: h.day_of_month().0,
    })
}

/// The Gregorian day of an Umm al-Qura date (`None` if the month has no such day).
pub fn from_hijri(year: i32, month: u8, day: u8) -> Option<NaiveDate> {
    let h = Date::try_new_hijri_with_calendar(year, month, day, Hijri::new_umm_al_qura()).ok()?;
    let iso = h.to_calendar(Iso);
    NaiveDate::from_ymd_opt(
        iso.year().extended_year(),
        u32::from(iso.month().ordinal),
        u32::from(iso.day_of_month().0),
    )
}

/// Every Gregorian day in `year` that is `month`-`day` in the Hijri calendar. The Hijri year is
/// 11 days shorter, so a Gregorian year holds one such day, sometimes two, never none.
pub fn hijri_days_in_year(year: i32, month: u8, day: u8) -> Vec<NaiveDate> {
    let Some(start) = NaiveDate::from_ymd_opt(year, 1, 1).and_then(to_hijri) else {
        return Vec::new();
    };
    (start.year..=start.year + 2)
        .filter_map(|y| from_hijri(y, month, day).or_else(|| (day == 30).then(|| from_hijri(y, month, 29)).flatten()))
        .filter(|d| d.year() == year)
        .collect()
}

/// The `n`th (1-based) `weekday` of `month` in `year`; `n = -1` is the last one.
pub fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: i32) -> Option<NaiveDate> {
    if n < 0 {
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        }?;
        let last = next.pred_opt()?;
        let back = (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
        return last.checked_sub_days(chrono::Days::new(u64::from(back)));
    }
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, u8::try_from(n).ok()?)
}

/// `month`/`day` in `year`; 29 February becomes 28 February in common years.
pub fn yearly(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day).or_else(|| (month == 2 && day == 29).then(|| NaiveDate::from_ymd_opt(year, 2, 28)).flatten())
}

/// Languages dates can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Arabic.
    Ar,
}

impl Lang {
    /// `ar`, `ar-SA`, … are Arabic; everything else is English.
    pub fn from_locale(locale: Option<&str>) -> Lang {
        if locale.is_some_and(|l| l.to_ascii_lowercase().starts_with("ar")) {
            Lang::Ar
        } else {
            Lang::En
        }
    }
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_AR: [&str; 12] = [
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "مايو",
    "يونيو",
    "يوليو",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
];
const HIJRI_MONTHS_EN: [&str; 12] = [
    "Muharram",
    "Safar",
    "Rabi al-Awwal",
    "Rabi al-Thani",
    "Jumada al-Ula",
    "Jumada al-Akhirah",
    "Rajab",
    "Shaban",
    "Ramadan",
    "Shawwal",
    "Dhu al-Qadah",
    "Dhu al-Hijjah",
];
const HIJRI_MONTHS_AR: [&str; 12] = [
    "محرم",
    "صفر",
    "ربيع الأول",
    "ربيع الآخر",
    "جمادى الأولى",
    "جمادى الآخرة",
    "رجب",
    "شعبان",
    "رمضان",
    "شوال",
    "ذو القعدة",
    "ذو الحجة",
];
const WEEKDAYS_EN: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const WEEKDAYS_AR: [&str; 7] = ["الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"];

/// The name of Gregorian month 1 … 12.
pub fn month_name(month: u32, lang: Lang) -> &'static str {
    let i = (month.clamp(1, 12) - 1) as usize;
    match lang {
        Lang::En => MONTHS_EN[i],
        Lang::Ar => MONTHS_AR[i],
    }
}

/// The name of Hijri month 1 … 12.
pub fn hijri_month_name(month: u8, lang: Lang) -> &'static str {
    let i = usize::from(month.clamp(1, 12) - 1);
    match lang {
        Lang::En => HIJRI_MONTHS_EN[i],
        Lang::Ar => HIJRI_MONTHS_AR[i],
    }
}

/// The name of a weekday.
pub fn weekday_name(day: Weekday, lang: Lang) -> &'static str {
    let i = day.num_days_from_monday() as usize;
    match lang {
        Lang::En => WEEKDAYS_EN[i],
        Lang::Ar => WEEKDAYS_AR[i],
    }
}

/// Parses an English weekday name or its three-letter abbreviation (`thu`, `Thursday`).
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    let s = s.to_ascii_lowercase();
    WEEKDAYS_EN
        .iter()
        .position(|w| w.to_ascii_lowercase() == s || (s.len() == 3 && w.to_ascii_lowercase().starts_with(&s)))
        .and_then(|i| Weekday::try_from(i as u8).ok())
}

/// Parses an English month name or its three-letter abbreviation (`nov`, `November`) → 1 … 12.
pub fn parse_month(s: &str) -> Option<u32> {
    let s = s.to_ascii_lowercase();
    MONTHS_EN
        .iter()
        .position(|m| m.to_ascii_lowercase() == s || (s.len() == 3 && m.to_ascii_lowercase().starts_with(&s)))
        .map(|i| i as u32 + 1)
}

/// Writes ASCII digits as Arabic-Indic digits (٠١٢٣٤٥٦٧٨٩).
pub fn arabic_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0x0660 + d).unwrap_or(c),
            None => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn nth_and_last_weekday() {
        assert_eq!(nth_weekday(2026, 11, Weekday::Thu, 4), Some(d("2026-11-26")), "Thanksgiving 2026");
        assert_eq!(nth_weekday(2027, 11, Weekday::Thu, 4), Some(d("2027-11-25")));
        assert_eq!(nth_weekday(2026, 5, Weekday::Mon, -1), Some(d("2026-05-25")), "Memorial Day 2026");
        assert_eq!(nth_weekday(2026, 5, Weekday::Sun, 2), Some(d("2026-05-10")), "Mother's Day 2026");
        assert_eq!(nth_weekday(2026, 12, Weekday::Thu, -1), Some(d("2026-12-31")));
        assert_eq!(nth_weekday(2026, 2, Weekday::Mon, 5), None, "no fifth Monday in Feb 2026");
    }

    #[test]
    fn leap_day_falls_on_the_28th_in_common_years() {
        assert_eq!(yearly(2027, 2, 29), Some(d("2027-02-28")));
        assert_eq!(yearly(2028, 2, 29), Some(d("2028-02-29")));
        assert_eq!(yearly(2027, 4, 31), None);
    }

    #[test]
    fn names_and_digits() {
        assert_eq!(month_name(5, Lang::Ar), "مايو");
        assert_eq!(hijri_month_name(10, Lang::Ar), "شوال");
        assert_eq!(weekday_name(Weekday::Fri, Lang::Ar), "الجمعة");
        assert_eq!(parse_weekday("thu"), Some(Weekday::Thu));
        assert_eq!(parse_weekday("Monday"), Some(Weekday::Mon));
        assert_eq!(parse_month("nov"), Some(11));
        assert_eq!(parse_month("smarch"), None);
        assert_eq!(arabic_digits("17 2026"), "١٧ ٢٠٢٦");
        assert_eq!(Lang::from_locale(Some("ar-SA")), Lang::Ar);
        assert_eq!(Lang::from_locale(None), Lang::En);
    }

    /// Umm al-Qura dates as Saudi Arabia published them: start of Ramadan, Eid al-Fitr
    /// (1 Shawwal), Day of Arafah (9 Dhu al-Hijjah), Eid al-Adha (10 Dhu al-Hijjah), Hijri new year.
    #[test]
    fn umm_al_qura_published_dates() {
        for (y, m, day, gregorian) in [
            (1446, 9, 1, "2025-03-01"),
            (1446, 10, 1, "2025-03-30"),
            (1446, 12, 9, "2025-06-05"),
            (1446, 12, 10, "2025-06-06"),
            (1447, 1, 1, "2025-06-26"),
            (1447, 9, 1, "2026-02-18"),
            (1447, 10, 1, "2026-03-20"),
            (1447, 12, 10, "2026-05-27"),
            (1448, 1, 1, "2026-06-16"),
            (1448, 9, 1, "2027-02-08"),
            (1448, 10, 1, "2027-03-09"),
            (1448, 12, 10, "2027-05-16"),
            (1449, 1, 1, "2027-06-06"),
            (1449, 9, 1, "2028-01-28"),
            (1449, 10, 1, "2028-02-26"),
            (1449, 12, 10, "2028-05-05"),
        ] {
            assert_eq!(from_hijri(y, m, day), Some(d(gregorian)), "{day}/{m}/{y}");
            assert_eq!(to_hijri(d(gregorian)), Some(HijriDate { year: y, month: m, day }), "{gregorian}");
        }
        // Hijri years are 354 or 355 days: a Gregorian year holds a Hijri day once, or twice.
        assert_eq!(hijri_days_in_year(2026, 10, 1), vec![d("2026-03-20")]);
        assert_eq!(hijri_days_in_year(2008, 1, 1), vec![d("2008-01-10"), d("2008-12-29")]);
    }
}
