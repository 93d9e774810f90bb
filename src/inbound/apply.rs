//! The effects of a classified returning message, through the paths every other opt-out,
//! response and bounce takes: [`crate::events::email_opt_out`] (unsubscribes and complaints),
//! [`crate::events::record`] (responses: pauses, stage, report), the store's
//! `suppress_for` (bounces, as a 5xx at RCPT does). Nothing is written about a contact that
//! no longer exists (forgotten): the lookups find nobody and the effect stops there.

use super::classify::{Kind, Subject, Verdict};
use crate::clock::Clock;
use crate::contacts::Contact;
use crate::events::{self, ContactEvent, EmailOptOut};
use crate::facts::{Counter, Kind as FactKind};
use crate::history::Event;
use crate::ledger;
use crate::store::{Store, StoreError, Suppression};
use crate::workspace::Workspace;
use chrono::{DateTime, Utc};

/// What applying a verdict did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// It acted (the summary says how).
    Applied(String),
    /// Understood, nothing to change (a delay notice, a forgotten contact's mail).
    Nothing(String),
    /// Not for nurture: left for a person (a stranger's reply, an opt-out from an unknown
    /// address).
    Left(String),
}

/// A delivery not bounced within this many days ends a run of soft bounces.
const SOFT_RESET_DAYS: i64 = 3;

/// Applies `v` with the rules of `ws` at `clock`'s time.
pub async fn apply(store: &Store, ws: &Workspace, clock: &Clock, v: &Verdict) -> Result<Effect, StoreError> {
    // A bounce to a VERP address: the ledger says which delivery its tag names.
    let resolved;
    let v = match &v.subject {
        Subject::Tag(tag) => {
            let named = store.get(&store.keys.verp(tag)).await?;
            let Some((key, address)) = named.as_deref().and_then(|n| n.split_once('\0')) else {
                return Ok(Effect::Nothing(
                    "a VERP tag nurture does not know (older than 30 days, or not its own)".into(),
                ));
            };
            resolved = Verdict {
                subject: Subject::Delivery(crate::compliance::token::DeliveryRef {
                    key: key.to_string(),
                    address: address.to_string(),
                }),
                ..v.clone()
            };
            &resolved
        }
        _ => v,
    };
    let now = clock.now();
    let day = clock.today(ws.config.sender_tz());
    let (contact, sent_to) = match who(store, v).await? {
        Who::Contact(c, sent_to) => (c, sent_to),
        Who::Gone => return Ok(Effect::Nothing("the contact no longer exists".into())),
        Who::Stranger(why) => return Ok(Effect::Left(why)),
    };
    let id = contact.id.0.clone();
    let (plan, touch) = match &v.subject {
        Subject::Delivery(d) => {
            let (p, t, _) = d.touch();
            (p.to_string(), t.to_string())
        }
        _ => (String::new(), String::new()),
    };
    let event = |name: &str, detail: &str| Event::touch(now.to_rfc3339(), name, &plan, &touch, detail);
    let date = day.to_string();
    match v.kind {
        Kind::HardBounce => {
            bounce(store, &contact, sent_to.as_deref(), event("bounce", &v.evidence), &now, day).await?;
            Ok(Effect::Applied(format!("suppressed (bounce {})", status(&v.evidence))))
        }
        Kind::SoftBounce => {
            store.push_history(&[(id.clone(), event("soft_bounce", &v.evidence))]).await?;
            let history = store.history(&id).await?;
            let is_email = |e: &Event| {
                ws.plans
                    .get(e.plan.as_deref().unwrap_or_default())
                    .and_then(|p| p.touch(e.touch.as_deref().unwrap_or_default()))
                    .is_none_or(|t| t.channel == crate::plans::Channel::Email)
            };
            let in_a_row = soft_bounces_in_a_row(&history, is_email, now);
            let limit = ws.config.inbound.soft_bounce_limit;
            if in_a_row < limit {
                return Ok(Effect::Applied(format!("soft bounce {in_a_row} of {limit} in a row")));
            }
            let why = format!("{in_a_row} soft bounces in a row ({})", status(&v.evidence));
            bounce(store, &contact, sent_to.as_deref(), event("bounce", &why), &now, day).await?;
            Ok(Effect::Applied(format!("suppressed ({why})")))
        }
        Kind::Complaint => {
            let opt_out = EmailOptOut {
                reason: "complaint",
                event: "complaint",
                detail: format!("feedback loop: {}", v.evidence),
                sent_to: sent_to.as_deref(),
                at: now.to_rfc3339(),
                day,
            };
            events::email_opt_out(store, &contact, &opt_out).await?;
            ledger::count(store, &date, Counter::Complaints).await?;
            Ok(Effect::Applied("suppressed (complaint)".into()))
        }
        Kind::Unsubscribe => {
            let opt_out = EmailOptOut {
                reason: "unsubscribe",
                event: "unsubscribed",
                detail: "mail".into(),
                sent_to: sent_to.as_deref(),
                at: now.to_rfc3339(),
                day,
            };
            events::email_opt_out(store, &contact, &opt_out).await?;
            Ok(Effect::Applied("suppressed (mailed unsubscribe)".into()))
        }
        Kind::Reply => {
            let from = v.from.as_deref().unwrap_or_default();
            if sent_to.as_deref() != Some(from) && contact.email() != Some(from) {
                return Ok(Effect::Left("a reply from an address that is not the contact's".into()));
            }
            let response = ContactEvent {
                kind: events::Kind::Response,
                contact: id,
                channel: Some("email".into()),
                note: Some(v.evidence.clone()),
                date: Some(day),
            };
            let pipeline = crate::contacts::pipeline::Pipeline::new(&ws.config.pipeline.stages);
            match events::record(store, &response, day, &ws.config.contacts.default_region, &pipeline).await {
                Ok(_) => Ok(Effect::Applied("response recorded".into())),
                Err(events::EventError::Store(e)) => Err(e),
                // Forgotten between the lookup and the write.
                Err(_) => Ok(Effect::Nothing("the contact no longer exists".into())),
            }
        }
        Kind::AutoReply => {
            store.push_history(&[(id, event("auto_reply", &v.evidence))]).await?;
            Ok(Effect::Applied("auto-reply recorded".into()))
        }
        Kind::Nothing | Kind::Unknown => Ok(Effect::Nothing(v.evidence.clone())),
    }
}

