//! Responses and deals, wherever they come from — `nurture record`, an inbound SMS that is
//! not an opt-out keyword, `POST /events` from a CRM or a web form: the contact's
//! `responded_on` (which pauses and demotion read), its history, and the day's counters.
//! Sequencing only.

use crate::contacts::Contact;
use crate::history::Event;
use crate::ledger;
use crate::store::{Store, StoreError};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// The contact answered: a reply, a call back, a form, a visit.
    Response,
    /// A deal closed.
    Deal {
        /// Its value (in the sender's currency).
        value: f64,
    },
}

/// One event about one contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactEvent {
    /// Response or deal (`"type"` in JSON, with `"value"` for a deal).
    #[serde(flatten)]
    pub kind: Kind,
    /// Contact id, email address or phone number.
    pub contact: String,
    /// How (`email`, `sms`, `call`, `web`, ...).
    #[serde(default)]
    pub channel: Option<String>,
    /// Free text kept in the history.
    #[serde(default)]
    pub note: Option<String>,
    /// The day it happened (default: today).
    #[serde(default)]
    pub date: Option<NaiveDate>,
}

/// Why an event was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// No contact with that id, email or phone.
    #[error("no contact {0:?}")]
    UnknownContact(String),
    /// A deal needs a positive, finite value.
    #[error("a deal needs a value above 0, got {0}")]
    BadValue(f64),
    /// Redis failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records `e` (dated `today` unless it says otherwise); returns the contact as saved.
pub async fn record(store: &Store, e: &ContactEvent, today: NaiveDate, default_region: &str) -> Result<Contact, EventError> {
    let mut contact = store
        .lookup(&e.contact, default_region)
        .await?
        .ok_or_else(|| EventError::UnknownContact(e.contact.clone()))?;
    let day = e.date.unwrap_or(today);
    let channel = e.channel.clone().unwrap_or_default();
    let note = e.note.clone().unwrap_or_default();
    let (name, detail) = match &e.kind {
        Kind::Response => (
            "response",
            [channel.as_str(), note.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(": "),
        ),
        Kind::Deal { value } => {
            if !value.is_finite() || *value <= 0.0 {
                return Err(EventError::BadValue(*value));
            }
            (
                "deal",
                format!("{value}{}", if note.is_empty() { String::new() } else { format!(": {note}") }),
            )
        }
    };
    // A deal is an answer too: it stops the pauses and the demotion of non-responders. Only
    // that field changes: a run moving the contact meanwhile keeps its move.
    let written = store
        .update_contacts(std::slice::from_ref(&contact.id.0), |_, stored| {
            let mut c = stored?;
            c.respond(day);
            Some(c)
        })
        .await?;
    contact = written
        .into_iter()
        .next()
        .ok_or_else(|| EventError::UnknownContact(e.contact.clone()))?;
    let mut event = Event::new(day.to_string(), name, detail);
    event.plan = contact.plan().map(str::to_string);
    store.push_history(&[(contact.id.0.clone(), event)]).await?;
    let day = day.to_string();
    ledger::count(store, &day, &format!("{name}s")).await?;
    if let Kind::Deal { value } = e.kind {
        ledger::add_total(store, &day, "deal_value", value).await?;
    }
    Ok(contact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_events_from_a_crm() {
        let e: ContactEvent =
            serde_json::from_str(r#"{"type":"deal","value":350000,"contact":"ann@example.com","note":"12 Oak St"}"#).unwrap();
        assert_eq!(e.kind, Kind::Deal { value: 350000.0 });
        let r: ContactEvent =
            serde_json::from_str(r#"{"type":"response","contact":"+15550100","channel":"web","date":"2026-11-20"}"#).unwrap();
        assert_eq!(r.kind, Kind::Response);
        assert_eq!(r.date, "2026-11-20".parse().ok());
        assert!(serde_json::from_str::<ContactEvent>(r#"{"type":"hug","contact":"x"}"#).is_err());
    }
}
