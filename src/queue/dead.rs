//! Dead letters: jobs out of retries, and messages held with an unknown outcome. Listing
//! them, and taking them out of the dead set (for `nurture dead retry` to queue again, or
//! `nurture dead drop` to give up). apalis keeps them in `<queue>:dead` with their payload
//! in `<queue>:data` and the reason in `<queue>:meta:<id>`.

use super::{DeliveryJob, Queue, QueueError};
use serde::Serialize;

/// One dead letter.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// apalis task id (what `dead retry` / `dead drop` take).
    pub id: String,
    /// The job, if its payload still decodes.
    pub job: Option<DeliveryJob>,
    /// Why it died.
    pub reason: String,
    /// Attempts made, as apalis counts them.
    pub attempts: String,
}

impl DeadLetter {
    /// True for a message held because its reply was lost (it may have been delivered).
    pub fn is_unknown_outcome(&self) -> bool {
        self.reason.starts_with("unknown outcome")
    }
}

/// Every dead letter (up to `limit`), sorted by id.
pub async fn list(queue: &Queue, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
    let mut ids = all_ids(queue).await?;
    ids.truncate(limit);
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(read(queue, &id).await?);
    }
    Ok(out)
}

async fn read(queue: &Queue, id: &str) -> Result<DeadLetter, QueueError> {
    let cfg = queue.config();
    let mut conn = queue.store().conn.clone();
    let data: Option<Vec<u8>> = redis::cmd("HGET").arg(cfg.job_data_hash()).arg(id).query_async(&mut conn).await?;
    let (result, attempts): (Option<String>, Option<String>) = redis::cmd("HMGET")
        .arg(format!("{}:{id}", cfg.job_meta_hash()))
        .arg("result")
        .arg("attempts")
        .query_async(&mut conn)
        .await?;
    Ok(DeadLetter {
        job: data.and_then(|d| serde_json::from_slice(&d).ok()),
        reason: result.map(|r| clean_reason(&r)).unwrap_or_default(),
        attempts: attempts.unwrap_or_default(),
        id: id.to_string(),
    })
}

/// Takes dead letters out of the dead set, with their payload and metadata; returns those
/// that were dead (an unknown id is `None`). The caller queues again or gives up.
pub async fn take(queue: &Queue, ids: &[String]) -> Result<Vec<(String, Option<DeadLetter>)>, QueueError> {
    let cfg = queue.config();
    let mut conn = queue.store().conn.clone();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let removed: i64 = redis::cmd("SREM").arg(cfg.dead_jobs_set()).arg(id).query_async(&mut conn).await?;
        if removed == 0 {
            out.push((id.clone(), None));
            continue;
        }
        let letter = read(queue, id).await?;
        let _: () = redis::pipe()
            .cmd("HDEL")
            .arg(cfg.job_data_hash())
            .arg(id)
            .ignore()
            .cmd("DEL")
            .arg(format!("{}:{id}", cfg.job_meta_hash()))
            .ignore()
            .query_async(&mut conn)
            .await?;
        out.push((id.clone(), Some(letter)));
    }
    Ok(out)
}

/// How many dead letters are messages held with an unknown outcome (they need a decision:
/// `dead retry` or `dead drop`).
pub async fn held(queue: &Queue) -> Result<u64, QueueError> {
    let ids = all_ids(queue).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let meta = queue.config().job_meta_hash();
    let mut pipe = redis::pipe();
    for id in &ids {
        pipe.cmd("HGET").arg(format!("{meta}:{id}")).arg("result");
    }
    let results: Vec<Option<String>> = pipe.query_async(&mut queue.store().conn.clone()).await?;
    Ok(results
        .iter()
        .flatten()
        .filter(|r| clean_reason(r).starts_with("unknown outcome"))
        .count() as u64)
}

/// Every dead letter's id.
pub async fn all_ids(queue: &Queue) -> Result<Vec<String>, QueueError> {
    let mut ids: Vec<String> = redis::cmd("SMEMBERS")
        .arg(queue.config().dead_jobs_set())
        .query_async(&mut queue.store().conn.clone())
        .await?;
    ids.sort();
    Ok(ids)
}

/// apalis stores the result as JSON (`{"Err":"AbortError: ..."}`); keep just the text.
fn clean_reason(raw: &str) -> String {
    let text = match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(m)) => m
            .values()
            .next()
            .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
            .unwrap_or_default(),
        Ok(serde_json::Value::String(s)) => s,
        _ => raw.to_string(),
    };
    text.strip_prefix("AbortError: ").map(str::to_string).unwrap_or(text)
}
