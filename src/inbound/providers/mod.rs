//! The email providers' event webhooks — Mailgun, SendGrid, Amazon SES (through SNS),
//! Postmark: each verified its own way ([`mailgun::verify`], [`sendgrid::verify`],
//! [`ses::verify`], [`postmark::verify`]; an
//! unverifiable request changes nothing), each turned into [`Event`]s: a bounce, a complaint
//! or an unsubscribe of one address, with the provider's event id and the `Message-ID` of the
//! message it is about. [`verdict`] matches that id as returning mail is matched (only a
//! message nurture sent counts); the effects are [`super::apply`]'s.

pub mod mailgun;
pub mod postmark;
pub mod sendgrid;
pub mod ses;

use super::classify::{Kind, Subject, Verdict};
use crate::compliance::token;

/// One provider event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The provider's id of the event (the once-only key).
    pub id: String,
    /// What it reports (only bounces, complaints and unsubscribes act; the rest is `Nothing`).
    pub kind: Kind,
    /// The original message's `Message-ID` header, if the provider gives it.
    pub message_id: Option<String>,
    /// The address concerned.
    pub recipient: String,
    /// The provider's words (status, diagnostic, feedback type).
    pub evidence: String,
}

/// Why a webhook request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No signature or credentials at all (401).
    #[error("no signature")]
    Missing,
    /// A signature or credentials that do not verify, or a replay (403; Mailgun 406).
    #[error("bad signature: {0}")]
    Bad(String),
    /// Not the body the provider sends (400).
    #[error("not a {0} event: {1}")]
    Malformed(&'static str, String),
}

/// The verdict on `e`: about the delivery its `Message-ID` names, or about nobody (a message
/// nurture did not send: nothing changes).
pub fn verdict(e: &Event, secrets: &[&str]) -> Verdict {
    let delivery = e.message_id.as_deref().and_then(|id| token::open_delivery(secrets, id));
    match delivery {
        Some(mut d) if e.kind != Kind::Nothing => {
            let mut evidence = e.evidence.clone();
            if !e.recipient.is_empty() && !e.recipient.eq_ignore_ascii_case(&d.address) {
                evidence.push_str(&format!(" (recipient: {})", e.recipient));
            }
            if d.address.is_empty() {
                d.address = e.recipient.to_lowercase();
            }
            Verdict {
                kind: e.kind,
                subject: Subject::Delivery(d),
                evidence,
                from: None,
            }
        }
        Some(_) => Verdict {
            kind: Kind::Nothing,
            subject: Subject::Nobody,
            evidence: e.evidence.clone(),
            from: None,
        },
        None => Verdict {
            kind: Kind::Unknown,
            subject: Subject::Nobody,
            evidence: "about a message nurture did not send".into(),
            from: None,
        },
    }
}

/// `<id>` or `id` → `<id>` (providers write it both ways).
fn angle(id: &str) -> String {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    format!("<{id}>")
}
