//! `nurture backup` / `nurture restore`: every key of an installation that must survive —
//! contacts, the suppression lists, forgotten hashes, the ledger (with its remaining TTL),
//! histories, the agenda, costs, facts, the pipeline, run records — as a portable archive of
//! JSON lines (no Redis DUMP payloads, so any Redis or Valkey version reads it), written while
//! the system runs and restored into an empty prefix, any prefix.
//!
//! Not archived: the queue (`{prefix}:jobs…`: the next run queues again whatever is due and
//! not in the ledger), the health of the senders and the lead form's rate-limit windows.
//!
//! Format: a header line `{"nurture_backup":1,…}`, then one line per key — or per page of a
//! large hash, set, sorted set or list — `{"key":…,"type":…,"ttl_ms":…,…}` with the key without
//! its prefix, then a trailer `{"end":true,"keys":N,"lines":M}` so that a truncated archive is
//! refused. Values are JSON strings, or `{"b64":…}` when not UTF-8.
//!
//! Consistency: each key is read atomically, or page by page for large ones (each field,
//! member or list item as it was at one moment of the backup); the archive is a picture of the
//! installation during the seconds it took. A person forgotten while it was written may still be
//! in it together with their forgotten hash: `restore` forgets them again.

use crate::store::{SCAN_COUNT, Store, StoreError};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, Write};

/// The archive format this build writes and reads.
pub const FORMAT: u32 = 1;

/// Key suffixes (after `{prefix}:`) that are not archived: the queue, sender health and the
/// lead form's rate-limit windows, all rebuilt by themselves.
const SKIPPED: [&str; 3] = ["jobs", "health", "leads:rate:"];

/// Items per archive line for hashes, sets, sorted sets and lists.
const PAGE: usize = 1000;

/// `restore` sends its writes in pipelines of about this many bytes of archive.
const FLUSH_BYTES: usize = 4 << 20;

/// A failure to write or read an archive.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Redis failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The archive is not one `restore` can load.
    #[error("line {line}: {message}")]
    Bad {
        /// 1-based line.
        line: usize,
        /// What is wrong and what to do.
        message: String,
    },
    /// The target prefix already holds data.
    #[error(
        "[redis] prefix {prefix:?} already holds {keys}+ key(s): restore loads into an empty prefix — set [redis] \
         prefix (or NURTURE_REDIS_PREFIX) to a new one, or point [redis] url at an empty Redis"
    )]
    NotEmpty {
        /// The prefix.
        prefix: String,
        /// Keys found (at least).
        keys: usize,
    },
}

impl From<redis::RedisError> for BackupError {
    fn from(e: redis::RedisError) -> Self {
        BackupError::Store(StoreError::Redis(e))
    }
}

/// What an archive held.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Keys.
    pub keys: usize,
    /// Archive lines (header and trailer included).
    pub lines: usize,
    /// Contacts.
    pub contacts: usize,
    /// Suppressed addresses (all channels).
    pub suppressed: usize,
    /// Ledger entries (`delivery:*`).
    pub deliveries: usize,
    /// People forgotten again after a restore (see the module docs).
    pub forgotten_again: usize,
}

#[derive(Serialize, Deserialize)]
struct Header {
    nurture_backup: u32,
    version: String,
    prefix: String,
    created: String,
}

#[derive(Serialize, Deserialize)]
struct Trailer {
    end: bool,
    keys: usize,
    lines: usize,
}

/// One archive line: a key, or one page of it.
#[derive(Serialize, Deserialize)]
struct Entry {
    key: String,
    #[serde(rename = "type")]
    kind: String,
    /// Milliseconds left to live when read; -1: none.
    ttl_ms: i64,
    /// `string`: the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
    /// `hash`: [field, value] pairs; `set`, `list`: values; `zset`: [member, score] pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    items: Vec<Value>,
}

fn text(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(s) => Value::String(s),
        Err(e) => serde_json::json!({ "b64": base64::engine::general_purpose::STANDARD.encode(e.into_bytes()) }),
    }
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.clone().into_bytes()),
        Value::Object(o) => o
            .get("b64")
            .and_then(Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()),
        _ => None,
    }
}

