//! `nurture send-test TEMPLATE --to ADDRESS [--contact ID]`: one rendered message to the
//! operator, subject prefixed `[TEST]`, outside the ledger and the plans.

use super::clock_and_date;
use crate::compliance;
use crate::config::Config;
use crate::contacts::{E164, Email};
use crate::render::Kind;
use crate::render::RenderedSms;
use crate::send::{EmailSender, SmsSender, mime};
use clap::Args;
use std::process::ExitCode;

/// `send-test` flags.
#[derive(Debug, Args)]
pub struct SendTestArgs {
    /// Template name, e.g. `8x8/welcome`.
    pub template: String,
    /// Where to send it: an email address (email templates) or a phone number (SMS).
    #[arg(long)]
    pub to: String,
    /// Render for this stored contact (default: a sample contact).
    #[arg(long)]
    pub contact: Option<String>,
}

pub(super) async fn send_test(config: Config, a: SendTestArgs) -> anyhow::Result<ExitCode> {
    let (ws, contact) = super::workspace_and_contact(config, a.contact.as_deref(), "en").await?;
    let (_, today) = clock_and_date(&ws.config, None, None);
    let ctx = ws.context(&contact, "test", "test", today);
    let key = format!("test|{}|{}|{}", a.template, contact.id, crate::clock::Clock::unix_now());
    if ws.catalog.has(&a.template, Kind::Email) {
        let to = Email::parse(&a.to).map_err(anyhow::Error::msg)?;
        let name = ws.catalog.resolve(&a.template, Kind::Email, contact.is_arabic());
        let mut email = ws.catalog.render_email(&name, ctx)?;
        email.subject = format!("[TEST] {}", email.subject);
        let url = ws.unsubscribe_url(&contact);
        let cleared = compliance::check_test_email(email, to.as_str(), &url, &ws.config.sender.postal_address)?;
        let headers = mime::Headers {
            from_name: &ws.config.sender.name,
            from_email: &ws.config.sender.email,
            to_name: None,
            unsubscribe_url: &url,
            unsubscribe_mailto: &ws.config.unsubscribe.mailto,
            delivery_key: &key,
        };
        let signer = crate::send::dkim::Signer::from_config(&ws.config).map_err(anyhow::Error::msg)?;
        let sender = EmailSender::from_config(&ws.config).map_err(anyhow::Error::msg)?;
        sender.send(&cleared, &headers, signer.as_ref()).await?;
        println!("sent {} to {} via {}", name, to.as_str(), sender.describe());
    } else if ws.catalog.has(&a.template, Kind::Sms) {
        let to = E164::parse(&a.to, &ws.config.contacts.default_region).map_err(anyhow::Error::msg)?;
        let name = ws.catalog.resolve(&a.template, Kind::Sms, contact.is_arabic());
        let sms: RenderedSms = ws.catalog.render_sms(&name, &ctx)?;
        let cleared = compliance::check_sms(sms, Some(to.as_str()), false, &ws.config.sms.opt_out_text)?;
        SmsSender::from_config(&ws.config)
            .map_err(anyhow::Error::msg)?
            .send(&cleared, &key)
            .await?;
        println!("sent {} to {}", name, to.as_str());
    } else {
        anyhow::bail!("no template {0}.email.hbs or {0}.sms.hbs", a.template);
    }
    Ok(ExitCode::SUCCESS)
}
