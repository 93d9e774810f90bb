//! The facts the reports are computed from, and the names of the per-date counters: one
//! vocabulary for `report`, `status` and `/metrics`.
//!
//! A [`Fact`] is one thing that happened to one contact on one day — a lead arrived, a message
//! was sent, failed or was suppressed, the person opted out, responded, bought, or moved along
//! the pipeline — with what it is attributed to: plan, touch, lead source and agent, as they
//! were at that moment. Facts are kept per day (`{prefix}:facts:DAY`, one line each) so that a
//! report can group them any way after the fact. They name the contact only by a keyed
//! pseudonym ([`pseudonym`]): distinct counts ("contacts reached") work, and after `forget`
//! nothing in them leads back to the person while the practice's past numbers stay as they were.

use hmac::Mac;

/// What a fact records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A new contact (import, `POST /leads`, the lead form).
    Lead,
    /// A message accepted by the relay, the SMS API or the outbox.
    Sent,
    /// A message refused for good by the server.
    Failed,
    /// A message not sent because the address was on the suppression list.
    Suppressed,
    /// An opt-out by any path: the unsubscribe link, one-click, SMS STOP, `suppress add`.
    Unsubscribed,
    /// A response: a reply, a call back, a form, a lead from an existing contact.
    Response,
    /// A deal (`value` is its value; `detail` is `first` for the contact's first deal).
    Deal,
    /// A pipeline stage change (`detail` is the new stage).
    Stage,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 8] = [
        Kind::Lead,
        Kind::Sent,
        Kind::Failed,
        Kind::Suppressed,
        Kind::Unsubscribed,
        Kind::Response,
        Kind::Deal,
        Kind::Stage,
    ];

    /// The name stored in the fact line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Lead => "lead",
            Kind::Sent => "sent",
            Kind::Failed => "failed",
            Kind::Suppressed => "suppressed",
            Kind::Unsubscribed => "unsubscribed",
            Kind::Response => "response",
            Kind::Deal => "deal",
            Kind::Stage => "stage",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// What a fact is attributed to, as it was when it happened (empty: none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// The plan id.
    pub plan: String,
    /// The touch id (for deliveries; for a response, opt-out or deal the last touch sent
    /// before it — last-touch attribution).
    pub touch: String,
    /// The lead source.
    pub source: String,
    /// The agent's key.
    pub agent: String,
}

impl Attribution {
    /// The contact's plan, source and agent (no touch).
    pub fn of(contact: &crate::contacts::Contact) -> Attribution {
        let field = |name: &str| contact.get(name).unwrap_or_default().to_string();
        Attribution {
            plan: field("plan"),
            touch: String::new(),
            source: field("source"),
            agent: field("agent"),
        }
    }
}

/// One fact (without its day, which is the key it is stored under).
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// What happened.
    pub kind: Kind,
    /// The contact's pseudonym ([`pseudonym`]).
    pub who: u64,
    /// What it is attributed to.
    pub to: Attribution,
    /// A deal's value (0 otherwise).
    pub value: f64,
    /// `first` on a contact's first deal; the new stage of a stage change.
    pub detail: String,
}

impl Fact {
    /// A fact with no value or detail.
    pub fn new(kind: Kind, who: u64, to: Attribution) -> Fact {
        Fact {
            kind,
            who,
            to,
            value: 0.0,
            detail: String::new(),
        }
    }

    /// The stored line: tab-separated `kind who plan touch source agent value detail`.
    pub fn encode(&self) -> String {
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        let value = if self.value == 0.0 { String::new() } else { self.value.to_string() };
        format!(
            "{}\t{:016x}\t{}\t{}\t{}\t{}\t{value}\t{}",
            self.kind.name(),
            self.who,
            clean(&self.to.plan),
            clean(&self.to.touch),
            clean(&self.to.source),
            clean(&self.to.agent),
            clean(&self.detail)
        )
    }
}

/// A stored fact line read in place, without copying: what `report` tallies, millions at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactView<'a> {
    /// What happened.
    pub kind: Kind,
    /// The contact's pseudonym.
    pub who: u64,
    /// The plan id.
    pub plan: &'a str,
    /// The touch id.
    pub touch: &'a str,
    /// The lead source.
    pub source: &'a str,
    /// The agent's key.
    pub agent: &'a str,
    /// A deal's value (0 otherwise).
    pub value: f64,
    /// `first` on a contact's first deal; the new stage of a stage change.
    pub detail: &'a str,
}

