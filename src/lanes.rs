//! The delivery engine of `run`, `work` and `serve`: N delivery lanes in one process, each a
//! single-threaded runtime on its own thread with its own Redis connection, SMTP connections
//! and queue worker — the shape of N worker processes, without their N copies of the
//! workspace. One multi-threaded worker spends a sixth of its CPU handing jobs, connections and
//! wake-ups between threads (BENCHMARKS.md, issues 13 and 27); lanes share nothing but the
//! workspace, the circuit breaker, the counters and the stop signal. `[delivery] concurrency`,
//! `[smtp] pool_size` and `[smtp] rate_per_second` are split between them.

use crate::clock::Clock;
use crate::config::Config;
use crate::deliver::{Counters, Deliverer, Handler};
use crate::queue::{Drain, Queue};
use crate::send::breaker::Breaker;
use crate::store::Store;
use crate::workspace::Live;
use anyhow::Context as _;
use std::sync::Arc;
use tokio::sync::watch;

/// A process's delivery lanes, ready to run.
pub struct Lanes {
    /// The workspace every lane renders with (reloaded under them by `work` and `serve`).
    pub live: Arc<Live>,
    /// The process's one circuit breaker.
    pub breaker: Arc<Breaker>,
    /// What the lanes did, added up (`run`'s summary).
    pub counters: Arc<Counters>,
    /// The schedule's clock.
    pub clock: Clock,
    /// The worker name; lane `i` is `{name}-l{i}`.
    pub name: String,
    /// How many lanes.
    pub lanes: usize,
    /// Jobs delivered at once, over all lanes.
    pub concurrency: usize,
    /// `run` ([`Drain::WhenEmpty`]): each lane ends once the queue is drained and the night is
    /// queued, and a channel whose sender refuses us is parked for the next run; else they
    /// work until stopped.
    pub drain: Drain,
}

impl Lanes {
    /// The lanes `config` asks for (`[delivery] threads`, or `requested`; 0 = one per core),
    /// sharing `concurrency` jobs at once.
    pub fn new(live: Arc<Live>, clock: Clock, name: String, requested: Option<usize>, concurrency: usize) -> Lanes {
        let config = &live.get().config;
        let lanes = config.delivery.lanes(requested, concurrency, config.smtp.pool_size);
        Lanes {
            breaker: Arc::new(Breaker::from_config(&config.delivery)),
            counters: Arc::default(),
            live: live.clone(),
            clock,
            name,
            lanes,
            concurrency,
            drain: Drain::Never,
        }
    }

    /// Runs the lanes, each on a thread of its own, until `stop` is set (each finishes its jobs
    /// in flight) or — [`Lanes::drain`] — the queue is drained. The first lane that fails sets
    /// `stop` for the others and is the error. Blocks: call it from a thread of its own
    /// (`tokio::task::spawn_blocking`).
    pub fn run(self, stop: watch::Sender<bool>) -> anyhow::Result<()> {
        let share = self.concurrency.div_ceil(self.lanes).max(1);
        let checked = Arc::new(std::sync::Barrier::new(self.lanes));
        let mut threads = Vec::with_capacity(self.lanes);
        for index in 0..self.lanes {
            let lane = Lane {
                live: self.live.clone(),
                breaker: self.breaker.clone(),
                counters: self.counters.clone(),
                clock: self.clock,
                name: format!("{}-l{index}", self.name),
                concurrency: share,
                of: self.lanes,
                drain: self.drain.clone(),
                stop: stop.clone(),
                checked: checked.clone(),
                checks: index == 0,
            };
            threads.push(
                std::thread::Builder::new()
                    .name(format!("lane-{index}"))
                    .spawn(move || lane.run())
                    .context("starting a delivery lane")?,
            );
        }
        let mut failed = None;
        for thread in threads {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failed.get_or_insert(e);
                }
                Err(_) => {
                    failed.get_or_insert(anyhow::anyhow!("a delivery lane panicked"));
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

/// One lane's part of the process.
struct Lane {
    live: Arc<Live>,
    breaker: Arc<Breaker>,
    counters: Arc<Counters>,
    clock: Clock,
    name: String,
    concurrency: usize,
    of: usize,
    drain: Drain,
    stop: watch::Sender<bool>,
    /// Passed by every lane once the senders were checked: no lane sends before the check,
    /// so its "ok" never overwrites a failure recorded by a send.
    checked: Arc<std::sync::Barrier>,
    /// The lane that checks the senders (one check per process).
    checks: bool,
}

impl Lane {
    /// Its own runtime, connections and worker, until stopped or drained; a lane that fails
    /// tells the others to stop.
    fn run(self) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting a lane's runtime")?;
        let stop = self.stop.clone();
        let result = runtime.block_on(self.work());
        if result.is_err() {
            let _ = stop.send(true);
        }
        result
    }

    /// Its connections and deliverer.
    async fn ready(&self) -> anyhow::Result<Deliverer> {
        let config = self.live.get().config.clone();
        let store = open_store(&config).await?;
        let q = Queue::for_config(&config, &store).with_clock(self.clock);
        let mut deliverer = Deliverer::new(self.live.clone(), store, q, self.name.clone())
            .map_err(anyhow::Error::msg)?
            .in_lane(self.of, self.breaker.clone());
        deliverer.counters = self.counters.clone();
        deliverer.parks_for_next_run = self.drain.drains();
        Ok(deliverer)
    }

    async fn work(self) -> anyhow::Result<()> {
        let ready = self.ready().await;
        // Every lane waits for the check, also one that could not get ready (then it fails).
        if let Ok(deliverer) = &ready
            && self.checks
        {
            deliverer.check_senders().await;
        }
        self.checked.wait();
        let deliverer = ready?;
        let q = deliverer.queue.clone();
        let handler = Arc::new(Handler(Arc::new(deliverer)));
        let mut stopped = self.stop.subscribe();
        let stopped = async move {
            // Ends when the flag is set (or every sender is gone).
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        q.work(self.name, self.concurrency, handler, self.drain, stopped).await?;
        Ok(())
    }
}

/// A lane's own connection to the store the process already reached.
async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let target = config.redis_target().map_err(anyhow::Error::msg)?;
    Ok(Store::open(&target, &config.redis.key_prefix())
        .await
        .context("a delivery lane connecting to Redis")?
        .configured(config))
}
