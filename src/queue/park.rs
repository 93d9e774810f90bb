//! Parking: the jobs of a channel whose sender refuses us (the breaker, the reputation guard),
//! set aside by `run` so that it can finish the other channel and end. A parked job waits in
//! the scheduled set at [`PARKED_AT`] (far beyond any real send time, so no drain waits for it
//! and no clock makes it due) until [`release`] makes it due again: at the start of every
//! `run` and of every worker, and every [`RELEASE_EVERY`] in a running `work` / `serve`.

use super::{DeliveryJob, JobResult, Queue, QueueError};
use std::time::Duration;

/// The score of a parked job (2100-01-01 UTC): scores at or above it are parked.
pub const PARKED_AT: i64 = 4_102_444_800;

/// How often a running worker takes parked jobs back.
pub const RELEASE_EVERY: Duration = Duration::from_secs(60);

static RELEASE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'LIMIT', 0, 1000)
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], ARGV[2], id)
end
return #ids
"#,
    )
});

/// Parks `job` (put back without an attempt, counted as a requeue).
pub async fn park(queue: &Queue, job: &DeliveryJob) -> Result<JobResult, QueueError> {
    let mut again = job.clone();
    again.requeue += 1;
    queue.enqueue(&[again], Some(PARKED_AT)).await?;
    Ok(JobResult::Done)
}

/// Makes every parked job due now (1,000 per script call); returns how many. The queue's own
/// promotion then moves them to the ready list in bounded chunks.
pub async fn release(queue: &Queue) -> Result<u64, QueueError> {
    let mut conn = queue.store().conn.clone();
    let mut total = 0;
    loop {
        let moved: u64 = RELEASE
            .key(queue.config().scheduled_jobs_set())
            .arg(PARKED_AT)
            .arg(queue.clock().unix())
            .invoke_async(&mut conn)
            .await?;
        total += moved;
        if moved < 1000 {
            if total > 0 {
                tracing::info!(jobs = total, "parked jobs taken back");
            }
            return Ok(total);
        }
    }
}
