//! `nurture work --threads N`: N delivery lanes in one process, each a single-threaded runtime
//! on its own thread with its own Redis connection, SMTP connections and queue worker — the
//! shape of N worker processes, without their N copies of the workspace. One multi-threaded
//! worker spends a sixth of its CPU handing jobs, connections and wake-ups between threads;
//! lanes share nothing but the workspace, the circuit breaker and the stop signal
//! (BENCHMARKS.md, issue 13). `[delivery] concurrency`, `[smtp] pool_size` and `[smtp]
//! rate_per_second` are split between the lanes.

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
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

/// What every lane shares.
struct Shared {
    live: Arc<Live>,
    breaker: Arc<Breaker>,
    clock: Clock,
    /// Set by SIGTERM, or by a lane that failed.
    stop: watch::Sender<bool>,
}

/// Runs `lanes` lanes until SIGTERM (each finishes its jobs in flight), then exits 0; the
/// first lane that fails stops the others and is the error.
pub(super) async fn work(config: Config, concurrency: Option<usize>, now: Option<DateTime<Utc>>, lanes: usize) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let ws = Arc::new(load_workspace(config, Some(&store)).await?);
    let clock = clock_and_date(&ws.config, None, now).0;
    let concurrency = concurrency.unwrap_or(ws.config.delivery.concurrency);
    let d = &ws.config.delivery;
    let breaker = Arc::new(Breaker::new(d.breaker_after, d.breaker_cooldown_secs));
    let live = Arc::new(Live::new(ws));
    let (stop_tx, stop_rx) = watch::channel(false);
    let name = worker_name(&live.get().config.redis.prefix, "work");
    tracing::info!(worker = %name, lanes, concurrency, "worker started");
    let mut threads = Vec::with_capacity(lanes);
    for lane in 0..lanes {
        let shared = Shared {
            live: live.clone(),
            breaker: breaker.clone(),
            clock,
            stop: stop_tx.clone(),
        };
        let name = format!("{name}-l{lane}");
        let share = concurrency.div_ceil(lanes).max(1);
        threads.push(
            std::thread::Builder::new()
                .name(format!("lane-{lane}"))
                .spawn(move || run_lane(shared, name, share, lanes))
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

/// One lane: its own runtime, connections and worker; `concurrency` jobs at once and its share
/// of the SMTP pool. A lane that fails tells the others to stop.
fn run_lane(shared: Shared, name: String, concurrency: usize, lanes: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a lane's runtime")?;
    let stop = shared.stop.clone();
    let mut stopped = stop.subscribe();
    let result = runtime.block_on(async move {
        let mut config = shared.live.get().config.clone();
        config.smtp.pool_size = config.smtp.pool_size.div_ceil(lanes).max(1);
        let store = connect(&config).await?;
        let q = queue(&config, &store).with_clock(shared.clock);
        let mut deliverer = Deliverer::new(shared.live, store, q.clone(), name.clone()).map_err(anyhow::Error::msg)?;
        deliverer.email = EmailSender::from_config(&config).map_err(anyhow::Error::msg)?.one_of(lanes);
        deliverer.breaker = shared.breaker;
        deliverer.check_senders().await;
        let handler = Arc::new(Handler(Arc::new(deliverer)));
        let stopped = async move {
            // Ends when the flag is set (or every sender is gone).
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        q.work(name, concurrency, handler, false, stopped).await?;
        anyhow::Ok(())
    });
    if result.is_err() {
        let _ = stop.send(true);
    }
    result
}
