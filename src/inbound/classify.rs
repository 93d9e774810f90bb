//! What a returning message is, and which delivery it answers — pure: no I/O, the same
//! answer for the same message. Matching is exact and only by what nurture wrote (its sealed
//! `Message-ID` in `In-Reply-To` / `References` or in the quoted original of a DSN or an ARF
//! report, an unsubscribe token in the address a mailed opt-out went to); never by a
//! subject. Reports come first (a DSN is also `Auto-Submitted`), then mailed opt-outs, then
//! auto-replies, then people's replies.

use super::read::{DsnRecipient, Report, Returned};
use crate::compliance::token::{self, DeliveryRef, Unsubscriber};

/// What classification needs from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Matcher<'a> {
    /// The keys delivery references and unsubscribe tokens may be sealed with (current first).
    pub secrets: &'a [&'a str],
    /// `[unsubscribe] mailto` (empty: none).
    pub unsubscribe_mailto: &'a str,
    /// `[inbound] return_path` (empty: none): bounces to `local+TAG@domain` name a delivery.
    pub return_path: &'a str,
}

/// The kinds of returning mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A permanent failure (`5.x.x`) for the address mailed.
    HardBounce,
    /// A temporary failure (`4.x.x`) after the relay gave up.
    SoftBounce,
    /// A spam complaint (ARF).
    Complaint,
    /// A `mailto:` unsubscribe.
    Unsubscribe,
    /// The contact answered.
    Reply,
    /// An out-of-office or other automatic answer.
    AutoReply,
    /// Understood, nothing to do (a delay notice, a delivery report, a `not-spam` report).
    Nothing,
    /// Not understood, or about nothing nurture sent: left for a person.
    Unknown,
}

impl Kind {
    /// The name in history, JSON and logs.
    pub fn name(self) -> &'static str {
        match self {
            Kind::HardBounce => "bounce",
            Kind::SoftBounce => "soft_bounce",
            Kind::Complaint => "complaint",
            Kind::Unsubscribe => "unsubscribed",
            Kind::Reply => "response",
            Kind::AutoReply => "auto_reply",
            Kind::Nothing => "nothing",
            Kind::Unknown => "unknown",
        }
    }
}

/// Who a returning message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The delivery it answers (replies, bounces, complaints, auto-replies).
    Delivery(DeliveryRef),
    /// A mailed opt-out with a valid token in its address.
    Token(Unsubscriber),
    /// A mailed opt-out without one: the contact whose address sent it.
    Sender(String),
    /// A bounce that came back to a VERP address (`[inbound] return_path`): the tag that names
    /// its delivery in the ledger.
    Tag(String),
    /// Nobody nurture knows of.
    Nobody,
}

/// The result: the kind, who it is about, and the evidence for the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What it is.
    pub kind: Kind,
    /// About whom.
    pub subject: Subject,
    /// The evidence (a DSN status and diagnostic, a feedback type, a reply's first words).
    pub evidence: String,
    /// The sender of a reply (checked against the contact's address when applied).
    pub from: Option<String>,
}

impl Verdict {
    fn unknown(why: impl Into<String>) -> Verdict {
        Verdict {
            kind: Kind::Unknown,
            subject: Subject::Nobody,
            evidence: why.into(),
            from: None,
        }
    }
}

/// Subjects of automatic answers (English and Arabic), lower-cased prefixes.
const AUTO_SUBJECTS: &[&str] = &[
    "out of office",
    "out of the office",
    "automatic reply",
    "auto reply",
    "autoreply",
    "auto-reply",
    "auto:",
    "away from the office",
    "on vacation",
    "vacation reply",
    "رد تلقائي",
    "الرد التلقائي",
    "خارج المكتب",
    "في إجازة",
];

/// Classifies `m`.
pub fn classify(m: &Returned, matcher: &Matcher<'_>) -> Verdict {
    match &m.report {
        Some(Report::Dsn(recipients)) => return dsn(m, recipients, matcher),
        Some(Report::Feedback {
            feedback_type,
            original_rcpt,
        }) => {
            return feedback(m, feedback_type, original_rcpt.as_deref(), matcher);
        }
        None => {}
    }
    if let Some(v) = mailed_opt_out(m, matcher) {
        return v;
    }
    if m.from_mail_system {
        return plain_bounce(m, matcher);
    }
    let answered = m.answers.iter().find_map(|id| token::open_delivery(matcher.secrets, id));
    let auto = m.auto_header.clone().or_else(|| {
        let s = m.subject.to_lowercase();
        AUTO_SUBJECTS
            .iter()
            .find(|p| s.starts_with(*p) || s.contains(&format!(": {p}")))
            .map(|p| format!("subject: {p}"))
    });
    let Some(delivery) = answered else {
        return Verdict::unknown("answers no message nurture sent");
    };
    let (kind, evidence) = match auto {
        Some(signal) => (Kind::AutoReply, format!("{signal}: {}", m.subject)),
        None => (Kind::Reply, m.text.clone()),
    };
    Verdict {
        kind,
        subject: Subject::Delivery(delivery),
        evidence,
        from: m.from.clone(),
    }
}

