//! The job queue on apalis-redis: the [`DeliveryJob`] payload, bounded enqueueing with
//! idempotency keys, the worker pool, and the drain check. The only module that knows apalis.
//!
//! Pitfalls handled here (TECH-NOTES §0): pushes are chunked to 1,000; a job due now goes
//! straight onto the active list, a later one waits in the scheduled set until our own
//! bounded script promotes it, so the worker's fetch never meets ≥ 8,000 due ids;
//! `lock_tasks` is off; idle polling is 250 ms (50 ms for `run`, which drains); heartbeat
//! 5 s × 3 so a killed worker's jobs come back within ~20 s; idempotency keys get a real TTL;
//! every process has its own worker name.

pub mod dead;
pub mod inspect;
pub mod park;
pub mod retry;
pub mod vacuum;

use crate::plans::Channel;
use crate::store::Store;
use apalis::prelude::*;
use apalis_redis::{Config as QueueConfig, RedisStorage};
use chrono::NaiveDate;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use std::time::Duration;

/// Current payload version. Fields are only ever added, with `#[serde(default)]`, so a job
/// queued by an older nurture still decodes (a payload that does not decode kills the worker).
pub const JOB_VERSION: u32 = 1;

/// One email or SMS to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    /// Payload version.
    #[serde(default)]
    pub v: u32,
    /// Once-only key: `contact|plan|touch|occurrence`.
    pub key: String,
    /// Contact id.
    pub contact_id: String,
    /// Plan id.
    pub plan: String,
    /// Touch id.
    pub touch: String,
    /// `email` or `sms`.
    pub channel: Channel,
    /// Template name.
    pub template: String,
    /// The day the touch fell due.
    pub due: NaiveDate,
    /// The run that queued it (counters are kept per run date).
    pub run_date: NaiveDate,
    /// Attempts made so far (0 for a fresh job).
    #[serde(default)]
    pub attempt: u32,
    /// Times the job was put back without an attempt (another worker held its lease, quiet
    /// hours, an open circuit breaker).
    #[serde(default)]
    pub requeue: u32,
    /// When its first transient failure happened (unix seconds): the retry window counts from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failed_at: Option<i64>,
    /// Times an operator put it back from the dead letters (`nurture dead retry`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub revived: u32,
    /// For a job moved by quiet hours: the start of the open slot it was moved to (unix
    /// seconds). Quiet hours are judged at this time, so a job is never moved twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// For a webhook event ([`crate::webhooks`]): where it goes and what it says (then `plan`
    /// is `webhook`, `touch` the event's type, `template` the webhook's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<crate::webhooks::WebhookCall>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Queue failures.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis failed.
    #[error("queue: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis failed, through the store.
    #[error("queue: {0}")]
    Store(#[from] crate::store::StoreError),
    /// apalis-redis failed.
    #[error("queue: {0}")]
    Backend(#[from] apalis_redis::Error),
    /// The worker stopped with an error.
    #[error("worker: {0}")]
    Worker(String),
}

/// What a handler decided about a job.
#[derive(Debug)]
pub enum JobResult {
    /// Finished (sent, refused, failed for good, or re-queued for a retry).
    Done,
    /// Out of retries: the job becomes a dead letter with this reason.
    Dead(String),
    /// Infrastructure failed (Redis): let the backend retry the job later.
    Retry(String),
}

/// Handles one job. Implemented by the `deliver` orchestrator.
pub trait JobHandler: Send + Sync + 'static {
    /// Processes `job`.
    fn handle(&self, job: DeliveryJob) -> BoxFuture<'static, JobResult>;
}

/// Queue settings derived from `[delivery]`.
#[derive(Debug, Clone)]
pub struct Queue {
    config: QueueConfig,
    store: Store,
    /// `run` keeps working while a retry is due within this long.
    pub drain_wait: Duration,
    /// The time scale of the schedule: jobs fall due by this clock (`--now` moves it).
    clock: crate::clock::Clock,
}

const CHUNK: usize = 1000;

