//! One message rendered exactly as it would be sent — same context, same locale variant, same
//! compliance check, same MIME headers as a delivery — for a stored contact or a sample one.
//! Serves `nurture preview`, `nurture send-test` and the `/preview` pages of `nurture serve`.
//! Sequencing only: render → compliance → MIME.

use crate::compliance::{self, Cleared, Refusal};
use crate::contacts::Contact;
use crate::render::segments::{self, Segments};
use crate::render::{Kind, RenderError, RenderedEmail, RenderedSms};
use crate::send::mime;
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
}

/// Why a preview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// No `NAME.email.hbs` or `NAME.sms.hbs`.
    #[error("no template {0}.email.hbs or {0}.sms.hbs")]
    NotFound(String),
    /// Rendering failed (missing variable, helper error...).
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The send-time compliance check refused the message.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The MIME message could not be built (bad address).
    #[error("{0}")]
    Mime(String),
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

/// Renders `template` for `contact` on `today` exactly as a delivery would.
pub fn render(ws: &Workspace, contact: &Contact, template: &str, today: NaiveDate) -> Result<Preview, PreviewError> {
    let (plan, touch) = plan_and_touch(ws, template);
    let ctx = ws.context(contact, &plan, &touch, today);
    let arabic = contact.is_arabic();
    if ws.catalog.has(template, Kind::Email) {
        let name = ws.catalog.resolve(template, Kind::Email, arabic);
        let email = ws.catalog.render_email(&name, ctx)?;
        let url = ws.unsubscribe_url(contact);
        let cleared = compliance::check_email(email, contact.email(), false, &url, &ws.config.sender.postal_address)?;
        let key = format!("{}|{plan}|{touch}|{today}", contact.id);
        Ok(Preview::Email(email_preview(ws, &cleared, contact.display_name(), &url, &key)?))
    } else if ws.catalog.has(template, Kind::Sms) {
        let name = ws.catalog.resolve(template, Kind::Sms, arabic);
        let message = ws.catalog.render_sms(&name, &ctx)?;
        // The same content rule as the send-time check (the opt-out text), so a preview never
        // shows as fine an SMS the worker would refuse.
        if let Some(problem) = compliance::sms_problem(&message.body, &ws.config.sms.opt_out_text) {
            return Err(compliance::Refusal::NotCompliant(format!("{}: {problem}", message.template)).into());
        }
        Ok(Preview::Sms(SmsPreview {
            to: contact.phone().map(str::to_string),
            segments: segments::count(&message.body),
            parts: segments::split(&message.body),
            message,
        }))
    } else {
        Err(PreviewError::NotFound(template.to_string()))
    }
}

/// The MIME message of a cleared email, as [`mime::build`] makes it for a delivery.
pub fn email_preview(
    ws: &Workspace,
    cleared: &Cleared<RenderedEmail>,
    to_name: Option<String>,
    unsubscribe_url: &str,
    delivery_key: &str,
) -> Result<EmailPreview, PreviewError> {
    let headers = mime::Headers {
        from_name: &ws.config.sender.name,
        from_email: &ws.config.sender.email,
        to_name,
        unsubscribe_url,
        unsubscribe_mailto: &ws.config.unsubscribe.mailto,
        delivery_key,
    };
    let message = mime::build(cleared, &headers).map_err(PreviewError::Mime)?;
    let eml = String::from_utf8_lossy(&message.formatted()).into_owned();
    Ok(EmailPreview {
        headers: header_fields(&eml),
        eml,
        message: cleared.message().clone(),
    })
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
