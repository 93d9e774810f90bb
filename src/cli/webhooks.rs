//! `nurture webhooks list` and `nurture webhooks test NAME`: the configured webhooks, and a
//! signed sample event POSTed to one at once (outside the queue) to check its URL and secret.

use crate::config::Config;
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// `webhooks` flags.
#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: WebhooksAction,
}

/// `webhooks` subcommands.
#[derive(Debug, Subcommand)]
pub enum WebhooksAction {
    /// The configured webhooks and the events each takes.
    List,
    /// POST a signed sample event (`"type": "test"`) to one webhook now.
    Test {
        /// Its `name` in `[[webhooks]]`.
        name: String,
    },
}

pub(super) async fn webhooks(config: Config, a: WebhooksArgs) -> anyhow::Result<ExitCode> {
    match a.action {
        WebhooksAction::List => {
            if config.webhooks.is_empty() {
                outln!("no webhooks: add [[webhooks]] entries (name, url, secret, events) to nurture.toml");
            }
            for h in &config.webhooks {
                let events = if h.events.is_empty() {
                    "all events".to_string()
                } else {
                    h.events.join(", ")
                };
                outln!("{}  {}  {events}", h.name, h.url);
            }
        }
        WebhooksAction::Test { name } => outln!("{}", crate::webhooks::test(&config, &name).await?),
    }
    Ok(ExitCode::SUCCESS)
}
