//! Outgoing webhooks (`[[webhooks]]`): nurture's events — a lead, a response, a stage change,
//! a deal, an opt-out, a bounce, a complaint, a message sent, an erasure — POSTed to other
//! systems as JSON signed per the Standard Webhooks spec. Each event is a job on the same queue
//! as messages (retries with backoff, dead letters, `dead retry`): at least once, and in order
//! per contact and webhook — a job waits while an earlier event of its contact is not through.
//! A forgotten person's events are not sent after `forget`; `forget` itself emits `erased` with
//! the id only. This module owns the payload, the signature, the per-contact order and the
//! POST; the queue and the worker sequence them.

use crate::config::{Config, WebhookConfig};
use crate::queue::{DeliveryJob, JOB_VERSION, Queue, QueueError};
use crate::store::{Store, StoreError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::Duration;

/// How long a receiver may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How long the order of a contact's pending events is kept without news (a job that never
/// comes back does not block the contact's later events for longer).
const ORDER_SECS: u64 = 30 * 86_400;

/// One event for one webhook, as queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookCall {
    /// The `[[webhooks]]` name.
    pub name: String,
    /// The message id (`webhook-id`): the same on every attempt, so receivers drop repeats.
    pub id: String,
    /// The JSON body.
    pub body: String,
}

/// What an attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver took it (2xx).
    Delivered,
    /// Not sent: its contact was forgotten since.
    Dropped,
    /// An earlier event of its contact is not through yet: try again shortly.
    Waits,
    /// The receiver failed or answered something else than 2xx.
    Failed(String),
}

/// The body of an event: `{"type", "timestamp", "data": {..., "contact": ID}}`.
pub fn body(kind: &str, contact_id: &str, mut data: serde_json::Value, at: chrono::DateTime<chrono::Utc>) -> String {
    if !data.is_object() {
        data = serde_json::json!({});
    }
    data["contact"] = contact_id.into();
    serde_json::json!({
        "type": kind,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": data,
    })
    .to_string()
}

/// The `webhook-signature` of `body` (Standard Webhooks: `v1,` + base64 of HMAC-SHA256 over
/// `id.timestamp.body`; a `whsec_` secret is the base64 of the key, any other its bytes).
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|b| STANDARD.decode(b).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A fresh message id (`msg_` + 128 random bits).
fn message_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the system's random source");
    format!("msg_{}", hex::encode(bytes))
}

/// Queues `kind` about `contact_id` for every webhook that takes it. Never fails the action
/// that caused it: a Redis failure here is logged.
pub async fn emit(store: &Store, kind: &str, contact_id: &str, data: serde_json::Value) {
    emit_all(store, kind, vec![(contact_id.to_string(), data)]).await;
}

/// [`emit`] for many contacts at once (an import's new leads): one round trip per thousand.
pub async fn emit_all(store: &Store, kind: &str, events: Vec<(String, serde_json::Value)>) {
    if let Err(e) = try_emit(store, kind, events).await {
        tracing::error!(kind, error = %e, "webhook events could not be queued");
    }
}

async fn try_emit(store: &Store, kind: &str, events: Vec<(String, serde_json::Value)>) -> Result<(), QueueError> {
    let Some(config) = store.webhook_config() else { return Ok(()) };
    let hooks: Vec<&WebhookConfig> = config.webhooks.iter().filter(|h| h.takes(kind)).collect();
    if hooks.is_empty() || events.is_empty() {
        return Ok(());
    }
    let now = crate::clock::Clock::System.now();
    let today = now.date_naive();
    let queue = Queue::for_config(config, store);
    for chunk in events.chunks(1000) {
        let mut jobs = Vec::new();
        let mut pipe = redis::pipe();
        for (contact_id, data) in chunk {
            let body = body(kind, contact_id, data.clone(), now);
            for hook in &hooks {
                let id = message_id();
                let order = store.keys.webhook_order(&hook.name, contact_id);
                pipe.rpush(&order, &id).ignore().expire(&order, ORDER_SECS as i64).ignore();
                jobs.push(job(&hook.name, &id, kind, contact_id, &body, today));
            }
        }
        let () = pipe.query_async(&mut store.conn.clone()).await.map_err(StoreError::from)?;
        if let Err(e) = queue.enqueue(&jobs, None).await {
            // Not queued: take their places back, or they would hold up the contacts' later
            // events.
            let mut undo = redis::pipe();
            for j in &jobs {
                if let Some(call) = &j.webhook {
                    undo.lrem(store.keys.webhook_order(&call.name, &j.contact_id), 1, &call.id).ignore();
                }
            }
            let _: Result<(), _> = undo.query_async(&mut store.conn.clone()).await;
            return Err(e);
        }
    }
    Ok(())
}

