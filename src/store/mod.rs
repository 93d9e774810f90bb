//! Redis: the one connection per process ([`RedisConn`]: 5 s timeouts, auto-reconnect, TLS,
//! Sentinel), and the
//! stored data — contacts, suppression list, run records, agenda. Key names are in [`keys`].

mod connection;
pub mod erase;
mod facts;
pub mod keys;
mod people;
pub mod sizing;
mod update;

use crate::contacts::Contact;
use crate::contacts::census::{Census, CensusMode};
pub use connection::{RedisConn, RedisTarget};
pub use facts::DEFAULT_KEEP_DAYS;
pub use keys::Keys;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
pub use update::IntakeReads;

/// A Redis failure (connection, timeout, or a stored value that does not decode).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis itself failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stored value is not valid JSON for its type.
    #[error("corrupt value at {key}: {message}")]
    Corrupt {
        /// The key.
        key: String,
        /// The decode error.
        message: String,
    },
    /// Others kept writing the same contacts: the change was re-applied many times and never
    /// got through.
    #[error("contended: {key} changed by others on every try; run the command again")]
    Contended {
        /// The hash and the contact ids.
        key: String,
    },
    /// An opt-out reached the primary but not the replicas `[redis] wait_replicas` asks for.
    #[error(
        "stored on the Redis primary but confirmed by {got} of {wanted} replica(s) within {ms} ms \
         ([redis] wait_replicas, wait_ms): a failover now could lose it, so the request failed; it is \
         safe to repeat"
    )]
    NotReplicated {
        /// Replicas asked for.
        wanted: u32,
        /// Replicas that confirmed.
        got: u32,
        /// How long it waited.
        ms: u64,
    },
}

/// One suppression list entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Suppression {
    /// Normalized address or E.164 number.
    pub value: String,
    /// `email` or `sms`.
    pub channel: String,
    /// Why (`manual`, `unsubscribe`, `bounce`, `stop`, ...).
    pub reason: String,
    /// When, RFC 3339.
    pub at: String,
}

/// One recorded deal (a fact kept by `record deal` and `POST /events` for the reports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    /// The contact.
    pub contact_id: String,
    /// The day it closed.
    pub date: chrono::NaiveDate,
    /// Its value.
    pub value: f64,
}

/// Marketing spend of a lead source on a day (`nurture record cost`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cost {
    /// The lead source.
    pub source: String,
    /// The day.
    pub date: chrono::NaiveDate,
    /// The amount.
    pub amount: f64,
    /// What it was.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The last known health of a sender (`status` shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`, `down` (unreachable, timeouts, 4xx) or `refused` (the relay refuses us).
    pub state: String,
    /// Since when (RFC 3339) it is in this state.
    pub since: String,
    /// The last error, with the server's own reply.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// Keys a [`Store::scan_page`] asks Redis for (about as many come back per page).
pub const SCAN_COUNT: u64 = 2000;

/// The Redis side of nurture.
#[derive(Clone)]
pub struct Store {
    /// The shared connection (cheap to clone).
    pub conn: RedisConn,
    /// Key names.
    pub keys: Keys,
    /// How facts name contacts and how long they are kept ([`Store::with_facts`]).
    facts: facts::FactPolicy,
    /// Seconds a delivery's final ledger mark lives ([`Store::with_retention`]).
    mark_secs: u64,
    /// The configuration, when `[[webhooks]]` lists any: events are queued for them
    /// ([`crate::webhooks::emit`]).
    webhooks: Option<std::sync::Arc<crate::config::Config>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("prefix", &self.keys.prefix()).finish()
    }
}

/// HDEL the entry ARGV[1] of hash KEYS[1] if its JSON `reason` is one of ARGV[2..].
static UNSUPPRESS_IF: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local ok, entry = pcall(cjson.decode, raw)
if not ok or type(entry) ~= 'table' then return 0 end
for i = 2, #ARGV do
  if entry.reason == ARGV[i] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
end
return 0
"#,
    )
});

