//! Keeping and reading the report facts of [`crate::facts`]: one list per day, kept for
//! `[report] keep_days`, naming contacts by a keyed pseudonym.

use super::{Store, StoreError};
use crate::facts::{self, Fact};
use chrono::NaiveDate;
use redis::AsyncCommands;
use std::sync::Arc;

/// Facts are kept this many days unless `[report] keep_days` says otherwise (a bit over two
/// years: this year against the last).
pub const DEFAULT_KEEP_DAYS: u32 = 800;

/// How facts name contacts and how long they are kept.
#[derive(Debug, Clone)]
pub(super) struct FactPolicy {
    key: Arc<str>,
    keep_secs: u64,
}

impl FactPolicy {
    pub(super) fn new(key: &str, keep_days: u32) -> FactPolicy {
        FactPolicy {
            key: key.into(),
            keep_secs: u64::from(keep_days.max(1)) * 86_400,
        }
    }
}

/// Lines read per LRANGE.
const PAGE: isize = 20_000;

impl Store {
    /// Names contacts in facts by a pseudonym keyed with `key` (the `[privacy] pepper`) and
    /// keeps each day's facts `keep_days`.
    pub fn with_facts(mut self, key: &str, keep_days: u32) -> Store {
        self.facts = FactPolicy::new(key, keep_days);
        self
    }

    /// The pseudonym of a contact in facts.
    pub fn pseudonym(&self, contact_id: &str) -> u64 {
        facts::pseudonym(&self.facts.key, contact_id)
    }

    /// Seconds a day's facts are kept (set on the list at each write).
    pub fn fact_ttl_secs(&self) -> u64 {
        self.facts.keep_secs
    }

    /// Appends facts to their days' lists (one round trip).
    pub async fn record_facts(&self, facts: &[(NaiveDate, Fact)]) -> Result<(), StoreError> {
        if facts.is_empty() {
            return Ok(());
        }
        // One RPUSH per day with all of its facts (an import's leads spread over their
        // arrival days).
        let mut days: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (day, fact) in facts {
            days.entry(self.keys.facts(&day.to_string())).or_default().push(fact.encode());
        }
        let mut pipe = redis::pipe();
        for (key, lines) in days {
            pipe.rpush(&key, lines).ignore().expire(key, self.facts.keep_secs as i64).ignore();
        }
        let () = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// Records one fact about `contact` on `day` ([`Store::record_facts_about`]).
    pub async fn record_fact_about(
        &self,
        contact: &crate::contacts::Contact,
        day: NaiveDate,
        kind: facts::Kind,
        value: f64,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.record_facts_about(contact, day, &[(kind, value, detail)]).await
    }

    /// Records facts (kind, value, detail) about `contact` on `day`, attributed to its source
    /// and agent and to the last touch sent to it (and that touch's plan; else its current
    /// plan): one history read and one write for all of them.
    pub async fn record_facts_about(
        &self,
        contact: &crate::contacts::Contact,
        day: NaiveDate,
        what: &[(facts::Kind, f64, &str)],
    ) -> Result<(), StoreError> {
        if what.is_empty() {
            return Ok(());
        }
        let mut to = facts::Attribution::of(contact);
        if let Some(last) = self.last_touches(&[&contact.id.0]).await?.pop().flatten() {
            to.plan = last.plan.unwrap_or_default();
            to.touch = last.touch.unwrap_or_default();
        }
        let who = self.pseudonym(&contact.id.0);
        let facts: Vec<(NaiveDate, Fact)> = what
            .iter()
            .map(|(kind, value, detail)| {
                let mut fact = Fact::new(*kind, who, to.clone());
                fact.value = *value;
                fact.detail = detail.to_string();
                (day, fact)
            })
            .collect();
        self.record_facts(&facts).await
    }

    /// Marks the contact `who` as having had its first deal on `day`; false if it had one
    /// already (so each contact counts as a new customer once).
    pub async fn first_deal(&self, who: u64, day: NaiveDate) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .clone()
            .hset_nx(self.keys.first_deals(), format!("{who:016x}"), day.to_string())
            .await?)
    }

    /// The stored fact lines of every day from `from` to `to`, page by page and in order, read
    /// ahead by a task of their own while the receiver works (a day without facts is one empty
    /// page, so that every day is seen).
    pub fn fact_pages(&self, from: NaiveDate, to: NaiveDate) -> tokio::sync::mpsc::Receiver<Result<(NaiveDate, Vec<String>), StoreError>> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let store = self.clone();
        tokio::spawn(async move {
            for day in from.iter_days().take_while(|d| *d <= to) {
                let key = store.keys.facts(&day.to_string());
                let mut start = 0isize;
                loop {
                    let page: Result<Vec<String>, _> = store.conn.clone().lrange(&key, start, start + PAGE - 1).await;
                    let full = page.as_ref().is_ok_and(|p| p.len() as isize == PAGE);
                    let failed = page.is_err();
                    if tx.send(page.map(|p| (day, p)).map_err(StoreError::from)).await.is_err() || failed {
                        return;
                    }
                    if !full {
                        break;
                    }
                    start += PAGE;
                }
            }
        });
        rx
    }
}