/// How often a worker that runs all day polls an empty queue.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// How often a draining worker (`run`) polls an empty queue — the expansion queues beside it —
/// and, once nothing more is being queued, looks whether the queue is drained (two quiet
/// looks in a row end it).
const DRAIN_LOOK: Duration = Duration::from_millis(50);

static PROMOTE_DUE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[1], 'LIMIT', 0, 1000)
if #ids > 0 then
  redis.call('RPUSH', KEYS[2], unpack(ids))
  redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('DEL', KEYS[3])
  redis.call('LPUSH', KEYS[3], 1)
end
return #ids
"#,
    )
});

impl Queue {
    /// The queue `{prefix}:jobs` of `store`.
    pub fn new(store: Store, heartbeat_secs: u64, idempotency_days: u64, drain_wait: Duration) -> Queue {
        let config = QueueConfig::default()
            .queue(store.keys.queue())
            .batch_size(100)
            .lock_tasks(false)
            .heartbeat_interval(Duration::from_secs(heartbeat_secs.max(1)))
            .missed_heartbeats(3)
            .idempotency_ttl(Some(Duration::from_secs(idempotency_days.max(1) * 86_400)));
        Queue {
            config,
            store,
            drain_wait,
            clock: crate::clock::Clock::System,
        }
    }

    /// The queue of `config`'s `[delivery]` settings in `store`, its schedule on the system
    /// clock (see [`Queue::with_clock`] for `--now`). Idempotency keys live `grace_days + 4`
    /// days (at least 7): longer than a touch can be queued again. With `keep_done_hours = 0`
    /// (the default) a job that finished leaves nothing in the queue.
    pub fn for_config(config: &crate::config::Config, store: &Store) -> Queue {
        let mut queue = Queue::new(
            store.clone(),
            config.delivery.heartbeat_secs,
            config.delivery.idempotency_days(),
            Duration::from_secs(config.delivery.drain_wait_secs),
        );
        // A finished job is dropped at its ack unless it is kept for inspection.
        queue.config = queue.config.keep_done(config.delivery.keep_done_hours > 0);
        queue
    }

    /// The same queue with its schedule read on `clock` (`run --now`, `work --now`): a job falls
    /// due when this clock reaches its time.
    pub fn with_clock(mut self, clock: crate::clock::Clock) -> Queue {
        self.clock = clock;
        self
    }

    /// The clock of the schedule.
    pub fn clock(&self) -> crate::clock::Clock {
        self.clock
    }

    /// The apalis configuration (key names of the queue).
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The store this queue lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Pushes jobs (1,000 per script call) with `key` as idempotency key, so a job queued
    /// once is not queued again within the TTL. `run_at` (unix seconds) delays them.
    /// Returns how many were new.
    pub async fn enqueue(&self, jobs: &[DeliveryJob], run_at: Option<i64>) -> Result<u64, QueueError> {
        let timed: Vec<(DeliveryJob, Option<i64>)> = jobs.iter().map(|j| (j.clone(), run_at)).collect();
        self.enqueue_each(&timed).await
    }

    /// Like [`Queue::enqueue`], each job with its own send time (`None`: now).
    pub async fn enqueue_each(&self, jobs: &[(DeliveryJob, Option<i64>)]) -> Result<u64, QueueError> {
        let mut conn = self.store.conn.clone();
        let mut added = 0u64;
        for chunk in jobs.chunks(CHUNK) {
            let now = self.clock.unix();
            let tasks: Vec<Task<Vec<u8>>> = chunk
                .iter()
                .map(|(job, run_at)| {
                    // Due now: straight onto the active list (a run_at of 0), not through
                    // the scheduled set and the next promotion.
                    let at = run_at.filter(|at| *at > now).unwrap_or(0);
                    TaskBuilder::new(serde_json::to_vec(job).unwrap_or_default())
                        .idempotency_key(idempotency_key(job))
                        .run_at_timestamp(at as u64)
                        .build()
                })
                .collect();
            let (now, later) = apalis_redis::queries::push_tasks(&mut conn, &self.config, &tasks).await?;
            added += u64::from(now) + u64::from(later);
            self.promote_due().await?;
        }
        Ok(added)
    }

