//! Responses, deals and stage changes, wherever they come from — `nurture record`, `nurture
//! contact status`, an inbound SMS that is not an opt-out keyword, `POST /events` from a CRM or
//! a web form: the contact's `responded_on` (which pauses and demotion read), its pipeline
//! stage (the rules are [`crate::contacts::pipeline`]'s), its history, and the day's counters.
//! Sequencing only.

use crate::contacts::Contact;
use crate::contacts::pipeline::Pipeline;
use crate::facts::{Counter, Kind as FactKind};
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
    /// The contact moved along the pipeline (`[pipeline] stages`).
    Stage {
        /// The stage it is in now.
        stage: String,
        /// Why (required for `lost`).
        #[serde(default)]
        reason: Option<String>,
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
    /// A stage that is not configured, or `lost` without a reason.
    #[error("{0}")]
    BadStage(String),
    /// Redis failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records `e` (dated `today` unless it says otherwise) with the stages of `pipeline`; returns
/// the contact as saved.
pub async fn record(
    store: &Store,
    e: &ContactEvent,
    today: NaiveDate,
    default_region: &str,
    pipeline: &Pipeline<'_>,
) -> Result<Contact, EventError> {
    let found = store
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
        Kind::Stage { stage, reason } => {
            let stage = pipeline.resolve(stage).map_err(EventError::BadStage)?;
            let reason = reason.clone().unwrap_or_default();
            if Pipeline::needs_reason(&stage) && reason.trim().is_empty() {
                return Err(EventError::BadStage(format!("a move to {stage:?} needs a reason")));
            }
            ("stage", stage)
        }
    };
    // Only these fields change: a run moving the contact meanwhile keeps its move.
    let mut moved: Option<(String, String)> = None;
    let written = store
        .update_contacts(std::slice::from_ref(&found.id.0), |_, stored| {
            let mut c = stored?;
            let from = Pipeline::stage_of(&c).to_string();
            let to = match &e.kind {
                // A deal is an answer too: it stops the pauses and the demotion of
                // non-responders.
                Kind::Response => {
                    c.respond(day);
                    pipeline.after_response(&c)
                }
                Kind::Deal { .. } => {
                    c.respond(day);
                    pipeline.after_deal(&c)
                }
                Kind::Stage { .. } => Some(detail.clone()),
            };
            moved = to.filter(|to| *to != from).map(|to| (from, to));
            if let Some((_, to)) = &moved {
                c.fields.insert("status".into(), to.clone());
            }
            Some(c)
        })
        .await?;
    let contact = written
        .into_iter()
        .next()
        .ok_or_else(|| EventError::UnknownContact(e.contact.clone()))?;
    let plan = contact.plan().map(str::to_string);
    let mut events = Vec::new();
    if !matches!(e.kind, Kind::Stage { .. }) {
        let mut event = Event::new(day.to_string(), name, detail.clone());
        event.plan = plan.clone();
        events.push((contact.id.0.clone(), event));
    }
    if let Some((from, to)) = &moved {
        let why = match &e.kind {
            Kind::Stage { reason, .. } => reason.clone().unwrap_or_default(),
            _ => name.to_string(),
        };
        let mut event = Event::new(
            day.to_string(),
            "stage",
            format!("{from} → {to}{}", if why.is_empty() { String::new() } else { format!(": {why}") }),
        );
        event.plan = plan;
        events.push((contact.id.0.clone(), event));
    }
    store.push_history(&events).await?;
    let date = day.to_string();
    let mut facts: Vec<(FactKind, f64, &str)> = Vec::new();
    match &e.kind {
        Kind::Response => {
            ledger::count(store, &date, Counter::Responses).await?;
            facts.push((FactKind::Response, 0.0, ""));
        }
        Kind::Deal { value } => {
            ledger::count(store, &date, Counter::Deals).await?;
            ledger::add_deal_value(store, &date, *value).await?;
            let deal = crate::store::Deal {
                contact_id: contact.id.0.clone(),
                date: day,
                value: *value,
            };
            store.record_deal(&deal).await?;
            let first = store.first_deal(store.pseudonym(&contact.id.0), day).await?;
            facts.push((FactKind::Deal, *value, if first { crate::facts::FIRST } else { "" }));
        }
        Kind::Stage { .. } => {}
    }
    if let Some((_, to)) = &moved {
        facts.push((FactKind::Stage, 0.0, to));
    }
    store.record_facts_about(&contact, day, &facts).await?;
    let id = &contact.id.0;
    let on = day.to_string();
    match &e.kind {
        Kind::Response => {
            let data = serde_json::json!({ "date": on, "channel": channel, "note": note });
            crate::webhooks::emit(store, "response", id, data).await;
        }
        Kind::Deal { value } => {
            let data = serde_json::json!({ "date": on, "value": value, "note": note });
            crate::webhooks::emit(store, "deal", id, data).await;
        }
        Kind::Stage { .. } => {}
    }
    if let Some((from, to)) = &moved {
        let reason = match &e.kind {
            Kind::Stage { reason, .. } => reason.clone().unwrap_or_default(),
            _ => name.to_string(),
        };
        let data = serde_json::json!({ "date": on, "from": from, "to": to, "reason": reason });
        crate::webhooks::emit(store, "stage", id, data).await;
    }
    Ok(contact)
}

