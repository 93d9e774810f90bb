//! The one compose path: template → render for the contact → the send-time compliance check →
//! the MIME message with its headers. Deliveries, previews (`nurture preview`, `/preview`),
//! `nurture send-test` and the agents' agenda email all come through here, so what a marketer
//! previews is byte for byte what the worker sends, and no path can skip the check.

use crate::compliance::{self, Cleared, Refusal};
use crate::contacts::Contact;
use crate::render::{Kind, RenderError, RenderedEmail, RenderedSms};
use crate::send::mime;
use crate::workspace::Workspace;
use chrono::NaiveDate;

/// Which touch a message belongs to: the render context's `plan` and `touch`, its date, and
/// the delivery key its `Message-ID` derives from.
#[derive(Debug, Clone, Copy)]
pub struct Occasion<'a> {
    /// Plan id (`{{plan.id}}`).
    pub plan: &'a str,
    /// Touch id (`{{touch.id}}`).
    pub touch: &'a str,
    /// The day it is rendered for (`{{today}}`).
    pub date: NaiveDate,
    /// The delivery key (contact, plan, touch, occurrence).
    pub key: &'a str,
}

/// Who the message is for.
#[derive(Debug, Clone, Copy)]
pub enum Recipient<'a> {
    /// The contact at their own address; `suppressed` comes from the ledger claim.
    Contact {
        /// The address or number is on the suppression list.
        suppressed: bool,
    },
    /// Shown, never sent: the contact's own address, the suppression list ignored; an SMS
    /// preview of a contact without a number is still shown (its recipient is empty).
    Preview,
    /// The operator's own address or number (`send-test`): the content rules apply, the
    /// suppression list does not (the recipient is not a contact), the subject says `[TEST]`.
    Test(&'a str),
}

impl Recipient<'_> {
    /// Whether the suppression list stops it: only a contact's own suppression counts.
    fn suppressed(&self) -> bool {
        matches!(self, Recipient::Contact { suppressed: true })
    }
}

/// An email ready for a transport.
#[derive(Debug, Clone)]
pub struct Email {
    /// The rendered parts, cleared by the compliance check.
    pub content: Cleared<RenderedEmail>,
    /// The RFC 5322 message (not yet DKIM-signed).
    pub message: mime::Message,
    /// The envelope sender.
    pub from: String,
    /// Its `Message-ID` (the same for every copy of one delivery).
    pub message_id: String,
}

/// Why a message could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// No such template for the channel.
    #[error("no template {0}")]
    NotFound(String),
    /// Rendering failed (missing variable, helper error...).
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The compliance check refused it (suppressed, no address, not compliant).
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The MIME message could not be built (an address lettre refuses).
    #[error("{0}")]
    Mime(String),
}

/// Which channel `template` is written for (`Email` or `Sms`): the email variant wins when
/// both exist.
pub fn kind_of(ws: &Workspace, template: &str) -> Option<Kind> {
    [Kind::Email, Kind::Sms].into_iter().find(|k| ws.catalog.has(template, *k))
}

/// Renders, checks and builds the email of `template` for `contact`.
pub fn email(ws: &Workspace, contact: &Contact, template: &str, at: &Occasion<'_>, to: Recipient<'_>) -> Result<Email, ComposeError> {
    if !ws.catalog.has(template, Kind::Email) {
        return Err(ComposeError::NotFound(format!("{template}.email.hbs")));
    }
    let name = ws.catalog.resolve(template, Kind::Email, contact.is_arabic());
    let context = context(ws, contact, at, to);
    // The link the context holds (signing it again would cost a second encryption).
    let url = context["unsubscribe_url"].as_str().unwrap_or_default().to_string();
    let mut rendered = ws.catalog.render_email(&name, context)?;
    let postal = &ws.config.sender.postal_address;
    let (content, to_name) = match to {
        Recipient::Contact { .. } | Recipient::Preview => (
            compliance::check_email(rendered, contact.email(), to.suppressed(), &url, postal)?,
            contact.display_name(),
        ),
        Recipient::Test(address) => {
            rendered.subject = format!("[TEST] {}", rendered.subject);
            (compliance::check_test_email(rendered, address, &url, postal)?, None)
        }
    };
    // From the contact's agent (Reply-To the agent); the practice's own sender otherwise.
    let from = match to {
        Recipient::Test(_) => None,
        _ => ws.config.agent(contact.get("agent")),
    };
    let reply_to = from.map(|a| (a.name.as_str(), a.email.as_str()));
    build(ws, content, to_name, (&url, &ws.config.unsubscribe.mailto), at.key, from, reply_to)
}

