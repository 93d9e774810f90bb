//! The delivery ledger: once-only marks keyed by (contact, plan, touch, occurrence), checked
//! and set atomically at send time — the queue may run a job twice, the ledger never lets it
//! send twice. Also the per-date counters that `run`, `status` and `report` read.
//!
//! States of a delivery key: absent → `sending:<owner>` (a lease, `claim_ttl_secs`) →
//! `sent:<unix>` | `failed:<reason>` | `suppressed` | `refused:<reason>` | `cancelled:<reason>` |
//! `paused`.
//! Only the owner of a live lease sends; a lease left by a killed worker expires and the job's
//! retry claims it. Touches that are not sent at all get a mark set once ([`mark_once`]):
//! `skipped:<reason>`, `paused`, `agenda` (an item opened on the agenda). Every final state and
//! mark is also an event in the contact's history.

use crate::facts::{Attribution, Counter, Fact, Kind as FactKind};
use crate::store::{Store, StoreError};
use redis::Script;
use std::sync::LazyLock;

/// Claim, and in the same round trip read the contact and check its address against the
/// suppression list (three commands per message became one script call).
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local v = redis.call('GET', KEYS[1])
if v and v ~= 'sending:' .. ARGV[1] then
  return {v, redis.call('PTTL', KEYS[1]), '', 0}
end
local c = redis.call('HGET', KEYS[2], ARGV[3])
if not c then
  -- Forgotten (or never stored): nothing is written about them, not even a lease.
  if v then redis.call('DEL', KEYS[1]) end
  return {'gone', 0, '', 0}
end
redis.call('SET', KEYS[1], 'sending:' .. ARGV[1], 'PX', ARGV[2])
local suppressed = 0
local ok, t = pcall(cjson.decode, c)
if ok and type(t) == 'table' and type(t.fields) == 'table' and type(t.fields[ARGV[4]]) == 'string' then
  suppressed = redis.call('HEXISTS', KEYS[3], t.fields[ARGV[4]])
end
return {'claimed', 0, c, suppressed}
"#,
    )
});

/// Sets the final state, counts it, adds the history event and the report fact — unless the contact was
/// forgotten meanwhile (a send in flight during `forget`): then only the count is kept, and
/// the lease is removed.
static FINISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if ARGV[8] ~= '' then
  redis.call('HINCRBY', KEYS[2], ARGV[8], 1)
end
if redis.call('HEXISTS', KEYS[4], ARGV[5]) == 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[11])
if redis.call('LPUSH', KEYS[3], ARGV[3]) > tonumber(ARGV[4]) then
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
end
if ARGV[6] ~= '' then
  redis.call('RPUSH', KEYS[5], ARGV[6])
  redis.call('EXPIRE', KEYS[5], ARGV[7])
end
if ARGV[9] ~= '' then
  redis.call('SET', KEYS[6], ARGV[9], 'EX', ARGV[10])
end
return 1
"#,
    )
});

/// Sets a delivery key only if it is new; then records the history event and, for agenda
/// items, opens the item — so re-expanding a date never repeats them.
/// Sets many marks, each only if its key is new and its contact still exists. KEYS: the open
/// agenda hash, the contacts hash, then per mark its delivery key and history list. ARGV:
/// the history cap, the marks' lifetime in seconds, then five per mark — state, event JSON, agenda item id ('' = none),
/// item JSON, contact id. Returns 1 (set) or 0 per mark. One call per thousand marks: a
/// script call per mark cost Redis more in call set-up than in the work.
static MARK_ONCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local out, keep, ttl = {}, tonumber(ARGV[1]), ARGV[2]
for i = 0, (#KEYS - 2) / 2 - 1 do
  local k, a = 3 + 2 * i, 3 + 5 * i
  local set = 0
  if redis.call('HEXISTS', KEYS[2], ARGV[a + 4]) == 1 and redis.call('SET', KEYS[k], ARGV[a], 'NX', 'EX', ttl) then
    if redis.call('LPUSH', KEYS[k + 1], ARGV[a + 1]) > keep then
      redis.call('LTRIM', KEYS[k + 1], 0, keep - 1)
    end
    if ARGV[a + 2] ~= '' then
      redis.call('HSET', KEYS[1], ARGV[a + 2], ARGV[a + 3])
    end
    set = 1
  end
  out[#out + 1] = set
end
return out
"#,
    )
});