/// An email opt-out, whatever brought it: the unsubscribe page or one-click, a mailed
/// unsubscribe, a spam complaint.
#[derive(Debug, Clone)]
pub struct EmailOptOut<'a> {
    /// The suppression reason (`unsubscribe`, `complaint`).
    pub reason: &'a str,
    /// The history event (`unsubscribed`, `complaint`).
    pub event: &'a str,
    /// How it came (`one-click`, `unsubscribe page`, `mail`, `feedback loop`), with any
    /// evidence.
    pub detail: String,
    /// The address the message went to, if known (suppressed besides the current one).
    pub sent_to: Option<&'a str>,
    /// When (RFC 3339).
    pub at: String,
    /// The sender's day it counts on.
    pub day: NaiveDate,
}

/// Suppresses the address the message went to and the contact's current one, notes the
/// opt-out in the history and the event log, and counts it — the one path of every email
/// opt-out.
pub async fn email_opt_out(store: &Store, contact: &Contact, o: &EmailOptOut<'_>) -> Result<(), StoreError> {
    let mut addresses: Vec<&str> = o.sent_to.into_iter().chain(contact.email()).collect();
    addresses.dedup();
    for address in addresses {
        let entry = crate::store::Suppression {
            value: address.to_string(),
            channel: "email".into(),
            reason: o.reason.into(),
            at: o.at.clone(),
        };
        store.suppress(&entry).await?;
    }
    let id = &contact.id.0;
    let event = Event::new(o.at.clone(), o.event, o.detail.clone());
    store.push_history(&[(id.clone(), event)]).await?;
    let record = serde_json::json!({
        "event": if o.reason == "unsubscribe" { "unsubscribe" } else { o.reason },
        "channel": "email",
        "contact_id": id,
        "via": o.detail,
        "at": o.at,
    });
    store.record_event(&record.to_string()).await?;
    opted_out(store, contact, o.day).await?;
    let kind = if o.reason == "complaint" { "complaint" } else { "unsubscribe" };
    let data = serde_json::json!({ "channel": "email", "via": o.detail, "at": o.at });
    crate::webhooks::emit(store, kind, id, data).await;
    tracing::info!(contact_id = %id, reason = o.reason, "email opt-out");
    Ok(())
}

/// Counts an opt-out of `contact` on `day` — any path: the unsubscribe link, one-click, SMS
/// STOP, `suppress add` — and keeps its report fact.
pub async fn opted_out(store: &Store, contact: &Contact, day: NaiveDate) -> Result<(), StoreError> {
    ledger::count(store, &day.to_string(), Counter::Unsubscribed).await?;
    store.record_fact_about(contact, day, FactKind::Unsubscribed, 0.0, "").await
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
        let s: ContactEvent =
            serde_json::from_str(r#"{"type":"stage","contact":"c-1","stage":"lost","reason":"bought elsewhere"}"#).unwrap();
        assert_eq!(
            s.kind,
            Kind::Stage {
                stage: "lost".into(),
                reason: Some("bought elsewhere".into())
            }
        );
    }
}
