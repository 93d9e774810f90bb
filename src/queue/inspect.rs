//! Looking into the queue without apalis' broken helpers: one atomic backlog snapshot (the
//! drain check). Dead letters are in [`super::dead`].

use super::{Queue, QueueError};
use serde::Serialize;
use std::time::Duration;

static BACKLOG: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
local now = tonumber(ARGV[2])
local held = 0
for _, w in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  held = held + redis.call('SCARD', ARGV[1] .. ':' .. w)
end
return { redis.call('LLEN', KEYS[1]), redis.call('ZCOUNT', KEYS[2], 0, now),
         redis.call('ZCOUNT', KEYS[2], '(' .. now, now + tonumber(ARGV[3])),
         redis.call('ZCOUNT', KEYS[2], '(' .. now, '(' .. ARGV[4]), held, redis.call('SCARD', KEYS[4]),
         redis.call('ZCOUNT', KEYS[2], ARGV[4], '+inf') }
"#,
    )
});

/// A snapshot of the queue.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Backlog {
    /// Ready, waiting for a worker.
    pub waiting: u64,
    /// Scheduled and already due (about to be promoted).
    pub due: u64,
    /// Scheduled within the next `drain_wait` (retries about to happen).
    pub soon: u64,
    /// Scheduled for later (retries, deferrals).
    pub scheduled: u64,
    /// Parked because their channel's sender refused us ([`super::park`]): the next `run`,
    /// or a running worker within a minute, takes them back.
    pub parked: u64,
    /// Held by workers (including workers that died and whose jobs are not yet recovered).
    pub in_flight: u64,
    /// Dead letters.
    pub dead: u64,
}

impl Backlog {
    /// Nothing ready, nothing held, nothing due within the wait.
    pub fn is_drained(&self) -> bool {
        self.waiting + self.due + self.soon + self.in_flight == 0
    }
}

/// Takes one atomic snapshot; `soon` counts jobs due within `horizon`.
pub async fn backlog_within(queue: &Queue, horizon: Duration) -> Result<Backlog, QueueError> {
    let cfg = queue.config();
    let v: Vec<u64> = BACKLOG
        .key(cfg.active_jobs_list())
        .key(cfg.scheduled_jobs_set())
        .key(cfg.workers_set())
        .key(cfg.dead_jobs_set())
        .arg(cfg.inflight_jobs_set())
        .arg(queue.clock().unix())
        .arg(horizon.as_secs())
        .arg(super::park::PARKED_AT)
        .invoke_async(&mut queue.store().conn.clone())
        .await?;
    Ok(Backlog {
        waiting: v[0],
        due: v[1],
        soon: v[2],
        scheduled: v[3],
        in_flight: v[4],
        dead: v[5],
        parked: v[6],
    })
}

/// [`backlog_within`] the queue's own drain wait.
pub async fn backlog(queue: &Queue) -> Result<Backlog, QueueError> {
    backlog_within(queue, queue.drain_wait).await
}
