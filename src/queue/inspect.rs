//! Looking into the queue without apalis' broken helpers: one atomic backlog snapshot (the
//! drain check), and the dead letters with their reasons.

use super::{DeliveryJob, Queue, QueueError};
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
         redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf'), held, redis.call('SCARD', KEYS[4]) }
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
        .arg(crate::clock::Clock::unix_now())
        .arg(horizon.as_secs())
        .invoke_async(&mut queue.store().conn.clone())
        .await?;
    Ok(Backlog {
        waiting: v[0],
        due: v[1],
        soon: v[2],
        scheduled: v[3],
        in_flight: v[4],
        dead: v[5],
    })
}

/// [`backlog_within`] the queue's own drain wait.
pub async fn backlog(queue: &Queue) -> Result<Backlog, QueueError> {
    backlog_within(queue, queue.drain_wait).await
}

/// One dead letter.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// apalis task id.
    pub id: String,
    /// The job, if its payload still decodes.
    pub job: Option<DeliveryJob>,
    /// Why it died.
    pub reason: String,
    /// Attempts made.
    pub attempts: String,
}

/// Up to `limit` dead letters.
pub async fn dead_letters(queue: &Queue, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
    let cfg = queue.config();
    let mut conn = queue.store().conn.clone();
    let ids: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg(cfg.dead_jobs_set())
        .arg(limit)
        .query_async(&mut conn)
        .await?;
    let mut out = Vec::new();
    for id in ids {
        let data: Option<Vec<u8>> = redis::cmd("HGET").arg(cfg.job_data_hash()).arg(&id).query_async(&mut conn).await?;
        let (result, attempts): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(format!("{}:{id}", cfg.job_meta_hash()))
            .arg("result")
            .arg("attempts")
            .query_async(&mut conn)
            .await?;
        out.push(DeadLetter {
            job: data.and_then(|d| serde_json::from_slice(&d).ok()),
            reason: result.map(|r| clean_reason(&r)).unwrap_or_default(),
            attempts: attempts.unwrap_or_default(),
            id,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// apalis stores the result as JSON (`{"Err":"..."}`); keep just the text.
fn clean_reason(raw: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(m)) => m
            .values()
            .next()
            .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
            .unwrap_or_default(),
        Ok(serde_json::Value::String(s)) => s,
        _ => raw.to_string(),
    }
}
