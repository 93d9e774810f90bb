//! Returning mail: bounces, complaints, replies, mailed opt-outs and auto-replies. Every
//! source (the IMAP mailbox, `POST /inbound/email`) hands one raw message to [`handle`], which
//! sequences the stages: [`read`] (raw → [`Returned`]), [`classify`] (pure: the kind, the
//! delivery it answers, the evidence), the once-only mark, and [`apply`] (the effects, through
//! the same paths as every other opt-out, response and bounce).
//!
//! Once: each message is keyed by a hash of its `Message-ID` (else of its bytes); the key is
//! held as `working` while its effects are written and set to `done` for 90 days after, so a
//! mailbox fetched twice, a relay posting again or the same DSN appended twice act once. A
//! process that dies between the two leaves the `working` lease to expire (10 minutes); the
//! next fetch handles the message again.

pub mod apply;
pub mod classify;
pub mod forward;
pub mod guard;
pub mod imap;
pub mod providers;
pub mod read;

pub use apply::Effect;
pub use classify::{Kind, Matcher, Verdict};
pub use read::Returned;

use crate::clock::Clock;
use crate::store::{Store, StoreError};
use crate::workspace::Workspace;
use sha2::{Digest, Sha256};

/// How long a message stays known as handled.
const SEEN_SECS: u64 = 90 * 86_400;
/// How long a message being handled is held (a process that died leaves it that long).
const WORKING_SECS: u64 = 600;

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Handled {
    /// Its kind.
    pub kind: Kind,
    /// What happened.
    pub outcome: Outcome,
    /// The evidence or the reason, for logs and `--json`.
    pub detail: String,
}

/// The fate of a message, which decides what its source does with it (an IMAP message is
/// flagged and moved unless it is [`Outcome::Left`]; HTTP answers 200, 202 or 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its effects were written.
    Applied,
    /// Understood; nothing to change.
    Nothing,
    /// Handled before: nothing changes again.
    Duplicate,
    /// Another process is handling it right now: try again later.
    Busy,
    /// Not understood, too large, or not for nurture: left for a person.
    Left,
}

impl Handled {
    fn left(kind: Kind, detail: impl Into<String>) -> Handled {
        Handled {
            kind,
            outcome: Outcome::Left,
            detail: detail.into(),
        }
    }
}

/// Reads, classifies and applies one raw message.
pub async fn handle(store: &Store, ws: &Workspace, clock: &Clock, raw: &[u8]) -> Result<Handled, StoreError> {
    let config = &ws.config;
    if raw.len() as u64 > config.inbound.max_message_bytes {
        return Ok(Handled::left(
            Kind::Unknown,
            format!("{} bytes, over [inbound] max_message_bytes", raw.len()),
        ));
    }
    let Some(returned) = read::read(raw) else {
        return Ok(Handled::left(Kind::Unknown, "not an email message"));
    };
    let secrets = config.unsubscribe_secrets();
    let matcher = Matcher {
        secrets: &secrets,
        unsubscribe_mailto: &config.unsubscribe.mailto,
        return_path: &config.inbound.return_path,
    };
    let verdict = classify::classify(&returned, &matcher);
    if verdict.kind == Kind::Unknown {
        return Ok(Handled::left(Kind::Unknown, verdict.evidence));
    }
    let id = match &returned.message_id {
        Some(id) => format!("id:{id}"),
        None => format!("raw:{}", hex::encode(Sha256::digest(raw))),
    };
    let handled = handle_once(store, &id, verdict.kind, applied(store, ws, clock, &verdict)).await?;
    match (&verdict.subject, handled.outcome) {
        (classify::Subject::Delivery(d), Outcome::Applied | Outcome::Duplicate)
            if verdict.kind == Kind::Reply && config.inbound.forward_replies =>
        {
            forward_once(store, ws, d.contact_id(), &returned, &id, handled).await
        }
        _ => Ok(handled),
    }
}

