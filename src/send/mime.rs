//! MIME: a cleared email becomes the RFC 5322 message nurture sends — RFC 2047 encoded subject
//! and display names, `List-Unsubscribe` + `List-Unsubscribe-Post` (RFC 2369 / 8058), a
//! `Message-ID` sealed from the delivery key (`compliance::token::seal_delivery`) so every copy
//! of one delivery has the same id and returning mail can be matched to it,
//! and a `multipart/alternative` body (text, then HTML).
//!
//! Written in one pass into one string, with lettre's `email-encoding` for the header words:
//! lettre's builder parsed its own addresses back, copied every body twice and cost a tenth of
//! a worker's CPU (BENCHMARKS.md, issue 13). The bytes are lettre's own layout — a unit test
//! builds the same messages with lettre and requires identical output.

use crate::compliance::Cleared;
use crate::render::RenderedEmail;
use email_encoding::headers::writer::EmailWriter;
use lettre::Address;
use lettre::message::Body;
use std::fmt::Write as _;

/// What a message needs besides its rendered content.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    /// Sender display name.
    pub from_name: &'a str,
    /// Sender address.
    pub from_email: &'a str,
    /// `Reply-To` (name, address): the contact's agent.
    pub reply_to: Option<(&'a str, &'a str)>,
    /// Recipient display name (contact's name), if any.
    pub to_name: Option<String>,
    /// The contact's unsubscribe link (empty for an operational message to the team, which
    /// then gets no `List-Unsubscribe` headers).
    pub unsubscribe_url: &'a str,
    /// Optional `mailto:` unsubscribe address.
    pub unsubscribe_mailto: &'a str,
    /// The `Message-ID` local part: the sealed delivery reference
    /// ([`crate::compliance::token::seal_delivery`]).
    pub reference: &'a str,
    /// Non-ASCII bodies may go as 8-bit (`[smtp] eight_bit`).
    pub eight_bit: bool,
    /// Add `X-PM-Metadata-nurture: REFERENCE`, which Postmark echoes in its bounce and
    /// complaint webhooks (`[inbound.postmark]` set).
    pub postmark_metadata: bool,
}

/// A built message: the header block and the body, CRLF line ends, not dot-stuffed.
#[derive(Debug, Clone)]
pub struct Message {
    /// Every header line, each ending with CRLF (folded lines included).
    head: String,
    /// What follows the blank line.
    body: String,
}

impl Message {
    /// The whole message as it is stored or handed to a transport.
    pub fn formatted(&self) -> String {
        let mut out = String::with_capacity(self.head.len() + 2 + self.body.len());
        out.push_str(&self.head);
        out.push_str("\r\n");
        out.push_str(&self.body);
        out
    }

    /// The header block (each line ends with CRLF).
    pub fn head(&self) -> &str {
        &self.head
    }

    /// The body after the blank line.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Puts a header line (already encoded and folded, CRLF-ended) before the others.
    pub fn prepend_header(&mut self, line: &str) {
        self.head.insert_str(0, line);
    }
}

/// The longest line RFC 5322 allows, without its CRLF.
const MAX_LINE: usize = 998;

/// Writes a part's body as it goes on the wire — the text itself with CRLF line ends, `7bit`
/// when it is ASCII, `8bit` when it is not and `eight_bit` allows — when every line fits in
/// [`MAX_LINE`] bytes and it holds no NUL or lone CR. Returns false, having written nothing,
/// when it cannot go so: then [`encoded`] is used. (lettre alone picks quoted-printable for any
/// line over 76 characters, which costs a pass over every message and a third more bytes.)
fn write_plain(out: &mut String, text: &str, eight_bit: bool) -> bool {
    if !(eight_bit || text.is_ascii()) || memchr::memchr(0, text.as_bytes()).is_some() {
        return false;
    }
    let start = out.len();
    let mut from = 0;
    for end in memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len())) {
        let piece = &text[from..end];
        let line = piece.strip_suffix('\r').unwrap_or(piece);
        if line.len() > MAX_LINE || memchr::memchr(b'\r', line.as_bytes()).is_some() {
            out.truncate(start);
            return false;
        }
        out.push_str(line);
        if end < text.len() {
            out.push_str("\r\n");
        }
        from = end + 1;
    }
    true
}

