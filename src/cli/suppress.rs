//! `nurture suppress add|remove|list`: the suppression list by hand.

use super::{connect, print_json};
use crate::clock::Clock;
use crate::config::Config;
use crate::contacts::{E164, Email};
use crate::store::Suppression;
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// `suppress` subcommands.
#[derive(Debug, Args)]
pub struct SuppressArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// Suppression actions.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Suppress an email address or phone number.
    Add {
        /// Email address or phone number.
        value: String,
        /// Why (kept with the entry).
        #[arg(long, default_value = "manual")]
        reason: String,
    },
    /// Make an address mailable again.
    Remove {
        /// Email address or phone number.
        value: String,
    },
    /// List entries.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `email` + normalized address, or `sms` + E.164 number.
fn normalize(value: &str, region: &str) -> anyhow::Result<(&'static str, String)> {
    if value.contains('@') {
        return Ok(("email", Email::parse(value).map_err(anyhow::Error::msg)?.as_str().to_string()));
    }
    Ok(("sms", E164::parse(value, region).map_err(anyhow::Error::msg)?.as_str().to_string()))
}

pub(super) async fn suppress(config: Config, a: SuppressArgs) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let region = &config.contacts.default_region;
    match a.action {
        Action::Add { value, reason } => {
            let (channel, value) = normalize(&value, region)?;
            let entry = Suppression {
                value: value.clone(),
                channel: channel.into(),
                reason,
                at: Clock::System.now().to_rfc3339(),
            };
            let new = store.suppress(&entry).await?;
            println!("{} {value} ({channel})", if new { "suppressed" } else { "already suppressed:" });
        }
        Action::Remove { value } => {
            let (channel, value) = normalize(&value, region)?;
            let existed = store.unsuppress(channel, &value).await?;
            println!("{} {value} ({channel})", if existed { "removed" } else { "was not suppressed:" });
        }
        Action::List { json } => {
            let mut all = store.suppressions("email").await?;
            all.extend(store.suppressions("sms").await?);
            if json {
                print_json(&all)?;
            } else {
                for s in all {
                    println!("{}\t{}\t{}\t{}", s.channel, s.value, s.reason, s.at);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
