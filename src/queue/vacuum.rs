//! Removing finished jobs: apalis keeps every done job's payload (`<q>:data`), metadata
//! (`<q>:meta:<id>`) and `<q>:done` membership forever (≈ 600 B a message; its own `vacuum()`
//! deletes payloads of jobs still waiting for a retry, TECH-NOTES §0.9). This removes only
//! jobs in the done set whose `done_at` is older than the cutoff; dead letters and jobs that
//! wait are never touched. Never-twice does not depend on these records: the ledger does.
//! Also the ledger marks, idempotency keys and worker metadata that outlive their use
//! ([`sweep`]).

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

/// SCAN pages a night's clean-up reads at least: a database of up to this many
/// × [`SCAN_COUNT`](crate::store::SCAN_COUNT) keys is swept whole every night.
const MIN_PAGES: u64 = 64;

/// Nights over which one sweep of a large database is spread.
const SWEEP_NIGHTS: u64 = 7;

/// Removes what expires with the retention horizon on the run's clock rather than Redis's —
/// ledger marks and idempotency keys of occurrences before `before` (their runs are refused
/// anyway), and the metadata of workers no longer registered (one per process that ever ran)
/// — in one SCAN pass shared by all three. A large database is swept a seventh a night (at
/// least [`MIN_PAGES`] pages), going on where the last night stopped, so a key outlives the
/// horizon by at most a week and a night's clean-up stays a fraction of a second per million
/// keys. Returns how many keys went.
pub async fn sweep(queue: &Queue, before: chrono::NaiveDate) -> Result<u64, QueueError> {
    let store = queue.store();
    let mut conn = store.conn.clone();
    let now: u64 = redis::cmd("DBSIZE").query_async(&mut conn).await?;
    // "CURSOR KEYS": where the sweep goes on, and the database's size when it began — the
    // share of a night stays a seventh of that, so a sweep ends within a week while the old
    // keys it removes shrink the database.
    let saved: Option<String> = redis::cmd("GET").arg(store.keys.vacuum_cursor()).query_async(&mut conn).await?;
    let (mut cursor, began) = saved
        .as_deref()
        .and_then(|v| v.split_once(' '))
        .and_then(|(c, k)| Some((c.parse::<u64>().ok()?, k.parse::<u64>().ok()?)))
        .unwrap_or((0, now));
    let began = if cursor == 0 { now } else { began };
    let budget = MIN_PAGES.max(began.max(now).div_ceil(crate::store::SCAN_COUNT * SWEEP_NIGHTS));
    let mut removed = 0;
    for _ in 0..budget {
        let (next, page) = store.scan_page(&store.keys.all(), cursor).await?;
        removed += crate::ledger::expire_among(store, &page, before).await?;
        removed += stale_among(queue, &page, before).await?;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let _: () = redis::cmd("SET")
        .arg(store.keys.vacuum_cursor())
        .arg(format!("{cursor} {began}"))
        .query_async(&mut conn)
        .await?;
    Ok(removed)
}

/// Of `keys` (a page of a SCAN), removes the idempotency keys of occurrences before `before`
/// and the metadata of workers that are no longer registered.
async fn stale_among(queue: &Queue, keys: &[String], before: chrono::NaiveDate) -> Result<u64, QueueError> {
    let cfg = queue.config();
    let mut conn = queue.store().conn.clone();
    let cutoff = before.to_string();
    let idem = format!("{}:", cfg.idempotency_key_set());
    let meta = format!("{}:metadata:", cfg.workers_set());
    let mut removed = 0;
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
    Ok(removed)
}