static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) == 'sending:' .. ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#,
    )
});

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller may send now.
    Claimed {
        /// The contact's stored JSON (`None` if the contact no longer exists).
        contact: Option<String>,
        /// True if the contact's address for the channel is suppressed (read at claim time).
        suppressed: bool,
    },
    /// Another worker holds a live lease; try again after `retry_in_ms`.
    Busy {
        /// Milliseconds left on the other lease.
        retry_in_ms: u64,
    },
    /// Already finished (sent, failed, suppressed...): never send.
    Done(String),
    /// The contact no longer exists (forgotten): never send, and write nothing about them.
    Gone,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not sent: the touch was removed from its plan, or the plan was deleted, after queueing.
    Cancelled,
    /// Accepted by the SMTP server / SMS API / outbox.
    Sent,
    /// Refused for good by the server.
    Failed,
    /// On the suppression list at send time.
    Suppressed,
    /// Not sent: no address, not compliant, or the template failed for this contact.
    Refused,
    /// The message data left but the reply was lost: it may have been delivered. Held for the
    /// operator (`nurture dead list`), never re-sent by nurture on its own.
    Unknown,
    /// Could not go out within its grace window (moved by quiet hours, its plan file missing):
    /// never sent late.
    Missed,
    /// Not sent: its plan pauses on a response and the contact answered on or after the day
    /// it fell due (after it was queued: a reply that came back the same morning).
    Paused,
}

impl Outcome {
    fn state(self, detail: &str, now: i64) -> String {
        match self {
            Outcome::Sent => format!("sent:{now}"),
            Outcome::Failed => format!("failed:{detail}"),
            Outcome::Suppressed => "suppressed".into(),
            Outcome::Refused => format!("refused:{detail}"),
            Outcome::Cancelled => format!("cancelled:{detail}"),
            Outcome::Unknown => format!("unknown:{detail}"),
            Outcome::Missed => format!("missed:{detail}"),
            Outcome::Paused => "paused".into(),
        }
    }
    /// Its counter in the per-date stats.
    pub fn counter(self) -> Counter {
        match self {
            Outcome::Sent => Counter::Sent,
            Outcome::Failed => Counter::Failed,
            Outcome::Suppressed => Counter::Suppressed,
            Outcome::Refused => Counter::Refused,
            Outcome::Cancelled => Counter::Cancelled,
            Outcome::Unknown => Counter::Unknown,
            Outcome::Missed => Counter::Missed,
            Outcome::Paused => Counter::Paused,
        }
    }
}

/// The stats field counting emails accepted (the complaint and bounce guard's denominator;
/// `sent` counts SMS too).
pub const EMAILS_SENT: &str = "emails_sent";

/// How long a VERP tag is remembered after its send (bounces come back within days).
pub const VERP_SECS: u64 = 30 * 86_400;

/// What a claim needs to know about the message.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The delivery key.
    pub delivery_key: &'a str,
    /// The contact.
    pub contact_id: &'a str,
    /// `email` or `sms` (the suppression list to check).
    pub channel: &'a str,
}

/// Tries to take the right to send `target` for `lease_ms`; when granted, also returns the
/// contact and whether its address is suppressed on the channel.
pub async fn claim(store: &Store, target: Target<'_>, owner: &str, lease_ms: u64) -> Result<Claim, StoreError> {
    let field = if target.channel == "email" { "email" } else { "phone" };
    let (state, ttl, contact, suppressed): (String, i64, String, i64) = CLAIM
        .key(store.keys.delivery(target.delivery_key))
        .key(store.keys.contacts())
        .key(store.keys.suppression(target.channel))
        .arg(owner)
        .arg(lease_ms)
        .arg(target.contact_id)
        .arg(field)
        .invoke_async(&mut store.conn.clone())
        .await?;
    Ok(match state.as_str() {
        "claimed" => Claim::Claimed {
            contact: (!contact.is_empty()).then_some(contact),
            suppressed: suppressed == 1,
        },
        s if s.starts_with("sending:") => Claim::Busy {
            retry_in_ms: ttl.max(1) as u64,
        },
        "gone" => Claim::Gone,
        _ => Claim::Done(state),
    })
}

/// A delivery's identity for its ledger entry and the contact's history.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    /// The delivery key.
    pub key: &'a str,
    /// Contact id.
    pub contact_id: &'a str,
    /// Plan id.
    pub plan: &'a str,
    /// Touch id.
    pub touch: &'a str,
    /// The contact's lead source and agent when it was sent (for the report fact; empty when
    /// the contact was not read).
    pub source: &'a str,
    /// See `source`.
    pub agent: &'a str,
    /// The day it happened, in the sender's timezone (the report fact's day).
    pub day: chrono::NaiveDate,
    /// An email (counted in [`EMAILS_SENT`] when sent).
    pub email: bool,
    /// With `[inbound] return_path`: the VERP tag of its envelope sender and what it names
    /// (`delivery key NUL address`), kept [`VERP_SECS`] once sent.
    pub verp: Option<(String, String)>,
}

