//! One job: claim in the ledger → load contact → render → compliance check → send → ledger.
//! Sequencing only; each step belongs to its stage.

use crate::clock::Clock;
use crate::compliance::sms::QuietHours;
use crate::compliance::{self, Refusal};
use crate::contacts::Contact;
use crate::ledger::{self, Claim, Outcome};
use crate::plans::Channel;
use crate::queue::{DeliveryJob, JobHandler, JobResult, Queue};
use crate::render::Kind;
use crate::send::{EmailSender, SendError, SmsSender, mime};
use crate::store::{Store, Suppression};
use crate::workspace::{Live, Workspace};
use futures::future::BoxFuture;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What this process did, for the run summary.
#[derive(Debug, Default, Serialize)]
pub struct Counters {
    /// Accepted by the transport.
    pub sent: AtomicU64,
    /// Stopped by the suppression list.
    pub suppressed: AtomicU64,
    /// Refused for good (5xx, SMS 4xx, render or compliance failure).
    pub failed: AtomicU64,
    /// Out of retries.
    pub dead: AtomicU64,
    /// Re-queued after a transient error.
    pub retried: AtomicU64,
    /// Found already done in the ledger (a second copy of a job).
    pub duplicates: AtomicU64,
    /// SMS moved out of the contact's quiet hours.
    pub deferred: AtomicU64,
    /// SMS not sent: the contact has no recorded consent.
    pub no_consent: AtomicU64,
}