/// [`apply::apply`]'s effect as the outcome of a once-only run.
async fn applied(store: &Store, ws: &Workspace, clock: &Clock, verdict: &Verdict) -> Result<(Outcome, String), StoreError> {
    Ok(match apply::apply(store, ws, clock, verdict).await? {
        Effect::Applied(s) => (Outcome::Applied, s),
        Effect::Nothing(s) => (Outcome::Nothing, s),
        Effect::Left(s) => (Outcome::Left, s),
    })
}

/// Copies a recorded reply to the contact's agent, once ([`forward`]); a copy that could not
/// be sent leaves the message [`Outcome::Busy`] (unread in the mailbox, 503 over HTTP) so the
/// next fetch tries the copy again — the response itself is not recorded twice.
async fn forward_once(
    store: &Store,
    ws: &Workspace,
    contact_id: &str,
    reply: &Returned,
    id: &str,
    handled: Handled,
) -> Result<Handled, StoreError> {
    let Some(contact) = store.contact(contact_id).await? else {
        return Ok(handled);
    };
    let key = format!("forward:{id}");
    let copy = handle_once(store, &key, Kind::Reply, async {
        match forward::forward(ws, &contact, reply, &key).await {
            Ok(()) => Ok((Outcome::Applied, "copied to the agent".into())),
            Err(e) => {
                tracing::warn!(contact_id, error = %e, "the reply could not be copied to the agent; tried again at the next fetch");
                Ok((Outcome::Busy, e))
            }
        }
    })
    .await?;
    Ok(match copy.outcome {
        Outcome::Busy => Handled {
            outcome: Outcome::Busy,
            detail: format!("response recorded; copy to the agent failed: {}", copy.detail),
            ..handled
        },
        _ => Handled {
            detail: format!("{}; copied to the agent", handled.detail),
            ..handled
        },
    })
}

/// Applies one provider event ([`providers`]) once, keyed by the provider's event id.
pub async fn handle_event(store: &Store, ws: &Workspace, clock: &Clock, e: &providers::Event) -> Result<Handled, StoreError> {
    let secrets = ws.config.unsubscribe_secrets();
    let verdict = providers::verdict(e, &secrets);
    match verdict.kind {
        Kind::Unknown => return Ok(Handled::left(Kind::Unknown, verdict.evidence)),
        Kind::Nothing => {
            return Ok(Handled {
                kind: Kind::Nothing,
                outcome: Outcome::Nothing,
                detail: verdict.evidence,
            });
        }
        _ => {}
    }
    handle_once(store, &e.id, verdict.kind, applied(store, ws, clock, &verdict)).await
}

/// Runs `work` once for the message or event `id` (a `Message-ID`, a provider's event id):
/// [`Outcome::Duplicate`] when it ran before, [`Outcome::Busy`] while another process runs it.
/// A failed or [`Outcome::Left`] run gives the id back, so it can be handled later.
pub async fn handle_once(
    store: &Store,
    id: &str,
    kind: Kind,
    work: impl Future<Output = Result<(Outcome, String), StoreError>>,
) -> Result<Handled, StoreError> {
    let key = store.keys.inbound_seen(&hex::encode(&Sha256::digest(id.as_bytes())[..16]));
    if let Some(state) = store.claim_answer(&key, "working", WORKING_SECS).await? {
        let outcome = if state == "working" { Outcome::Busy } else { Outcome::Duplicate };
        return Ok(Handled {
            kind,
            outcome,
            detail: "handled before".into(),
        });
    }
    let result = work.await;
    match &result {
        Ok((Outcome::Applied | Outcome::Nothing, _)) => store.keep_answer(&key, &format!("done:{}", kind.name()), SEEN_SECS).await?,
        _ => store.unlock(&key).await?,
    }
    let (outcome, detail) = result?;
    Ok(Handled { kind, outcome, detail })
}