    /// Moves due ids from `scheduled` to `active`, 1,000 per call, until none is due.
    pub async fn promote_due(&self) -> Result<u64, QueueError> {
        let mut conn = self.store.conn.clone();
        let mut total = 0;
        loop {
            let moved: u64 = PROMOTE_DUE
                .key(self.config.scheduled_jobs_set())
                .key(self.config.active_jobs_list())
                .key(self.config.signal_list())
                .arg(self.clock.unix())
                .invoke_async(&mut conn)
                .await?;
            total += moved;
            if moved < CHUNK as u64 {
                return Ok(total);
            }
        }
    }

    /// Runs a worker named `name` with `concurrency` parallel jobs until `stop` resolves
    /// (drains in-flight jobs first), or — with [`Drain::WhenEmpty`] — until no job is ready,
    /// in flight, or due within [`Queue::drain_wait`] and none is still being queued. Parked
    /// jobs ([`park`]) are taken back at the start, and every [`park::RELEASE_EVERY`] by a
    /// worker that does not drain.
    ///
    /// Supervised: when the apalis worker dies (Redis went away or restarted and lost its
    /// registration), it is started again under a fresh name (the old name may still look
    /// alive to Redis) after a short backoff; its jobs in flight come back through orphan
    /// recovery. Only `stop` or the drain end it.
    pub async fn work(
        &self,
        name: String,
        concurrency: usize,
        handler: Arc<dyn JobHandler>,
        drain: Drain,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), QueueError> {
        let stop: StopSignal = futures::FutureExt::shared(Box::pin(stop));
        if let Err(e) = park::release(self).await {
            tracing::warn!(error = %e, "taking parked jobs back failed; the next worker tries again");
        }
        let mut wait = Duration::from_millis(250);
        for restart in 0u32.. {
            let worker_name = if restart == 0 { name.clone() } else { format!("{name}-r{restart}") };
            let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
            match self
                .work_once(
                    worker_name,
                    concurrency,
                    handler.clone(),
                    drain.clone(),
                    stop.clone(),
                    ended.clone(),
                )
                .await
            {
                Ok(()) if ended.load(std::sync::atomic::Ordering::SeqCst) => return Ok(()),
                Ok(()) => tracing::warn!(restart, "the worker stopped by itself; starting it again"),
                Err(e) => tracing::error!(restart, error = %e, "the worker died; starting it again"),
            }
            if futures::FutureExt::now_or_never(stop.clone()).is_some() {
                return Ok(());
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        Ok(())
    }

    /// One apalis worker's life; sets `ended` when it ended because of `stop` or the drain.
    async fn work_once(
        &self,
        name: String,
        concurrency: usize,
        handler: Arc<dyn JobHandler>,
        drain: Drain,
        stop: StopSignal,
        ended: Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<(), QueueError> {
        let storage = RedisStorage::<DeliveryJob, crate::store::RedisConn>::new(self.store.conn.clone())
            .with_config(self.config.clone())
            .poll_with_interval(drain.poll_every());
        let worker = WorkerBuilder::new(name)
            .backend(storage)
            .data(handler)
            .concurrency(concurrency.max(1))
            .parallelize(tokio::spawn)
            .build(run_job);
        let queue = self.clone();
        worker
            .run_with_ctx(move |ctx| {
                let queue = queue.clone();
                let mut stop = stop.clone();
                let ended = ended.clone();
                let drain = drain.clone();
                async move {
                    let mut quiet_polls = 0u32;
                    let mut released = std::time::Instant::now();
                    loop {
                        // Once the night is queued, a draining worker looks often: `run` ends
                        // this soon after its last message.
                        let look = if drain.filling() { IDLE_POLL } else { drain.poll_every() };
                        tokio::select! {
                            _ = &mut stop => break,
                            _ = tokio::time::sleep(look) => {}
                        }
                        if let Err(e) = queue.promote_due().await {
                            tracing::warn!(error = %e, "promoting due jobs failed; retrying");
                            continue;
                        }
                        if !drain.drains() && released.elapsed() >= park::RELEASE_EVERY {
                            released = std::time::Instant::now();
                            if let Err(e) = park::release(&queue).await {
                                tracing::warn!(error = %e, "taking parked jobs back failed; retrying");
                            }
                        }
                        if drain.drains() {
                            match inspect::backlog(&queue).await {
                                Ok(_) if drain.filling() => quiet_polls = 0,
                                Ok(b) if b.is_drained() => quiet_polls += 1,
                                Ok(_) => quiet_polls = 0,
                                Err(e) => tracing::warn!(error = %e, "reading the backlog failed"),
                            }
                            // Two quiet looks in a row: an ack in flight cannot fool us.
                            if quiet_polls >= 2 {
                                break;
                            }
                        }
                    }
                    ended.store(true, std::sync::atomic::Ordering::SeqCst);
                    ctx.stop()
                }
            })
            .await
            .map_err(|e| QueueError::Worker(e.to_string()))
    }
}

/// When a worker ends by itself.
#[derive(Debug, Clone, Default)]
pub enum Drain {
    /// Never: it works until stopped (`work`, `serve`).
    #[default]
    Never,
    /// Once nothing is ready, in flight or due within [`Queue::drain_wait`] (`run`) — but not
    /// while `filling` is set: the run is still queueing its night beside the delivery.
    WhenEmpty {
        /// Set while more jobs may still be queued.
        filling: Arc<std::sync::atomic::AtomicBool>,
    },
}

impl Drain {
    /// A drain that no expansion holds open.
    pub fn when_empty() -> Drain {
        Drain::WhenEmpty { filling: Arc::default() }
    }

    /// Whether the worker may end by itself.
    pub fn drains(&self) -> bool {
        matches!(self, Drain::WhenEmpty { .. })
    }

    /// How often the worker polls an empty queue: [`DRAIN_LOOK`] when it drains, else
    /// [`IDLE_POLL`].
    fn poll_every(&self) -> Duration {
        if self.drains() { DRAIN_LOOK } else { IDLE_POLL }
    }

    /// Whether more jobs may still come (the queue looking empty means nothing yet).
    fn filling(&self) -> bool {
        matches!(self, Drain::WhenEmpty { filling } if filling.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// A stop future every incarnation of a supervised worker can wait on.
type StopSignal = futures::future::Shared<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>;

/// The idempotency key of a job: its delivery key, plus the attempt for retries.
fn idempotency_key(job: &DeliveryJob) -> String {
    if job.attempt == 0 && job.requeue == 0 && job.revived == 0 {
        job.key.clone()
    } else {
        format!("{}#{}.{}.{}", job.key, job.attempt, job.requeue, job.revived)
    }
}

async fn run_job(job: DeliveryJob, handler: Data<Arc<dyn JobHandler>>) -> Result<(), BoxDynError> {
    match handler.handle(job).await {
        JobResult::Done => Ok(()),
        JobResult::Dead(reason) => Err(AbortError::new(reason).into()),
        JobResult::Retry(reason) => Err(reason.into()),
    }
}

/// A stable spread of `0..max` seconds per key, so messages due at one time (09:00, the end of
/// quiet hours) do not all fall due in the same second (apalis-redis fails on >= 8,000 ids due
/// at once).
pub fn spread_secs(key: &str, max: u64) -> i64 {
    let h = key
        .bytes()
        .fold(1469598103934665603u64, |h, b| (h ^ u64::from(b)).wrapping_mul(1099511628211));
    (h % max.max(1)) as i64
}

/// A worker name unique to this process: `{prefix}-{host}-{pid}-{start}`.
pub fn worker_name(prefix: &str, role: &str) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{prefix}-{role}-{host}-{}-{started}", std::process::id())
}