/// A body that cannot go as it is, in lettre's choice of encoding (quoted-printable or
/// base64): the encoding's name and the encoded text.
fn encoded(text: &str) -> (&'static str, String) {
    use lettre::message::header::ContentTransferEncoding as Cte;
    let body = Body::new(text.to_string());
    let name = match body.encoding() {
        Cte::QuotedPrintable => "quoted-printable",
        Cte::Base64 => "base64",
        Cte::EightBit => "8bit",
        Cte::Binary => "binary",
        Cte::SevenBit => "7bit",
    };
    // Quoted-printable and base64 are ASCII.
    (name, String::from_utf8_lossy(&body.into_vec()).into_owned())
}

/// `<reference@sender-domain>`.
pub fn message_id(reference: &str, from_email: &str) -> String {
    let domain = from_email.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    format!("<{reference}@{domain}>")
}

/// Display names lose control characters (no header can be added through a contact field).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// `Name: "Display" <address>\r\n` (the name RFC 2047- or quoted-string-encoded, folded).
fn mailbox_header(out: &mut String, name: &str, display: Option<&str>, address: &Address) {
    out.push_str(name);
    out.push_str(": ");
    {
        let mut w = EmailWriter::new(out, name.len() + 2, 0, false);
        if let Some(display) = display {
            // Writing to a String cannot fail.
            let _ = email_encoding::headers::quoted_string::encode(display, &mut w);
            w.space();
            let _ = w.write_char('<');
        }
        let _ = w.write_str(address.as_ref());
        if display.is_some() {
            let _ = w.write_char('>');
        }
    }
    out.push_str("\r\n");
}

/// `Name: value\r\n`: words of printable ASCII as they are, runs of other words as RFC 2047
/// encoded words, folded before 78 columns where a space allows.
pub fn text_header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    {
        let mut w = EmailWriter::new(out, name.len() + 2, 0, false);
        let mut pending = String::new();
        for word in value.split_inclusive(' ') {
            if word.bytes().all(|b| matches!(b, 1..=9 | 11 | 12 | 14..=127)) {
                encode_words(&mut pending, &mut w);
                let _ = w.folding().write_str(word);
            } else {
                pending.push_str(word);
            }
        }
        encode_words(&mut pending, &mut w);
    }
    out.push_str("\r\n");
}

/// Writes the words gathered in `pending` as encoded words (their trailing spaces as folding
/// spaces) and empties it.
fn encode_words(pending: &mut String, w: &mut EmailWriter<'_>) {
    if pending.is_empty() {
        return;
    }
    let words = pending.trim_end_matches(' ');
    let _ = email_encoding::headers::rfc2047::encode(words, w);
    for _ in 0..pending.len() - words.len() {
        w.space();
    }
    pending.clear();
}