/// The delivery a report's quoted original names.
fn quoted_delivery(m: &Returned, matcher: &Matcher<'_>) -> Option<DeliveryRef> {
    m.quoted_ids.iter().find_map(|id| token::open_delivery(matcher.secrets, id))
}

/// The VERP tag of the address a report came back to (`local+TAG@domain` of
/// `[inbound] return_path`).
fn verp_tag(m: &Returned, matcher: &Matcher<'_>) -> Option<String> {
    let (local, domain) = matcher.return_path.rsplit_once('@')?;
    m.recipients.iter().find_map(|r| {
        let (r_local, r_domain) = r.rsplit_once('@')?;
        let (base, tag) = r_local.split_once('+')?;
        let ours = base.eq_ignore_ascii_case(local) && r_domain.eq_ignore_ascii_case(domain);
        (ours && tag.len() == 20 && tag.bytes().all(|b| b.is_ascii_hexdigit())).then(|| tag.to_ascii_lowercase())
    })
}

/// Who a report is about: the delivery its quoted original names, else the VERP tag of the
/// address it came back to.
fn reported(m: &Returned, matcher: &Matcher<'_>) -> Option<Subject> {
    quoted_delivery(m, matcher)
        .map(Subject::Delivery)
        .or_else(|| verp_tag(m, matcher).map(Subject::Tag))
}

