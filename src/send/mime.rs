//! MIME: a cleared email becomes an RFC 5322 message with lettre — RFC 2047 encoded subject
//! and display names, `List-Unsubscribe` + `List-Unsubscribe-Post` (RFC 2369 / 8058), and a
//! `Message-ID` derived from the delivery key so every copy of one delivery has the same id.

use crate::compliance::Cleared;
use crate::render::RenderedEmail;
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
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
}

/// `<hash-of-key@sender-domain>`.
pub fn message_id(delivery_key: &str, from_email: &str) -> String {
    let digest = Sha256::digest(delivery_key.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
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
    let from = Mailbox::new(
        Some(clean(h.from_name)),
        h.from_email.parse().map_err(|e| format!("sender address: {e}"))?,
    );
    let to = Mailbox::new(
        h.to_name.as_deref().map(clean).filter(|n| !n.is_empty()),
        email.to().parse().map_err(|e| format!("recipient address: {e}"))?,
    );
    let mut list_unsubscribe = format!("<{}>", h.unsubscribe_url);
    if !h.unsubscribe_mailto.is_empty() {
        list_unsubscribe.push_str(&format!(", <mailto:{}?subject=unsubscribe>", h.unsubscribe_mailto));
    }
    let m = email.message();
    let mut builder = Message::builder().from(from);
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
    builder
        .multipart(MultiPart::alternative_plain_html(m.text.clone(), m.html.clone()))
        .map_err(|e| format!("building the message: {e}"))
}
