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
            if new && let Some(contact) = store.lookup(&value, region).await? {
                // The person asked, through the operator: an opt-out like any other.
                crate::events::opted_out(&store, &contact, Clock::System.today(config.sender_tz())).await?;
                let data = serde_json::json!({ "channel": channel, "via": "suppress add", "at": entry.at });
                crate::webhooks::emit(&store, "unsubscribe", &contact.id.0, data).await;
            }
            outln!("{} {value} ({channel})", if new { "suppressed" } else { "already suppressed:" });
        }
        Action::Remove { value } => {
            let (channel, value) = normalize(&value, region)?;
            let existed = store.unsuppress(channel, &value).await?;
            outln!("{} {value} ({channel})", if existed { "removed" } else { "was not suppressed:" });
        }
        Action::Import { file, reason } => {
            // Any file `import` reads (CSV in any common encoding, a workbook): a header row
            // naming a `value`, `email` or `phone` column (and optionally `reason`), or one
            // address per line.
            let table = crate::contacts::read::open(&file, &Default::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
            let role = |h: &String| match crate::contacts::headers::known_field(h) {
                Some(f @ ("email" | "phone")) => Some(f),
                _ => ["value", "reason"].into_iter().find(|r| crate::contacts::headers::fold(h) == *r),
            };
            let roles: Vec<Option<&str>> = table.headers.iter().map(role).collect();
            let has_header = roles.iter().any(|r| matches!(r, Some("value" | "email" | "phone")));
            let first = (!has_header).then(|| crate::contacts::read::RawRow {
                line: 1,
                cells: table.headers.clone(),
            });
            let (mut added, mut kept, mut bad) = (0, 0, 0);
            let at = Clock::System.now().to_rfc3339();
            for row in first.into_iter().map(Ok).chain(table.rows) {
                let row = match row {
                    Ok(r) => r,
                    Err(r) => {
                        eprintln!("{r}");
                        bad += 1;
                        continue;
                    }
                };
                let col = |name: &str| {
                    roles
                        .iter()
                        .position(|r| *r == Some(name))
                        .and_then(|i| row.cells.get(i))
                        .filter(|v| !v.is_empty())
                };
                let value = if has_header {
                    ["value", "email", "phone"].iter().find_map(|n| col(n))
                } else {
                    row.cells.first().filter(|v| !v.is_empty())
                };
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
                        eprintln!("{}:{}: {e}", table.label, row.line);
                        bad += 1;
                    }
                }
            }
            outln!("{added} added, {kept} already suppressed, {bad} rejected");
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
                    outln!("{}\t{}\t{}\t{}", s.channel, s.value, s.reason, s.at);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
