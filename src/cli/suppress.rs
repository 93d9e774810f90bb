//! `nurture suppress add|remove|list`: the suppression list by hand.

use super::{connect, print_json};
use crate::clock::Clock;
use crate::config::Config;
use crate::contacts::parse_address;
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
    /// Add every address of a file: one per line, or CSV with a `value` (or `email`/`phone`)
    /// column and an optional `reason` column.
    Import {
        /// The file.
        file: std::path::PathBuf,
        /// Reason for rows without one.
        #[arg(long, default_value = "import")]
        reason: String,
    },
    /// Print the list as CSV (`channel,value,reason,at`).
    Export,
}

/// `email` + normalized address, or `sms` + E.164 number.
fn normalize(value: &str, region: &str) -> anyhow::Result<(&'static str, String)> {
    parse_address(value, region).map_err(anyhow::Error::msg)
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
        Action::Import { file, reason } => {
            let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let mut rows = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let mut header: Option<Vec<String>> = None;
            let (mut added, mut kept, mut bad) = (0, 0, 0);
            let at = Clock::System.now().to_rfc3339();
            for (i, record) in rows.records().enumerate() {
                let line = i + 1;
                let record = record?;
                let cells: Vec<String> = record.iter().map(str::to_string).collect();
                if i == 0
                    && cells
                        .iter()
                        .any(|c| ["value", "email", "phone"].contains(&c.to_lowercase().as_str()))
                {
                    header = Some(cells.iter().map(|c| c.to_lowercase()).collect());
                    continue;
                }
                let col = |name: &str| {
                    header
                        .as_ref()
                        .and_then(|h| h.iter().position(|c| c == name))
                        .and_then(|i| cells.get(i))
                        .filter(|v| !v.is_empty())
                };
                let value = ["value", "email", "phone"]
                    .iter()
                    .find_map(|n| col(n))
                    .or(if header.is_none() { cells.first() } else { None });
                let Some(value) = value else { continue };
                match normalize(value, region) {
                    Ok((channel, value)) => {
                        let reason = col("reason").cloned().unwrap_or_else(|| reason.clone());
                        let entry = Suppression {
                            value,
                            channel: channel.into(),
                            reason,
                            at: at.clone(),
                        };
                        if store.suppress(&entry).await? { added += 1 } else { kept += 1 }
                    }
                    Err(e) => {
                        eprintln!("{}:{line}: {e}", file.display());
                        bad += 1;
                    }
                }
            }
            println!("{added} added, {kept} already suppressed, {bad} rejected");
            if bad > 0 {
                return Ok(ExitCode::from(2));
            }
        }
        Action::Export => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(["channel", "value", "reason", "at"])?;
            for channel in ["email", "sms"] {
                for s in store.suppressions(channel).await? {
                    let safe = |v: &str| crate::contacts::cells::neutralize(v).into_owned();
                    w.write_record([s.channel, safe(&s.value), safe(&s.reason), s.at])?;
                }
            }
            w.flush()?;
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
