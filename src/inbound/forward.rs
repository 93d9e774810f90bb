//! `[inbound] forward_replies`: a contact's reply copied to their agent (`[agents.NAME]
//! email`, else `[sender] email`) as an operational email — who answered, what they answered,
//! their words — with `Reply-To` the contact, so the agent answers them in one click. Sent
//! once per reply (its own once-only key, so a forward that failed is tried again at the next
//! fetch without recording the response twice).

use super::Returned;
use crate::compose;
use crate::contacts::Contact;
use crate::render::{RenderedEmail, escape_html};
use crate::send::EmailSender;
use crate::workspace::Workspace;

/// Sends the copy of `reply` (from `contact`) to their agent.
pub async fn forward(ws: &Workspace, contact: &Contact, reply: &Returned, key: &str) -> Result<(), String> {
    let (to, to_name) = match ws.config.agent(contact.get("agent")) {
        Some(a) => (a.email.clone(), Some(a.name.clone())),
        None => (ws.config.sender.email.clone(), Some(ws.config.sender.name.clone())),
    };
    let who = contact.display_name().unwrap_or_else(|| contact.id.0.clone());
    let address = reply.from.clone().unwrap_or_default();
    let subject = format!("Reply from {who}: {}", reply.subject);
    let intro = format!(
        "{who} <{address}> answered. nurture recorded it as a response: their automated touches pause where the plan says so. \
         Answer this email to write to them."
    );
    let text = format!("{intro}\n\nSubject: {}\n\n{}\n", reply.subject, reply.body);
    let html = format!(
        "<p>{}</p><p><b>Subject:</b> {}</p><pre style=\"white-space:pre-wrap;font-family:inherit\">{}</pre>",
        escape_html(&intro),
        escape_html(&reply.subject),
        escape_html(&reply.body)
    );
    let rendered = RenderedEmail {
        subject,
        html,
        text,
        template: "(forwarded reply)".into(),
    };
    let email = compose::forwarded_reply(ws, rendered, &to, to_name, key, (&who, &address)).map_err(|e| e.to_string())?;
    let sender = EmailSender::from_config(&ws.config)?;
    let signer = crate::send::dkim::Signer::from_config(&ws.config)?;
    sender.send(email, signer.as_ref()).await.map_err(|e| e.to_string())
}