enum Who {
    /// The contact, and the address the message went to when known.
    Contact(Box<Contact>, Option<String>),
    /// A delivery of a contact that no longer exists.
    Gone,
    /// Nobody nurture knows.
    Stranger(String),
}

async fn who(store: &Store, v: &Verdict) -> Result<Who, StoreError> {
    Ok(match &v.subject {
        Subject::Delivery(d) => match store.contact(d.contact_id()).await? {
            Some(c) => Who::Contact(Box::new(c), Some(d.address.clone()).filter(|a| !a.is_empty())),
            None => Who::Gone,
        },
        Subject::Token(u) => match store.contact(&u.contact_id).await? {
            Some(c) => Who::Contact(Box::new(c), u.address.clone()),
            None => Who::Gone,
        },
        Subject::Sender(from) => match store.contact_by_email(from).await? {
            Some(c) => Who::Contact(Box::new(c), Some(from.clone())),
            None => Who::Stranger("an opt-out from an address that is no contact's".into()),
        },
        Subject::Nobody | Subject::Tag(_) => Who::Stranger(v.evidence.clone()),
    })
}

/// Suppresses the address mailed (else the contact's current one) as `bounce`, unless the
/// contact was forgotten meanwhile; notes it and counts it (`failed` in the report).
async fn bounce(
    store: &Store,
    contact: &Contact,
    sent_to: Option<&str>,
    event: Event,
    now: &DateTime<Utc>,
    day: chrono::NaiveDate,
) -> Result<(), StoreError> {
    let Some(address) = sent_to.or(contact.email()) else {
        return Ok(());
    };
    let entry = Suppression {
        value: address.to_string(),
        channel: "email".into(),
        reason: "bounce".into(),
        at: now.to_rfc3339(),
    };
    store.suppress_for(&contact.id.0, &entry).await?;
    store.push_history(&[(contact.id.0.clone(), event)]).await?;
    let date = day.to_string();
    ledger::count(store, &date, Counter::Bounces).await?;
    ledger::count(store, &date, Counter::Failed).await?;
    store.record_fact_about(contact, day, FactKind::Failed, 0.0, "bounce").await?;
    let data = serde_json::json!({ "channel": "email", "address": address, "at": now.to_rfc3339() });
    crate::webhooks::emit(store, "bounce", &contact.id.0, data).await;
    tracing::info!(contact_id = %contact.id, "suppressed: bounce");
    Ok(())
}

