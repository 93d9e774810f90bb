//! The bounce mailbox over IMAP (the only module that speaks IMAP): log in, find the unread
//! messages, hand each to [`super::handle`], then mark what was handled `\Seen` and move it
//! to `[inbound] done_folder`. Messages left for a person stay unread and get the keyword
//! `NurtureLeft` so the next fetch does not read them again. Every step has
//! `[inbound] timeout_secs`: a server that is down, slow or drops the connection ends the
//! fetch with an error in bounded time; what was handled before stays handled (its once-only
//! mark is in Redis), and the next fetch moves it.

use super::{Handled, Outcome};
use crate::clock::Clock;
use crate::config::ImapTarget;
use crate::store::{Store, StoreError};
use crate::workspace::Workspace;
use async_imap::Session;
use futures::TryStreamExt;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// The keyword of messages left for a person.
const LEFT: &str = "NurtureLeft";
/// Messages fetched per round trip.
const BATCH: usize = 50;

/// Why a fetch stopped.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The mailbox could not be reached, refused the login, or failed a command.
    #[error("IMAP {step}: {message}")]
    Imap {
        /// What was being done (`connect`, `login`, `select INBOX`, ...).
        step: String,
        /// What went wrong.
        message: String,
    },
    /// Redis failed while a message was handled (it stays unread and is handled next time).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one fetch did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FetchReport {
    /// Unread messages found.
    pub unread: usize,
    /// Messages by outcome (`applied`, `nothing`, `duplicate`, `busy`, `left`).
    pub outcomes: BTreeMap<String, usize>,
    /// Messages by kind (`bounce`, `complaint`, `response`, ...).
    pub kinds: BTreeMap<String, usize>,
    /// Messages moved to the done folder (or marked `\Seen` when there is none).
    pub moved: usize,
}

impl FetchReport {
    fn count(&mut self, h: &Handled) {
        let outcome = serde_json::to_value(h.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *self.outcomes.entry(outcome).or_default() += 1;
        *self.kinds.entry(h.kind.name().to_string()).or_default() += 1;
    }
}

fn imap_err(step: impl Into<String>) -> impl FnOnce(async_imap::error::Error) -> FetchError {
    let step = step.into();
    move |e| FetchError::Imap {
        step,
        message: e.to_string(),
    }
}

/// `fut` within `limit`, or a timeout error naming `step`.
async fn within<T>(limit: Duration, step: &str, fut: impl Future<Output = Result<T, FetchError>>) -> Result<T, FetchError> {
    tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
        Err(FetchError::Imap {
            step: step.to_string(),
            message: format!("no answer within {} s ([inbound] timeout_secs)", limit.as_secs()),
        })
    })
}

/// What one fetch works with.
struct Fetch<'a> {
    store: &'a Store,
    ws: &'a Workspace,
    clock: &'a Clock,
    target: &'a ImapTarget,
    /// `[inbound] timeout_secs`, for each step.
    limit: Duration,
}

/// The items of a command's answer stream (FETCH, STORE, EXPUNGE), or the step's error.
async fn drain<S, T>(answer: async_imap::error::Result<S>, step: &str) -> Result<Vec<T>, FetchError>
where
    S: futures::Stream<Item = async_imap::error::Result<T>>,
{
    answer.map_err(imap_err(step))?.try_collect().await.map_err(imap_err(step))
}

/// Reads the mailbox once.
pub async fn fetch(store: &Store, ws: &Workspace, clock: &Clock, target: &ImapTarget) -> Result<FetchReport, FetchError> {
    let limit = Duration::from_secs(ws.config.inbound.timeout_secs);
    let f = Fetch {
        store,
        ws,
        clock,
        target,
        limit,
    };
    let tcp = within(limit, "connect", async {
        tokio::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| FetchError::Imap {
                step: format!("connect {}:{}", target.host, target.port),
                message: e.to_string(),
            })
    })
    .await?;
    if !target.tls {
        return session(tcp, &f).await;
    }
    let ca = if ws.config.inbound.ca_file.is_empty() {
        None
    } else {
        let path = ws.config.resolve(std::path::Path::new(&ws.config.inbound.ca_file));
        Some(std::fs::read(&path).map_err(|e| FetchError::Imap {
            step: "[inbound] ca_file".into(),
            message: format!("cannot read {} ({e})", path.display()),
        })?)
    };
    let connector = tls_connector(ca.as_deref())?;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(target.host.clone()).map_err(|e| FetchError::Imap {
        step: "tls".into(),
        message: format!("{:?} is not a host name ({e})", target.host),
    })?;
    let tls = within(limit, "tls", async {
        connector.connect(name, tcp).await.map_err(|e| FetchError::Imap {
            step: "tls".into(),
            message: format!("{e} (a private CA? set [inbound] ca_file)"),
        })
    })
    .await?;
    session(tls, &f).await
}

