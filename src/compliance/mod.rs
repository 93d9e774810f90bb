//! Compliance: signed unsubscribe tokens ([`token`]) and the send-time check that turns a
//! rendered message into a [`Cleared`] one. `send` accepts nothing else, so a suppressed or
//! non-compliant message cannot reach a transport.

pub mod erasure;
pub mod sms;
pub mod token;

use crate::render::{RenderedEmail, RenderedSms, escape_html};

/// Why a message was not cleared for sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The address or number is on the suppression list.
    #[error("suppressed")]
    Suppressed,
    /// The contact has no address for this channel.
    #[error("no {0} for this contact")]
    NoAddress(&'static str),
    /// The rendered message lacks a required element.
    #[error("not compliant: {0}")]
    NotCompliant(String),
}

/// A message that passed the send-time check. Only this module can make one.
#[derive(Debug, Clone)]
pub struct Cleared<T> {
    message: T,
    to: String,
}

impl<T> Cleared<T> {
    /// The message.
    pub fn message(&self) -> &T {
        &self.message
    }
    /// The recipient address or number (normalized).
    pub fn to(&self) -> &str {
        &self.to
    }
}

/// Checks a rendered email: recipient known and not suppressed, unsubscribe link and postal
/// address present in both the HTML and the text part.
pub fn check_email(
    email: RenderedEmail,
    to: Option<&str>,
    suppressed: bool,
    unsubscribe_url: &str,
    postal_address: &str,
) -> Result<Cleared<RenderedEmail>, Refusal> {
    let to = to.ok_or(Refusal::NoAddress("email"))?;
    if suppressed {
        return Err(Refusal::Suppressed);
    }
    if let Some(problem) = email_problems(&email, unsubscribe_url, postal_address).first() {
        return Err(Refusal::NotCompliant(format!("{}: {problem}", email.template)));
    }
    Ok(Cleared {
        message: email,
        to: to.to_string(),
    })
}

/// What a rendered email lacks (empty when compliant): the unsubscribe link in both parts, the
/// sender's postal address in both parts. `lint` reports them all; the send-time check refuses
/// on the first.
pub fn email_problems(email: &RenderedEmail, unsubscribe_url: &str, postal_address: &str) -> Vec<&'static str> {
    let mut problems = Vec::new();
    let html_has_link = contains(&email.html, unsubscribe_url) || contains(&email.html, &escape_html(unsubscribe_url));
    if !html_has_link || !contains(&email.text, unsubscribe_url) {
        problems.push("the email must render {{unsubscribe_url}} in the HTML and the text part");
    }
    let html_has_address = mentions(&email.html, postal_address) || mentions(&email.html, &escape_html(postal_address));
    if !html_has_address || !mentions(&email.text, postal_address) {
        problems.push("the email must render {{sender.postal_address}} (CAN-SPAM)");
    }
    problems
}

/// What a rendered SMS lacks: the configured opt-out instructions.
pub fn sms_problem(body: &str, opt_out_text: &str) -> Option<String> {
    (!body.contains(opt_out_text)).then(|| format!("the SMS must contain the opt-out text {opt_out_text:?} ([sms] opt_out_text)"))
}

/// Clears a test message for the operator's own address (`nurture send-test`): the content
/// checks apply, the suppression list does not (the recipient is not a contact).
pub fn check_test_email(
    email: RenderedEmail,
    to: &str,
    unsubscribe_url: &str,
    postal_address: &str,
) -> Result<Cleared<RenderedEmail>, Refusal> {
    check_email(email, Some(to), false, unsubscribe_url, postal_address)
}

/// Clears an operational message to the sender's own team (an agent's daily agenda): not a
/// commercial message, so it carries no unsubscribe link; it never goes to a contact.
pub fn clear_internal(email: RenderedEmail, to: &str) -> Cleared<RenderedEmail> {
    Cleared {
        message: email,
        to: to.to_string(),
    }
}

/// Free-mail domains whose DMARC policy makes them unusable as a bulk From address.
pub const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "aol.com",
    "icloud.com",
    "me.com",
];

/// True for a subject that pretends to be a reply or a forward.
pub fn is_reply_subject(subject: &str) -> bool {
    let s = subject.trim_start().to_ascii_lowercase();
    ["re:", "re :", "fwd:", "fw:", "fwd :", "fw :"].iter().any(|p| s.starts_with(p))
}