/// `Date:` as RFC 5322 writes it, in UTC.
fn date_value(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// 40 random letters and digits: no body line can contain it.
fn boundary() -> String {
    std::iter::repeat_with(fastrand::alphanumeric).take(40).collect()
}

/// Builds the message. Errors are about addresses (permanent for this recipient).
pub fn build(email: &Cleared<RenderedEmail>, h: &Headers<'_>) -> Result<Message, String> {
    // The wall clock, not the run's (`--now`): the time the message is written.
    build_at(email, h, crate::clock::Clock::System.now(), &boundary())
}

fn build_at(
    email: &Cleared<RenderedEmail>,
    h: &Headers<'_>,
    date: chrono::DateTime<chrono::Utc>,
    boundary: &str,
) -> Result<Message, String> {
    let from: Address = h.from_email.parse().map_err(|e| format!("sender address: {e}"))?;
    let to: Address = email.to().parse().map_err(|e| format!("recipient address: {e}"))?;
    let reply_to = match h.reply_to {
        Some((name, address)) => Some((
            clean(name),
            address.parse::<Address>().map_err(|e| format!("reply-to address: {e}"))?,
        )),
        None => None,
    };
    let m = email.message();
    let mut head = String::with_capacity(1024);
    mailbox_header(&mut head, "From", Some(&clean(h.from_name)), &from);
    if let Some((name, address)) = &reply_to {
        mailbox_header(&mut head, "Reply-To", Some(name), address);
    }
    let to_name = h.to_name.as_deref().map(clean).filter(|n| !n.is_empty());
    mailbox_header(&mut head, "To", to_name.as_deref(), &to);
    text_header(&mut head, "Subject", &clean(&m.subject));
    text_header(&mut head, "Message-ID", &message_id(h.reference, h.from_email));
    if h.postmark_metadata {
        text_header(&mut head, "X-PM-Metadata-nurture", h.reference);
    }
    if !h.unsubscribe_url.is_empty() {
        let mut list_unsubscribe = format!("<{}>", h.unsubscribe_url);
        if !h.unsubscribe_mailto.is_empty() {
            let _ = write!(list_unsubscribe, ", <mailto:{}?subject=unsubscribe>", h.unsubscribe_mailto);
        }
        text_header(&mut head, "List-Unsubscribe", &list_unsubscribe);
        text_header(&mut head, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
    }
    text_header(&mut head, "MIME-Version", "1.0");
    text_header(&mut head, "Date", &date_value(date));
    text_header(
        &mut head,
        "Content-Type",
        &format!("multipart/alternative; boundary=\"{boundary}\""),
    );
    let mut body = String::with_capacity(m.text.len() + m.html.len() + 512);
    for (content_type, text) in [("text/plain; charset=utf-8", &m.text), ("text/html; charset=utf-8", &m.html)] {
        body.push_str("--");
        body.push_str(boundary);
        body.push_str("\r\n");
        text_header(&mut body, "Content-Type", content_type);
        let part_at = body.len();
        text_header(
            &mut body,
            "Content-Transfer-Encoding",
            if text.is_ascii() { "7bit" } else { "8bit" },
        );
        body.push_str("\r\n");
        if !write_plain(&mut body, text, h.eight_bit) {
            body.truncate(part_at);
            let (encoding, encoded) = encoded(text);
            text_header(&mut body, "Content-Transfer-Encoding", encoding);
            body.push_str("\r\n");
            body.push_str(&encoded);
        }
        body.push_str("\r\n");
    }
    body.push_str("--");
    body.push_str(boundary);
    body.push_str("--\r\n");
    Ok(Message { head, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lettre::message::header::{HeaderName, HeaderValue};
    use lettre::message::{Mailbox, MultiPart, SinglePart};

    fn wire(text: &str, eight_bit: bool) -> (&'static str, String) {
        let mut out = String::new();
        if write_plain(&mut out, text, eight_bit) {
            (if text.is_ascii() { "7bit" } else { "8bit" }, out)
        } else {
            assert!(out.is_empty());
            encoded(text)
        }
    }

    #[test]
    fn bodies_go_as_they_are_when_their_lines_fit() {
        let long = "x".repeat(300);
        // ASCII with long lines: 7-bit, CRLF, no quoted-printable soft breaks.
        assert_eq!(
            wire(&format!("{long}\nsecond\r\nthird"), false),
            ("7bit", format!("{long}\r\nsecond\r\nthird"))
        );
        // Non-ASCII: 8-bit when allowed, else quoted-printable.
        let arabic = "مرحبا — أحمد\n";
        assert_eq!(wire(arabic, true), ("8bit", "مرحبا — أحمد\r\n".into()));
        assert!(matches!(wire(arabic, false).0, "quoted-printable" | "base64"));
        // A line over 998 bytes, a lone CR, a NUL: lettre's encoding.
        assert_eq!(wire(&"y".repeat(999), true).0, "quoted-printable");
        assert_eq!(wire(&"z".repeat(998), false).0, "7bit");
        let mut out = String::new();
        assert!(!write_plain(&mut out, "a\rb\n", true) && !write_plain(&mut out, "a\0b\n", true) && out.is_empty());
    }

    /// The same message built by lettre's builder, as nurture built it up to 0.8.2.
    fn by_lettre(email: &Cleared<RenderedEmail>, h: &Headers<'_>, date: chrono::DateTime<chrono::Utc>, boundary: &str) -> String {
        let from = Mailbox::new(Some(clean(h.from_name)), h.from_email.parse().unwrap());
        let to = Mailbox::new(
            h.to_name.as_deref().map(clean).filter(|n| !n.is_empty()),
            email.to().parse().unwrap(),
        );
        let m = email.message();
        let mut builder = lettre::Message::builder().from(from);
        if let Some((name, address)) = h.reply_to {
            builder = builder.reply_to(Mailbox::new(Some(clean(name)), address.parse().unwrap()));
        }
        let mut builder = builder
            .to(to)
            .subject(clean(&m.subject))
            .message_id(Some(message_id(h.reference, h.from_email)));
        if !h.unsubscribe_url.is_empty() {
            let mut list = format!("<{}>", h.unsubscribe_url);
            if !h.unsubscribe_mailto.is_empty() {
                list.push_str(&format!(", <mailto:{}?subject=unsubscribe>", h.unsubscribe_mailto));
            }
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), list))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        let builder = builder.date(date.into());
        // The bodies as the old `body()` made them: pre-encoded when they fit, else lettre's.
        let part = |text: &str, html: bool| {
            use lettre::message::header::ContentTransferEncoding as Cte;
            let mut out = String::new();
            let body = if write_plain(&mut out, text, h.eight_bit) {
                let cte = if text.is_ascii() { Cte::SevenBit } else { Cte::EightBit };
                Body::dangerous_pre_encoded(out.into_bytes(), cte)
            } else {
                Body::new(text.to_string())
            };
            if html { SinglePart::html(body) } else { SinglePart::plain(body) }
        };
        let parts = MultiPart::alternative()
            .boundary(boundary)
            .singlepart(part(&m.text, false))
            .singlepart(part(&m.html, true));
        String::from_utf8(builder.multipart(parts).unwrap().formatted()).unwrap()
    }

    #[test]
    fn messages_are_byte_for_byte_what_lettre_builds() {
        let date = chrono::DateTime::parse_from_rfc3339("2026-11-20T09:05:03Z").unwrap().to_utc();
        let boundary = "Ab3xYz0123456789Ab3xYz0123456789Ab3xYz01";
        let long_subject = "Your market letter for the neighbourhood of Springfield Heights and the streets around it, November";
        // subject, text, HTML, the recipient's name, Reply-To, the mailto unsubscribe, 8-bit.
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<(&'a str, &'a str)>,
            &'a str,
            bool,
        );
        let cases: [Case<'_>; 6] = [
            (
                "Omar, your letter",
                "Dear Omar,\n\nText.\n",
                "<p>Dear Omar,</p>\n",
                Some("Omar Bench"),
                None,
                "",
                false,
            ),
            (
                long_subject,
                "a\n",
                "<p>a</p>",
                Some("Amira \"The\" Haddad"),
                Some(("Sara Agent", "sara@agents.example.com")),
                "unsub@example.com",
                false,
            ),
            (
                "أحمد، رسالتك الشهرية — نوفمبر",
                "عزيزي أحمد\n",
                "<p>عزيزي أحمد</p>\n",
                Some("أحمد الحداد"),
                None,
                "",
                true,
            ),
            (
                "Mixed ASCII and عربي words in one subject line that is long enough to fold",
                "x\n",
                "y",
                Some("Ünïcödé Name"),
                None,
                "",
                false,
            ),
            ("No name", &"long line ".repeat(120), "<p>ok</p>", None, None, "", true),
            (
                "Ctrl\u{7}chars\r\nBcc: x@evil.example",
                "t",
                "h",
                Some("Evil\r\nBcc: y@evil.example"),
                None,
                "",
                true,
            ),
        ];
        for (subject, text, html, to_name, reply_to, mailto, eight_bit) in cases {
            let email = crate::compliance::clear_internal(
                RenderedEmail {
                    subject: subject.into(),
                    html: html.into(),
                    text: text.into(),
                    template: "t".into(),
                },
                "omar@example.com",
            );
            let h = Headers {
                from_name: "Sara Haddad",
                from_email: "sara@example.com",
                reply_to,
                to_name: to_name.map(String::from),
                unsubscribe_url: "https://nurture.example.com/u/xhJKw0yczgYLME_tBwfdS5kpXi0djQUhEuGehL4Jr7BCBuWYaj",
                unsubscribe_mailto: mailto,
                reference: "m1.c1-8x8-welcome",
                eight_bit,
                postmark_metadata: false,
            };
            // lettre puts a Date it is given before MIME-Version, the one it makes after it
            // (where ours goes): compared without it.
            let without_date = |m: &str| m.replace("Date: Fri, 20 Nov 2026 09:05:03 +0000\r\n", "");
            let ours = build_at(&email, &h, date, boundary).unwrap().formatted();
            assert!(
                ours.contains("\r\nMIME-Version: 1.0\r\nDate: Fri, 20 Nov 2026 09:05:03 +0000\r\n"),
                "{ours}"
            );
            assert_eq!(
                without_date(&ours),
                without_date(&by_lettre(&email, &h, date, boundary)),
                "subject {subject:?}"
            );
        }
    }
}