impl<'a> FactView<'a> {
    /// Reads a stored line ([`Fact::encode`]); `None` for a line that is not a fact.
    pub fn parse(line: &'a str) -> Option<FactView<'a>> {
        let mut parts = line.split('\t');
        let mut next = || parts.next();
        let kind = Kind::parse(next()?)?;
        let who = u64::from_str_radix(next()?, 16).ok()?;
        let (plan, touch, source, agent) = (next()?, next()?, next()?, next()?);
        let value = match next()? {
            "" => 0.0,
            v => v.parse().ok()?,
        };
        Some(FactView {
            kind,
            who,
            plan,
            touch,
            source,
            agent,
            value,
            detail: next().unwrap_or_default(),
        })
    }

    /// True for a contact's first deal.
    pub fn is_first_deal(&self) -> bool {
        self.kind == Kind::Deal && self.detail == FIRST
    }
}

/// The detail of a contact's first deal.
pub const FIRST: &str = "first";

/// The pseudonym facts name a contact by: 64 bits of HMAC-SHA256 of its id under `key` (the
/// `[privacy] pepper`). Without the key and the id it leads back to no one.
pub fn pseudonym(key: &str, contact_id: &str) -> u64 {
    let mut m = crate::compliance::erasure::keyed(key);
    m.update(b"fact:");
    m.update(contact_id.as_bytes());
    let bytes = m.finalize().into_bytes();
    u64::from_be_bytes(bytes[..8].try_into().expect("a SHA-256 digest has 32 bytes"))
}

/// The per-date counters (`{prefix}:stats:DATE`) that `status` and `/metrics` show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Messages accepted.
    Sent,
    /// Messages refused for good.
    Failed,
    /// Messages not sent: the address is suppressed.
    Suppressed,
    /// Messages not sent: no address, not compliant, or the template failed for the contact.
    Refused,
    /// Messages not sent: their touch or plan was removed.
    Cancelled,
    /// Messages whose reply was lost after the data (held for the operator).
    Unknown,
    /// Messages that could not go out within their grace window.
    Missed,
    /// Transient failures retried.
    Retried,
    /// Messages moved to the dead letters.
    Dead,
    /// Messages waiting for quiet hours to end.
    Deferred,
    /// SMS not sent for lack of recorded consent.
    NoConsent,
    /// Messages whose contact was forgotten after they were queued.
    Gone,
    /// Responses recorded.
    Responses,
    /// Deals recorded.
    Deals,
    /// Opt-outs recorded (any path).
    Unsubscribed,
    /// Addresses suppressed by a bounce that came back by mail or webhook (hard, or soft in a
    /// row).
    Bounces,
    /// Spam complaints received.
    Complaints,
    /// Queued messages not sent because their contact answered after they were queued.
    Paused,
}

impl Counter {
    /// Every counter, in the order `status` shows them.
    pub const ALL: [Counter; 18] = [
        Counter::Sent,
        Counter::Failed,
        Counter::Suppressed,
        Counter::Refused,
        Counter::Cancelled,
        Counter::Unknown,
        Counter::Missed,
        Counter::Retried,
        Counter::Dead,
        Counter::Deferred,
        Counter::NoConsent,
        Counter::Gone,
        Counter::Responses,
        Counter::Deals,
        Counter::Unsubscribed,
        Counter::Bounces,
        Counter::Complaints,
        Counter::Paused,
    ];

    /// The field name in the stats hash (and the `outcome` label in `/metrics`).
    pub fn name(self) -> &'static str {
        match self {
            Counter::Sent => "sent",
            Counter::Failed => "failed",
            Counter::Suppressed => "suppressed",
            Counter::Refused => "refused",
            Counter::Cancelled => "cancelled",
            Counter::Unknown => "unknown",
            Counter::Missed => "missed",
            Counter::Retried => "retried",
            Counter::Dead => "dead",
            Counter::Deferred => "deferred",
            Counter::NoConsent => "no_consent",
            Counter::Gone => "gone",
            Counter::Responses => "responses",
            Counter::Deals => "deals",
            Counter::Unsubscribed => "unsubscribed",
            Counter::Bounces => "bounces",
            Counter::Complaints => "complaints",
            Counter::Paused => "paused",
        }
    }
}

/// The per-date total of deal values in the stats hash.
pub const DEAL_VALUE: &str = "deal_value";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fact_survives_its_line() {
        let mut f = Fact::new(
            Kind::Deal,
            0x00ab_cdef_0123_4567,
            Attribution {
                plan: "8x8".into(),
                touch: "day-1".into(),
                source: "zil\tlow".into(),
                agent: "سارة".into(),
            },
        );
        f.value = 350_000.5;
        f.detail = FIRST.into();
        let line = f.encode();
        assert_eq!(line.split('\t').count(), 8);
        let back = FactView::parse(&line).unwrap();
        assert_eq!((back.plan, back.touch), ("8x8", "day-1"));
        assert_eq!(back.source, "zil low", "a tab in a value cannot break the line");
        assert_eq!(back.agent, "سارة");
        assert_eq!(back.value, 350_000.5);
        assert!(back.is_first_deal());
        assert_eq!(back.who, f.who);
        let sent = Fact::new(Kind::Sent, 7, Attribution::default()).encode();
        let back = FactView::parse(&sent).unwrap();
        assert_eq!(
            (back.kind, back.who, back.plan, back.value, back.detail),
            (Kind::Sent, 7, "", 0.0, "")
        );
        assert_eq!(FactView::parse("nonsense"), None);
        assert_eq!(FactView::parse("hug\t01\t\t\t\t\t\t"), None);
    }

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        assert_eq!(pseudonym("k", "ann"), pseudonym("k", "ann"));
        assert_ne!(pseudonym("k", "ann"), pseudonym("k", "joann"));
        assert_ne!(pseudonym("k", "ann"), pseudonym("other key", "ann"));
    }

    #[test]
    fn counter_names_are_unique() {
        let names: std::collections::HashSet<&str> = Counter::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Counter::ALL.len());
    }
}