fn job(name: &str, id: &str, kind: &str, contact_id: &str, body: &str, today: chrono::NaiveDate) -> DeliveryJob {
    DeliveryJob {
        v: JOB_VERSION,
        key: format!("webhook|{name}|{id}"),
        contact_id: contact_id.to_string(),
        plan: "webhook".into(),
        touch: kind.to_string(),
        channel: crate::plans::Channel::Email,
        template: name.to_string(),
        due: today,
        run_date: today,
        attempt: 0,
        requeue: 0,
        first_failed_at: None,
        revived: 0,
        not_before: None,
        webhook: Some(WebhookCall {
            name: name.to_string(),
            id: id.to_string(),
            body: body.to_string(),
        }),
    }
}

/// What `forget` does for webhooks: the contact's pending events stop (their order lists go;
/// their queued jobs were swept with the contact's others), and every webhook gets `erased`
/// with the id only.
pub async fn erased(store: &Store, contact_id: &str) -> Result<(), StoreError> {
    let Some(config) = store.webhook_config() else { return Ok(()) };
    let keys: Vec<String> = config
        .webhooks
        .iter()
        .map(|h| store.keys.webhook_order(&h.name, contact_id))
        .collect();
    let _: () = store.conn.clone().del(keys).await?;
    emit(store, "erased", contact_id, serde_json::json!({})).await;
    Ok(())
}

/// One attempt of `call` (queued as `job`) to `hook`, in order: the first pending event of its
/// contact goes; the others wait for it.
pub async fn attempt(
    store: &Store,
    client: &reqwest::Client,
    hook: &WebhookConfig,
    job: &DeliveryJob,
    call: &WebhookCall,
    now: i64,
) -> Result<Attempt, StoreError> {
    if job.touch != "erased" && store.contact(&job.contact_id).await?.is_none() {
        give_up(store, job, call).await?;
        return Ok(Attempt::Dropped);
    }
    let order = store.keys.webhook_order(&hook.name, &job.contact_id);
    let head: Option<String> = store.conn.clone().lindex(&order, 0).await?;
    if head.as_deref().is_some_and(|h| h != call.id) {
        let pending: Vec<String> = store.conn.clone().lrange(&order, 0, -1).await?;
        // Not in the list at all (a dead letter put back): it goes now, out of order.
        if pending.contains(&call.id) {
            return Ok(Attempt::Waits);
        }
    }
    match post(client, hook, &call.id, now, call.body.clone()).await {
        Ok(_) => {
            give_up(store, job, call).await?;
            Ok(Attempt::Delivered)
        }
        Err(why) => Ok(Attempt::Failed(why)),
    }
}

/// POSTs `body` to `hook`, signed as the message `id` at `timestamp` (unix seconds): the
/// receiver's 2xx status, or why it did not take it.
async fn post(
    client: &reqwest::Client,
    hook: &WebhookConfig,
    id: &str,
    timestamp: i64,
    body: String,
) -> Result<reqwest::StatusCode, String> {
    let sent = client
        .post(&hook.url)
        .timeout(TIMEOUT)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature(hook.secret.expose(), id, timestamp, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{}: {e}", hook.url))?;
    let status = sent.status();
    if status.is_success() {
        return Ok(status);
    }
    let text: String = sent.text().await.unwrap_or_default().chars().take(200).collect();
    Err(format!("{} answered {status}: {text}", hook.url))
}

/// Takes the event out of its contact's order: once delivered, dropped, or a dead letter (the
/// contact's later events go on).
pub async fn give_up(store: &Store, job: &DeliveryJob, call: &WebhookCall) -> Result<(), StoreError> {
    let order = store.keys.webhook_order(&call.name, &job.contact_id);
    let _: i64 = store.conn.clone().lrem(&order, 1, &call.id).await?;
    Ok(())
}

/// `nurture webhooks test NAME`: POSTs a signed sample event (`type` `test`) to the webhook at
/// once, outside the queue; returns the receiver's status line.
pub async fn test(config: &Config, name: &str) -> anyhow::Result<String> {
    let Some(hook) = config.webhooks.iter().find(|h| h.name == name) else {
        let names: Vec<&str> = config.webhooks.iter().map(|h| h.name.as_str()).collect();
        anyhow::bail!(
            "no [[webhooks]] named {name:?} (configured: {})",
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        );
    };
    let now = crate::clock::Clock::System.now();
    let id = message_id();
    let body = body(
        "test",
        "test-contact",
        serde_json::json!({"note": "a sample event from nurture webhooks test"}),
        now,
    );
    let status = post(&reqwest::Client::new(), hook, &id, now.timestamp(), body)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(format!("{name}: {} answered {status} ({id})", hook.url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_standard_webhooks() {
        // The example of the Standard Webhooks spec (its reference libraries' test vector).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_ne!(signature("plain", "m", 1, body), signature("plain2", "m", 1, body));
    }

    #[test]
    fn the_body_names_the_contact_in_data() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z").unwrap().to_utc();
        let b: serde_json::Value = serde_json::from_str(&body("deal", "c-1", serde_json::json!({"value": 1500.0}), at)).unwrap();
        assert_eq!(b["type"], "deal");
        assert_eq!(b["timestamp"], "2026-12-07T10:00:00Z");
        assert_eq!(b["data"]["contact"], "c-1");
        assert_eq!(b["data"]["value"], 1500.0);
    }
}