impl Delivery<'_> {
    /// The report fact of an outcome (sent, failed and suppressed have one).
    fn fact(&self, store: &Store, outcome: Outcome) -> Option<Fact> {
        let kind = match outcome {
            Outcome::Sent => FactKind::Sent,
            Outcome::Failed => FactKind::Failed,
            Outcome::Suppressed => FactKind::Suppressed,
            _ => return None,
        };
        let to = Attribution {
            plan: self.plan.to_string(),
            touch: self.touch.to_string(),
            source: self.source.to_string(),
            agent: self.agent.to_string(),
        };
        Some(Fact::new(kind, store.pseudonym(self.contact_id), to))
    }
}

/// Records the final state of a delivery, counts it under `run_date`, and adds it to the
/// contact's history — one script call.
pub async fn finish(store: &Store, d: Delivery<'_>, run_date: &str, outcome: Outcome, detail: &str, now: i64) -> Result<(), StoreError> {
    let detail: String = detail.chars().take(300).collect();
    let at = chrono::DateTime::from_timestamp(now, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
    let event = crate::history::Event::touch(at, outcome.counter().name(), d.plan, d.touch, detail.clone());
    let _: i64 = FINISH
        .key(store.keys.delivery(d.key))
        .key(store.keys.stats(run_date))
        .key(store.keys.history(d.contact_id))
        .key(store.keys.contacts())
        .key(store.keys.facts(&d.day.to_string()))
        .key(store.keys.verp(d.verp.as_ref().map_or("-", |(tag, _)| tag.as_str())))
        .arg(outcome.state(&detail, now))
        .arg(outcome.counter().name())
        .arg(event.to_json())
        .arg(crate::history::KEEP)
        .arg(d.contact_id)
        .arg(d.fact(store, outcome).map(|f| f.encode()).unwrap_or_default())
        .arg(store.fact_ttl_secs())
        .arg(if d.email && outcome == Outcome::Sent { EMAILS_SENT } else { "" })
        .arg(match (&d.verp, outcome) {
            (Some((_, named)), Outcome::Sent) => named.as_str(),
            _ => "",
        })
        .arg(VERP_SECS)
        .arg(store.mark_ttl_secs())
        .invoke_async(&mut store.conn.clone())
        .await?;
    Ok(())
}

/// A mark set once per delivery key: a touch skipped or paused, or an agenda item opened.
#[derive(Debug, Clone)]
pub struct Mark {
    /// The delivery key.
    pub key: String,
    /// Contact id (whose history gets the event).
    pub contact_id: String,
    /// The ledger state (`skipped:...`, `paused`, `agenda`).
    pub state: String,
    /// The history event.
    pub event: crate::history::Event,
    /// For an agenda item: its id and JSON.
    pub agenda_item: Option<(String, String)>,
}

/// Sets each mark whose key is new (one round trip); returns which were new.
pub async fn mark_once(store: &Store, marks: &[Mark]) -> Result<Vec<bool>, StoreError> {
    let mut pipe = redis::pipe();
    pipe.load_script(&MARK_ONCE).ignore();
    let invocations: Vec<redis::ScriptInvocation<'_>> = marks
        .chunks(1000)
        .map(|chunk| {
            let mut inv = MARK_ONCE.prepare_invoke();
            inv.key(store.keys.agenda_open())
                .key(store.keys.contacts())
                .arg(crate::history::KEEP)
                .arg(store.mark_ttl_secs());
            for m in chunk {
                let (id, json) = m.agenda_item.clone().unwrap_or_default();
                inv.key(store.keys.delivery(&m.key))
                    .key(store.keys.history(&m.contact_id))
                    .arg(&m.state)
                    .arg(m.event.to_json())
                    .arg(id)
                    .arg(json)
                    .arg(&m.contact_id);
            }
            inv
        })
        .collect();
    if invocations.is_empty() {
        return Ok(Vec::new());
    }
    for inv in &invocations {
        pipe.invoke_script(inv);
    }
    let added: Vec<Vec<i64>> = pipe.query_async(&mut store.conn.clone()).await?;
    Ok(added.into_iter().flatten().map(|a| a == 1).collect())
}

static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) == 'sending:' .. ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#,
    )
});

