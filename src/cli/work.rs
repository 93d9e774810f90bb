//! `nurture work`: the long-running worker — the delivery lanes of [`crate::lanes`] until
//! SIGTERM, with the workspace reloaded under them.

use super::{clock_and_date, connect, load_workspace};
use crate::config::Config;
use crate::lanes::Lanes;
use crate::queue::worker_name;
use crate::send::EmailSender;
use crate::workspace::Live;
use chrono::{DateTime, Utc};
use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

/// `work` flags.
#[derive(Debug, Args)]
pub struct WorkArgs {
    /// Jobs delivered at once (default: [delivery] concurrency).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Fix the clock (RFC 3339) for send-time rules such as quiet hours.
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
    /// Delivery lanes, each on its own thread; 0 = one per core (default: [delivery] threads).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Runs the lanes until SIGTERM (each finishes its jobs in flight), then exits 0; the first
/// lane that fails stops the others and is the error.
pub(super) async fn work(config: Config, a: WorkArgs) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let ws = Arc::new(load_workspace(config, Some(&store)).await?);
    let clock = clock_and_date(&ws.config, None, a.now).0;
    let concurrency = a.concurrency.unwrap_or(ws.config.delivery.concurrency);
    let name = worker_name(&ws.config.redis.prefix, "work");
    let email = EmailSender::from_config(&ws.config).map_err(anyhow::Error::msg)?.describe();
    let live = Arc::new(Live::new(ws));
    let lanes = Lanes::new(live.clone(), clock, name.clone(), a.threads, concurrency);
    tracing::info!(worker = %name, lanes = lanes.lanes, concurrency, %email, "worker started");
    let (stop_tx, stop_rx) = watch::channel(false);
    let watcher = tokio::spawn(super::reload::watch(live, store, stop_rx));
    let signals = tokio::spawn(super::run::terminated(stop_tx.clone(), "jobs"));
    let stop = stop_tx.clone();
    let result = tokio::task::spawn_blocking(move || lanes.run(stop)).await?;
    signals.abort();
    let _ = stop_tx.send(true);
    watcher.await?;
    result.map(|()| ExitCode::SUCCESS)
}