fn tls_connector(ca_pem: Option<&[u8]>) -> Result<tokio_rustls::TlsConnector, FetchError> {
    use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| FetchError::Imap {
                    step: "[inbound] ca_file".into(),
                    message: format!("not a PEM certificate ({e})"),
                })?;
                roots.add(cert).map_err(|e| FetchError::Imap {
                    step: "[inbound] ca_file".into(),
                    message: e.to_string(),
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::Imap {
            step: "tls".into(),
            message: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn session<T>(stream: T, f: &Fetch<'_>) -> Result<FetchReport, FetchError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let (target, limit) = (f.target, f.limit);
    let mut client = async_imap::Client::new(stream);
    within(limit, "greeting", async {
        match client.read_response().await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(FetchError::Imap {
                step: "greeting".into(),
                message: "the server closed the connection".into(),
            }),
            Err(e) => Err(FetchError::Imap {
                step: "greeting".into(),
                message: e.to_string(),
            }),
        }
    })
    .await?;
    let mut session = within(limit, "login", async {
        client
            .login(&target.user, &target.password)
            .await
            .map_err(|(e, _)| FetchError::Imap {
                step: format!("login as {}", target.user),
                message: format!("{e} (Gmail and Microsoft 365 need an app password)"),
            })
    })
    .await?;
    let report = read_folder(&mut session, f).await;
    // A polite goodbye; the fetch's outcome does not depend on it.
    let _ = tokio::time::timeout(limit, session.logout()).await;
    report
}

async fn read_folder<T>(session: &mut Session<T>, f: &Fetch<'_>) -> Result<FetchReport, FetchError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let (ws, limit) = (f.ws, f.limit);
    let folder = &f.target.folder;
    within(limit, "select", async {
        session.select(folder).await.map_err(imap_err(format!("select {folder}")))
    })
    .await?;
    let mut unread: Vec<u32> = within(limit, "search", async {
        session
            .uid_search(format!("UNSEEN UNKEYWORD {LEFT}"))
            .await
            .map_err(imap_err("search"))
    })
    .await?
    .into_iter()
    .collect();
    unread.sort_unstable();
    let mut report = FetchReport {
        unread: unread.len(),
        ..Default::default()
    };
    let max = ws.config.inbound.max_message_bytes;
    for chunk in unread.chunks(BATCH) {
        let set = uid_set(chunk);
        // Sizes first: a message over the limit is never downloaded.
        let sizes: Vec<(u32, u32)> = within(limit, "fetch sizes", async {
            let fetches = drain(session.uid_fetch(&set, "(UID RFC822.SIZE)").await, "fetch sizes").await?;
            Ok(fetches.iter().filter_map(|m| Some((m.uid?, m.size.unwrap_or(0)))).collect())
        })
        .await?;
        let (small, large): (Vec<_>, Vec<_>) = sizes.into_iter().partition(|(_, size)| u64::from(*size) <= max);
        let mut handled = Vec::new();
        let mut left: Vec<u32> = large.iter().map(|(uid, _)| *uid).collect();
        for (uid, size) in &large {
            tracing::warn!(uid, size, "inbound message over [inbound] max_message_bytes: left for a person");
            report.count(&Handled {
                kind: super::Kind::Unknown,
                outcome: Outcome::Left,
                detail: String::new(),
            });
        }
        if !small.is_empty() {
            let small_set = uid_set(&small.iter().map(|(uid, _)| *uid).collect::<Vec<_>>());
            let bodies: Vec<(u32, Vec<u8>)> = within(limit, "fetch", async {
                let fetches = drain(session.uid_fetch(&small_set, "(UID BODY.PEEK[])").await, "fetch").await?;
                Ok(fetches.iter().filter_map(|m| Some((m.uid?, m.body()?.to_vec()))).collect())
            })
            .await?;
            for (uid, raw) in bodies {
                let h = super::handle(f.store, ws, f.clock, &raw).await?;
                tracing::info!(uid, kind = h.kind.name(), outcome = ?h.outcome, detail = %h.detail, "inbound message");
                report.count(&h);
                match h.outcome {
                    Outcome::Applied | Outcome::Nothing | Outcome::Duplicate => handled.push(uid),
                    Outcome::Left => left.push(uid),
                    Outcome::Busy => {}
                }
            }
        }
        if !left.is_empty() {
            within(limit, "flag", async {
                let set = uid_set(&left);
                // Servers without keywords refuse it: those messages are only read again.
                if let Ok(stream) = session.uid_store(&set, format!("+FLAGS ({LEFT})")).await {
                    let _: Result<Vec<_>, _> = stream.try_collect().await;
                }
                Ok(())
            })
            .await?;
        }
        if !handled.is_empty() {
            report.moved += within(limit, "move", move_done(session, &handled, &ws.config.inbound.done_folder)).await?;
        }
    }
    Ok(report)
}

/// Marks `uids` `\Seen` and moves them to `folder` (created when missing; `MOVE` where the
/// server has it, else copy, delete and expunge). Returns how many.
async fn move_done<T>(session: &mut Session<T>, uids: &[u32], folder: &str) -> Result<usize, FetchError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let set = uid_set(uids);
    drain(session.uid_store(&set, "+FLAGS (\\Seen)").await, "flag \\Seen").await?;
    if folder.is_empty() {
        return Ok(uids.len());
    }
    // Already there is fine.
    let _ = session.create(folder).await;
    let can_move = session.capabilities().await.map(|c| c.has_str("MOVE")).unwrap_or(false);
    if can_move {
        session.uid_mv(&set, folder).await.map_err(imap_err(format!("move to {folder}")))?;
    } else {
        session
            .uid_copy(&set, folder)
            .await
            .map_err(imap_err(format!("copy to {folder}")))?;
        drain(session.uid_store(&set, "+FLAGS (\\Deleted)").await, "flag \\Deleted").await?;
        drain(session.expunge().await, "expunge").await?;
    }
    Ok(uids.len())
}

/// `1,5,9` (UIDs sorted; a set of at most [`BATCH`]).
fn uid_set(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}