/// The render context of a message to `to`: a test or a preview gets a test unsubscribe link
/// ([`crate::compliance::token::sign_test`]), so a click from the tester's inbox or the preview
/// unsubscribes nobody.
fn context(ws: &Workspace, contact: &Contact, at: &Occasion<'_>, to: Recipient<'_>) -> serde_json::Value {
    let mut context = ws.context(contact, at.plan, at.touch, at.date);
    let test_address = match to {
        Recipient::Contact { .. } => None,
        Recipient::Preview => Some(contact.email().unwrap_or_default()),
        Recipient::Test(address) => Some(address),
    };
    if let Some(address) = test_address {
        context["unsubscribe_url"] = crate::compliance::token::test_unsubscribe_url(
            &ws.config.unsubscribe.base_url,
            ws.config.unsubscribe_secret(),
            &contact.id.0,
            address,
        )
        .into();
    }
    context
}

/// Renders and checks the SMS of `template` for `contact`.
pub fn sms(
    ws: &Workspace,
    contact: &Contact,
    template: &str,
    at: &Occasion<'_>,
    to: Recipient<'_>,
) -> Result<Cleared<RenderedSms>, ComposeError> {
    if !ws.catalog.has(template, Kind::Sms) {
        return Err(ComposeError::NotFound(format!("{template}.sms.hbs")));
    }
    let name = ws.catalog.resolve(template, Kind::Sms, contact.is_arabic());
    let rendered = ws.catalog.render_sms(&name, &context(ws, contact, at, to))?;
    let opt_out = &ws.config.sms.opt_out_text;
    let number = match to {
        Recipient::Contact { .. } => contact.phone(),
        Recipient::Preview => Some(contact.phone().unwrap_or_default()),
        Recipient::Test(number) => Some(number),
    };
    Ok(compliance::check_sms(rendered, number, to.suppressed(), opt_out)?)
}

/// An operational email to the sender's own team (an agent's agenda): no unsubscribe link
/// (it is not commercial and never goes to a contact), the same headers otherwise.
pub fn internal_email(
    ws: &Workspace,
    rendered: RenderedEmail,
    to: &str,
    to_name: Option<String>,
    key: &str,
) -> Result<Email, ComposeError> {
    build(ws, compliance::clear_internal(rendered, to), to_name, ("", ""), key, None, None)
}

/// A contact's reply copied to their agent (`[inbound] forward_replies`): an operational
/// email like [`internal_email`], `Reply-To` the contact so that answering it answers them.
pub fn forwarded_reply(
    ws: &Workspace,
    rendered: RenderedEmail,
    to: &str,
    to_name: Option<String>,
    key: &str,
    reply_to: (&str, &str),
) -> Result<Email, ComposeError> {
    build(
        ws,
        compliance::clear_internal(rendered, to),
        to_name,
        ("", ""),
        key,
        None,
        Some(reply_to),
    )
}

fn build(
    ws: &Workspace,
    content: Cleared<RenderedEmail>,
    to_name: Option<String>,
    (unsubscribe_url, unsubscribe_mailto): (&str, &str),
    key: &str,
    agent: Option<&crate::config::AgentConfig>,
    reply_to: Option<(&str, &str)>,
) -> Result<Email, ComposeError> {
    let sender = &ws.config.sender;
    let reference = crate::compliance::token::seal_delivery(ws.config.unsubscribe_secret(), key, content.to());
    let (from_name, from_email) = match agent {
        Some(a) => (a.name.as_str(), a.email.as_str()),
        None => (sender.name.as_str(), sender.email.as_str()),
    };
    let headers = mime::Headers {
        from_name,
        from_email,
        reply_to,
        to_name,
        unsubscribe_url,
        unsubscribe_mailto,
        reference: &reference,
        eight_bit: ws.config.smtp.eight_bit,
        postmark_metadata: !ws.config.inbound.postmark.user.is_empty(),
    };
    let message = mime::build(&content, &headers).map_err(ComposeError::Mime)?;
    // A contact's email (it has an unsubscribe link) goes out from the VERP address.
    let return_path = &ws.config.inbound.return_path;
    let envelope = if return_path.is_empty() || unsubscribe_url.is_empty() {
        sender.email.clone()
    } else {
        let tag = crate::compliance::token::verp_tag(ws.config.unsubscribe_secret(), key, content.to());
        crate::compliance::token::verp_address(return_path, &tag)
    };
    Ok(Email {
        message_id: mime::message_id(&reference, from_email),
        from: envelope,
        content,
        message,
    })
}
