//! `nurture run`: one date, then drain (`nurture work` is `cli::work`).

use super::{clock_and_date, connect, load_workspace, print_json, queue};
use crate::config::Config;
use crate::nightly::{self, RunOptions};
use crate::queue::worker_name;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

/// `run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run date (default: today in the sender's timezone).
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Fix the clock (RFC 3339); the date defaults to its day.
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
    /// Queue only; `nurture work` delivers.
    #[arg(long)]
    pub enqueue_only: bool,
    /// Show what would be queued; write and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Jobs delivered at once (default: [delivery] concurrency).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Delivery lanes, each on its own thread; 0 = one per core (default: [delivery] threads).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub(super) async fn run(config: Config, a: RunArgs) -> anyhow::Result<ExitCode> {
    let (clock, date) = clock_and_date(&config, a.date, a.now);
    let store = connect(&config).await?;
    let ws = Arc::new(load_workspace(config, Some(&store)).await?);
    let q = queue(&ws.config, &store).with_clock(clock);
    let opts = RunOptions {
        date,
        enqueue_only: a.enqueue_only,
        dry_run: a.dry_run,
        concurrency: a.concurrency.unwrap_or(ws.config.delivery.concurrency),
        threads: a.threads,
        clock,
        counters: Default::default(),
    };
    let name = worker_name(&ws.config.redis.prefix, "run");
    // On a terminal, a progress line of the messages sent; under cron only the summary.
    let progress = super::progress::Rows::start(!a.json, "sent");
    let counters = opts.counters.clone();
    let running = nightly::run(ws, store, q, name, opts);
    let mut running = std::pin::pin!(running);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    let s = loop {
        tokio::select! {
            s = &mut running => break s?,
            _ = tick.tick() => progress.set(crate::deliver::Counters::get(&counters.sent)),
        }
    };
    progress.finish();
    // One time-stamped line per run in the log, whatever else it printed.
    tracing::info!(
        date = %s.date, due = s.due, queued = s.queued, sent = s.sent, suppressed = s.suppressed, failed = s.failed,
        dead = s.dead, deferred = s.deferred, held = s.held, "run finished"
    );
    let code = if s.stopped.is_some() {
        ExitCode::from(3)
    } else if s.held > 0 && !s.dry_run {
        ExitCode::from(4)
    } else {
        ExitCode::SUCCESS
    };
    if a.json {
        print_json(&s)?;
    } else {
        if s.dry_run {
            for line in &s.would_queue {
                outln!("would queue {line}");
            }
        }
        outln!(
            "{}: {} due, {} queued ({} already queued, {} for later today), {} sent, {} suppressed, {} failed, {} dead, {} deferred, {} paused, {} agenda, {} missed, {} skipped (no address), {} moved on ({} demoted)",
            s.date,
            s.due,
            s.queued,
            s.already_queued,
            s.scheduled,
            s.sent,
            s.suppressed,
            s.failed,
            s.dead,
            s.deferred,
            s.paused,
            s.agenda,
            s.missed,
            s.skipped,
            s.moved,
            s.demoted
        );
        if s.no_consent > 0 {
            outln!(
                "{} text(s) not sent: their contact has no SMS consent recorded (`sms_consent`); import it (a date, or yes) to text them",
                s.no_consent
            );
        }
        if s.out_of_segment > 0 {
            outln!(
                "{} contact(s) outside their plan's [segment] got none of its touches",
                s.out_of_segment
            );
        }
        if let Some(down) = &s.unreachable {
            outln!("{} message(s) waiting for retry: {down}", s.deferred + s.waiting);
        }
        if s.deferred > 0 && !s.dry_run {
            let why = if s.health.is_empty() { "" } else { " (retries included)" };
            outln!(
                "{} message(s) wait in the queue for their send time{why}: a running `nurture work` or `nurture serve` sends them then, or the next `nurture run`",
                s.deferred
            );
        }
    }
    if s.held > 0 && !s.dry_run {
        eprintln!(
            "error: {} message(s) need a decision: the relay or SMS provider took them but its answer was lost, so they \
             may or may not have been delivered ({} this run); held, not re-sent — `nurture dead list` shows them, \
             `nurture dead retry ID` sends one again, `nurture dead drop ID` gives it up",
            s.held, s.unknown
        );
    }
    if let Some(stopped) = &s.stopped {
        eprintln!(
            "error: {stopped}; {} message(s) stay queued and are sent by the next run once the cause is fixed",
            s.waiting + s.deferred
        );
    }
    Ok(code)
}

/// Resolves on SIGTERM or Ctrl-C, after telling `stop`'s receivers to finish `what` (jobs,
/// requests) they have in flight.
pub(super) async fn terminated(stop: watch::Sender<bool>, what: &'static str) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(_) => return,
    };
    tokio::select! { _ = term.recv() => {}, _ = tokio::signal::ctrl_c() => {} }
    tracing::info!("stopping: finishing {what} in flight");
    let _ = stop.send(true);
}