/// HSETNX KEYS[1] ARGV[1] ARGV[2] if contact ARGV[3] exists in KEYS[2].
static SUPPRESS_FOR: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
"#,
    )
});

/// `[delivery] retention_days` when a store is opened without its configuration.
const DEFAULT_RETENTION_DAYS: u32 = 35;

impl Store {
    /// Connects to the one server at `url` ([`RedisConn::open`]).
    pub async fn connect(url: &str, prefix: &str) -> Result<Store, StoreError> {
        Self::open(&RedisTarget::url(url), prefix).await
    }

    /// Connects to `target` ([`RedisConn::open`]).
    pub async fn open(target: &RedisTarget, prefix: &str) -> Result<Store, StoreError> {
        let conn = RedisConn::open(target).await?;
        Ok(Store {
            conn,
            keys: Keys::new(prefix),
            facts: facts::FactPolicy::new(prefix, facts::DEFAULT_KEEP_DAYS),
            mark_secs: u64::from(DEFAULT_RETENTION_DAYS) * 86_400,
            webhooks: None,
        })
    }

    /// This store as `config` sets it up: how facts name contacts and how long they and the
    /// ledger marks are kept. Every connection of a process is set up through it.
    pub fn configured(self, config: &crate::config::Config) -> Store {
        let mut store = self
            .with_facts(config.pepper(), config.report.keep_days)
            .with_retention(config.delivery.retention_days);
        store.webhooks = (!config.webhooks.is_empty()).then(|| std::sync::Arc::new(config.clone()));
        store
    }

    /// The configuration whose `[[webhooks]]` events are queued for, if any.
    pub fn webhook_config(&self) -> Option<&crate::config::Config> {
        self.webhooks.as_deref()
    }

    /// Keeps each delivery's final ledger mark `days` after it is written (`[delivery]
    /// retention_days`): a mark is written on or after its occurrence's day, so it outlives the
    /// occurrence by the retention horizon and goes by itself, without a clean-up.
    pub fn with_retention(mut self, days: u32) -> Store {
        self.mark_secs = u64::from(days.max(1)) * 86_400;
        self
    }

    /// Seconds a final ledger mark lives.
    pub fn mark_ttl_secs(&self) -> u64 {
        self.mark_secs
    }

    /// Reads one contact.
    pub async fn contact(&self, id: &str) -> Result<Option<Contact>, StoreError> {
        let raw: Option<String> = self.conn.clone().hget(self.keys.contacts(), id).await?;
        raw.map(|r| self.decode(&r)).transpose()
    }

    /// Reads many contacts (missing ids give `None`).
    pub async fn contacts(&self, ids: &[String]) -> Result<Vec<Option<Contact>>, StoreError> {
        let raw = self.raw_contacts(ids).await?;
        raw.into_iter().map(|r| r.map(|r| self.decode(&r)).transpose()).collect()
    }

    /// Which of `ids` are stored contacts (one round trip; nothing is read or decoded).
    pub async fn contacts_exist(&self, ids: &[String]) -> Result<Vec<bool>, StoreError> {
        self.fields_among(&self.keys.contacts(), ids).await
    }

    /// One page of contacts: returns the next cursor (0 when done) and the page.
    pub async fn scan_contacts(&self, cursor: u64, count: usize) -> Result<(u64, Vec<Contact>), StoreError> {
        let (next, raws) = self.scan_contacts_raw(cursor, count).await?;
        Ok((next, self.decode_contacts(&raws)?))
    }

    /// One page of contacts as stored (JSON), for a caller that decodes them elsewhere
    /// ([`Store::decode_contacts`]): the next cursor (0 when done) and the values.
    pub async fn scan_contacts_raw(&self, cursor: u64, count: usize) -> Result<(u64, Vec<String>), StoreError> {
        let (next, flat): (u64, Vec<String>) = redis::cmd("HSCAN")
            .arg(self.keys.contacts())
            .arg(cursor)
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok((next, flat.into_iter().skip(1).step_by(2).collect()))
    }