/// Checks a rendered SMS: number known and not suppressed, opt-out instructions present.
pub fn check_sms(sms: RenderedSms, to: Option<&str>, suppressed: bool, opt_out_text: &str) -> Result<Cleared<RenderedSms>, Refusal> {
    let to = to.ok_or(Refusal::NoAddress("phone"))?;
    if suppressed {
        return Err(Refusal::Suppressed);
    }
    if sms.body.trim().is_empty() {
        return Err(Refusal::NotCompliant(format!("{}: empty SMS", sms.template)));
    }
    if let Some(problem) = sms_problem(&sms.body, opt_out_text) {
        return Err(Refusal::NotCompliant(format!("{}: {problem}", sms.template)));
    }
    Ok(Cleared {
        message: sms,
        to: to.to_string(),
    })
}

/// `haystack.contains(needle)` with memchr's vectorized search (the send-time check looks
/// through both parts of every message four times).
fn contains(haystack: &str, needle: &str) -> bool {
    memchr::memmem::find(haystack.as_bytes(), needle.as_bytes()).is_some()
}

/// True if `needle` occurs in `haystack` once runs of whitespace (line wrapping) are ignored:
/// its words in order, separated in `haystack` by any whitespace (the first may end a longer
/// word, the last may begin one). Searched in place — the wrapped text part of every message
/// goes through it.
pub fn mentions(haystack: &str, needle: &str) -> bool {
    if contains(haystack, needle) {
        return true;
    }
    let words: Vec<&str> = needle.split_whitespace().collect();
    let Some((first, rest)) = words.split_first() else {
        return true;
    };
    memchr::memmem::find_iter(haystack.as_bytes(), first.as_bytes()).any(|at| {
        let mut tail = &haystack[at + first.len()..];
        rest.iter().all(|word| {
            let next = tail.trim_start();
            let found = next.len() < tail.len() && next.starts_with(word);
            tail = next.get(word.len()..).unwrap_or("");
            found
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(html: &str, text: &str) -> RenderedEmail {
        RenderedEmail {
            subject: "s".into(),
            html: html.into(),
            text: text.into(),
            template: "t".into(),
        }
    }

    #[test]
    fn mentions_ignores_line_wrapping_as_squashing_both_would() {
        let squashed = |h: &str, n: &str| {
            let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            squash(h).contains(&squash(n))
        };
        let text = "Sara Haddad, 12 Main\n  St, Springfield,\tIL 62701.\nXSara Haddad, 12 Main St";
        let needles = [
            "12 Main St, Springfield, IL 62701",
            "Haddad, 12 Main St, Springfield, IL",
            "Sara Haddad, 12 Main St, Springfield, IL 62701.",
            "ara Haddad",
            "Main St, Spring",
            "Main St,Springfield",
            "12 Main St, Springfield, IL 62702",
            "Main  St",
            "St, Springfield, IL 62701. XSara",
            "",
            "   ",
            "Haddad, 12 Mai St",
        ];
        for needle in needles {
            assert_eq!(mentions(text, needle), squashed(text, needle), "{needle:?}");
        }
    }

    #[test]
    fn suppressed_is_refused() {
        let e = email("<a href=\"http://u/1\">u</a> 1 Main", "http://u/1 1 Main");
        assert_eq!(
            check_email(e.clone(), Some("a@b.c"), true, "http://u/1", "1 Main").unwrap_err(),
            Refusal::Suppressed
        );
        assert!(check_email(e, Some("a@b.c"), false, "http://u/1", "1 Main").is_ok());
    }

    #[test]
    fn reply_subjects_and_sms_opt_out() {
        assert!(is_reply_subject("RE: your home") && is_reply_subject("  Fwd: x") && is_reply_subject("fw: x"));
        assert!(!is_reply_subject("Results are in") && !is_reply_subject("Refinance tips"));
        let sms = |b: &str| RenderedSms {
            body: b.into(),
            template: "t".into(),
        };
        assert!(check_sms(sms("Hi. Reply STOP to opt out"), Some("+1"), false, "Reply STOP to opt out").is_ok());
        assert!(matches!(
            check_sms(sms("Hi."), Some("+1"), false, "Reply STOP to opt out"),
            Err(Refusal::NotCompliant(_))
        ));
    }

    #[test]
    fn missing_link_or_address_is_refused() {
        let e = email("<p>1 Main</p>", "1 Main");
        assert!(matches!(
            check_email(e, Some("a@b.c"), false, "http://u/1", "1 Main"),
            Err(Refusal::NotCompliant(_))
        ));
        let e = email("<a href=\"http://u/1\">u</a>", "http://u/1");
        assert!(matches!(
            check_email(e, Some("a@b.c"), false, "http://u/1", "1 Main"),
            Err(Refusal::NotCompliant(_))
        ));
    }
}