impl Counters {
    fn add(&self, c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    /// A counter's value.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Everything a worker needs to deliver jobs.
pub struct Deliverer {
    /// Plans, templates and config (each job uses the version current when it starts).
    pub workspace: Arc<Live>,
    /// Redis.
    pub store: Store,
    /// The queue (for retries).
    pub queue: Queue,
    /// Email transport.
    pub email: EmailSender,
    /// SMS transport.
    pub sms: SmsSender,
    /// Counters of this process.
    pub counters: Arc<Counters>,
    /// This worker's name (ledger lease owner prefix).
    pub owner: String,
    /// "Now" for quiet hours.
    pub clock: Clock,
    /// DKIM signer, when configured.
    dkim: Option<crate::send::dkim::Signer>,
    /// `[sms] quiet_hours`, parsed once.
    quiet_hours: QuietHours,
    /// `[sender] timezone`, for contacts without one.
    sender_tz: chrono_tz::Tz,
    seq: AtomicU64,
}

impl Deliverer {
    /// Builds a deliverer; fails if a transport cannot be configured.
    pub fn new(workspace: Arc<Live>, store: Store, queue: Queue, owner: String, clock: Clock) -> Result<Deliverer, String> {
        let config = workspace.get().config.clone();
        let email = EmailSender::from_config(&config)?;
        let sms = SmsSender::from_config(&config)?;
        let dkim = crate::send::dkim::Signer::from_config(&config)?;
        let quiet_hours = QuietHours::parse(&config.sms.quiet_hours).map_err(|e| format!("[sms] quiet_hours: {e}"))?;
        let sender_tz = config
            .sender
            .timezone
            .parse()
            .map_err(|_| "[sender] timezone: unknown timezone".to_string())?;
        Ok(Deliverer {
            workspace,
            store,
            queue,
            email,
            sms,
            counters: Arc::default(),
            owner,
            clock,
            dkim,
            quiet_hours,
            sender_tz,
            seq: AtomicU64::new(0),
        })
    }

    async fn deliver(&self, job: DeliveryJob) -> Result<JobResult, DeliverError> {
        let ws = self.workspace.get();
        let cfg = &ws.config;
        let owner = format!("{}:{}", self.owner, self.seq.fetch_add(1, Ordering::Relaxed));
        let run_date = job.run_date.to_string();
        let channel = job.channel.suppression_list();
        let target = ledger::Target {
            delivery_key: &job.key,
            contact_id: &job.contact_id,
            channel,
        };
        let (contact, suppressed) = match ledger::claim(&self.store, target, &owner, cfg.delivery.claim_ttl_secs * 1000).await? {
            Claim::Claimed { contact, suppressed } => (contact, suppressed),
            Claim::Done(state) => {
                tracing::debug!(key = %job.key, %state, "already done; skipped");
                self.counters.add(&self.counters.duplicates);
                return Ok(JobResult::Done);
            }
            Claim::Busy { retry_in_ms } => {
                // Another worker holds a live lease (or died holding it): look again when it ends.
                let mut again = job.clone();
                again.requeue += 1;
                let at = Clock::unix_now() + (retry_in_ms / 1000) as i64 + 1;
                self.queue.enqueue(&[again], Some(at)).await?;
                return Ok(JobResult::Done);
            }
        };
        let now = Clock::unix_now();
        // A plan edited after the job was queued: a removed touch stops, a changed template is used.
        let template = match ws.plans.get(&job.plan).and_then(|p| p.touch(&job.touch)) {
            Some(touch) => touch.template.clone().unwrap_or_else(|| job.template.clone()),
            None => {
                ledger::finish(
                    &self.store,
                    delivery(&job),
                    &run_date,
                    Outcome::Cancelled,
                    "the touch is no longer in its plan",
                    now,
                )
                .await?;
                tracing::info!(key = %job.key, "not sent: the touch was removed from its plan");
                return Ok(JobResult::Done);
            }
        };
        let contact: Option<Contact> = match contact.as_deref().map(serde_json::from_str).transpose() {
            Ok(c) => c,
            Err(e) => {
                return self
                    .fail(
                        &job,
                        &run_date,
                        Outcome::Refused,
                        &format!("stored contact does not decode: {e}"),
                        now,
                    )
                    .await;
            }
        };
        let Some(contact) = contact else {
            return self
                .fail(
                    &job,
                    &run_date,
                    Outcome::Refused,
                    &format!("contact {} no longer exists", job.contact_id),
                    now,
                )
                .await;
        };
        if job.channel == Channel::Sms {
            if cfg.sms.require_consent && contact.get("sms_consent").is_none() {
                ledger::finish(&self.store, delivery(&job), &run_date, Outcome::Refused, "no_consent", now).await?;
                ledger::count(&self.store, &run_date, "no_consent").await?;
                self.counters.add(&self.counters.no_consent);
                return Ok(JobResult::Done);
            }
            if let Some(delay) = self.quiet_delay(&contact) {
                // Outside the contact's sending window: move it to the next open slot, never drop it.
                ledger::release(&self.store, &job.key, &owner).await?;
                let mut later = job.clone();
                later.requeue += 1;
                let spread = crate::queue::spread_secs(&job.key, 300);
                self.queue.enqueue(&[later], Some(now + delay + spread)).await?;
                ledger::count(&self.store, &run_date, "deferred").await?;
                self.counters.add(&self.counters.deferred);
                tracing::debug!(key = %job.key, delay, "quiet hours: deferred");
                return Ok(JobResult::Done);
            }
        }
        let outcome = self.render_check_send(&ws, &job, &template, &contact, suppressed).await;
        match outcome {
            Ok(()) => {
                ledger::finish(&self.store, delivery(&job), &run_date, Outcome::Sent, "", now).await?;
                self.counters.add(&self.counters.sent);
                tracing::debug!(key = %job.key, "sent");
                Ok(JobResult::Done)
            }
            Err(Failure::Refused(Refusal::Suppressed)) => {
                ledger::finish(&self.store, delivery(&job), &run_date, Outcome::Suppressed, "", now).await?;
                self.counters.add(&self.counters.suppressed);
                Ok(JobResult::Done)
            }
            Err(Failure::Refused(r)) => self.fail(&job, &run_date, Outcome::Refused, &r.to_string(), now).await,
            Err(Failure::Render(m)) => self.fail(&job, &run_date, Outcome::Refused, &m, now).await,
            Err(Failure::Send(SendError::Permanent { message, bounce })) => {
                if bounce {
                    self.suppress_bounce(&contact, job.channel).await?;
                }
                self.fail(&job, &run_date, Outcome::Failed, &message, now).await
            }
            Err(Failure::Send(SendError::Transient(message))) => {
                ledger::release(&self.store, &job.key, &owner).await?;
                let attempts = job.attempt + 1;
                if attempts >= cfg.delivery.max_attempts {
                    ledger::count(&self.store, &run_date, "dead").await?;
                    self.counters.add(&self.counters.dead);
                    tracing::warn!(key = %job.key, attempts, error = %message, "out of retries: dead letter");
                    return Ok(JobResult::Dead(format!("after {attempts} attempts: {message}")));
                }
                let delay = backoff(cfg.delivery.retry_base_secs, cfg.delivery.retry_max_secs, attempts, &job.key);
                let mut retry = job.clone();
                retry.attempt = attempts;
                self.queue.enqueue(&[retry], Some(now + delay as i64)).await?;
                ledger::count(&self.store, &run_date, "retried").await?;
                self.counters.add(&self.counters.retried);
                tracing::info!(key = %job.key, attempts, delay, error = %message, "transient failure; retry scheduled");
                Ok(JobResult::Done)
            }
        }
    }

    async fn fail(&self, job: &DeliveryJob, run_date: &str, outcome: Outcome, message: &str, now: i64) -> Result<JobResult, DeliverError> {
        ledger::finish(&self.store, delivery(job), run_date, outcome, message, now).await?;
        let record = serde_json::json!({ "key": job.key, "channel": job.channel, "template": job.template, "error": message, "at": now });
        ledger::remember_failure(&self.store, &record.to_string()).await?;
        self.counters.add(&self.counters.failed);
        tracing::warn!(key = %job.key, error = %message, "not sent");
        Ok(JobResult::Done)
    }

    async fn suppress_bounce(&self, contact: &Contact, channel: Channel) -> Result<(), crate::store::StoreError> {
        if let Some(value) = channel.address(contact) {
            let at = Clock::System.now().to_rfc3339();
            self.store
                .suppress(&Suppression {
                    value: value.to_string(),
                    channel: channel.suppression_list().into(),
                    reason: "bounce".into(),
                    at,
                })
                .await?;
        }
        Ok(())
    }

    /// Seconds until the contact's SMS window opens (`None`: open now).
    fn quiet_delay(&self, contact: &Contact) -> Option<i64> {
        let now = self.clock.now();
        let open = self.quiet_hours.next_open(now, contact.timezone(self.sender_tz))?;
        Some((open - now).num_seconds().max(1))
    }

    async fn render_check_send(
        &self,
        ws: &Workspace,
        job: &DeliveryJob,
        template: &str,
        contact: &Contact,
        suppressed: bool,
    ) -> Result<(), Failure> {
        let ctx = ws.context(contact, &job.plan, &job.touch, job.run_date);
        let arabic = contact.is_arabic();
        match job.channel {
            Channel::Email => {
                let name = ws.catalog.resolve(template, Kind::Email, arabic);
                let rendered = ws.catalog.render_email(&name, ctx).map_err(|e| Failure::Render(e.to_string()))?;
                let to = contact.email();
                let url = ws.unsubscribe_url(contact);
                let cleared =
                    compliance::check_email(rendered, to, suppressed, &url, &ws.config.sender.postal_address).map_err(Failure::Refused)?;
                let headers = mime::Headers {
                    from_name: &ws.config.sender.name,
                    from_email: &ws.config.sender.email,
                    to_name: contact.display_name(),
                    unsubscribe_url: &url,
                    unsubscribe_mailto: &ws.config.unsubscribe.mailto,
                    delivery_key: &job.key,
                };
                self.email.send(&cleared, &headers, self.dkim.as_ref()).await.map_err(Failure::Send)
            }
            _ => {
                let name = ws.catalog.resolve(template, Kind::Sms, arabic);
                let rendered = ws.catalog.render_sms(&name, &ctx).map_err(|e| Failure::Render(e.to_string()))?;
                let to = contact.phone();
                let cleared = compliance::check_sms(rendered, to, suppressed, &ws.config.sms.opt_out_text).map_err(Failure::Refused)?;
                self.sms.send(&cleared, &job.key).await.map_err(Failure::Send)
            }
        }
    }
}

/// The ledger identity of a job.
fn delivery(job: &DeliveryJob) -> ledger::Delivery<'_> {
    ledger::Delivery {
        key: &job.key,
        contact_id: &job.contact_id,
        plan: &job.plan,
        touch: &job.touch,
    }
}

/// Infrastructure that failed mid-delivery (the job goes back to the backend's retry).
#[derive(Debug, thiserror::Error)]
enum DeliverError {
    /// Redis, through the store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Redis, through the queue.
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
}

enum Failure {
    Refused(Refusal),
    Render(String),
    Send(SendError),
}

/// Seconds before retry `attempt` (1-based): base × 2^(attempt-1), ±20 % jitter, capped.
pub fn backoff(base: u64, max: u64, attempt: u32, key: &str) -> u64 {
    let raw = base.max(1).saturating_mul(1u64 << (attempt.saturating_sub(1)).min(30));
    let h = key
        .bytes()
        .fold(u64::from(attempt), |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let jitter = (raw / 5) as i64;
    let offset = if jitter > 0 {
        (h % (2 * jitter as u64 + 1)) as i64 - jitter
    } else {
        0
    };
    ((raw as i64 + offset).max(1) as u64).min(max.max(1))
}

/// The job handler: an `Arc<Deliverer>` so every job's future can own it.
pub struct Handler(pub Arc<Deliverer>);

impl JobHandler for Handler {
    fn handle(&self, job: DeliveryJob) -> BoxFuture<'static, JobResult> {
        let d = self.0.clone();
        Box::pin(async move {
            let key = job.key.clone();
            match d.deliver(job).await {
                Ok(r) => r,
                Err(e) => {
                    // Redis failed mid-delivery: hand the job back to the backend's own retry.
                    tracing::error!(%key, error = %e, "Redis unavailable during delivery; the job will be retried");
                    JobResult::Retry(format!("Redis unavailable: {e}"))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_cap() {
        for attempt in 1..6 {
            let d = backoff(2, 3600, attempt, "k");
            let raw = 2u64 << (attempt - 1);
            assert!(d >= raw - raw / 5 && d <= raw + raw / 5, "attempt {attempt}: {d}");
        }
        assert_eq!(backoff(2, 10, 20, "k"), 10);
    }
}
