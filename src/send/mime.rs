//! MIME: a cleared email becomes an RFC 5322 message with lettre — RFC 2047 encoded subject
//! and display names, `List-Unsubscribe` + `List-Unsubscribe-Post` (RFC 2369 / 8058), and a
//! `Message-ID` derived from the delivery key so every copy of one delivery has the same id.

use crate::compliance::Cleared;
use crate::render::RenderedEmail;
use lettre::Message;
use lettre::address::{Address, Envelope};
use lettre::message::header::ContentTransferEncoding;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

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
    /// Delivery key (contact, plan, touch, occurrence).
    pub delivery_key: &'a str,
    /// Non-ASCII bodies may go as 8-bit (`[smtp] eight_bit`).
    pub eight_bit: bool,
}

/// The longest line RFC 5322 allows, without its CRLF.
const MAX_LINE: usize = 998;

/// A part's body as it goes on the wire: the text itself with CRLF line ends — 7-bit when it
/// is ASCII, 8-bit when it is not and `eight_bit` allows — whenever every line fits in
/// [`MAX_LINE`] bytes and it holds no NUL or lone CR; else lettre's choice (quoted-printable
/// or base64). (lettre alone picks quoted-printable for any line over 76 characters, which
/// costs a pass over every message and a third more bytes.)
fn body(text: &str, eight_bit: bool) -> Body {
    let ascii = text.is_ascii();
    if (ascii || eight_bit) && !text.contains('\0') {
        let mut out = Vec::with_capacity(text.len() + text.len() / 32 + 2);
        let mut fits = true;
        for piece in text.split_inclusive('\n') {
            let (line, ended) = match piece.strip_suffix('\n') {
                Some(l) => (l.strip_suffix('\r').unwrap_or(l), true),
                None => (piece, false),
            };
            if line.len() > MAX_LINE || line.contains('\r') {
                fits = false;
                break;
            }
            out.extend_from_slice(line.as_bytes());
            if ended {
                out.extend_from_slice(b"\r\n");
            }
        }
        if fits {
            let encoding = if ascii {
                ContentTransferEncoding::SevenBit
            } else {
                ContentTransferEncoding::EightBit
            };
            return Body::dangerous_pre_encoded(out, encoding);
        }
    }
    Body::new(text.to_string())
}

/// `<hash-of-key@sender-domain>`.
pub fn message_id(delivery_key: &str, from_email: &str) -> String {
    let digest = Sha256::digest(delivery_key.as_bytes());
    let hex = hex::encode(&digest[..16]);
    let domain = from_email.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    format!("<{hex}@{domain}>")
}

/// Display names lose control characters (no header can be added through a contact field).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Builds the message. Errors are about addresses (permanent for this recipient).
pub fn build(email: &Cleared<RenderedEmail>, h: &Headers<'_>) -> Result<Message, String> {
    let from_address: Address = h.from_email.parse().map_err(|e| format!("sender address: {e}"))?;
    let to_address: Address = email.to().parse().map_err(|e| format!("recipient address: {e}"))?;
    // Given, not derived: lettre would parse the From and To headers back for it.
    let envelope = Envelope::new(Some(from_address.clone()), vec![to_address.clone()]).map_err(|e| format!("envelope: {e}"))?;
    let from = Mailbox::new(Some(clean(h.from_name)), from_address);
    let to = Mailbox::new(h.to_name.as_deref().map(clean).filter(|n| !n.is_empty()), to_address);
    let mut list_unsubscribe = format!("<{}>", h.unsubscribe_url);
    if !h.unsubscribe_mailto.is_empty() {
        list_unsubscribe.push_str(&format!(", <mailto:{}?subject=unsubscribe>", h.unsubscribe_mailto));
    }
    let m = email.message();
    let mut builder = Message::builder().from(from).envelope(envelope);
    if let Some((name, address)) = h.reply_to {
        let address = address.parse().map_err(|e| format!("reply-to address: {e}"))?;
        builder = builder.reply_to(Mailbox::new(Some(clean(name)), address));
    }
    let mut builder = builder
        .to(to)
        .subject(clean(&m.subject))
        .message_id(Some(message_id(h.delivery_key, h.from_email)));
    if !h.unsubscribe_url.is_empty() {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                list_unsubscribe,
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    let parts = MultiPart::alternative()
        .singlepart(SinglePart::plain(body(&m.text, h.eight_bit)))
        .singlepart(SinglePart::html(body(&m.html, h.eight_bit)));
    builder.multipart(parts).map_err(|e| format!("building the message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(text: &str, eight_bit: bool) -> (ContentTransferEncoding, String) {
        let b = body(text, eight_bit);
        (b.encoding(), String::from_utf8_lossy(&b.into_vec()).into_owned())
    }

    #[test]
    fn bodies_go_as_they_are_when_their_lines_fit() {
        let long = "x".repeat(300);
        // ASCII with long lines: 7-bit, CRLF, no quoted-printable soft breaks.
        let (enc, out) = wire(&format!("{long}\nsecond\r\nthird"), false);
        assert_eq!(enc, ContentTransferEncoding::SevenBit);
        assert_eq!(out, format!("{long}\r\nsecond\r\nthird"));
        // Non-ASCII: 8-bit when allowed, else quoted-printable.
        let arabic = "مرحبا — أحمد\n";
        assert_eq!(wire(arabic, true), (ContentTransferEncoding::EightBit, "مرحبا — أحمد\r\n".into()));
        assert!(matches!(
            wire(arabic, false).0,
            ContentTransferEncoding::QuotedPrintable | ContentTransferEncoding::Base64
        ));
        // A line over 998 bytes: lettre's encoding.
        assert_eq!(wire(&"y".repeat(999), true).0, ContentTransferEncoding::QuotedPrintable);
        assert_eq!(wire(&"z".repeat(998), false).0, ContentTransferEncoding::SevenBit);
    }
}