/// The DSN status at the start of the evidence (`5.1.1`).
fn status(evidence: &str) -> &str {
    evidence.split_whitespace().next().unwrap_or_default()
}

/// Soft bounces in the contact's history (oldest first, as [`Store::history`] gives it) since
/// the last email delivered at least [`SOFT_RESET_DAYS`] ago that did not bounce.
fn soft_bounces_in_a_row(history: &[Event], is_email: impl Fn(&Event) -> bool, now: DateTime<Utc>) -> u32 {
    let cutoff = now - chrono::Duration::days(SOFT_RESET_DAYS);
    let mut bounced: Vec<(&Option<String>, &Option<String>)> = Vec::new();
    let mut count = 0;
    for e in history.iter().rev() {
        match e.event.as_str() {
            "soft_bounce" => {
                count += 1;
                bounced.push((&e.plan, &e.touch));
            }
            "sent" => {
                let email = is_email(e);
                let old = DateTime::parse_from_rfc3339(&e.at).is_ok_and(|at| at.to_utc() <= cutoff);
                if email && old && !bounced.contains(&(&e.plan, &e.touch)) {
                    break;
                }
            }
            _ => {}
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> String {
        format!("2026-11-{day:02}T18:00:00+00:00")
    }

    #[test]
    fn soft_bounces_count_in_a_row_until_a_delivery_that_did_not_bounce() {
        let now = DateTime::parse_from_rfc3339(&at(30)).unwrap().to_utc();
        let sent = |day, touch: &str| Event::touch(at(day), "sent", "p", touch, "");
        let soft = |day, touch: &str| Event::touch(at(day), "soft_bounce", "p", touch, "4.2.2");
        let email = |_: &Event| true;
        // Oldest first: w1 bounced, w2 went through (no bounce within 3 days), w3 and w4 bounced.
        let history = vec![
            sent(1, "w1"),
            soft(2, "w1"),
            sent(8, "w2"),
            sent(15, "w3"),
            soft(16, "w3"),
            sent(22, "w4"),
            soft(23, "w4"),
        ];
        assert_eq!(
            soft_bounces_in_a_row(&history, email, now),
            2,
            "w2 was delivered: the run restarts after it"
        );
        let mut all = history.clone();
        all.retain(|e| e.touch.as_deref() != Some("w2"));
        assert_eq!(soft_bounces_in_a_row(&all, email, now), 3);
        // A delivery younger than 3 days may still bounce: it does not end the run yet.
        let mut fresh = all.clone();
        fresh.push(sent(29, "w5"));
        fresh.push(soft(30, "w4b"));
        assert_eq!(soft_bounces_in_a_row(&fresh, email, now), 4);
        // An SMS delivered says nothing about the mailbox.
        let mut sms = all.clone();
        sms.insert(2, sent(9, "sms-1"));
        assert_eq!(soft_bounces_in_a_row(&sms, |e: &Event| e.touch.as_deref() != Some("sms-1"), now), 3);
    }
}
