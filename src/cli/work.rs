//! `nurture work`: the long-running worker, as N delivery lanes in one process, each a
//! single-threaded runtime on its own thread with its own Redis connection, SMTP connections
//! and queue worker — the shape of N worker processes, without their N copies of the
//! workspace. One multi-threaded worker spends a sixth of its CPU handing jobs, connections and
//! wake-ups between threads; lanes share nothing but the workspace, the circuit breaker and the
//! stop signal (BENCHMARKS.md, issue 13). `[delivery] concurrency`, `[smtp] pool_size` and
//! `[smtp] rate_per_second` are split between the lanes.

use super::{clock_and_date, connect, load_workspace, queue};
use crate::clock::Clock;
use crate::config::Config;
use crate::deliver::{Deliverer, Handler};
use crate::queue::worker_name;
use crate::send::EmailSender;
use crate::send::breaker::Breaker;
use crate::workspace::Live;
use anyhow::Context as _;
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

/// What every lane shares.
struct Shared {
    live: Arc<Live>,
    breaker: Arc<Breaker>,
    clock: Clock,
    /// Set by SIGTERM, or by a lane that failed.
    stop: watch::Sender<bool>,
}

/// One lane's part of the process.
struct Lane {
    name: String,
    /// Jobs it delivers at once.
    concurrency: usize,
    /// Lanes in the process (its share of the SMTP pool and rate is one of these).
    of: usize,
}

/// Runs the lanes until SIGTERM (each finishes its jobs in flight), then exits 0; the first
/// lane that fails stops the others and is the error.
pub(super) async fn work(config: Config, a: WorkArgs) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let ws = Arc::new(load_workspace(config, Some(&store)).await?);
    let clock = clock_and_date(&ws.config, None, a.now).0;
    let concurrency = a.concurrency.unwrap_or(ws.config.delivery.concurrency);
    let lanes = ws.config.delivery.lanes(a.threads, concurrency, ws.config.smtp.pool_size);
    let share = concurrency.div_ceil(lanes).max(1);
    let breaker = Arc::new(Breaker::from_config(&ws.config.delivery));
    let name = worker_name(&ws.config.redis.prefix, "work");
    let (stop_tx, stop_rx) = watch::channel(false);
    let email = EmailSender::from_config(&ws.config).map_err(anyhow::Error::msg)?.describe();
    tracing::info!(worker = %name, lanes, concurrency, %email, "worker started");
    let live = Arc::new(Live::new(ws));
    let mut threads = Vec::with_capacity(lanes);
    for index in 0..lanes {
        let shared = Shared {
            live: live.clone(),
            breaker: breaker.clone(),
            clock,
            stop: stop_tx.clone(),
        };
        let lane = Lane {
            name: format!("{name}-l{index}"),
            concurrency: share,
            of: lanes,
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("lane-{index}"))
                .spawn(move || run_lane(shared, lane))
                .context("starting a delivery lane")?,
        );
    }
    let watcher = tokio::spawn(super::reload::watch(live, store, stop_rx));
    let signals = tokio::spawn(super::run::terminated(stop_tx.clone(), "jobs"));
    let results = tokio::task::spawn_blocking(move || threads.into_iter().map(|t| t.join()).collect::<Vec<_>>()).await?;
    signals.abort();
    let mut failed = None;
    for result in results {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failed.get_or_insert(e);
            }
            Err(_) => {
                failed.get_or_insert(anyhow::anyhow!("a delivery lane panicked"));
            }
        }
    }
    let _ = stop_tx.send(true);
    watcher.await?;
    match failed {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// One lane: its own runtime, connections and worker. A lane that fails tells the others to
/// stop.
fn run_lane(shared: Shared, lane: Lane) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a lane's runtime")?;
    let stop = shared.stop.clone();
    let mut stopped = stop.subscribe();
    let result = runtime.block_on(async move {
        let config = shared.live.get().config.clone();
        let store = connect(&config).await?;
        let q = queue(&config, &store).with_clock(shared.clock);
        let deliverer = Deliverer::new(shared.live, store, q.clone(), lane.name.clone())
            .map_err(anyhow::Error::msg)?
            .in_lane(lane.of, shared.breaker);
        deliverer.check_senders().await;
        let handler = Arc::new(Handler(Arc::new(deliverer)));
        let stopped = async move {
            // Ends when the flag is set (or every sender is gone).
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        q.work(lane.name, lane.concurrency, handler, false, stopped).await?;
        anyhow::Ok(())
    });
    if result.is_err() {
        let _ = stop.send(true);
    }
    result
}
