//! `run`'s delivery: the lanes start with the run and send what is queued while the night is
//! still being expanded; they drain once the expansion says everything is queued. Stops on
//! Ctrl-C or a relay unreachable for the drain wait, and adds what the lanes did to the summary.

use super::{RunOptions, RunSummary};
use crate::deliver::Counters;
use crate::lanes::Lanes;
use crate::queue::{Drain, Queue};
use crate::send::breaker::Breaker;
use crate::workspace::Workspace;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The lanes of one run, sending.
pub(super) struct Delivery {
    /// Set while the expansion may still queue jobs: the lanes do not end on an empty queue.
    filling: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
    /// Set by Ctrl-C (not by an outage): the expansion stops too.
    interrupted: watch::Receiver<bool>,
    stopper: JoinHandle<()>,
    lanes: JoinHandle<anyhow::Result<()>>,
    counters: Arc<Counters>,
    breaker: Arc<Breaker>,
    started: Instant,
}

impl Delivery {
    /// Starts the lanes (`run`'s worker name, its threads and concurrency), held open until
    /// [`Delivery::queued`].
    pub(super) fn start(ws: &Arc<Workspace>, queue: &Queue, worker: String, opts: &RunOptions) -> Delivery {
        let live = Arc::new(crate::workspace::Live::new(ws.clone()));
        let mut lanes = Lanes::new(live, queue.clock(), worker, opts.threads, opts.concurrency);
        let filling = Arc::new(AtomicBool::new(true));
        lanes.drain = Drain::WhenEmpty { filling: filling.clone() };
        lanes.counters = opts.counters.clone();
        let (counters, breaker) = (lanes.counters.clone(), lanes.breaker.clone());
        let (stop, _) = watch::channel(false);
        let (interrupt, interrupted) = watch::channel(false);
        let stopper = tokio::spawn(stop_when(stop.clone(), interrupt, breaker.clone(), queue));
        let sender = stop.clone();
        Delivery {
            filling,
            stop,
            interrupted,
            stopper,
            lanes: tokio::task::spawn_blocking(move || lanes.run(sender)),
            counters,
            breaker,
            started: Instant::now(),
        }
    }

    /// Everything due is queued: the lanes end once the queue is drained.
    pub(super) fn queued(&self) {
        self.filling.store(false, Ordering::SeqCst);
    }

    /// Resolves on Ctrl-C.
    pub(super) async fn interrupted(&self) {
        let mut interrupted = self.interrupted.clone();
        let _ = interrupted.wait_for(|set| *set).await;
    }

    /// Stops the lanes (they finish the jobs in flight) and waits for them: the run failed.
    pub(super) async fn abandon(self) {
        let _ = self.stop.send(true);
        self.queued();
        self.stopper.abort();
        if let Ok(Err(e)) = self.lanes.await {
            tracing::warn!(error = %e, "a delivery lane failed while the run was being abandoned");
        }
    }

    /// Waits for the lanes to drain (or stop) and writes what they did into `s`.
    pub(super) async fn finish(self, ws: &Workspace, store: &crate::store::Store, queue: &Queue, s: &mut RunSummary) -> anyhow::Result<()> {
        self.queued();
        let delivered = self.lanes.await;
        self.stopper.abort();
        delivered??;
        // The lanes had connections of their own: this one may have sat through an outage.
        store.answering(queue.drain_wait.max(Duration::from_secs(10))).await?;
        s.stopped = super::stopped(&self.breaker.trips());
        s.unreachable = self.breaker.outage(queue.clock().unix()).map(|(channel, since)| {
            let at = chrono::DateTime::from_timestamp(since, 0)
                .map(|t| t.with_timezone(&ws.config.sender_tz()).format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            format!("{channel} relay unreachable since {at}")
        });
        let c = &self.counters;
        s.sent = Counters::get(&c.sent);
        s.suppressed = Counters::get(&c.suppressed);
        s.failed = Counters::get(&c.failed);
        s.dead = Counters::get(&c.dead);
        s.duplicates = Counters::get(&c.duplicates);
        s.quiet_deferred = Counters::get(&c.deferred);
        s.no_consent = Counters::get(&c.no_consent);
        s.retried = Counters::get(&c.retried);
        s.relay_refused = Counters::get(&c.relay_refused);
        s.unknown = Counters::get(&c.unknown);
        s.missed += Counters::get(&c.missed);
        s.paused += Counters::get(&c.paused);
        s.deliver_secs = self.started.elapsed().as_secs_f64();
        Ok(())
    }
}

/// Tells the lanes to stop on Ctrl-C (and the expansion, through `interrupt`) or when a relay
/// has been unreachable for the drain wait (the retries stay scheduled in Redis). A channel
/// whose sender refuses us (the breaker) does not stop the run: its messages are parked for
/// the next run while the other channel's go out.
fn stop_when(
    stop: watch::Sender<bool>,
    interrupt: watch::Sender<bool>,
    breaker: Arc<Breaker>,
    queue: &Queue,
) -> impl Future<Output = ()> + Send + 'static {
    let (clock, wait) = (queue.clock(), queue.drain_wait.as_secs() as i64);
    async move {
        let outage = async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let now = clock.unix();
                if breaker.outage(now).is_some_and(|(_, since)| now - since > wait) {
                    return;
                }
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => { let _ = interrupt.send(true); }
            _ = outage => {}
        }
        let _ = stop.send(true);
    }
}
