//! `nurture report customers`: who the practice's customers are, by what they did — RFM and
//! ABC, from the recorded deals (pure: the facts in, the rows out).
//!
//! - **Recency** = days from the last deal to the report day; **frequency** = number of deals;
//!   **monetary** = sum of their values.
//! - Each is **scored 1–5 by quintile** over the contacts with deals: a contact's score is
//!   ⌈5 × (share of those contacts that do no better than it)⌉ — 5 = best (most recent, most
//!   frequent, highest value); ties share a score; a single customer scores 5.
//! - The **segment** comes from the recency and frequency scores (the usual R×F grid):
//!   Champions (R 4–5, F 4–5), Loyal (R 3, F 4–5), Potential loyalists (R 4–5, F 2–3),
//!   New customers (R 5, F 1), Promising (R 4, F 1), Need attention (R 3, F 3),
//!   About to sleep (R 3, F 1–2), Can't lose them (R 1–2, F 5), At risk (R 1–2, F 3–4),
//!   Hibernating (R 1–2, F 1–2).
//! - **ABC** (Pareto): contacts ordered by monetary value, highest first; a contact is A while
//!   the value of those before it is under the first share (75 %), B under the first two
//!   (95 %), C after — so the contact whose value crosses a boundary belongs to the higher
//!   class (`[report] abc = [75, 20, 5]`).

pub use crate::store::Deal;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashMap;

/// One customer's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Customer {
    /// The contact.
    pub contact_id: String,
    /// Days since the last deal.
    pub recency_days: i64,
    /// Number of deals.
    pub frequency: u64,
    /// Sum of the deal values.
    pub monetary: f64,
    /// Recency score 1–5 (5 = most recent).
    pub r: u8,
    /// Frequency score 1–5.
    pub f: u8,
    /// Monetary score 1–5.
    pub m: u8,
    /// The three scores, e.g. `545`.
    pub rfm: String,
    /// The segment of the R×F grid.
    pub segment: &'static str,
    /// `A`, `B` or `C`.
    pub abc: char,
}

/// The customers of `deals` as of `today`, highest value first; `abc` are the class shares in
/// percent (`[75, 20, 5]`).
pub fn customers(deals: &[Deal], today: NaiveDate, abc: [f64; 3]) -> Vec<Customer> {
    let mut by: HashMap<&str, (NaiveDate, u64, f64)> = HashMap::new();
    for d in deals {
        let e = by.entry(d.contact_id.as_str()).or_insert((d.date, 0, 0.0));
        e.0 = e.0.max(d.date);
        e.1 += 1;
        e.2 += d.value;
    }
    let mut rows: Vec<(String, i64, u64, f64)> = by
        .into_iter()
        .map(|(id, (last, n, sum))| (id.to_string(), (today - last).num_days().max(0), n, sum))
        .collect();
    // Highest value first; ties by id so that the order (and the ABC boundary) is stable.
    rows.sort_by(|a, b| b.3.total_cmp(&a.3).then_with(|| a.0.cmp(&b.0)));
    let recency: Vec<f64> = rows.iter().map(|r| -(r.1 as f64)).collect();
    let frequency: Vec<f64> = rows.iter().map(|r| r.2 as f64).collect();
    let monetary: Vec<f64> = rows.iter().map(|r| r.3).collect();
    let (rs, fs, ms) = (quintiles(&recency), quintiles(&frequency), quintiles(&monetary));
    let total: f64 = monetary.iter().sum();
    let mut before = 0.0;
    rows.into_iter()
        .enumerate()
        .map(|(i, (contact_id, recency_days, frequency, monetary))| {
            let class = if before < total * abc[0] / 100.0 {
                'A'
            } else if before < total * (abc[0] + abc[1]) / 100.0 {
                'B'
            } else {
                'C'
            };
            before += monetary;
            let (r, f, m) = (rs[i], fs[i], ms[i]);
            Customer {
                contact_id,
                recency_days,
                frequency,
                monetary,
                r,
                f,
                m,
                rfm: format!("{r}{f}{m}"),
                segment: segment(r, f),
                abc: class,
            }
        })
        .collect()
}

/// Quintile scores of `values` (higher is better): ⌈5 × share of values ≤ this one⌉.
pub fn quintiles(values: &[f64]) -> Vec<u8> {
    let n = values.len() as f64;
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    values
        .iter()
        .map(|v| {
            // How many values are at most `v`: O(n log n) over all customers.
            let at_most = sorted.partition_point(|w| w <= v) as f64;
            ((5.0 * at_most / n).ceil() as u8).clamp(1, 5)
        })
        .collect()
}

