//! `nurture serve`: the HTTP server, a delivery worker, the `[schedule]` nightly run and the
//! `[inbound]` mailbox fetch in one process, until SIGTERM (graceful: the server stops accepting, jobs in flight finish).

use super::{clock_and_date, connect, load_workspace, queue};
use crate::clock::Clock;
use crate::config::Config;
use crate::lanes::Lanes;
use crate::nightly::{self, RunOptions};
use crate::queue::worker_name;
use crate::server::health::{TaskState, Tasks};
use crate::server::{AppState, Metrics, router};
use crate::workspace::Live;
use clap::Args;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::watch;

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (default: [server] listen).
    #[arg(long)]
    pub listen: Option<String>,
    /// Do not run the `[schedule]` nightly run in this process.
    #[arg(long)]
    pub no_schedule: bool,
    /// Do not deliver queued jobs in this process.
    #[arg(long)]
    pub no_worker: bool,
}

pub(super) async fn serve(config: Config, a: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let ws = Arc::new(load_workspace(config, Some(&store)).await?);
    let live = Arc::new(Live::new(ws.clone()));
    let q = queue(&ws.config, &store);
    let listen = a.listen.clone().unwrap_or_else(|| ws.config.server.listen.clone());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    // The address actually bound (port 0 picks one), for scripts and tests.
    outln!("listening on http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = watch::channel(false);

    let health = Arc::new(Tasks::default());
    health.set("http", TaskState::Running);
    let mut tasks = Vec::new();
    if !a.no_worker {
        let name = worker_name(&ws.config.redis.prefix, "serve");
        let (live2, concurrency, rx) = (live.clone(), ws.config.delivery.concurrency, stop_rx.clone());
        tasks.push(tokio::spawn(supervise("worker", health.clone(), stop_rx.clone(), move || {
            let lanes = Lanes::new(live2.clone(), Clock::System, name.clone(), None, concurrency);
            let mut rx = rx.clone();
            async move {
                // The lanes' own stop: set when the server stops, or by a lane that failed
                // (then the others stop too, and `supervise` starts them again).
                let (lanes_stop, mut lanes_stopped) = watch::channel(false);
                let forward = lanes_stop.clone();
                let forwarder = tokio::spawn(async move {
                    tokio::select! {
                        _ = rx.wait_for(|s| *s) => {}
                        _ = lanes_stopped.wait_for(|s| *s) => {}
                    }
                    let _ = forward.send(true);
                });
                let result = tokio::task::spawn_blocking(move || lanes.run(lanes_stop)).await;
                forwarder.abort();
                result?
            }
        })));
    }
    if !a.no_schedule {
        let (live2, store2, q2, rx) = (live.clone(), store.clone(), q.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(supervise("scheduler", health.clone(), stop_rx.clone(), move || {
            schedule(live2.clone(), store2.clone(), q2.clone(), rx.clone())
        })));
    }
    if ws.config.inbound.every_secs > 0 && ws.config.inbound.imap_target().ok().flatten().is_some() {
        let (live2, store2, rx) = (live.clone(), store.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(supervise("inbound", health.clone(), stop_rx.clone(), move || {
            fetch_mail(live2.clone(), store2.clone(), rx.clone())
        })));
    }
    let (live2, store2, rx) = (live.clone(), store.clone(), stop_rx.clone());
    tasks.push(tokio::spawn(async move {
        super::reload::watch(live2, store2, rx).await;
        Ok(())
    }));

    let state = AppState {
        workspace: live,
        store,
        queue: q,
        metrics: Arc::new(Metrics::default()),
        tasks: health,
        public: !listener.local_addr()?.ip().is_loopback(),
    };
    let signal = super::run::terminated(stop_tx, "requests and jobs");
    let limits = crate::server::listen::Limits::from_config(&ws.config.server);
    crate::server::listen::serve(listener, router(state), limits, signal).await?;
    for t in tasks {
        t.await??;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the task `make` builds until `stop`; when it fails (Redis away, a panic), records it
/// for `/healthz` and starts it again after a backoff (1 s doubling to 30 s).
async fn supervise<F, Fut>(name: &'static str, health: Arc<Tasks>, stop: watch::Receiver<bool>, make: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let mut wait = std::time::Duration::from_secs(1);
    loop {
        health.set(name, TaskState::Running);
        let error = match tokio::spawn(make()).await {
            Ok(Ok(())) if *stop.borrow() => return Ok(()),
            Ok(Ok(())) => "ended by itself".to_string(),
            Ok(Err(e)) => format!("{e:#}"),
            Err(e) => format!("panicked: {e}"),
        };
        tracing::error!(task = name, %error, "task failed; starting it again");
        health.set(name, TaskState::Restarting { error });
        let mut rx = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = rx.wait_for(|s| *s) => return Ok(()),
        }
        wait = (wait * 2).min(std::time::Duration::from_secs(30));
    }
}

/// Reads the `[inbound] imap` mailbox every `[inbound] every_secs` (the first time at once).
/// A fetch that fails (the server down, slow, a dropped connection) is logged and tried again
/// at the next turn: what it handled stays handled, the rest stays unread.
async fn fetch_mail(live: Arc<Live>, store: crate::store::Store, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    loop {
        let ws = live.get();
        let every = std::time::Duration::from_secs(ws.config.inbound.every_secs.max(1));
        if let Some(target) = ws.config.inbound.imap_target().map_err(anyhow::Error::msg)? {
            match crate::inbound::imap::fetch(&store, &ws, &Clock::System, &target).await {
                Ok(r) if r.unread > 0 => tracing::info!(unread = r.unread, moved = r.moved, kinds = ?r.kinds, "inbound mail fetched"),
                Ok(_) => tracing::debug!("inbound mailbox: nothing unread"),
                Err(e) => tracing::warn!(error = %e, "inbound mail fetch failed; trying again later"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}

/// Fires the nightly run at each `[schedule] cron` time (sender's timezone). Many `serve`
/// processes may run: a Redis lock per date lets one of them run it.
async fn schedule(
    live: Arc<Live>,
    store: crate::store::Store,
    q: crate::queue::Queue,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let cfg = live.get().config.clone();
    let tz = cfg.sender_tz();
    let schedule = cron::Schedule::from_str(&cfg.schedule.cron)?;
    loop {
        let now = Clock::System.now().with_timezone(&tz);
        let Some(next) = schedule.after(&now).next() else { return Ok(()) };
        let wait = (next.with_timezone(&chrono::Utc) - Clock::System.now())
            .to_std()
            .unwrap_or_default();
        tracing::info!(next = %next, "next scheduled run");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        let (_, date) = clock_and_date(&cfg, Some(next.date_naive()), None);
        if !store.try_lock(&store.keys.run_lock(&date.to_string()), 23 * 3600).await? {
            tracing::info!(%date, "another process runs this date");
            continue;
        }
        let opts = RunOptions {
            date,
            enqueue_only: true,
            dry_run: false,
            concurrency: cfg.delivery.concurrency,
            threads: None,
            clock: Clock::System,
            counters: Default::default(),
        };
        // The plans and templates in use now: the last good version of any live edit.
        match nightly::run(live.get(), store.clone(), q.clone(), worker_name(&cfg.redis.prefix, "cron"), opts).await {
            Ok(s) => tracing::info!(%date, due = s.due, queued = s.queued, agenda = s.agenda, "scheduled run queued its jobs"),
            Err(e) => tracing::error!(%date, error = %e, "scheduled run failed"),
        }
    }
}