fn dsn(m: &Returned, recipients: &[DsnRecipient], matcher: &Matcher<'_>) -> Verdict {
    let Some(subject) = reported(m, matcher) else {
        return Verdict::unknown("a delivery report about a message nurture did not send (or that quotes no Message-ID)");
    };
    let mailed = match &subject {
        Subject::Delivery(d) => Some(d.address.clone()),
        _ => None,
    };
    // nurture mails one recipient per message: the block about that address, else the worst.
    let about = |r: &&DsnRecipient| {
        [&r.final_recipient, &r.original_recipient]
            .iter()
            .any(|a| a.is_some() && *a == &mailed)
    };
    let rank = |r: &DsnRecipient| match (r.action.as_str(), r.status.as_bytes().first()) {
        ("failed", Some(b'5')) => 0,
        ("failed", _) => 1,
        ("delayed", _) => 2,
        _ => 3,
    };
    let chosen = recipients.iter().find(about).or_else(|| recipients.iter().min_by_key(|r| rank(r)));
    let Some(r) = chosen else {
        return Verdict::unknown("a delivery report without a recipient block");
    };
    let mut evidence = [r.status.as_str(), r.diagnostic.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if let (Some(other), Some(address)) = (r.final_recipient.as_deref(), &mailed)
        && other != address
    {
        evidence.push_str(&format!(" (Final-Recipient: {other})"));
    }
    let kind = match (r.action.as_str(), r.status.as_bytes().first()) {
        ("failed", Some(b'5')) => Kind::HardBounce,
        ("failed", Some(b'4')) => Kind::SoftBounce,
        ("failed", _) => return Verdict::unknown(format!("a failure without a status code: {evidence}")),
        // A delay never counts; a success report needs nothing.
        _ => Kind::Nothing,
    };
    Verdict {
        kind,
        subject,
        evidence: if kind == Kind::Nothing {
            format!("{}: {evidence}", r.action)
        } else {
            evidence
        },
        from: None,
    }
}

fn feedback(m: &Returned, feedback_type: &str, original_rcpt: Option<&str>, matcher: &Matcher<'_>) -> Verdict {
    let Some(delivery) = quoted_delivery(m, matcher) else {
        return Verdict::unknown("a complaint about a message nurture did not send (or that quotes no Message-ID)");
    };
    let mut evidence = format!("feedback-type: {feedback_type}");
    if let Some(rcpt) = original_rcpt.filter(|r| *r != delivery.address) {
        evidence.push_str(&format!(" (Original-Rcpt-To: {rcpt})"));
    }
    Verdict {
        kind: if feedback_type == "not-spam" {
            Kind::Nothing
        } else {
            Kind::Complaint
        },
        subject: Subject::Delivery(delivery),
        evidence,
        from: None,
    }
}

/// A message to `[unsubscribe] mailto` (or to its `+TOKEN` form).
fn mailed_opt_out(m: &Returned, matcher: &Matcher<'_>) -> Option<Verdict> {
    let mailto = matcher.unsubscribe_mailto.trim().to_lowercase();
    let (local, domain) = mailto.split_once('@')?;
    let mut tokens = Vec::new();
    let mut addressed = false;
    for r in &m.recipients {
        let Some((r_local, r_domain)) = r.rsplit_once('@') else { continue };
        if !r_domain.eq_ignore_ascii_case(domain) {
            continue;
        }
        let (base, tag) = r_local.split_once('+').unwrap_or((r_local, ""));
        if base.eq_ignore_ascii_case(local) {
            addressed = true;
            if !tag.is_empty() {
                tokens.push(tag.to_string());
            }
        }
    }
    if !addressed || m.from_mail_system {
        return None;
    }
    let evidence = format!("mailed to {}: {}", matcher.unsubscribe_mailto, m.subject);
    let subject = tokens
        .iter()
        .find_map(|t| token::verify(matcher.secrets, t))
        .map(Subject::Token)
        .or_else(|| m.from.clone().map(Subject::Sender))
        .unwrap_or(Subject::Nobody);
    Some(Verdict {
        kind: Kind::Unsubscribe,
        subject,
        evidence,
        from: m.from.clone(),
    })
}

/// A bounce without a DSN part (old Exim, qmail): the original's `Message-ID` pasted in the
/// text, the status code in the words.
fn plain_bounce(m: &Returned, matcher: &Matcher<'_>) -> Verdict {
    let Some(subject) = reported(m, matcher) else {
        return Verdict::unknown("a message from a mail system about nothing nurture sent");
    };
    let Some(status) = m.plain_status.clone() else {
        return Verdict::unknown("a bounce without a status code");
    };
    let kind = match status.as_bytes()[0] {
        b'5' => Kind::HardBounce,
        b'4' => Kind::SoftBounce,
        _ => Kind::Nothing,
    };
    Verdict {
        kind,
        subject,
        evidence: format!("{status} {}", m.text.chars().take(200).collect::<String>()),
        from: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::read::read;

    const KEY: &str = "olivia@example.com|8x8|w3-letter|2026-11-20";
    const RCPT: &str = "olivia@example.com";

    /// A fixture of `tests/fixtures/inbound/` about a message nurture sent to `RCPT`.
    fn fixture(text: &str) -> Vec<u8> {
        let id = format!("<{}@example.com>", token::seal_delivery("k", KEY, RCPT));
        text.replace("{{MESSAGE_ID}}", &id)
            .replace("{{RCPT}}", RCPT)
            .replace('\n', "\r\n")
            .into_bytes()
    }

    fn verdict(text: &str) -> Verdict {
        let m = read(&fixture(text)).expect("a message");
        classify(
            &m,
            &Matcher {
                secrets: &["k"],
                unsubscribe_mailto: "unsubscribe@example.com",
                return_path: "bounces@example.com",
            },
        )
    }

    fn about_the_delivery(v: &Verdict) -> bool {
        matches!(&v.subject, Subject::Delivery(d) if d.key == KEY && d.address == RCPT)
    }

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../tests/fixtures/inbound/", $name))
        };
    }

    #[test]
    fn hard_bounces_as_postfix_gmail_and_microsoft_365_send_them() {
        for (name, text, status) in [
            ("postfix", fixture!("postfix-hard.eml"), "5.1.1"),
            ("gmail", fixture!("gmail-hard.eml"), "5.1.1"),
            ("m365", fixture!("m365-hard.eml"), "5.1.10"),
            ("qmail", fixture!("qmail-plain.eml"), "5.1.1"),
        ] {
            let v = verdict(text);
            assert_eq!(v.kind, Kind::HardBounce, "{name}: {v:?}");
            assert!(about_the_delivery(&v), "{name}: {v:?}");
            assert!(v.evidence.starts_with(status), "{name}: {}", v.evidence);
        }
    }

    #[test]
    fn a_soft_bounce_a_delay_and_a_report_about_someone_else() {
        let soft = verdict(fixture!("exim-soft.eml"));
        assert_eq!(soft.kind, Kind::SoftBounce, "{soft:?}");
        assert!(soft.evidence.starts_with("4.2.2"), "{}", soft.evidence);
        let delayed = verdict(fixture!("delayed.eml"));
        assert_eq!(delayed.kind, Kind::Nothing, "a delay never counts: {delayed:?}");
        let foreign = verdict(fixture!("foreign-dsn.eml"));
        assert_eq!(
            (foreign.kind, foreign.subject),
            (Kind::Unknown, Subject::Nobody),
            "not our Message-ID"
        );
    }

    #[test]
    fn a_complaint_names_its_feedback_type() {
        let v = verdict(fixture!("arf-complaint.eml"));
        assert_eq!(v.kind, Kind::Complaint, "{v:?}");
        assert!(about_the_delivery(&v));
        assert_eq!(v.evidence, "feedback-type: abuse");
        let not_spam = fixture!("arf-complaint.eml").replace("Feedback-Type: abuse", "Feedback-Type: not-spam");
        assert_eq!(verdict(&not_spam).kind, Kind::Nothing);
    }

    #[test]
    fn replies_keep_the_persons_own_words() {
        let v = verdict(fixture!("reply-gmail.eml"));
        assert_eq!(v.kind, Kind::Reply, "{v:?}");
        assert!(about_the_delivery(&v));
        assert_eq!(v.from.as_deref(), Some(RCPT));
        assert_eq!(
            v.evidence,
            "Hi Sara, thanks for this. Could you call me next week about selling the house? Olivia"
        );
        let ar = verdict(fixture!("reply-outlook-arabic.eml"));
        assert_eq!(ar.kind, Kind::Reply, "{ar:?}");
        assert_eq!(ar.evidence, "شكراً سارة، أرجو الاتصال بي.");
        // The same reply to a message nurture did not send: nothing.
        let other = fixture!("reply-gmail.eml").replace("{{MESSAGE_ID}}", "<CAfoo@mail.example>");
        assert_eq!(verdict(&other).kind, Kind::Unknown);
    }

    #[test]
    fn auto_replies_by_header_and_by_subject_in_english_and_arabic() {
        let v = verdict(fixture!("autoreply-exchange.eml"));
        assert_eq!(v.kind, Kind::AutoReply, "{v:?}");
        assert!(v.evidence.starts_with("Auto-Submitted: auto-replied"), "{}", v.evidence);
        let ar = verdict(fixture!("autoreply-arabic-subject.eml"));
        assert_eq!(ar.kind, Kind::AutoReply, "{ar:?}");
        let plain = fixture!("reply-gmail.eml").replace("Subject: Re: Your market letter", "Subject: Out of Office: back Monday");
        assert_eq!(verdict(&plain).kind, Kind::AutoReply);
    }

    #[test]
    fn a_mailed_opt_out_by_sender_or_by_token() {
        let v = verdict(fixture!("mailto-unsubscribe.eml"));
        assert_eq!((v.kind, v.subject.clone()), (Kind::Unsubscribe, Subject::Sender(RCPT.into())));
        let t = token::sign("k", "c-9", "nine@example.com");
        let tagged = fixture!("mailto-unsubscribe.eml").replace("To: unsubscribe@example.com", &format!("To: Unsubscribe+{t}@Example.com"));
        let v = verdict(&tagged);
        assert_eq!(v.kind, Kind::Unsubscribe);
        assert!(matches!(&v.subject, Subject::Token(u) if u.contact_id == "c-9"), "{v:?}");
    }

    #[test]
    fn a_bounce_that_quotes_nothing_names_its_delivery_by_the_verp_address() {
        let tag = token::verp_tag("k", KEY, RCPT);
        let bare = fixture!("qmail-plain.eml")
            .replace("To: sara@example.com", &format!("To: bounces+{tag}@example.com"))
            .replace("Message-ID: {{MESSAGE_ID}}", "");
        let v = verdict(&bare);
        assert_eq!((v.kind, v.subject.clone()), (Kind::HardBounce, Subject::Tag(tag.clone())), "{v:?}");
        let upper = bare.replace(&tag, &tag.to_uppercase());
        assert_eq!(
            verdict(&upper).subject,
            Subject::Tag(tag),
            "a relay that upper-cases the local part"
        );
        let other = bare.replace("bounces+", "someone+");
        assert_eq!(verdict(&other).kind, Kind::Unknown);
    }

    #[test]
    fn a_strangers_mail_is_about_nobody() {
        // The stranger quotes our Message-ID: classified as a reply; `apply` checks the sender.
        let v = verdict(fixture!("stranger-reply.eml"));
        assert_eq!((v.kind, v.from.as_deref()), (Kind::Reply, Some("stranger@elsewhere.example")));
        let plain = "From: a@b.example\nTo: sara@example.com\nSubject: hello\n\nHi\n";
        assert_eq!(verdict(plain).kind, Kind::Unknown);
    }
}
