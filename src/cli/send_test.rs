//! `nurture send-test TEMPLATE --to ADDRESS [--contact ID]`: one rendered message to the
//! operator, subject prefixed `[TEST]`, outside the ledger and the plans.

use super::clock_and_date;
use crate::compose::{self, Recipient};
use crate::config::Config;
use crate::contacts::{E164, Email};
use crate::render::Kind;
use crate::send::{EmailSender, SmsSender};
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
    let key = format!("test|{}|{}|{}", a.template, contact.id, crate::clock::Clock::unix_now());
    let at = compose::Occasion {
        plan: "test",
        touch: "test",
        date: today,
        key: &key,
    };
    match compose::kind_of(&ws, &a.template) {
        Some(Kind::Email) => {
            let to = Email::parse(&a.to).map_err(anyhow::Error::msg)?;
            let email = compose::email(&ws, &contact, &a.template, &at, Recipient::Test(to.as_str()))?;
            let template = email.content.message().template.clone();
            let signer = crate::send::dkim::Signer::from_config(&ws.config).map_err(anyhow::Error::msg)?;
            let sender = EmailSender::from_config(&ws.config).map_err(anyhow::Error::msg)?;
            sender.send(email, signer.as_ref()).await?;
            outln!("sent {template} to {} via {}", to.as_str(), sender.describe());
        }
        Some(Kind::Sms) => {
            let to = E164::parse(&a.to, &ws.config.contacts.default_region).map_err(anyhow::Error::msg)?;
            let sms = compose::sms(&ws, &contact, &a.template, &at, Recipient::Test(to.as_str()))?;
            SmsSender::from_config(&ws.config)
                .map_err(anyhow::Error::msg)?
                .send(&sms, &key)
                .await?;
            outln!("sent {} to {}", sms.message().template, to.as_str());
        }
        _ => anyhow::bail!("no template {0}.email.hbs or {0}.sms.hbs", a.template),
    }
    Ok(ExitCode::SUCCESS)
}
