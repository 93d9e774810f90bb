//! SMTP: our own pool of lettre connections over `TCP_NODELAY` sockets.
//!
//! Why not lettre's pool: it writes the body and the final dot separately on a Nagle socket,
//! which caps it at ~22 messages/s per connection (TECH-NOTES §3). The pool keeps up to
//! `pool_size` idle connections, sends at most `pool_size` messages at once, paces to
//! `rate_per_second`, and drops a connection after any error.

use super::SendError;
use crate::config::SmtpConfig;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: plain text (local relays, tests).
    Plain,
    /// `smtp+starttls://`: upgrade with STARTTLS, required.
    StartTls,
    /// `smtps://`: implicit TLS.
    Tls,
}

/// Connections idle longer than this are closed rather than reused (servers drop them).
const MAX_IDLE: Duration = Duration::from_secs(30);

/// A bounded pool of SMTP connections to one server.
pub struct SmtpPool {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    permits: Semaphore,
    pacer: Option<Mutex<Instant>>,
    interval: Duration,
}

impl SmtpPool {
    /// Builds the pool from `[smtp]` (no connection is opened yet).
    pub fn from_config(c: &SmtpConfig) -> Result<SmtpPool, String> {
        let url = url::Url::parse(c.url.expose()).map_err(|e| format!("[smtp] url: {e}"))?;
        let (security, default_port) = match url.scheme() {
            "smtp" => (Security::Plain, 25),
            "smtp+starttls" => (Security::StartTls, 587),
            "smtps" => (Security::Tls, 465),
            other => return Err(format!("[smtp] url: unknown scheme {other:?} (smtp, smtp+starttls, smtps, file)")),
        };
        let host = url.host_str().ok_or("[smtp] url: no host")?.to_string();
        let credentials = (!url.username().is_empty()).then(|| {
            let decode = |s: &str| percent_decode(s);
            Credentials::new(decode(url.username()), decode(url.password().unwrap_or("")))
        });
        let rate = c.rate_per_second;
        Ok(SmtpPool {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
            hello: ClientId::Domain(c.hello_name.clone()),
            timeout: Duration::from_secs(c.timeout_secs.max(1)),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(c.pool_size),
            pacer: (rate > 0).then(|| Mutex::new(Instant::now())),
            interval: if rate > 0 {
                Duration::from_secs_f64(1.0 / rate as f64)
            } else {
                Duration::ZERO
            },
        })
    }

    /// `smtp://host:port` (no credentials).
    pub fn describe(&self) -> String {
        format!("{:?} smtp {}:{}", self.security, self.host, self.port)
    }

    async fn pace(&self) {
        if let Some(next) = &self.pacer {
            let wait = {
                let mut next = next.lock().await;
                let now = Instant::now();
                let slot = (*next).max(now);
                *next = slot + self.interval;
                slot - now
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let transient = |e: String| SendError::Transient(format!("connecting to {}:{}: {e}", self.host, self.port));
        let mut conn = match self.security {
            Security::Tls => {
                let tls = TlsParameters::new(self.host.clone()).map_err(|e| transient(e.to_string()))?;
                AsyncSmtpConnection::connect_tokio1((self.host.as_str(), self.port), Some(self.timeout), &self.hello, Some(tls), None)
                    .await
                    .map_err(|e| transient(e.to_string()))?
            }
            _ => {
                let tcp = tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect((self.host.as_str(), self.port)))
                    .await
                    .map_err(|_| transient("timed out".into()))?
                    .map_err(|e| transient(e.to_string()))?;
                tcp.set_nodelay(true).map_err(|e| transient(e.to_string()))?;
                let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                    .await
                    .map_err(|e| transient(e.to_string()))?;
                if self.security == Security::StartTls {
                    let tls = TlsParameters::new(self.host.clone()).map_err(|e| transient(e.to_string()))?;
                    conn.starttls(tls, &self.hello)
                        .await
                        .map_err(|e| transient(format!("STARTTLS: {e}")))?;
                }
                conn
            }
        };
        if let Some(creds) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], creds)
                .await
                .map_err(|e| transient(format!("AUTH: {e}")))?;
        }
        Ok(conn)
    }

    /// Sends one message; classifies the outcome.
    pub async fn send(&self, to: &str, from: &str, body: Vec<u8>) -> Result<(), SendError> {
        let envelope = Envelope::new(
            Some(from.parse().map_err(|e| SendError::Permanent {
                message: format!("sender: {e}"),
                bounce: false,
            })?),
            vec![to.parse().map_err(|e| SendError::Permanent {
                message: format!("recipient: {e}"),
                bounce: true,
            })?],
        )
        .map_err(|e| SendError::Permanent {
            message: e.to_string(),
            bounce: false,
        })?;
        let _permit = self.permits.acquire().await.map_err(|e| SendError::Transient(e.to_string()))?;
        self.pace().await;
        let reused = loop {
            let popped = self.idle.lock().await.pop();
            match popped {
                Some((c, at)) if at.elapsed() < MAX_IDLE && !c.has_broken() => break Some(c),
                Some((mut c, _)) => c.abort().await,
                None => break None,
            }
        };
        let was_reused = reused.is_some();
        let mut conn = match reused {
            Some(c) => c,
            None => self.connect().await?,
        };
        let mut result = self.send_on(&mut conn, &envelope, &body).await;
        if was_reused && matches!(&result, Err(SendError::Transient(_))) && conn.has_broken() {
            // A reused connection may have been closed by the server while idle: one fresh try.
            conn = self.connect().await?;
            result = self.send_on(&mut conn, &envelope, &body).await;
        }
        if result.is_ok() && !conn.has_broken() {
            self.idle.lock().await.push((conn, Instant::now()));
        } else {
            conn.abort().await;
        }
        result
    }

    async fn send_on(&self, conn: &mut AsyncSmtpConnection, envelope: &Envelope, body: &[u8]) -> Result<(), SendError> {
        match tokio::time::timeout(self.timeout, conn.send(envelope, body)).await {
            Err(_) => {
                conn.abort().await;
                Err(SendError::Transient("SMTP timed out".into()))
            }
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent {
                message: e.to_string(),
                bounce: true,
            }),
            Ok(Err(e)) => Err(SendError::Transient(e.to_string())),
        }
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}
