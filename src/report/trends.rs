//! The trend of a period by week and by month, each span beside the same span before it (the
//! week before; the same days of the month before): leads, contacts reached, responders, the
//! response rate of those reached, customers and revenue. Each span is read like the period
//! itself ([`super::read::practice`]).

use super::practice::{By, Row};
use crate::store::{Store, StoreError};
use chrono::{Datelike, Days, Months, NaiveDate};
use serde::Serialize;

/// A span's figures.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Figures {
    /// New contacts.
    pub leads: u64,
    /// Contacts sent a message.
    pub reached: u64,
    /// Contacts with a response.
    pub responded: u64,
    /// Of those reached, the share that responded in the span (`None`: nobody reached); never
    /// above 100 %.
    pub rate: Option<f64>,
    /// First deals.
    pub customers: u64,
    /// Deal values.
    pub revenue: f64,
}

impl Figures {
    fn of(r: &Row) -> Figures {
        Figures {
            leads: r.leads,
            reached: r.reached,
            responded: r.responded,
            rate: super::practice::percent(r.responded_reached as f64, r.reached as f64),
            customers: r.customers,
            revenue: r.revenue,
        }
    }
}

/// One week or month of the period, and the span before it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Span {
    /// `2026-W47` or `2026-11`.
    pub label: String,
    /// Its first day (the period's first for the first span).
    pub from: NaiveDate,
    /// Its last day (the period's last for the last span).
    pub to: NaiveDate,
    /// Its figures.
    pub now: Figures,
    /// The figures of the same span a week (a month) before.
    pub before: Figures,
}

/// The period by week and by month.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Trends {
    /// ISO weeks, clipped to the period.
    pub weeks: Vec<Span>,
    /// Calendar months, clipped to the period.
    pub months: Vec<Span>,
}

/// The ISO weeks of `from..=to`, clipped: (label, first, last).
pub fn weeks(from: NaiveDate, to: NaiveDate) -> Vec<(String, NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let sunday = start + Days::new(u64::from(6 - start.weekday().num_days_from_monday()));
        let end = sunday.min(to);
        let w = start.iso_week();
        out.push((format!("{}-W{:02}", w.year(), w.week()), start, end));
        start = end + Days::new(1);
    }
    out
}

/// The calendar months of `from..=to`, clipped: (label, first, last).
pub fn months(from: NaiveDate, to: NaiveDate) -> Vec<(String, NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let first_of_next = (start.with_day(1).unwrap_or(start) + Months::new(1)).min(NaiveDate::MAX);
        let end = (first_of_next - Days::new(1)).min(to);
        out.push((format!("{}-{:02}", start.year(), start.month()), start, end));
        start = end + Days::new(1);
    }
    out
}

/// Reads the trends of `from..=to` (`years`: the CLV relationship length).
pub async fn read(store: &Store, from: NaiveDate, to: NaiveDate, years: f64) -> Result<Trends, StoreError> {
    let week_before = |d: NaiveDate| d - Days::new(7);
    let month_before = |d: NaiveDate| d.checked_sub_months(Months::new(1)).unwrap_or(d);
    Ok(Trends {
        weeks: spans(store, weeks(from, to), week_before, years).await?,
        months: spans(store, months(from, to), month_before, years).await?,
    })
}

/// Each of `list` (label, first, last) read, beside the same span moved back by `back`.
async fn spans(
    store: &Store,
    list: Vec<(String, NaiveDate, NaiveDate)>,
    back: impl Fn(NaiveDate) -> NaiveDate,
    years: f64,
) -> Result<Vec<Span>, StoreError> {
    let figures = |a: NaiveDate, b: NaiveDate| async move {
        let p = super::read::practice(store, By::Source, a, b, years).await?;
        Ok::<Figures, StoreError>(Figures::of(&p.total))
    };
    let mut out = Vec::with_capacity(list.len());
    for (label, a, b) in list {
        out.push(Span {
            label,
            from: a,
            to: b,
            now: figures(a, b).await?,
            before: figures(back(a), back(b)).await?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn weeks_and_months_are_clipped_to_the_period() {
        let w = weeks(d("2026-11-20"), d("2026-11-30"));
        let labels: Vec<(&str, NaiveDate, NaiveDate)> = w.iter().map(|(l, a, b)| (l.as_str(), *a, *b)).collect();
        assert_eq!(
            labels,
            [
                ("2026-W47", d("2026-11-20"), d("2026-11-22")),
                ("2026-W48", d("2026-11-23"), d("2026-11-29")),
                ("2026-W49", d("2026-11-30"), d("2026-11-30")),
            ]
        );
        let m = months(d("2026-11-20"), d("2027-01-05"));
        let labels: Vec<(&str, NaiveDate, NaiveDate)> = m.iter().map(|(l, a, b)| (l.as_str(), *a, *b)).collect();
        assert_eq!(
            labels,
            [
                ("2026-11", d("2026-11-20"), d("2026-11-30")),
                ("2026-12", d("2026-12-01"), d("2026-12-31")),
                ("2027-01", d("2027-01-01"), d("2027-01-05")),
            ]
        );
        assert_eq!(weeks(d("2026-12-28"), d("2027-01-03"))[0].0, "2026-W53");
    }
}
