//! `nurture inbound fetch` (read the IMAP mailbox once: cron, or by hand), `nurture inbound
//! resume` (lift the complaint and bounce guard) and `nurture inbound read FILE...` (one raw message per file, `-` for standard input: a mail server's pipe
//! transport, or a message saved from a mail program).

use super::{connect, load_workspace, print_json};
use crate::clock::Clock;
use crate::config::Config;
use crate::inbound::{self, Outcome};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// `inbound` subcommands.
#[derive(Debug, Args)]
pub struct InboundArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// Inbound actions.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Read the `[inbound] imap` mailbox once: handle each unread message, move what was
    /// handled to `[inbound] done_folder`, leave the rest unread for a person.
    Fetch {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The time to act at (RFC 3339; default now).
        #[arg(long)]
        now: Option<DateTime<Utc>>,
    },
    /// Lift the complaint and bounce guard for the rest of its 7-day window (after finding
    /// and fixing the cause).
    Resume,
    /// Handle raw messages from files (`-`: one message on standard input).
    Read {
        /// The files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The time to act at (RFC 3339; default now).
        #[arg(long)]
        now: Option<DateTime<Utc>>,
    },
}

pub(super) async fn inbound(config: Config, a: InboundArgs) -> anyhow::Result<ExitCode> {
    match a.action {
        Action::Fetch { json, now } => fetch(config, json, now).await,
        Action::Read { files, json, now } => read(config, &files, json, now).await,
        Action::Resume => {
            let store = connect(&config).await?;
            inbound::guard::resume(&store).await?;
            outln!("the complaint and bounce guard only warns for the next 7 days: email goes out again");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn fetch(config: Config, json: bool, now: Option<DateTime<Utc>>) -> anyhow::Result<ExitCode> {
    let Some(target) = config.inbound.imap_target().map_err(anyhow::Error::msg)? else {
        anyhow::bail!(
            "no mailbox: set [inbound] imap = \"imaps://user:password@host:993/INBOX\" (or NURTURE_INBOUND_IMAP) to the mailbox bounces and replies come back to"
        );
    };
    let store = connect(&config).await?;
    let ws = load_workspace(config, Some(&store)).await?;
    let clock = now.map(Clock::starting_at).unwrap_or(Clock::System);
    let report = inbound::imap::fetch(&store, &ws, &clock, &target).await?;
    if json {
        print_json(&report)?;
    } else {
        let outcomes: Vec<String> = report.outcomes.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let kinds: Vec<String> = report.kinds.iter().map(|(k, v)| format!("{v} {k}")).collect();
        outln!(
            "{target:?}: {} unread; {}; moved {} to {}",
            report.unread,
            if outcomes.is_empty() {
                "nothing to do".into()
            } else {
                outcomes.join(", ")
            },
            report.moved,
            if ws.config.inbound.done_folder.is_empty() {
                "\\Seen"
            } else {
                &ws.config.inbound.done_folder
            }
        );
        if !kinds.is_empty() {
            outln!("kinds: {}", kinds.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn read(config: Config, files: &[std::path::PathBuf], json: bool, now: Option<DateTime<Utc>>) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let ws = load_workspace(config, Some(&store)).await?;
    let clock = now.map(Clock::starting_at).unwrap_or(Clock::System);
    let mut all = Vec::new();
    let mut failed = false;
    for file in files {
        let raw = if file.as_os_str() == "-" {
            use std::io::Read;
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            buf
        } else {
            match std::fs::read(file) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: {}: {e}", file.display());
                    failed = true;
                    continue;
                }
            }
        };
        let h = inbound::handle(&store, &ws, &clock, &raw).await?;
        if !json {
            outln!("{}: {} — {:?}: {}", file.display(), h.kind.name(), h.outcome, h.detail);
        }
        failed |= h.outcome == Outcome::Busy;
        all.push(serde_json::json!({ "file": file.display().to_string(), "kind": h.kind, "outcome": h.outcome, "detail": h.detail }));
    }
    if json {
        print_json(&all)?;
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
