//! The column census: how many stored contacts have a value in each column a template needs.
//! `lint` counts every contact (its warnings give numbers); `run`, `work` and `serve` only
//! need to know that each column exists somewhere, and stop reading once all were seen.

use super::Contact;
use std::collections::BTreeMap;

/// How far to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CensusMode {
    /// Read every contact: exact counts.
    Count,
    /// Stop once every column has been seen on one contact.
    Presence,
}

/// Counts of contacts having a value in each of some columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    /// Contacts read.
    pub contacts: u64,
    /// Column → contacts with a non-empty value in it.
    pub having: BTreeMap<String, u64>,
    /// True when every contact was read (the counts are exact).
    pub complete: bool,
    /// Contacts with a phone and no SMS consent recorded: they get no texts while
    /// `[sms] require_consent` holds.
    pub phones_without_consent: u64,
    /// Contacts with a phone.
    pub phones: u64,
}

impl Census {
    /// A census of `columns`, nothing read yet.
    pub fn new(columns: impl IntoIterator<Item = String>) -> Census {
        Census {
            contacts: 0,
            having: columns.into_iter().map(|c| (c, 0)).collect(),
            complete: false,
            phones_without_consent: 0,
            phones: 0,
        }
    }

    /// Counts one contact.
    pub fn add(&mut self, contact: &Contact) {
        self.contacts += 1;
        if contact.phone().is_some() {
            self.phones += 1;
            self.phones_without_consent += u64::from(contact.get("sms_consent").is_none());
        }
        for (column, n) in self.having.iter_mut() {
            if contact.get(column).is_some() {
                *n += 1;
            }
        }
    }

    /// True when `mode` needs no more contacts.
    pub fn is_enough(&self, mode: CensusMode) -> bool {
        mode == CensusMode::Presence && self.having.values().all(|n| *n > 0)
    }

    /// Contacts with a value in `column` (`None`: not counted).
    pub fn having(&self, column: &str) -> Option<u64> {
        self.having.get(column).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::ContactId;

    fn contact(fields: &[(&str, &str)]) -> Contact {
        Contact {
            id: ContactId("c".into()),
            fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            plan_history: vec![],
            responded_on: None,
            former: vec![],
        }
    }

    #[test]
    fn counts_non_empty_values_and_knows_when_presence_is_settled() {
        let mut c = Census::new(["pet".to_string(), "first_name".to_string()]);
        c.add(&contact(&[("pet", "cat"), ("first_name", "")]));
        assert!(!c.is_enough(CensusMode::Presence), "first_name not seen yet");
        c.add(&contact(&[("first_name", "Ann"), ("phone", "+12175550100")]));
        c.add(&contact(&[("phone", "+12175550101"), ("sms_consent", "2026-01-02 open house")]));
        assert_eq!((c.contacts, c.having("pet"), c.having("first_name")), (3, Some(1), Some(1)));
        assert_eq!((c.phones, c.phones_without_consent), (2, 1));
        assert!(c.is_enough(CensusMode::Presence));
        assert!(!c.is_enough(CensusMode::Count));
        assert_eq!(c.having("nick"), None);
    }
}