    /// Decodes stored contacts (a page of [`Store::scan_contacts_raw`]).
    pub fn decode_contacts(&self, raws: &[String]) -> Result<Vec<Contact>, StoreError> {
        raws.iter().map(|r| self.decode(r)).collect()
    }

    /// Every contact, a page of about `count` at a time (HSCAN: contacts written meanwhile may
    /// or may not appear, none appears twice in a page).
    pub fn contact_pages(&self, count: usize) -> impl futures::Stream<Item = Result<Vec<Contact>, StoreError>> + '_ {
        futures::stream::try_unfold(Some(0u64), move |cursor| async move {
            let Some(cursor) = cursor else { return Ok(None) };
            let (next, page) = self.scan_contacts(cursor, count).await?;
            Ok(Some((page, (next != 0).then_some(next))))
        })
    }

    /// Counts the contacts having a value in each of `columns` (see [`CensusMode`]).
    pub async fn census(&self, columns: impl IntoIterator<Item = String>, mode: CensusMode) -> Result<Census, StoreError> {
        use futures::TryStreamExt;
        let mut census = Census::new(columns);
        if census.having.is_empty() && mode == CensusMode::Presence {
            census.contacts = self.contact_count().await?;
            census.complete = true;
            return Ok(census);
        }
        let mut pages = std::pin::pin!(self.contact_pages(5000));
        while let Some(page) = pages.try_next().await? {
            page.iter().for_each(|c| census.add(c));
            if census.is_enough(mode) {
                return Ok(census);
            }
        }
        census.complete = true;
        Ok(census)
    }

    /// Waits until Redis answers on this connection, for at most `within`: a connection that
    /// sat idle through an outage (while other connections of the process rode it out) fails
    /// its first command and reconnects on the next.
    pub async fn answering(&self, within: std::time::Duration) -> Result<(), StoreError> {
        let deadline = std::time::Instant::now() + within;
        loop {
            match redis::cmd("PING").query_async::<String>(&mut self.conn.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) if std::time::Instant::now() >= deadline => return Err(e.into()),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
    }

    /// Number of contacts.
    pub async fn contact_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.clone().hlen(self.keys.contacts()).await?)
    }

    fn decode(&self, raw: &str) -> Result<Contact, StoreError> {
        serde_json::from_str(raw).map_err(|e| StoreError::Corrupt {
            key: self.keys.contacts(),
            message: e.to_string(),
        })
    }

    /// True if `value` is suppressed on `channel`.
    pub async fn is_suppressed(&self, channel: &str, value: &str) -> Result<bool, StoreError> {
        Ok(self.conn.clone().hexists(self.keys.suppression(channel), value).await?)
    }

    /// Which of `values` are suppressed on `channel`.
    pub async fn suppressed_among(&self, channel: &str, values: &[String]) -> Result<Vec<bool>, StoreError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        // One command for the lot (the entries are short): a thousand HEXISTS cost Redis
        // more in command handling than the values cost on the wire.
        let found: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
            .arg(self.keys.suppression(channel))
            .arg(values)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(found.iter().map(Option::is_some).collect())
    }

    /// Which of `fields` the hash `key` has (one round trip).
    async fn fields_among(&self, key: &str, fields: &[String]) -> Result<Vec<bool>, StoreError> {
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for f in fields {
            pipe.hexists(key, f);
        }
        Ok(pipe.query_async(&mut self.conn.clone()).await?)
    }

    /// Adds (or keeps) a suppression; the first reason and time are kept. Returns true if new.
    /// Returns once it reached the replicas `[redis] wait_replicas` asks for ([`Store::replicated`]).
    pub async fn suppress(&self, entry: &Suppression) -> Result<bool, StoreError> {
        let json = serde_json::to_string(entry).unwrap_or_default();
        let new = self
            .conn
            .clone()
            .hset_nx(self.keys.suppression(&entry.channel), &entry.value, json)
            .await?;
        self.replicated().await?;
        Ok(new)
    }

    /// Waits until this connection's writes so far reached the replicas `[redis] wait_replicas`
    /// asks for (Redis `WAIT`), for the writes that must survive a failover: opt-outs and
    /// bounces. Nothing to wait for when it is 0.
    pub async fn replicated(&self) -> Result<(), StoreError> {
        let Some((wanted, ms)) = self.conn.acknowledgement() else {
            return Ok(());
        };
        let got: u32 = redis::cmd("WAIT").arg(wanted).arg(ms).query_async(&mut self.conn.clone()).await?;
        if got < wanted {
            return Err(StoreError::NotReplicated { wanted, got, ms });
        }
        Ok(())
    }

    /// Adds a suppression for a contact's address (a bounce), unless the contact was
    /// forgotten meanwhile: then nothing is written about them.
    pub async fn suppress_for(&self, contact_id: &str, entry: &Suppression) -> Result<bool, StoreError> {
        let json = serde_json::to_string(entry).unwrap_or_default();
        let added: i64 = SUPPRESS_FOR
            .key(self.keys.suppression(&entry.channel))
            .key(self.keys.contacts())
            .arg(&entry.value)
            .arg(json)
            .arg(contact_id)
            .invoke_async(&mut self.conn.clone())
            .await?;
        self.replicated().await?;
        Ok(added == 1)
    }

    /// Removes a suppression. Returns true if it existed.
    pub async fn unsuppress(&self, channel: &str, value: &str) -> Result<bool, StoreError> {
        let n: u64 = self.conn.clone().hdel(self.keys.suppression(channel), value).await?;
        Ok(n > 0)
    }

    /// Lifts a suppression only if it was set for one of `reasons` (an SMS START lifts an SMS
    /// STOP, never a bounce, a manual entry, an unsubscribe or a complaint). Returns true if
    /// it was lifted; atomic, so a concurrent change of reason is never lost.
    pub async fn unsuppress_if(&self, channel: &str, value: &str, reasons: &[&str]) -> Result<bool, StoreError> {
        let mut inv = UNSUPPRESS_IF.key(self.keys.suppression(channel));
        inv.arg(value);
        for r in reasons {
            inv.arg(*r);
        }
        let n: u64 = inv.invoke_async(&mut self.conn.clone()).await?;
        Ok(n > 0)
    }

    /// Every suppression on `channel`, sorted by value.
    pub async fn suppressions(&self, channel: &str) -> Result<Vec<Suppression>, StoreError> {
        let all: Vec<(String, String)> = self.conn.clone().hgetall(self.keys.suppression(channel)).await?;
        let mut out: Vec<Suppression> = all
            .into_iter()
            .map(|(value, json)| {
                serde_json::from_str(&json).unwrap_or(Suppression {
                    value,
                    channel: channel.into(),
                    reason: "unknown".into(),
                    at: String::new(),
                })
            })
            .collect();
        out.sort_by(|a, b| a.value.cmp(&b.value));
        Ok(out)
    }

    /// Size of the suppression list on `channel`.
    pub async fn suppression_count(&self, channel: &str) -> Result<u64, StoreError> {
        Ok(self.conn.clone().hlen(self.keys.suppression(channel)).await?)
    }

    /// The date of the last finished run.
    pub async fn last_run(&self) -> Result<Option<String>, StoreError> {
        Ok(self.conn.clone().get(self.keys.last_run()).await?)
    }

    /// Records a finished run: its summary, and `last_run` if this date is later.
    pub async fn record_run(&self, date: &str, summary_json: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: () = conn.hset(self.keys.runs(), date, summary_json).await?;
        let last: Option<String> = conn.get(self.keys.last_run()).await?;
        if last.as_deref().is_none_or(|l| l < date) {
            let _: () = conn.set(self.keys.last_run(), date).await?;
        }
        Ok(())
    }

    /// The summary of the run for `date`, if any.
    pub async fn run_summary(&self, date: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.clone().hget(self.keys.runs(), date).await?)
    }

    /// Per-date counters ([`crate::facts::Counter`]) and the total of deal values, as numbers.
    pub async fn stats(&self, date: &str) -> Result<Vec<(String, f64)>, StoreError> {
        let raw: Vec<(String, String)> = self.conn.clone().hgetall(self.keys.stats(date)).await?;
        Ok(raw.into_iter().filter_map(|(k, v)| Some((k, v.parse().ok()?))).collect())
    }

    /// Adds a cost to its source's day total and keeps the entry (with its note) in the cost
    /// log; returns the source's total for that month so far.
    pub async fn record_cost(&self, cost: &Cost) -> Result<f64, StoreError> {
        let key = self.keys.costs(&cost.source);
        let json = serde_json::to_string(cost).unwrap_or_default();
        let (days,): (Vec<(String, f64)>,) = redis::pipe()
            .cmd("HINCRBYFLOAT")
            .arg(&key)
            .arg(cost.date.to_string())
            .arg(cost.amount)
            .ignore()
            .rpush(self.keys.costs_log(), json)
            .ignore()
            .hgetall(&key)
            .query_async(&mut self.conn.clone())
            .await?;
        let month = cost.date.format("%Y-%m").to_string();
        Ok(days.iter().filter(|(d, _)| d.starts_with(&month)).map(|(_, a)| a).sum())
    }

    /// Every recorded cost, oldest first (one that does not decode is skipped).
    pub async fn costs(&self) -> Result<Vec<Cost>, StoreError> {
        let raw: Vec<String> = self.conn.clone().lrange(self.keys.costs_log(), 0, -1).await?;
        Ok(raw.iter().filter_map(|j| serde_json::from_str(j).ok()).collect())
    }

    /// Keeps a deal as a fact for the reports.
    pub async fn record_deal(&self, deal: &Deal) -> Result<(), StoreError> {
        let json = serde_json::to_string(deal).unwrap_or_default();
        let _: u64 = self.conn.clone().rpush(self.keys.deals(), json).await?;
        Ok(())
    }

    /// Every recorded deal (one that does not decode is skipped).
    pub async fn deals(&self) -> Result<Vec<Deal>, StoreError> {
        let raw: Vec<String> = self.conn.clone().lrange(self.keys.deals(), 0, -1).await?;
        Ok(raw.iter().filter_map(|j| serde_json::from_str(j).ok()).collect())
    }

    /// Records an opt-out / opt-in event (the newest 10,000 are kept).
    pub async fn record_event(&self, json: &str) -> Result<(), StoreError> {
        self.push_capped(&self.keys.events(), json, 10_000).await
    }

    /// Pushes `json` at the head of the list `key`, keeping only the newest `keep` items.
    pub async fn push_capped(&self, key: &str, json: &str, keep: isize) -> Result<(), StoreError> {
        let _: () = redis::pipe()
            .lpush(key, json)
            .ltrim(key, 0, keep - 1)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Sets `key` to `value` for `ttl_secs` unless it is set; returns what it held if it was.
    pub async fn claim_answer(&self, key: &str, value: &str, ttl_secs: u64) -> Result<Option<String>, StoreError> {
        let (set, held): (Option<String>, Option<String>) = redis::pipe()
            .cmd("SET")
            .arg(key)
            .arg(value)
            .arg("NX")
            .arg("EX")
            .arg(ttl_secs)
            .get(key)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(if set.is_some() { None } else { held })
    }

    /// The string at `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.clone().get(key).await?)
    }

    /// True when `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.conn.clone().exists(key).await?)
    }

    /// Sets `key` to `value` for `ttl_secs`.
    pub async fn keep_answer(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError> {
        let () = self.conn.clone().set_ex(key, value, ttl_secs).await?;
        Ok(())
    }

    /// Adds 1 to the counter `key` (which expires `ttl_secs` after its first count); returns it.
    pub async fn count_in(&self, key: &str, ttl_secs: i64) -> Result<u64, StoreError> {
        let (n, _): (u64, i64) = redis::pipe()
            .incr(key, 1)
            .cmd("EXPIRE")
            .arg(key)
            .arg(ttl_secs)
            .arg("NX")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(n)
    }

    /// Adds `n` to the counter `key` (which expires `ttl_secs` after its first count) only if
    /// it stays within `limit`, atomically; returns whether it did.
    pub async fn reserve_in(&self, key: &str, n: u64, limit: u64, ttl_secs: i64) -> Result<bool, StoreError> {
        static RESERVE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                r#"
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3], 'NX')
return 1
"#,
            )
        });
        let ok: i64 = RESERVE
            .key(key)
            .arg(n)
            .arg(limit)
            .arg(ttl_secs)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(ok == 1)
    }

    /// Gives a lock back (its work failed and should be tried again).
    pub async fn unlock(&self, key: &str) -> Result<(), StoreError> {
        let _: u64 = self.conn.clone().del(key).await?;
        Ok(())
    }

    /// Takes a lock for `ttl_secs`; false if someone holds it.
    pub async fn try_lock(&self, key: &str, ttl_secs: u64) -> Result<bool, StoreError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg("1")
            .arg("NX")
            .arg("EX")
            .arg(ttl_secs)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(set.is_some())
    }

    /// Records a sender's health (`channel`: `email` or `sms`).
    pub async fn set_health(&self, channel: &str, health: &Health) -> Result<(), StoreError> {
        let json = serde_json::to_string(health).unwrap_or_default();
        let _: () = self.conn.clone().hset(self.keys.health(), channel, json).await?;
        Ok(())
    }

    /// Every sender's last health, by channel.
    pub async fn health(&self) -> Result<Vec<(String, Health)>, StoreError> {
        let all: Vec<(String, String)> = self.conn.clone().hgetall(self.keys.health()).await?;
        Ok(all
            .into_iter()
            .filter_map(|(c, j)| Some((c, serde_json::from_str(&j).ok()?)))
            .collect())
    }

    /// What is wrong with the connected Redis for a system of record: an eviction policy that
    /// may drop ledger or suppression keys, or no persistence. Empty when all is well or when
    /// the server does not allow `CONFIG GET` (managed services: check their settings).
    pub async fn redis_warnings(&self) -> Vec<String> {
        let conn = self.conn.clone();
        let get = |name: &'static str| {
            let mut conn = conn.clone();
            async move {
                let v: Result<Vec<String>, _> = redis::cmd("CONFIG").arg("GET").arg(name).query_async(&mut conn).await;
                v.ok().and_then(|v| v.get(1).cloned())
            }
        };
        let mut out = Vec::new();
        if let Some(policy) = get("maxmemory-policy").await
            && policy != "noeviction"
        {
            out.push(format!(
                "Redis maxmemory-policy is {policy:?}: under memory pressure it may delete ledger or suppression keys \
                 (a message sent twice, an opt-out forgotten); set `maxmemory-policy noeviction`"
            ));
        }
        let aof = get("appendonly").await;
        let save = get("save").await;
        if aof.as_deref() == Some("no") && save.as_deref().is_some_and(|s| s.trim().is_empty()) {
            out.push(
                "Redis keeps nothing on disk (appendonly no, no save): a restart loses contacts, opt-outs and the ledger; \
                 set `appendonly yes` and `appendfsync everysec`"
                    .into(),
            );
        }
        out
    }

    /// One SCAN step over keys matching `pattern`: the next cursor (0 at the end) and a page.
    pub async fn scan_page(&self, pattern: &str, cursor: u64) -> Result<(u64, Vec<String>), StoreError> {
        Ok(redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(&mut self.conn.clone())
            .await?)
    }

    /// The most recent permanent failures (JSON), newest first.
    pub async fn failures(&self, limit: isize) -> Result<Vec<String>, StoreError> {
        Ok(self.conn.clone().lrange(self.keys.failures(), 0, limit - 1).await?)
    }
}

/// True when a key's last `|` field is a `YYYY-MM-DD` date before `cutoff` (same format):
/// delivery keys and the idempotency keys built from them end with the occurrence date.
pub fn occurrence_before(key: &str, cutoff: &str) -> bool {
    let key = key.split('#').next().unwrap_or(key);
    key.rsplit('|').next().is_some_and(|d| d.len() == 10 && d < cutoff)
}