/// Extends a live claim by `lease_ms` while its send is in progress; false if the claim is no
/// longer this owner's.
pub async fn renew(store: &Store, delivery_key: &str, owner: &str, lease_ms: u64) -> Result<bool, StoreError> {
    let n: i64 = RENEW
        .key(store.keys.delivery(delivery_key))
        .arg(owner)
        .arg(lease_ms)
        .invoke_async(&mut store.conn.clone())
        .await?;
    Ok(n == 1)
}

/// The delivery's current state (`sending:…`, `sent:…`, `unknown:…`, …), if any.
async fn state(store: &Store, delivery_key: &str) -> Result<Option<String>, StoreError> {
    Ok(redis::cmd("GET")
        .arg(store.keys.delivery(delivery_key))
        .query_async(&mut store.conn.clone())
        .await?)
}

/// Forgets a held `unknown:` state so that an operator's `dead retry` can send the message
/// again; any other state is kept (a message marked sent is never sent again).
pub async fn reopen_unknown(store: &Store, delivery_key: &str) -> Result<bool, StoreError> {
    if state(store, delivery_key).await?.is_some_and(|s| s.starts_with("unknown:")) {
        let _: i64 = redis::cmd("DEL")
            .arg(store.keys.delivery(delivery_key))
            .query_async(&mut store.conn.clone())
            .await?;
        return Ok(true);
    }
    Ok(false)
}

static EXPIRE_OLD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local n = 0
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and string.sub(v, 1, 8) ~= 'sending:' then
    redis.call('UNLINK', k)
    n = n + 1
  end
end
return n
"#,
    )
});

/// Of `keys` (a page of a SCAN), removes the ledger marks of occurrences before `before`
/// (the retention horizon; a delivery key's last field is its occurrence date). A live lease
/// is never removed. Returns how many marks went.
pub async fn expire_among(store: &Store, keys: &[String], before: chrono::NaiveDate) -> Result<u64, StoreError> {
    let (marks, cutoff) = (store.keys.delivery(""), before.to_string());
    let old: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with(&marks) && crate::store::occurrence_before(k, &cutoff))
        .collect();
    if old.is_empty() {
        return Ok(0);
    }
    let mut inv = EXPIRE_OLD.prepare_invoke();
    for k in &old {
        inv.key(k.as_str());
    }
    Ok(inv.invoke_async(&mut store.conn.clone()).await?)
}

/// True if the delivery has a final state (sent, failed, ...), not a lease or nothing.
pub async fn is_final(store: &Store, delivery_key: &str) -> Result<bool, StoreError> {
    Ok(state(store, delivery_key).await?.is_some_and(|s| !s.starts_with("sending:")))
}

/// Gives a claim back (after a transient failure) so the retry can take it.
pub async fn release(store: &Store, delivery_key: &str, owner: &str) -> Result<(), StoreError> {
    let _: i64 = RELEASE
        .key(store.keys.delivery(delivery_key))
        .arg(owner)
        .invoke_async(&mut store.conn.clone())
        .await?;
    Ok(())
}

/// Adds 1 to a per-date counter (`retried`, `dead`, ...).
pub async fn count(store: &Store, run_date: &str, counter: Counter) -> Result<(), StoreError> {
    let _: i64 = redis::cmd("HINCRBY")
        .arg(store.keys.stats(run_date))
        .arg(counter.name())
        .arg(1)
        .query_async(&mut store.conn.clone())
        .await?;
    Ok(())
}

/// Adds `amount` to the per-date total of deal values.
pub async fn add_deal_value(store: &Store, date: &str, amount: f64) -> Result<(), StoreError> {
    let _: f64 = redis::cmd("HINCRBYFLOAT")
        .arg(store.keys.stats(date))
        .arg(crate::facts::DEAL_VALUE)
        .arg(amount)
        .query_async(&mut store.conn.clone())
        .await?;
    Ok(())
}

/// Remembers a permanent failure for `status` (the newest 1,000 are kept).
pub async fn remember_failure(store: &Store, contact_id: &str, json: &str) -> Result<(), StoreError> {
    let _: i64 = REMEMBER_FAILURE
        .key(store.keys.failures())
        .key(store.keys.contacts())
        .arg(json)
        .arg(1_000)
        .arg(contact_id)
        .invoke_async(&mut store.conn.clone())
        .await?;
    Ok(())
}

/// Keeps a failure record (the newest 1,000) unless its contact was forgotten meanwhile.
static REMEMBER_FAILURE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then return 0 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1
"#,
    )
});
