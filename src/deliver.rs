//! One job: breaker → claim in the ledger → plan check → consent / quiet hours → render →
//! compliance check → send → one ledger call for the outcome. Sequencing only: the retry
//! policy is `queue::retry`'s, consent and quiet hours `compliance::sms`'s, the message
//! `compose`'s, the breaker `send::breaker`'s, the classification of send
//! errors `send`'s, the ledger states `ledger`'s.
//!
//! Faults, and what this sequence does with them:
//! - the relay or provider refuses *us* (sender, content, credentials): the claim is released,
//!   nothing is suppressed or closed, the breaker counts it and the job is retried; while the
//!   breaker is open jobs are put back without an attempt;
//! - transient errors: the claim is released and the retry policy schedules the next attempt
//!   (an outage is waited out for `retry_window_hours`);
//! - the reply after the message data was lost: `[delivery] after_lost_reply` — `hold`
//!   (default) records `unknown` and makes it a dead letter for the operator; `retry` keeps
//!   the claim and tries again after the lease;
//! - Redis fails after the server accepted the message: the `sent` mark is retried in-process
//!   (never a resend); the claim is renewed while a send is in progress.

use crate::clock::Clock;
use crate::compliance::Refusal;
use crate::compliance::sms::{QuietHours, SmsGate, SmsRules};
use crate::compose;
use crate::contacts::Contact;
use crate::facts::Counter;
use crate::ledger::{self, Claim, Outcome};
use crate::plans::Channel;
use crate::queue::retry::{Retry, RetryPolicy};
use crate::queue::{DeliveryJob, JobHandler, JobResult, Queue};
use crate::send::breaker::Breaker;
use crate::send::{EmailSender, SendError, SmsSender};
use crate::store::{Health, Store, StoreError, Suppression};
use crate::webhooks;
use crate::workspace::{Live, Workspace};
use futures::future::BoxFuture;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What this process did, for the run summary.
#[derive(Debug, Default, Serialize)]
pub struct Counters {
    /// Accepted by the transport.
    pub sent: AtomicU64,
    /// Stopped by the suppression list.
    pub suppressed: AtomicU64,
    /// Refused for good (recipient 5xx, SMS 4xx, render or compliance failure).
    pub failed: AtomicU64,
    /// Out of retries, or held with an unknown outcome.
    pub dead: AtomicU64,
    /// Re-queued after a transient error.
    pub retried: AtomicU64,
    /// Found already done in the ledger (a second copy of a job).
    pub duplicates: AtomicU64,
    /// SMS moved out of the contact's quiet hours.
    pub deferred: AtomicU64,
    /// SMS not sent: the contact has no recorded consent.
    pub no_consent: AtomicU64,
    /// Refused by the relay or provider (sender, content, auth): kept queued.
    pub relay_refused: AtomicU64,
    /// Data sent, reply lost: held as `unknown`.
    pub unknown: AtomicU64,
    /// Too late for their grace window: recorded as missed.
    pub missed: AtomicU64,
    /// Not sent: the contact responded after the job was queued (`pause_on_response`).
    pub paused: AtomicU64,
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
    /// The queue (for retries); its clock is the clock of every decision here.
    pub queue: Queue,
    /// Email transport.
    pub email: EmailSender,
    /// SMS transport.
    pub sms: SmsSender,
    /// Counters of this process.
    pub counters: Arc<Counters>,
    /// This worker's name (ledger lease owner prefix).
    pub owner: String,
    /// The circuit breaker of both channels.
    pub breaker: Arc<Breaker>,
    /// `true` for `run`: while a channel's breaker is open, its jobs are parked
    /// ([`crate::queue::park`]) so that the run finishes the other channel and ends (the next
    /// run, or a worker, takes them back); `work` puts them back until the cooldown ends.
    pub parks_for_next_run: bool,
    clock: Clock,
    policy: RetryPolicy,
    dkim: Option<crate::send::dkim::Signer>,
    sms_rules: SmsRules,
    sender_tz: chrono_tz::Tz,
    health: Mutex<HashMap<&'static str, String>>,
    seq: AtomicU64,
    /// When the complaint and bounce guard was last read (unix seconds), and what it said.
    guard: tokio::sync::Mutex<(i64, Option<String>)>,
    /// The client of webhook events.
    http: reqwest::Client,
    /// The time of that reading, for the lock-free check of every email job.
    guard_read_at: std::sync::atomic::AtomicI64,
    /// True while the guard's last reading stops email.
    guard_stops: std::sync::atomic::AtomicBool,
}

