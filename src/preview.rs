//! One message rendered exactly as it would be sent — same context, same locale variant, same
//! compliance check, same MIME headers as a delivery — for a stored contact or a sample one.
//! Serves `nurture preview`, `nurture send-test` and the `/preview` pages of `nurture serve`.
//! Sequencing only: the [`compose`] path, then what a page or a terminal shows of it.

use crate::compose::{self, ComposeError, Recipient};
use crate::contacts::Contact;
use crate::render::segments::{self, Segments};
use crate::render::{Kind, RenderedEmail, RenderedSms};
use crate::workspace::Workspace;
use chrono::NaiveDate;

/// A rendered message, ready to show.
#[derive(Debug, Clone)]
pub enum Preview {
    /// An email.
    Email(EmailPreview),
    /// An SMS.
    Sms(SmsPreview),
}

/// An email as it would be sent.
#[derive(Debug, Clone)]
pub struct EmailPreview {
    /// The RFC 5322 message, CRLF line ends.
    pub eml: String,
    /// Its header fields, unfolded, in order (`Subject` still RFC 2047 encoded).
    pub headers: Vec<(String, String)>,
    /// The rendered parts (decoded subject, HTML, text) and the template variant used.
    pub message: RenderedEmail,
}

/// An SMS as it would be sent.
#[derive(Debug, Clone)]
pub struct SmsPreview {
    /// The contact's number, if any.
    pub to: Option<String>,
    /// The rendered body and the template variant used.
    pub message: RenderedSms,
    /// Encoding, units and number of parts.
    pub segments: Segments,
    /// The body cut where the network cuts it.
    pub parts: Vec<String>,
    /// Why this contact would not get it (no SMS consent recorded), if so.
    pub not_sent: Option<String>,
}

/// Why a preview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// No `NAME.email.hbs` or `NAME.sms.hbs`.
    #[error("no template {0}.email.hbs or {0}.sms.hbs")]
    NotFound(String),
    /// Rendering, the compliance check or the MIME message failed.
    #[error(transparent)]
    Compose(#[from] ComposeError),
}

/// The plan and touch that use `template` first (for `{{plan.*}}` and `{{touch.id}}`), else
/// `("preview", "preview")`.
pub fn plan_and_touch(ws: &Workspace, template: &str) -> (String, String) {
    ws.plans
        .values()
        .flat_map(|p| p.touches.iter().map(move |t| (p, t)))
        .find(|(_, t)| t.template.as_deref() == Some(template))
        .map(|(p, t)| (p.id.clone(), t.id.clone()))
        .unwrap_or_else(|| ("preview".into(), "preview".into()))
}

/// Renders `template` for `contact` on `today` exactly as a delivery would (the one
/// [`compose`] path; the suppression list aside).
pub fn render(ws: &Workspace, contact: &Contact, template: &str, today: NaiveDate) -> Result<Preview, PreviewError> {
    let (plan, touch) = plan_and_touch(ws, template);
    let key = format!("{}|{plan}|{touch}|{today}", contact.id);
    let at = compose::Occasion {
        plan: &plan,
        touch: &touch,
        date: today,
        key: &key,
    };
    match compose::kind_of(ws, template) {
        Some(Kind::Email) => {
            let email = compose::email(ws, contact, template, &at, Recipient::Preview)?;
            let eml = email.message.formatted();
            Ok(Preview::Email(EmailPreview {
                headers: header_fields(&eml),
                eml,
                message: email.content.message().clone(),
            }))
        }
        Some(Kind::Sms) => {
            let sms = compose::sms(ws, contact, template, &at, Recipient::Preview)?;
            let message = sms.message().clone();
            Ok(Preview::Sms(SmsPreview {
                to: Some(sms.to().to_string()).filter(|t| !t.is_empty()),
                segments: segments::count(&message.body),
                parts: segments::split(&message.body),
                not_sent: (ws.config.sms.require_consent && contact.get("sms_consent").is_none())
                    .then(|| "this contact has no SMS consent recorded (`sms_consent`): nurture would not send this text".to_string()),
                message,
            }))
        }
        _ => Err(PreviewError::NotFound(template.to_string())),
    }
}

/// The header fields of a message, unfolded.
fn header_fields(eml: &str) -> Vec<(String, String)> {
    let head = eml.split("\r\n\r\n").next().unwrap_or("");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.to_string(), v.trim().to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::header_fields;

    #[test]
    fn header_fields_are_unfolded() {
        let eml = "From: a@b.c\r\nSubject: =?utf-8?b?2YXYsdit2KjYpw==?=\r\n =?utf-8?b?2YXYsdit2KjYpw==?=\r\n\r\nbody: no";
        let h = header_fields(eml);
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].1, "=?utf-8?b?2YXYsdit2KjYpw==?= =?utf-8?b?2YXYsdit2KjYpw==?=");
    }
}