/// Every segment name, best first (plans' `[segment] rfm_segment` names these).
pub const SEGMENTS: [&str; 10] = [
    "Champions",
    "Loyal",
    "Potential loyalists",
    "New customers",
    "Promising",
    "Need attention",
    "About to sleep",
    "Can't lose them",
    "At risk",
    "Hibernating",
];

/// A customer's classes, as plans filter on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    /// `A`, `B` or `C`.
    pub abc: char,
    /// The RFM segment.
    pub segment: &'static str,
}

/// Each customer's classes by contact id.
pub fn classes(customers: &[Customer]) -> HashMap<String, Class> {
    customers
        .iter()
        .map(|c| {
            let class = Class {
                abc: c.abc,
                segment: c.segment,
            };
            (c.contact_id.clone(), class)
        })
        .collect()
}

/// The segment of a recency and a frequency score.
pub fn segment(r: u8, f: u8) -> &'static str {
    match (r, f) {
        (4..=5, 4..=5) => "Champions",
        (3, 4..=5) => "Loyal",
        (4..=5, 2..=3) => "Potential loyalists",
        (5, 1) => "New customers",
        (4, 1) => "Promising",
        (3, 3) => "Need attention",
        (3, 1..=2) => "About to sleep",
        (1..=2, 5) => "Can't lose them",
        (1..=2, 3..=4) => "At risk",
        _ => "Hibernating",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_score_pair_has_a_listed_segment() {
        for r in 1..=5 {
            for f in 1..=5 {
                assert!(SEGMENTS.contains(&segment(r, f)), "{r}{f}");
            }
        }
    }

    fn deal(id: &str, date: &str, value: f64) -> Deal {
        Deal {
            contact_id: id.into(),
            date: date.parse().unwrap(),
            value,
        }
    }

    #[test]
    fn quintile_scores_are_ranks_in_fifths_with_ties_shared() {
        assert_eq!(quintiles(&[1.0, 2.0, 3.0, 4.0, 5.0]), [1, 2, 3, 4, 5]);
        assert_eq!(quintiles(&[10.0]), [5]);
        assert_eq!(quintiles(&[1.0, 1.0, 3.0, 4.0]), [3, 3, 4, 5]);
        assert_eq!(quintiles(&[7.0; 10]), [5; 10]);
    }

    #[test]
    fn the_segment_grid() {
        assert_eq!(segment(5, 5), "Champions");
        assert_eq!(segment(3, 5), "Loyal");
        assert_eq!(segment(2, 4), "At risk");
        assert_eq!(segment(5, 1), "New customers");
        assert_eq!(segment(1, 5), "Can't lose them");
        assert_eq!(segment(2, 3), "At risk");
        assert_eq!(segment(1, 1), "Hibernating");
        assert_eq!(segment(3, 2), "About to sleep");
    }

    #[test]
    fn rfm_and_abc_of_a_known_book_checked_by_hand() {
        // Value 1000 in all: a=600, b=250, c=100, d=50. Before a: 0 (< 750) A; before b: 600
        // (< 750) A — b crosses 75 %, so it belongs to the higher class; before c: 850
        // (< 950) B; before d: 950 (not < 950) C.
        let deals = [
            deal("a", "2026-11-01", 400.0),
            deal("a", "2026-12-01", 200.0),
            deal("b", "2026-06-01", 250.0),
            deal("c", "2026-11-20", 100.0),
            deal("d", "2025-12-01", 50.0),
        ];
        let rows = customers(&deals, "2026-12-06".parse().unwrap(), [75.0, 20.0, 5.0]);
        let got: Vec<(&str, i64, u64, f64, char)> = rows
            .iter()
            .map(|r| (r.contact_id.as_str(), r.recency_days, r.frequency, r.monetary, r.abc))
            .collect();
        assert_eq!(
            got,
            [
                ("a", 5, 2, 600.0, 'A'),
                ("b", 188, 1, 250.0, 'A'),
                ("c", 16, 1, 100.0, 'B'),
                ("d", 370, 1, 50.0, 'C')
            ]
        );
        // Recency (days 5, 188, 16, 370): a best → 5, c → 4 (3 of 4 at most as recent → ⌈3.75⌉),
        // b → 3, d → 2. Frequency: a 2 → 5; the others 1: 3 of 4 at most 1 → ⌈3.75⌉ = 4.
        // Monetary: 600 → 5, 250 → 4, 100 → 3, 50 → 2.
        let rfm: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r.contact_id.as_str(), r.rfm.as_str(), r.segment)).collect();
        assert_eq!(
            rfm,
            [
                ("a", "555", "Champions"),
                ("b", "344", "Loyal"),
                ("c", "443", "Champions"),
                ("d", "242", "At risk")
            ]
        );
    }
}
