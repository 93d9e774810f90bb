//! Reads one raw returning message (RFC 5322, as a mailbox or a relay hands it over) into a
//! [`Returned`]: who sent it and to whom, the ids it answers, its auto-reply signals, and the
//! machine-readable report it carries — a DSN (RFC 3464 `message/delivery-status`) or an ARF
//! complaint (RFC 5965 `message/feedback-report`) with the original message's headers. The
//! MIME work is mail-parser's; this module only picks the fields.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// A returning message, reduced to what classification needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Returned {
    /// Its own `Message-ID` (without `<>`), if it has one.
    pub message_id: Option<String>,
    /// The `From` address, lower-cased.
    pub from: Option<String>,
    /// Where it was sent: `To`, `Cc`, `Delivered-To`, `X-Original-To`, `Envelope-To` (as
    /// written: a `+TOKEN` in an address is case-sensitive).
    pub recipients: Vec<String>,
    /// The subject.
    pub subject: String,
    /// The ids of `In-Reply-To` and `References` (without `<>`).
    pub answers: Vec<String>,
    /// The header that marks it automatic (`Auto-Submitted: auto-replied`, ...), if any.
    pub auto_header: Option<String>,
    /// True when it came from a mail system rather than a person: an empty `Return-Path`, or a
    /// `From` of `mailer-daemon` / `postmaster`.
    pub from_mail_system: bool,
    /// The DSN or ARF report it carries.
    pub report: Option<Report>,
    /// `Message-ID`s of the original message quoted in it (attached message, attached headers,
    /// or `Message-ID:` lines of a plain-text bounce), without `<>`.
    pub quoted_ids: Vec<String>,
    /// The human text, trimmed: the first lines, quoted lines and signatures left out.
    pub text: String,
    /// The whole first text part (cut at [`BODY_CHARS`]): what a forwarded reply carries.
    pub body: String,
    /// The status code found in the text of a bounce that has no DSN part.
    pub plain_status: Option<String>,
    /// Size in bytes.
    pub size: usize,
}

/// A machine-readable report.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A delivery status notification: one entry per recipient.
    Dsn(Vec<DsnRecipient>),
    /// An abuse report (ARF).
    Feedback {
        /// `Feedback-Type` (`abuse`, `fraud`, `not-spam`, ...), lower-cased.
        feedback_type: String,
        /// `Original-Rcpt-To`, if given.
        original_rcpt: Option<String>,
    },
}

/// One recipient's block of a DSN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DsnRecipient {
    /// `Final-Recipient` address, lower-cased.
    pub final_recipient: Option<String>,
    /// `Original-Recipient` address, lower-cased.
    pub original_recipient: Option<String>,
    /// `Action` (`failed`, `delayed`, `delivered`, `relayed`, `expanded`), lower-cased.
    pub action: String,
    /// `Status` (`5.1.1`); from the diagnostic's code when the field is missing.
    pub status: String,
    /// `Diagnostic-Code`, unfolded.
    pub diagnostic: String,
}

/// How much of a reply's text is kept as evidence.
const TEXT_CHARS: usize = 300;
/// How much of a reply's text is forwarded.
pub const BODY_CHARS: usize = 20_000;

/// Reads `raw`; `None` when it has no header at all (not a message).
pub fn read(raw: &[u8]) -> Option<Returned> {
    let message = MessageParser::default().parse(raw)?;
    if message.headers().is_empty() {
        return None;
    }
    let mut out = Returned {
        message_id: message.message_id().map(bare_id),
        from: message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_lowercase),
        subject: message.subject().unwrap_or_default().trim().to_string(),
        size: raw.len(),
        ..Default::default()
    };
    for address in message.all_to().chain(message.all_cc()).flat_map(|a| a.iter()) {
        if let Some(a) = address.address() {
            out.recipients.push(a.to_string());
        }
    }
    for name in ["Delivered-To", "X-Original-To", "Envelope-To"] {
        for (header, value) in message.headers_raw() {
            if header.eq_ignore_ascii_case(name) {
                out.recipients.push(value.trim().trim_matches(['<', '>']).to_string());
            }
        }
    }
    for name in ["In-Reply-To", "References"] {
        if let Some(value) = message.header_raw(name) {
            out.answers.extend(angle_ids(value));
        }
    }
    out.auto_header = auto_header(&message);
    let return_path = message.header_raw("Return-Path").map(str::trim);
    let system_sender = out.from.as_deref().is_some_and(|f| {
        let local = f.split('@').next().unwrap_or_default();
        local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster")
    });
    out.from_mail_system = return_path == Some("<>") || system_sender;
    read_parts(&message, &mut out);
    out.text = first_lines(&message);
    out.body = body_text(&message).chars().take(BODY_CHARS).collect();
    if out.report.is_none() && out.from_mail_system {
        // A plain-text bounce (old Exim, qmail): the original headers are pasted into the text.
        for part in message.text_bodies() {
            if let Some(text) = part.text_contents() {
                out.quoted_ids.extend(message_id_lines(text));
                if out.plain_status.is_none() {
                    out.plain_status = status_in(text);
                }
            }
        }
    }
    out.quoted_ids.dedup();
    Some(out)
}

