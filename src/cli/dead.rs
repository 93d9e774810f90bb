//! `nurture dead list|retry|drop`: the dead letters — messages out of retries, and messages
//! held because the reply after their data was lost. `retry` queues them again (the ledger
//! still sends each at most once: a message marked sent is never sent again; a held
//! `unknown` one is sent again because the operator says so); `drop` gives them up for good.

use super::{connect, print_json, queue};
use crate::config::Config;
use crate::ledger::{self, Outcome};
use crate::queue::dead;
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// `dead` subcommands.
#[derive(Debug, Args)]
pub struct DeadArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: DeadAction,
}

/// `dead list`, `dead retry`, `dead drop`.
#[derive(Debug, Subcommand)]
pub enum DeadAction {
    /// Every dead letter: id, delivery key, attempts, reason.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Queue dead letters again (sent at most once, as always).
    Retry {
        /// Dead letter ids (from `dead list`).
        ids: Vec<String>,
        /// Every dead letter.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Give dead letters up: recorded as cancelled, never sent.
    Drop {
        /// Dead letter ids (from `dead list`).
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

pub(super) async fn dead(config: Config, a: DeadArgs) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let q = queue(&config, &store);
    match a.action {
        DeadAction::List { json } => {
            let letters = dead::list(&q, usize::MAX).await?;
            if json {
                print_json(&letters)?;
            } else if letters.is_empty() {
                outln!("no dead letters");
            } else {
                for d in &letters {
                    let key = d.job.as_ref().map(|j| j.key.as_str()).unwrap_or("(undecodable job)");
                    outln!("{}  {key}  attempts {}  {}", d.id, d.attempts, d.reason);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DeadAction::Retry { ids, all } => {
            let ids = if all { dead::all_ids(&q).await? } else { ids };
            anyhow::ensure!(
                !ids.is_empty(),
                "name the dead letters to retry (ids from `nurture dead list`), or --all"
            );
            let mut missing = 0;
            for (id, letter) in dead::take(&q, &ids).await? {
                let Some(job) = letter.as_ref().and_then(|l| l.job.clone()) else {
                    missing += 1;
                    eprintln!("{id}: not a dead letter (or its job no longer decodes)");
                    continue;
                };
                if letter.as_ref().is_some_and(dead::DeadLetter::is_unknown_outcome) {
                    ledger::reopen_unknown(&store, &job.key).await?;
                }
                let mut again = job;
                again.attempt = 0;
                again.first_failed_at = None;
                again.revived += 1;
                q.enqueue(&[again], None).await?;
                outln!("{id}: queued again");
            }
            Ok(if missing > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        DeadAction::Drop { ids } => {
            let mut missing = 0;
            for (id, letter) in dead::take(&q, &ids).await? {
                let Some(job) = letter.and_then(|l| l.job) else {
                    missing += 1;
                    eprintln!("{id}: not a dead letter");
                    continue;
                };
                let d = ledger::Delivery {
                    key: &job.key,
                    contact_id: &job.contact_id,
                    plan: &job.plan,
                    touch: &job.touch,
                    source: "",
                    agent: "",
                    day: crate::clock::Clock::System.today(config.sender_tz()),
                    email: false,
                    verp: None,
                };
                let now = crate::clock::Clock::System.unix();
                if ledger::reopen_unknown(&store, &job.key).await? || !ledger::is_final(&store, &job.key).await? {
                    ledger::finish(
                        &store,
                        d,
                        &job.run_date.to_string(),
                        Outcome::Cancelled,
                        "dropped by the operator",
                        now,
                    )
                    .await?;
                }
                outln!("{id}: dropped");
            }
            Ok(if missing > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
    }
}
