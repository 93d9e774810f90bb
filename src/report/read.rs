//! Reads a period's facts into a [`Tally`]: the store reads the days ahead on a task of its
//! own while two threads tally them (each thread its own days, so a day's distinct counts stay
//! on one thread); their tallies are merged at the end. A year of a million contacts is
//! ~14 million facts (BENCHMARKS.md).

use super::practice::{By, Practice, Tally};
use crate::facts::FactView;
use crate::store::{Store, StoreError};
use chrono::{Datelike, NaiveDate};

/// Threads tallying at once.
const THREADS: usize = 2;

/// The first day of a period ending `to` when none is given: the last 30 days.
pub fn default_from(to: NaiveDate) -> NaiveDate {
    to - chrono::Days::new(29)
}

/// The practice's numbers of `from..=to` grouped `by`; `years` is the CLV relationship length.
pub async fn practice(store: &Store, by: By, from: NaiveDate, to: NaiveDate, years: f64) -> Result<Practice, StoreError> {
    let mut pages = store.fact_pages(from, to);
    let (senders, workers): (Vec<_>, Vec<_>) = (0..THREADS)
        .map(|_| {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<(NaiveDate, Vec<String>)>(4);
            let worker = tokio::task::spawn_blocking(move || {
                let mut tally = Tally::new(by);
                let mut current = None;
                while let Some((day, lines)) = rx.blocking_recv() {
                    if current != Some(day) {
                        tally.day(day);
                        current = Some(day);
                    }
                    for fact in lines.iter().filter_map(|l| FactView::parse(l)) {
                        tally.add(&fact);
                    }
                }
                tally
            });
            (tx, worker)
        })
        .unzip();
    while let Some(page) = pages.recv().await {
        let (day, lines) = page?;
        let to_thread = &senders[day.num_days_from_ce().unsigned_abs() as usize % THREADS];
        if to_thread.send((day, lines)).await.is_err() {
            break;
        }
    }
    drop(senders);
    let mut tally = Tally::new(by);
    for worker in workers {
        tally = tally.merge(worker.await.expect("a tally thread does not panic"));
    }
    Ok(tally.finish(from, to, &store.costs().await?, years))
}