/// Writes every archived key of `store`'s prefix to `out`.
pub async fn write(store: &Store, out: &mut impl Write, now: &str) -> Result<Summary, BackupError> {
    let prefix = store.keys.prefix().to_string();
    let mut s = Summary::default();
    let header = Header {
        nurture_backup: FORMAT,
        version: env!("CARGO_PKG_VERSION").into(),
        prefix: prefix.clone(),
        created: now.into(),
    };
    put(out, &header, &mut s)?;
    let mut conn = store.conn.clone();
    let mut cursor = 0u64;
    loop {
        let (next, keys) = store.scan_page(&store.keys.all(), cursor).await?;
        let keys: Vec<String> = keys.into_iter().filter(|k| archived(&prefix, k)).collect();
        if !keys.is_empty() {
            write_page(&mut conn, &prefix, &keys, out, &mut s).await?;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let trailer = Trailer {
        end: true,
        keys: s.keys,
        lines: s.lines + 1,
    };
    put(out, &trailer, &mut s)?;
    out.flush()?;
    Ok(s)
}

/// Writes the keys of one SCAN page: their types and TTLs in one round trip, the strings in one
/// `MGET`, the first page of every list (the capped histories, one per contact) in one
/// pipeline, then each hash, set and sorted set page by page. A key counts once it wrote a line:
/// one deleted since the SCAN writes none, and the trailer's count matches what `restore` reads.
async fn write_page(
    conn: &mut crate::store::RedisConn,
    prefix: &str,
    keys: &[String],
    out: &mut impl Write,
    s: &mut Summary,
) -> Result<(), BackupError> {
    let mut pipe = redis::pipe();
    for k in keys {
        pipe.cmd("TYPE").arg(k).cmd("PTTL").arg(k);
    }
    let kinds: Vec<(String, i64)> = pipe.query_async(&mut *conn).await?;
    let of_kind = |kind: &str| -> Vec<&String> { keys.iter().zip(&kinds).filter(|(_, (t, _))| t == kind).map(|(k, _)| k).collect() };
    let strings = of_kind("string");
    let mut values = if strings.is_empty() {
        Vec::new()
    } else {
        redis::cmd("MGET")
            .arg(&strings)
            .query_async::<Vec<Option<Vec<u8>>>>(&mut *conn)
            .await?
    }
    .into_iter();
    let lists = of_kind("list");
    let mut first_pages = if lists.is_empty() {
        Vec::new()
    } else {
        let mut pipe = redis::pipe();
        for k in &lists {
            pipe.cmd("LRANGE").arg(*k).arg(0).arg(PAGE - 1);
        }
        pipe.query_async::<Vec<Vec<Vec<u8>>>>(&mut *conn).await?
    }
    .into_iter();
    for (key, (kind, ttl)) in keys.iter().zip(kinds) {
        let mut entry = Entry {
            key: key[prefix.len() + 1..].to_string(),
            kind,
            ttl_ms: if ttl > 0 { ttl } else { -1 },
            value: None,
            items: Vec::new(),
        };
        let lines_before = s.lines;
        match entry.kind.as_str() {
            "string" => {
                // None: expired or deleted since the SCAN.
                if let Some(v) = values.next().flatten() {
                    entry.value = Some(text(v));
                    count(s, &entry.key, 1);
                    put(out, &entry, s)?;
                }
            }
            "hash" | "set" | "zset" => write_scanned(conn, key, &mut entry, out, s).await?,
            "list" => write_list(conn, key, first_pages.next().unwrap_or_default(), &mut entry, out, s).await?,
            _ => {} // "none": deleted since the SCAN; nurture writes no other type
        }
        if s.lines > lines_before {
            s.keys += 1;
        }
    }
    Ok(())
}

/// A hash, set or sorted set, one line per `HSCAN`/`SSCAN`/`ZSCAN` page.
async fn write_scanned(
    conn: &mut crate::store::RedisConn,
    key: &str,
    entry: &mut Entry,
    out: &mut impl Write,
    s: &mut Summary,
) -> Result<(), BackupError> {
    let command = match entry.kind.as_str() {
        "hash" => "HSCAN",
        "set" => "SSCAN",
        _ => "ZSCAN",
    };
    let mut cursor = 0u64;
    loop {
        let (next, flat): (u64, Vec<Vec<u8>>) = redis::cmd(command)
            .arg(key)
            .arg(cursor)
            .arg("COUNT")
            .arg(PAGE)
            .query_async(&mut *conn)
            .await?;
        entry.items = pairs(&entry.kind, flat);
        count(s, &entry.key, entry.items.len());
        if !entry.items.is_empty() {
            put(out, &*entry, s)?;
        }
        cursor = next;
        if cursor == 0 {
            return Ok(());
        }
    }
}

/// A list, one line per `PAGE` items; `first` is its first page, already read.
async fn write_list(
    conn: &mut crate::store::RedisConn,
    key: &str,
    first: Vec<Vec<u8>>,
    entry: &mut Entry,
    out: &mut impl Write,
    s: &mut Summary,
) -> Result<(), BackupError> {
    let mut page = first;
    let mut start = 0usize;
    loop {
        let n = page.len();
        entry.items = page.into_iter().map(text).collect();
        if n > 0 {
            put(out, &*entry, s)?;
        }
        if n < PAGE {
            return Ok(());
        }
        start += PAGE;
        page = redis::cmd("LRANGE")
            .arg(key)
            .arg(start)
            .arg(start + PAGE - 1)
            .query_async(&mut *conn)
            .await?;
    }
}

/// `true` unless the key is one [`SKIPPED`] names.
fn archived(prefix: &str, key: &str) -> bool {
    let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix(':')) else {
        return false;
    };
    !SKIPPED.iter().any(|s| {
        if s.ends_with(':') {
            rest.starts_with(s)
        } else {
            rest == *s || rest.starts_with(&format!("{s}:"))
        }
    })
}

fn pairs(kind: &str, flat: Vec<Vec<u8>>) -> Vec<Value> {
    match kind {
        "set" => flat.into_iter().map(text).collect(),
        _ => {
            let mut out = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(a), Some(b)) = (it.next(), it.next()) {
                let second = if kind == "zset" {
                    String::from_utf8_lossy(&b).parse::<f64>().map(Value::from).unwrap_or(Value::Null)
                } else {
                    text(b)
                };
                out.push(Value::Array(vec![text(a), second]));
            }
            out
        }
    }
}