/// The report parts and the original message's ids.
fn read_parts(message: &Message<'_>, out: &mut Returned) {
    for part in &message.parts {
        let Some(ct) = part.content_type() else { continue };
        let ctype = ct.ctype().to_ascii_lowercase();
        let subtype = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        match (ctype.as_str(), subtype.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                let text = String::from_utf8_lossy(part.contents());
                out.report = Some(Report::Dsn(dsn_recipients(&text)));
            }
            ("message", "feedback-report") => {
                let text = String::from_utf8_lossy(part.contents());
                let fields = fields(&text);
                let get = |name: &str| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
                out.report = Some(Report::Feedback {
                    feedback_type: get("Feedback-Type").unwrap_or_default().to_lowercase(),
                    original_rcpt: get("Original-Rcpt-To").map(|v| address_of(&v)),
                });
            }
            ("message", "rfc822" | "global") => {
                if let PartType::Message(original) = &part.body
                    && let Some(id) = original.message_id()
                {
                    out.quoted_ids.push(bare_id(id));
                }
            }
            ("text", "rfc822-headers") | ("message", "rfc822-headers" | "global-headers") => {
                let text = String::from_utf8_lossy(part.contents());
                out.quoted_ids.extend(message_id_lines(&text));
            }
            _ => {}
        }
    }
}

/// `Name: value` fields of a header-like block, continuation lines unfolded.
fn fields(block: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// The per-recipient blocks of a `message/delivery-status` body (the first block is the
/// per-message one; blocks are separated by blank lines).
fn dsn_recipients(body: &str) -> Vec<DsnRecipient> {
    let normalized = body.replace("\r\n", "\n");
    let mut out = Vec::new();
    for block in normalized.split("\n\n") {
        let mut r = DsnRecipient::default();
        let mut is_recipient = false;
        for (k, v) in fields(block) {
            match k.to_ascii_lowercase().as_str() {
                "final-recipient" => {
                    is_recipient = true;
                    r.final_recipient = Some(address_of(&v));
                }
                "original-recipient" => r.original_recipient = Some(address_of(&v)),
                "action" => r.action = v.to_ascii_lowercase(),
                "status" => r.status = v.split_whitespace().next().unwrap_or_default().to_string(),
                "diagnostic-code" => r.diagnostic = v,
                _ => {}
            }
        }
        if is_recipient {
            if r.status.is_empty() {
                r.status = status_in(&r.diagnostic).unwrap_or_default();
            }
            out.push(r);
        }
    }
    out
}

/// `rfc822; Ann@Example.com` → `ann@example.com`.
fn address_of(value: &str) -> String {
    let v = value.split_once(';').map_or(value, |(_, a)| a);
    v.trim().trim_matches(['<', '>']).to_lowercase()
}

/// The enhanced status code (`5.1.1`) in a text, else one made from a basic SMTP code
/// (`550` → `5.0.0`).
pub fn status_in(text: &str) -> Option<String> {
    let words = || text.split(|c: char| c.is_whitespace() || matches!(c, ';' | ',' | '(' | ')' | '[' | ']' | '#'));
    let enhanced = words().find(|w| {
        let parts: Vec<&str> = w.trim_end_matches(['.', ':']).split('.').collect();
        parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts[1..]
                .iter()
                .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    });
    if let Some(code) = enhanced {
        return Some(code.trim_end_matches(['.', ':']).to_string());
    }
    words()
        .find(|w| w.len() == 3 && matches!(w.as_bytes()[0], b'4' | b'5') && w.bytes().all(|b| b.is_ascii_digit()))
        .map(|w| format!("{}.0.0", &w[..1]))
}

/// `<a@b> <c@d>` → `["a@b", "c@d"]`.
fn angle_ids(value: &str) -> Vec<String> {
    value
        .split('<')
        .skip(1)
        .filter_map(|piece| piece.split_once('>').map(|(id, _)| id.trim().to_string()))
        .filter(|id| !id.is_empty())
        .collect()
}

fn bare_id(id: &str) -> String {
    id.trim().trim_start_matches('<').trim_end_matches('>').to_string()
}

/// The ids of `Message-ID:` lines in a pasted header block or a plain-text bounce.
fn message_id_lines(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start_matches(['>', ' ', '\t']);
        if let Some((name, value)) = trimmed.split_once(':')
            && name.trim().eq_ignore_ascii_case("message-id")
        {
            // The id may be folded onto the next line.
            let joined = match lines.get(i + 1) {
                Some(next) if !value.contains('>') => format!("{value}{}", next.trim()),
                _ => value.to_string(),
            };
            out.extend(angle_ids(&joined));
        }
    }
    out
}

