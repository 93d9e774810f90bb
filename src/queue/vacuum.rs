//! Removing finished jobs: apalis keeps every done job's payload (`<q>:data`), metadata
//! (`<q>:meta:<id>`) and `<q>:done` membership forever (≈ 600 B a message; its own `vacuum()`
//! deletes payloads of jobs still waiting for a retry, TECH-NOTES §0.9). This removes only
//! jobs in the done set whose `done_at` is older than the cutoff; dead letters and jobs that
//! wait are never touched. Never-twice does not depend on these records: the ledger does.
//! Also the idempotency keys and worker metadata that outlive their use ([`stale_before`]).

use super::{Queue, QueueError};

static VACUUM_DONE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
local scan = redis.call('SSCAN', KEYS[1], ARGV[1], 'COUNT', 500)
local removed = 0
for _, id in ipairs(scan[2]) do
  local meta = ARGV[3] .. ':' .. id
  local done_at = tonumber(redis.call('HGET', meta, 'done_at') or '0')
  if done_at < tonumber(ARGV[2]) then
    redis.call('SREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('DEL', meta)
    removed = removed + 1
  end
end
return {scan[1], removed}
"#,
    )
});

/// Removes done jobs finished before `cutoff` (unix seconds, system clock: apalis writes
/// `done_at` with it); returns how many.
pub async fn done_before(queue: &Queue, cutoff: i64) -> Result<u64, QueueError> {
    let cfg = queue.config();
    let mut conn = queue.store().conn.clone();
    let (mut cursor, mut total) = ("0".to_string(), 0u64);
    loop {
        let (next, removed): (String, u64) = VACUUM_DONE
            .key(cfg.done_jobs_set())
            .key(cfg.job_data_hash())
            .arg(&cursor)
            .arg(cutoff)
            .arg(cfg.job_meta_hash())
            .invoke_async(&mut conn)
            .await?;
        total += removed;
        if next == "0" {
            return Ok(total);
        }
        cursor = next;
    }
}

static DELETE_UNLESS_LIVE_WORKER: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
local n = 0
for i, k in ipairs(KEYS) do
  if not redis.call('ZSCORE', ARGV[1], ARGV[i + 1]) then
    redis.call('UNLINK', k)
    n = n + 1
  end
end
return n
"#,
    )
});

/// Removes what expires with the retention horizon on the run's clock rather than Redis's:
/// the idempotency keys of occurrences before `before` (their runs are refused anyway), and
/// the metadata of workers that are no longer registered (one per process that ever ran).
pub async fn stale_before(queue: &Queue, before: chrono::NaiveDate) -> Result<u64, QueueError> {
    let cfg = queue.config();
    let mut conn = queue.store().conn.clone();
    let cutoff = before.to_string();
    let idem = format!("{}:", cfg.idempotency_key_set());
    let meta = format!("{}:metadata:", cfg.workers_set());
    let (mut removed, mut cursor) = (0u64, 0u64);
    let pattern = format!("{}*", queue.store().keys.queue());
    loop {
        let (next, keys) = queue.store().scan_page(&pattern, cursor).await?;
        let old: Vec<&String> = keys
            .iter()
            .filter(|k| {
                k.strip_prefix(&idem)
                    .is_some_and(|rest| crate::store::occurrence_before(rest, &cutoff))
            })
            .collect();
        if !old.is_empty() {
            let n: u64 = redis::cmd("UNLINK").arg(&old).query_async(&mut conn).await?;
            removed += n;
        }
        let workers: Vec<(&String, &str)> = keys.iter().filter_map(|k| Some((k, k.strip_prefix(&meta)?))).collect();
        if !workers.is_empty() {
            let mut inv = DELETE_UNLESS_LIVE_WORKER.prepare_invoke();
            inv.arg(cfg.workers_set());
            for (key, name) in &workers {
                inv.key(key.as_str()).arg(*name);
            }
            let n: u64 = inv.invoke_async(&mut conn).await?;
            removed += n;
        }
        if next == 0 {
            return Ok(removed);
        }
        cursor = next;
    }
}