fn count(s: &mut Summary, key: &str, n: usize) {
    if key == "contacts" {
        s.contacts += n;
    } else if key.starts_with("suppression:") {
        s.suppressed += n;
    } else if key.starts_with("delivery:") {
        s.deliveries += n;
    }
}

/// Loads an archive into `store`'s prefix, which must be empty. Writes go in pipelines of a
/// few hundred commands; a key's TTL is what was left of it when the backup read it.
pub async fn restore(store: &Store, input: impl BufRead) -> Result<Summary, BackupError> {
    let prefix = store.keys.prefix().to_string();
    // Connecting builds the (empty) address indexes of an empty prefix: those do not count.
    let derived = [
        store.keys.emails(),
        store.keys.emails_built(),
        store.keys.phones(),
        store.keys.phones_built(),
    ];
    let mut cursor = 0u64;
    loop {
        let (next, found) = store.scan_page(&store.keys.all(), cursor).await?;
        let data = found.iter().filter(|k| !derived.contains(k)).count();
        if data > 0 {
            return Err(BackupError::NotEmpty { prefix, keys: data });
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let mut s = Summary::default();
    let mut pipe = redis::pipe();
    let mut queued = 0usize;
    // The pages of one key are consecutive lines: a key starts where the name changes.
    let mut last_key = String::new();
    let mut trailer = None;
    for (i, text_line) in input.lines().enumerate() {
        let number = i + 1;
        let text_line = text_line?;
        let bad = |message: String| BackupError::Bad { line: number, message };
        if trailer.is_some() {
            return Err(bad(
                "text after the archive's end line: the file was altered; take a new backup".into()
            ));
        }
        s.lines += 1;
        if number == 1 {
            let header: Header = serde_json::from_str(&text_line)
                .map_err(|e| bad(format!("not a nurture backup ({e}): the first line must be its header")))?;
            if header.nurture_backup != FORMAT {
                return Err(bad(format!(
                    "archive format {} (this nurture reads {FORMAT}): restore it with the nurture {} that wrote it",
                    header.nurture_backup, header.version
                )));
            }
            continue;
        }
        let value: Value = serde_json::from_str(&text_line).map_err(|e| bad(format!("not JSON ({e}): the archive is damaged")))?;
        if value.get("end").is_some() {
            let t: Trailer = serde_json::from_value(value).map_err(|e| bad(format!("a damaged end line ({e})")))?;
            trailer = Some(t);
            continue;
        }
        let entry: Entry = serde_json::from_value(value).map_err(|e| bad(format!("a damaged key line ({e})")))?;
        let key = format!("{prefix}:{}", entry.key);
        let items = |e: &Entry| -> Result<Vec<Vec<u8>>, BackupError> {
            e.items
                .iter()
                .map(|v| bytes(v).ok_or_else(|| bad(format!("{}: an item that is not a string", e.key))))
                .collect()
        };
        match entry.kind.as_str() {
            "string" => {
                let v = entry
                    .value
                    .as_ref()
                    .and_then(bytes)
                    .ok_or_else(|| bad(format!("{}: no value", entry.key)))?;
                pipe.cmd("SET").arg(&key).arg(v).ignore();
                count(&mut s, &entry.key, 1);
            }
            "hash" => {
                let mut cmd = redis::cmd("HSET");
                cmd.arg(&key);
                for pair in &entry.items {
                    let (Some(f), Some(v)) = (pair.get(0).and_then(bytes), pair.get(1).and_then(bytes)) else {
                        return Err(bad(format!("{}: a hash entry that is not [field, value]", entry.key)));
                    };
                    cmd.arg(f).arg(v);
                }
                pipe.add_command(cmd).ignore();
                count(&mut s, &entry.key, entry.items.len());
            }
            "set" => {
                pipe.cmd("SADD").arg(&key).arg(items(&entry)?).ignore();
            }
            "list" => {
                pipe.cmd("RPUSH").arg(&key).arg(items(&entry)?).ignore();
            }
            "zset" => {
                let mut cmd = redis::cmd("ZADD");
                cmd.arg(&key);
                for pair in &entry.items {
                    let (Some(m), Some(score)) = (pair.get(0).and_then(bytes), pair.get(1).and_then(Value::as_f64)) else {
                        return Err(bad(format!("{}: a sorted-set entry that is not [member, score]", entry.key)));
                    };
                    cmd.arg(score).arg(m);
                }
                pipe.add_command(cmd).ignore();
            }
            other => return Err(bad(format!("{}: unknown type {other:?}", entry.key))),
        }
        if entry.ttl_ms > 0 {
            pipe.cmd("PEXPIRE").arg(&key).arg(entry.ttl_ms).ignore();
        }
        if entry.key != last_key {
            s.keys += 1;
            last_key = entry.key;
        }
        queued += text_line.len();
        if queued >= FLUSH_BYTES {
            let _: () = pipe.query_async(&mut store.conn.clone()).await?;
            pipe = redis::pipe();
            queued = 0;
        }
    }
    if queued > 0 {
        let _: () = pipe.query_async(&mut store.conn.clone()).await?;
    }
    let bad_end = |message: &str| BackupError::Bad {
        line: s.lines,
        message: message.into(),
    };
    match trailer {
        None => {
            return Err(bad_end(
                "the archive ends before its end line: it was cut short; restore a complete one (what was read is loaded — clear the prefix first)",
            ));
        }
        Some(t) if t.keys != s.keys || t.lines != s.lines => {
            return Err(bad_end(
                "the end line's counts do not match the archive: it was altered; restore a complete one",
            ));
        }
        Some(_) => {}
    }
    Ok(s)
}

/// Writes `v` as one line of JSON.
fn put(out: &mut impl Write, v: &impl Serialize, s: &mut Summary) -> std::io::Result<()> {
    s.lines += 1;
    serde_json::to_writer(&mut *out, v)?;
    out.write_all(b"\n")
}

/// After a restore: forgets again everyone the archive holds whose address hash is among the
/// forgotten ones (forgotten while the backup was being written). Returns how many.
pub async fn forget_again(store: &Store, queue: &crate::queue::Queue, pepper: &str, region: &str) -> Result<usize, BackupError> {
    let mut again = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, contacts) = store.scan_contacts(cursor, SCAN_COUNT as usize).await?;
        // One round trip per page: every address hash of the page at once.
        let hashes: Vec<(usize, String)> = contacts
            .iter()
            .enumerate()
            .flat_map(|(i, c)| crate::forget::hashes_of(c, pepper, region).into_iter().map(move |h| (i, h)))
            .collect();
        let all: Vec<String> = hashes.iter().map(|(_, h)| h.clone()).collect();
        let forgotten = store.forgotten_among(&all).await?;
        let mut hit: Vec<usize> = hashes.iter().zip(forgotten).filter(|(_, f)| *f).map(|((i, _), _)| *i).collect();
        hit.dedup();
        again.extend(hit.into_iter().map(|i| contacts[i].id.0.clone()));
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for id in &again {
        crate::forget::forget(store, queue, pepper, region, id).await?;
    }
    Ok(again.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_health_and_rate_windows_are_not_archived() {
        for key in ["p:jobs", "p:jobs:active", "p:health", "p:leads:rate:1.2.3.4:99", "q:contacts", "p"] {
            assert!(!archived("p", key), "{key}");
        }
        for key in [
            "p:contacts",
            "p:jobsite",
            "p:delivery:x",
            "p:suppression:email",
            "p:leads:idem:web:1",
            "p:forgotten",
        ] {
            assert!(archived("p", key), "{key}");
        }
    }

    #[test]
    fn values_that_are_not_utf8_survive() {
        let raw = vec![0xff, 0x00, b'a'];
        assert_eq!(bytes(&text(raw.clone())), Some(raw));
        assert_eq!(text(b"plain".to_vec()), Value::String("plain".into()));
    }
}