/// The header that marks the message automatic (RFC 3834 and the usual vendor headers).
fn auto_header(message: &Message<'_>) -> Option<String> {
    let raw = |name: &str| message.header_raw(name).map(|v| v.trim().to_string());
    if let Some(v) = raw("Auto-Submitted")
        && !v.eq_ignore_ascii_case("no")
    {
        return Some(format!("Auto-Submitted: {v}"));
    }
    for name in ["X-Autoreply", "X-Autorespond", "X-Autoresponder"] {
        if let Some(v) = raw(name) {
            return Some(format!("{name}: {v}"));
        }
    }
    for name in ["Precedence", "X-Precedence"] {
        if let Some(v) = raw(name)
            && v.eq_ignore_ascii_case("auto_reply")
        {
            return Some(format!("{name}: {v}"));
        }
    }
    None
}

/// The first text part, else the first HTML part as text.
fn body_text(message: &Message<'_>) -> String {
    message
        .body_text(0)
        .map(|t| t.into_owned())
        .or_else(|| message.body_html(0).map(|h| crate::render::helpers::html_to_text(&h)))
        .unwrap_or_default()
}

/// The person's own words: the first text part without quoted lines, the quote header
/// ("On ... wrote:") and what follows it, cut at [`TEXT_CHARS`].
fn first_lines(message: &Message<'_>) -> String {
    let text = body_text(message);
    let mut kept = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        let quote_header = (t.starts_with("On ") && t.ends_with("wrote:"))
            || t.starts_with("-----Original Message-----")
            || t.starts_with("________________________________")
            || t == "--"
            || t.starts_with("From: ");
        if quote_header {
            break;
        }
        if t.starts_with('>') || t.is_empty() {
            continue;
        }
        kept.push(t);
    }
    let joined = kept.join(" ");
    match joined.char_indices().nth(TEXT_CHARS) {
        Some((at, _)) => format!("{}…", &joined[..at]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_from_text() {
        assert_eq!(
            status_in("smtp; 550 5.1.1 <a@b>: Recipient address rejected").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(status_in("smtp; 452 4.2.2 Mailbox full").as_deref(), Some("4.2.2"));
        assert_eq!(status_in("550 No such user").as_deref(), Some("5.0.0"));
        assert_eq!(status_in("Remote host said: 554 5.7.1 [BL21] blocked.").as_deref(), Some("5.7.1"));
        assert_eq!(status_in("version 1.2.3 of the policy"), None);
        assert_eq!(status_in("nothing here"), None);
    }

    #[test]
    fn dsn_blocks_unfold_and_name_each_recipient() {
        let body = "Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; Ann@Example.com\r\nOriginal-Recipient: rfc822;ann@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user\r\n  unknown\r\n\r\nFinal-Recipient: rfc822; bob@example.com\r\nAction: delayed\r\nDiagnostic-Code: smtp; 451 greylisted\r\n";
        let r = dsn_recipients(body);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].final_recipient.as_deref(), Some("ann@example.com"));
        assert_eq!((r[0].action.as_str(), r[0].status.as_str()), ("failed", "5.1.1"));
        assert_eq!(r[0].diagnostic, "smtp; 550 5.1.1 user unknown");
        assert_eq!((r[1].action.as_str(), r[1].status.as_str()), ("delayed", "4.0.0"));
    }

    #[test]
    fn ids_in_angle_brackets_and_pasted_headers() {
        assert_eq!(angle_ids(" <a@b>\r\n <c@d> "), vec!["a@b", "c@d"]);
        let pasted = "------ This is a copy of the message's headers ------\nTo: x@y\nMessage-ID:\n <m1.abc@example.com>\nSubject: hi\n> Message-Id: <q@x>\n";
        assert_eq!(message_id_lines(pasted), vec!["m1.abc@example.com", "q@x"]);
    }
}