/// How often the complaint and bounce guard is read again while email goes out.
const GUARD_EVERY_SECS: i64 = 60;

/// How often a `sent` mark is tried while Redis is away after the server accepted a message.
const MARK_TRIES: u32 = 60;

impl Deliverer {
    /// Builds a deliverer; fails if a transport cannot be configured. Its clock is the
    /// queue's.
    pub fn new(workspace: Arc<Live>, store: Store, queue: Queue, owner: String) -> Result<Deliverer, String> {
        let config = workspace.get().config.clone();
        let email = EmailSender::from_config(&config)?;
        let sms = SmsSender::from_config(&config)?;
        let dkim = crate::send::dkim::Signer::from_config(&config)?;
        let quiet_hours = QuietHours::parse(&config.sms.quiet_hours).map_err(|e| format!("[sms] quiet_hours: {e}"))?;
        let d = &config.delivery;
        Ok(Deliverer {
            clock: queue.clock(),
            workspace,
            store,
            queue,
            email,
            sms,
            counters: Arc::default(),
            owner,
            breaker: Arc::new(Breaker::from_config(d)),
            parks_for_next_run: false,
            policy: RetryPolicy::from_config(d),
            dkim,
            sms_rules: SmsRules {
                require_consent: config.sms.require_consent,
                quiet: quiet_hours,
                sender_tz: config.sender_tz(),
            },
            sender_tz: config.sender_tz(),
            health: Mutex::default(),
            seq: AtomicU64::new(0),
            guard: tokio::sync::Mutex::new((0, None)),
            http: reqwest::Client::new(),
            guard_read_at: std::sync::atomic::AtomicI64::new(0),
            guard_stops: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// This deliverer as one of `lanes` delivery lanes of one process (`work --threads`): its
    /// share of the SMTP pool and rate, and the process's one circuit breaker.
    pub fn in_lane(mut self, lanes: usize, breaker: Arc<Breaker>) -> Deliverer {
        self.email = self.email.one_of(lanes);
        self.breaker = breaker;
        self
    }

    /// Checks both senders before the first job (connect and authenticate; the SMS provider's
    /// account): each one's health is recorded for `status`, a sender that refuses us opens the
    /// breaker at once (nothing is attempted on that channel; `run` stops with its reply), one
    /// that is unreachable is only recorded (its messages are tried and retried as usual).
    pub async fn check_senders(&self) {
        let (email, sms) = tokio::join!(self.email.check(), self.sms.check());
        for (channel, result) in [("email", email), ("sms", sms)] {
            let now = self.clock.unix();
            match result {
                Ok(()) => self.note_health(channel, "ok", "").await,
                Err(SendError::Refused(reply)) => {
                    tracing::error!(channel, %reply, "the startup check was refused: sending on this channel stops");
                    self.note_health(channel, "refused", &reply).await;
                    self.breaker.refused_at_startup(channel, &reply, now);
                }
                Err(e) => {
                    // Not the outage clock: that counts failed messages, and a channel with
                    // nothing to send tonight must not stop the run.
                    tracing::warn!(channel, error = %e, "the startup check failed: messages will be tried and retried");
                    self.note_health(channel, "down", &e.to_string()).await;
                }
            }
        }
    }

    /// Reads the complaint and bounce guard ([`crate::inbound::guard`]) when its last reading
    /// is older than [`GUARD_EVERY_SECS`] (one reader; the others wait for its answer); while it
    /// says stop, the email breaker is open with its reason (as a relay that refuses us), so
    /// `run` stops with exit 3 and `work` / `serve` keep email queued.
    async fn guard(&self, now: i64) {
        // Most jobs: a fresh reading that does not stop email (two atomic loads).
        if now - self.guard_read_at.load(Ordering::Relaxed) < GUARD_EVERY_SECS && !self.guard_stops.load(Ordering::Relaxed) {
            return;
        }
        let mut cached = self.guard.lock().await;
        if now - cached.0 >= GUARD_EVERY_SECS {
            let cfg = &self.workspace.get().config;
            let day = self.clock.today(self.sender_tz);
            cached.1 = match crate::inbound::guard::check(&self.store, &cfg.inbound, day).await {
                Ok((_, crate::inbound::guard::Judgement::Stop { reason })) => Some(reason),
                Ok((_, crate::inbound::guard::Judgement::Warn { reason })) => {
                    if cached.0 == 0 {
                        tracing::warn!(%reason, "sender reputation");
                    }
                    None
                }
                Ok(_) => None,
                // Redis away: the claim that follows fails and retries the job.
                Err(_) => cached.1.clone(),
            };
            cached.0 = now;
            self.guard_stops.store(cached.1.is_some(), Ordering::Relaxed);
            self.guard_read_at.store(now, Ordering::Relaxed);
        }
        if let Some(reason) = &cached.1
            && self.breaker.open_until("email", now).is_none()
        {
            tracing::error!(%reason, "sender reputation guard: email stops");
            self.note_health("email", "refused", reason).await;
            self.breaker.refused_at_startup("email", reason, now);
        }
    }

    async fn deliver(&self, job: DeliveryJob) -> Result<JobResult, DeliverError> {
        if let Some(call) = &job.webhook {
            return self.webhook(&job, call).await;
        }
        let ws = self.workspace.get();
        let cfg = &ws.config;
        let now = self.clock.unix();
        let channel = job.channel.suppression_list();
        if job.channel == Channel::Email {
            self.guard(now).await;
        }
        if let Some(until) = self.breaker.open_until(channel, now) {
            if self.parks_for_next_run {
                return Ok(crate::queue::park::park(&self.queue, &job).await?);
            }
            return self.put_back(&job, until + crate::queue::spread_secs(&job.key, 30)).await;
        }
        let owner = format!("{}:{}", self.owner, self.seq.fetch_add(1, Ordering::Relaxed));
        let lease_ms = cfg.delivery.claim_ttl_secs * 1000;
        let target = ledger::Target {
            delivery_key: &job.key,
            contact_id: &job.contact_id,
            channel,
        };
        let (contact, suppressed) = match ledger::claim(&self.store, target, &owner, lease_ms).await? {
            Claim::Claimed { contact, suppressed } => (contact, suppressed),
            Claim::Done(state) => {
                tracing::debug!(key = %job.key, %state, "already done; skipped");
                self.counters.add(&self.counters.duplicates);
                return Ok(JobResult::Done);
            }
            Claim::Gone => {
                // Forgotten after the job was queued: not sent, nothing written about them.
                tracing::debug!("contact no longer exists; skipped");
                ledger::count(&self.store, &job.run_date.to_string(), Counter::Gone).await?;
                return Ok(JobResult::Done);
            }
            Claim::Busy { retry_in_ms } => {
                // Another worker holds a live lease (or died holding it): look again when it ends.
                return self.put_back(&job, now + (retry_in_ms / 1000) as i64 + 1).await;
            }
        };
        let today = self.clock.today(self.sender_tz);
        let too_late = today > job.due + chrono::Duration::days(i64::from(cfg.delivery.grace_days));
        // A plan edited after the job was queued: a removed touch stops, a changed template is
        // used; a plan file missing (a deploy replacing jobs/) waits, unless it is too late.
        let template = match ws.plans.get(&job.plan).map(|p| p.touch(&job.touch)) {
            Some(Some(touch)) => touch.template.clone().unwrap_or_else(|| job.template.clone()),
            Some(None) => {
                return self
                    .close(&job, None, Outcome::Cancelled, "the touch is no longer in its plan")
                    .await;
            }
            None if too_late => return self.close(&job, None, Outcome::Cancelled, "its plan file is gone").await,
            None => {
                ledger::release(&self.store, &job.key, &owner).await?;
                tracing::warn!(key = %job.key, plan = %job.plan, "plan file missing; the job waits for it");
                return self.put_back(&job, now + 60).await;
            }
        };
        let contact = match decode_contact(contact.as_deref(), &job.contact_id) {
            Ok(c) => c,
            Err(why) => return self.fail(&job, None, Outcome::Refused, &why).await,
        };
        // A reply stops what it answers at once: the contact responded on or after the day
        // this touch fell due, so after the run that queued it expanded the plan.
        if ws.plans.get(&job.plan).is_some_and(|p| p.pause_on_response) && contact.responded_on.is_some_and(|r| r >= job.due) {
            self.counters.add(&self.counters.paused);
            return self.close(&job, Some(&contact), Outcome::Paused, "").await;
        }
        if job.channel == Channel::Sms {
            match self.sms_rules.judge(&contact, job.not_before, too_late, self.clock.now()) {
                SmsGate::Go => {}
                SmsGate::NoConsent => {
                    self.close(&job, Some(&contact), Outcome::Refused, "no_consent").await?;
                    ledger::count(&self.store, &job.run_date.to_string(), Counter::NoConsent).await?;
                    self.counters.add(&self.counters.no_consent);
                    return Ok(JobResult::Done);
                }
                SmsGate::Missed => {
                    self.counters.add(&self.counters.missed);
                    return self
                        .close(&job, Some(&contact), Outcome::Missed, "quiet hours until after its grace window")
                        .await;
                }
                SmsGate::Wait(open) => return self.defer(&job, &owner, open).await,
            }
        }
        let sending = self.compose_and_send(&ws, &job, &template, &contact, suppressed);
        let outcome = self.renewing(sending, &job.key, &owner, lease_ms).await;
        self.settle(&job, &owner, &contact, outcome).await
    }

    /// One ledger call (and the breaker, health and retry decisions) per outcome.
    async fn settle(
        &self,
        job: &DeliveryJob,
        owner: &str,
        contact: &Contact,
        outcome: Result<(), Failure>,
    ) -> Result<JobResult, DeliverError> {
        let channel = job.channel.suppression_list();
        let now = self.clock.unix();
        match outcome {
            Ok(()) => {
                self.mark_sent(job, contact).await?;
                if self.store.webhook_config().is_some() {
                    let data = serde_json::json!({ "plan": job.plan, "touch": job.touch, "channel": job.channel.suppression_list() });
                    webhooks::emit(&self.store, "sent", &job.contact_id, data).await;
                }
                self.breaker.success(channel);
                self.note_health(channel, "ok", "").await;
                self.counters.add(&self.counters.sent);
                tracing::debug!(key = %job.key, "sent");
                Ok(JobResult::Done)
            }
            Err(Failure::Refused(Refusal::Suppressed)) => {
                self.counters.add(&self.counters.suppressed);
                self.close(job, Some(contact), Outcome::Suppressed, "").await
            }
            Err(Failure::Refused(r)) => self.fail(job, Some(contact), Outcome::Refused, &r.to_string()).await,
            Err(Failure::Render(m)) => self.fail(job, Some(contact), Outcome::Refused, &m).await,
            Err(Failure::Send(SendError::Permanent { message, bounce })) => {
                if bounce {
                    self.suppress_bounce(contact, job.channel).await?;
                }
                self.breaker.success(channel);
                self.fail(job, Some(contact), Outcome::Failed, &message).await
            }
            Err(Failure::Send(SendError::Refused(reply))) => {
                ledger::release(&self.store, &job.key, owner).await?;
                self.counters.add(&self.counters.relay_refused);
                self.note_health(channel, "refused", &reply).await;
                let tripped = self.breaker.refused(channel, &reply, now);
                if let Some(trip) = &tripped {
                    tracing::error!(channel, reply = %trip.reply, "the relay refuses us: sending on this channel stops");
                }
                tracing::warn!(key = %job.key, %reply, "refused by the relay; the message stays queued");
                match self.breaker.open_until(channel, now) {
                    // The channel is stopped: wait for the next run, or for the cooldown.
                    Some(_) if self.parks_for_next_run => Ok(crate::queue::park::park(&self.queue, job).await?),
                    Some(until) => self.put_back(job, until).await,
                    // Refused while others go through (one message's content, say): retried
                    // like a transient failure, a dead letter at the end of the window.
                    None => self.retry(job, &reply).await,
                }
            }
            Err(Failure::Send(SendError::Unknown(message))) => {
                // Email only: every copy carries the same Message-ID, which receivers collapse;
                // a second SMS would be a second text (and a second charge).
                if job.channel == Channel::Email && self.workspace.get().config.delivery.after_lost_reply == "retry" {
                    // Keep the claim: the retry claims it once the lease has run out.
                    tracing::warn!(key = %job.key, %message, "reply lost after the data; retried after the lease");
                    return self.retry(job, &message).await;
                }
                self.counters.add(&self.counters.unknown);
                self.counters.add(&self.counters.dead);
                self.close(job, Some(contact), Outcome::Unknown, &message).await?;
                tracing::warn!(key = %job.key, %message, "reply lost after the data: held as unknown, not re-sent");
                Ok(JobResult::Dead(format!("unknown outcome (held, not re-sent): {message}")))
            }
            Err(Failure::Send(SendError::Transient(message))) => {
                ledger::release(&self.store, &job.key, owner).await?;
                self.breaker.unreachable(channel, now);
                self.note_health(channel, "down", &message).await;
                self.retry(job, &message).await
            }
        }
    }

    /// One attempt of a webhook event: sent, dropped (forgotten), put back behind an earlier
    /// event of its contact, or retried like a message (a dead letter at the end of the window,
    /// which lets the contact's later events go on).
    async fn webhook(&self, job: &DeliveryJob, call: &webhooks::WebhookCall) -> Result<JobResult, DeliverError> {
        let ws = self.workspace.get();
        let Some(hook) = ws.config.webhooks.iter().find(|h| h.name == call.name) else {
            webhooks::give_up(&self.store, job, call).await?;
            return Ok(JobResult::Dead(format!("no [[webhooks]] named {:?} any more", call.name)));
        };
        let now = self.clock.unix();
        let signed_at = crate::clock::Clock::unix_now();
        match webhooks::attempt(&self.store, &self.http, hook, job, call, signed_at).await? {
            webhooks::Attempt::Delivered | webhooks::Attempt::Dropped => Ok(JobResult::Done),
            // Behind an earlier event that is being retried: look again in 1, 2, then every 4
            // seconds (it goes within seconds of the one it waits for).
            webhooks::Attempt::Waits => self.put_back(job, now + (1i64 << job.requeue.min(2))).await,
            webhooks::Attempt::Failed(message) => match self.policy.after_failure(job, now, &message) {
                (_, Retry::Dead(reason)) => {
                    webhooks::give_up(&self.store, job, call).await?;
                    tracing::warn!(key = %job.key, %reason, "webhook event out of retries: dead letter");
                    Ok(JobResult::Dead(reason))
                }
                (next, Retry::At(at)) => {
                    self.queue.enqueue(&[next], Some(at)).await?;
                    tracing::info!(key = %job.key, at, error = %message, "webhook failed; retry scheduled");
                    Ok(JobResult::Done)
                }
            },
        }
    }

    /// Schedules the next attempt of a transient failure, or makes it a dead letter.
    async fn retry(&self, job: &DeliveryJob, message: &str) -> Result<JobResult, DeliverError> {
        let run_date = job.run_date.to_string();
        match self.policy.after_failure(job, self.clock.unix(), message) {
            (_, Retry::Dead(reason)) => {
                ledger::count(&self.store, &run_date, Counter::Dead).await?;
                self.counters.add(&self.counters.dead);
                tracing::warn!(key = %job.key, %reason, "out of retries: dead letter");
                Ok(JobResult::Dead(reason))
            }
            (next, Retry::At(at)) => {
                self.queue.enqueue(&[next], Some(at)).await?;
                ledger::count(&self.store, &run_date, Counter::Retried).await?;
                self.counters.add(&self.counters.retried);
                tracing::info!(key = %job.key, at, error = %message, "transient failure; retry scheduled");
                Ok(JobResult::Done)
            }
        }
    }

    /// Puts a job back without counting an attempt, due at `at`.
    async fn put_back(&self, job: &DeliveryJob, at: i64) -> Result<JobResult, DeliverError> {
        let mut again = job.clone();
        again.requeue += 1;
        self.queue.enqueue(&[again], Some(at)).await?;
        Ok(JobResult::Done)
    }

    /// Marks a delivery `sent`. The server has the message: a Redis error here is retried in
    /// this process (the connection manager reconnects) and never becomes a resend.
    async fn mark_sent(&self, job: &DeliveryJob, contact: &Contact) -> Result<(), StoreError> {
        let mut wait = Duration::from_millis(100);
        for attempt in 1..=MARK_TRIES {
            match ledger::finish(
                &self.store,
                self.delivery(job, Some(contact)),
                &job.run_date.to_string(),
                Outcome::Sent,
                "",
                self.clock.unix(),
            )
            .await
            {
                Ok(()) => return Ok(()),
                Err(e) if attempt == MARK_TRIES => return Err(e),
                Err(e) => {
                    tracing::warn!(key = %job.key, error = %e, "sent, but Redis did not take the mark; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        Ok(())
    }

    /// Runs `send` while renewing the claim every third of its lease, so no other worker can
    /// take a message that is being sent however long the server takes.
    async fn renewing<T>(&self, send: impl Future<Output = T>, key: &str, owner: &str, lease_ms: u64) -> T {
        let every = Duration::from_millis((lease_ms / 3).max(200));
        let renew = async {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = ledger::renew(&self.store, key, owner, lease_ms).await {
                    tracing::warn!(%key, error = %e, "could not renew the send claim");
                }
            }
        };
        tokio::select! {
            out = send => out,
            _ = renew => unreachable!("the renewal loop never ends"),
        }
    }

    /// The delivery's ledger identity, attributed to the contact's source and agent when it
    /// was read, dated today in the sender's timezone.
    fn delivery<'a>(&self, job: &'a DeliveryJob, contact: Option<&'a Contact>) -> ledger::Delivery<'a> {
        let field = |name: &str| contact.and_then(|c| c.get(name)).unwrap_or_default();
        ledger::Delivery {
            key: &job.key,
            contact_id: &job.contact_id,
            plan: &job.plan,
            touch: &job.touch,
            source: field("source"),
            agent: field("agent"),
            day: self.clock.today(self.sender_tz),
            email: job.channel == Channel::Email,
            verp: self.verp(job, contact),
        }
    }

    /// The VERP tag of an email's envelope sender and what it names, with `[inbound]
    /// return_path` (the same tag `compose` put on the envelope).
    fn verp(&self, job: &DeliveryJob, contact: Option<&Contact>) -> Option<(String, String)> {
        if job.channel != Channel::Email {
            return None;
        }
        let address = contact.and_then(Contact::email)?;
        let ws = self.workspace.get();
        if ws.config.inbound.return_path.is_empty() {
            return None;
        }
        let tag = crate::compliance::token::verp_tag(ws.config.unsubscribe_secret(), &job.key, address);
        Some((tag, format!("{}\0{address}", job.key)))
    }

    /// Records a final state (no failure record).
    async fn close(&self, job: &DeliveryJob, contact: Option<&Contact>, outcome: Outcome, detail: &str) -> Result<JobResult, DeliverError> {
        let run_date = job.run_date.to_string();
        ledger::finish(
            &self.store,
            self.delivery(job, contact),
            &run_date,
            outcome,
            detail,
            self.clock.unix(),
        )
        .await?;
        if outcome == Outcome::Cancelled {
            tracing::info!(key = %job.key, detail, "not sent");
        }
        Ok(JobResult::Done)
    }

    /// Records a final failure, remembered for `status`.
    async fn fail(&self, job: &DeliveryJob, contact: Option<&Contact>, outcome: Outcome, message: &str) -> Result<JobResult, DeliverError> {
        self.close(job, contact, outcome, message).await?;
        let record = serde_json::json!({ "key": job.key, "channel": job.channel, "template": job.template, "error": message, "at": self.clock.unix() });
        ledger::remember_failure(&self.store, &job.contact_id, &record.to_string()).await?;
        self.counters.add(&self.counters.failed);
        tracing::warn!(key = %job.key, error = %message, "not sent");
        Ok(JobResult::Done)
    }

    /// Writes a sender's health when its state changes (not once per message).
    async fn note_health(&self, channel: &'static str, state: &str, error: &str) {
        {
            let mut seen = self.health.lock().unwrap_or_else(|e| e.into_inner());
            if seen.get(channel).is_some_and(|s| s == state) {
                return;
            }
            seen.insert(channel, state.to_string());
        }
        let health = Health {
            state: state.into(),
            since: self.clock.now().to_rfc3339(),
            error: error.chars().take(300).collect(),
        };
        if let Err(e) = self.store.set_health(channel, &health).await {
            tracing::warn!(error = %e, "could not record the sender's health");
        }
    }

    async fn suppress_bounce(&self, contact: &Contact, channel: Channel) -> Result<(), StoreError> {
        if let Some(value) = channel.address(contact) {
            let at = self.clock.now().to_rfc3339();
            self.store
                .suppress_for(
                    &contact.id.0,
                    &Suppression {
                        value: value.to_string(),
                        channel: channel.suppression_list().into(),
                        reason: "bounce".into(),
                        at: at.clone(),
                    },
                )
                .await?;
            let data = serde_json::json!({ "channel": channel.suppression_list(), "address": value, "at": at });
            webhooks::emit(&self.store, "bounce", &contact.id.0, data).await;
        }
        Ok(())
    }

    /// Moves an SMS out of the contact's quiet hours to the slot where its window opens (never
    /// drops it); the claim is given back for that attempt.
    async fn defer(&self, job: &DeliveryJob, owner: &str, open: i64) -> Result<JobResult, DeliverError> {
        ledger::release(&self.store, &job.key, owner).await?;
        let mut later = job.clone();
        later.requeue += 1;
        later.not_before = Some(open);
        let spread = crate::queue::spread_secs(&job.key, self.workspace.get().config.delivery.send_spread_secs.min(300));
        self.queue.enqueue(&[later], Some(open + spread)).await?;
        ledger::count(&self.store, &job.run_date.to_string(), Counter::Deferred).await?;
        self.counters.add(&self.counters.deferred);
        tracing::debug!(key = %job.key, open, "quiet hours: deferred");
        Ok(JobResult::Done)
    }

    /// The one compose path ([`compose`]), then the transport.
    async fn compose_and_send(
        &self,
        ws: &Workspace,
        job: &DeliveryJob,
        template: &str,
        contact: &Contact,
        suppressed: bool,
    ) -> Result<(), Failure> {
        let at = compose::Occasion {
            plan: &job.plan,
            touch: &job.touch,
            date: job.run_date,
            key: &job.key,
        };
        let to = compose::Recipient::Contact { suppressed };
        match job.channel {
            Channel::Email => {
                let email = compose::email(ws, contact, template, &at, to)?;
                self.email.send(email, self.dkim.as_ref()).await.map_err(Failure::Send)
            }
            _ => {
                let sms = compose::sms(ws, contact, template, &at, to)?;
                self.sms.send(&sms, &job.key).await.map_err(Failure::Send)
            }
        }
    }
}

/// The stored contact of a claim, or why there is none to send to.
fn decode_contact(raw: Option<&str>, id: &str) -> Result<Contact, String> {
    match raw.map(serde_json::from_str::<Contact>).transpose() {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(format!("contact {id} no longer exists")),
        Err(e) => Err(format!("stored contact does not decode: {e}")),
    }
}

/// Infrastructure that failed mid-delivery (the job goes back to the backend's retry).
#[derive(Debug, thiserror::Error)]
enum DeliverError {
    /// Redis, through the store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Redis, through the queue.
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
}

enum Failure {
    Refused(Refusal),
    Render(String),
    Send(SendError),
}

impl From<compose::ComposeError> for Failure {
    fn from(e: compose::ComposeError) -> Failure {
        match e {
            compose::ComposeError::Refused(r) => Failure::Refused(r),
            // An address lettre cannot put in a header: refused for good, not a bounce.
            compose::ComposeError::Mime(message) => Failure::Send(SendError::Permanent { message, bounce: false }),
            e => Failure::Render(e.to_string()),
        }
    }
}

/// The job handler: an `Arc<Deliverer>` so every job's future can own it.
pub struct Handler(pub Arc<Deliverer>);

impl JobHandler for Handler {
    fn handle(&self, job: DeliveryJob) -> BoxFuture<'static, JobResult> {
        let d = self.0.clone();
        Box::pin(async move {
            // Redis failed mid-delivery (before anything was sent, or after, while marking):
            // try again in this process while Redis comes back — a new claim meets the old
            // lease and waits for it, so nothing is sent twice. Only a long outage hands the
            // job to the backend's retry.
            let mut wait = Duration::from_millis(250);
            for attempt in 1..=REDIS_TRIES {
                match d.deliver(job.clone()).await {
                    Ok(r) => return r,
                    Err(e) if attempt < REDIS_TRIES => {
                        tracing::warn!(key = %job.key, error = %e, "Redis unavailable during delivery; trying again");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                    }
                    Err(e) => {
                        tracing::error!(key = %job.key, error = %e, "Redis unavailable during delivery; the job will be retried");
                        return JobResult::Retry(format!("Redis unavailable: {e}"));
                    }
                }
            }
            JobResult::Retry("Redis unavailable".into())
        })
    }
}

/// Tries of one job while Redis is away (≈ 18 s in all) before the backend's retry.
const REDIS_TRIES: u32 = 8;
