//! SMTP: our own pool of lettre connections over `TCP_NODELAY` sockets, driven one stage at a
//! time so that every failure is classified by *where* it happened.
//!
//! Why not lettre's pool: it writes the body and the final dot separately on a Nagle socket,
//! which caps it at ~22 messages/s per connection (TECH-NOTES §3). Why not
//! `AsyncSmtpConnection::send`: it runs MAIL, RCPT, DATA and the data as one call, so a 5xx
//! could not be told apart (the sender refused vs. the recipient refused), one timeout would
//! have to cover the whole exchange, and a lost final reply could not be told from a failure
//! before the data left.
//!
//! The rules ([`classify`]):
//! - connect, greeting, EHLO, STARTTLS: 4xx, timeouts and network errors are transient (the
//!   relay is away); a 5xx is the relay refusing us ([`SendError::Refused`]).
//! - AUTH, MAIL FROM, DATA, and a 5xx after the data (content, size, policy): refused by the
//!   relay, never a bounce of the recipient; a 4xx is transient.
//! - RCPT TO: 5xx is the recipient's own rejection (a bounce); 4xx is transient.
//! - after the data was written, a timeout or a dropped connection means the message may have
//!   been accepted: [`SendError::Unknown`], never re-sent on a fresh connection.
//!
//! With a relay that offers PIPELINING (RFC 2920; its EHLO keywords are read once per
//! connection) MAIL, RCPT and DATA go in one write and their three replies are read in order;
//! each reply is still classified by its own stage, the first failing one decides, and the
//! connection is then dropped. Without it they go one by one.
//!
//! Every stage has its own timeout (`[smtp] timeout_secs`; the final reply after the data gets
//! `data_timeout_secs`, RFC 5321's 10 minutes by default). A broken connection is dropped,
//! never sent a QUIT whose reply could hang on a dead peer.

use super::SendError;
use crate::config::SmtpConfig;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
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

/// Where in the SMTP exchange something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// TCP (and implicit TLS) connect.
    Connect,
    /// The 220 greeting and EHLO.
    Greeting,
    /// STARTTLS and the EHLO after it.
    StartTls,
    /// AUTH.
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// The DATA command.
    Data,
    /// The message data and the final reply.
    EndOfData,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting/EHLO",
            Stage::StartTls => "STARTTLS",
            Stage::Auth => "AUTH",
            Stage::Mail => "MAIL FROM",
            Stage::Rcpt => "RCPT TO",
            Stage::Data => "DATA",
            Stage::EndOfData => "end of DATA",
        }
    }
}

/// What went wrong at a stage, before classification.
#[derive(Debug)]
pub enum Failure {
    /// The stage's timeout passed.
    Timeout,
    /// The server answered with this code and text.
    Reply(u16, String),
    /// Network, TLS or protocol error (no SMTP code).
    Broken(String),
}

/// Maps a failure at `stage` to how delivery must treat it (the rules in the module doc).
pub fn classify(stage: Stage, failure: Failure) -> SendError {
    let at = stage.name();
    match failure {
        Failure::Reply(code, text) if (500..600).contains(&code) => {
            let message = format!("{at}: {code} {text}");
            if stage == Stage::Rcpt {
                SendError::Permanent { message, bounce: true }
            } else {
                SendError::Refused(message)
            }
        }
        Failure::Reply(code, text) => SendError::Transient(format!("{at}: {code} {text}")),
        Failure::Timeout if stage == Stage::EndOfData => {
            SendError::Unknown(format!("{at}: no reply within the timeout after the message data"))
        }
        Failure::Broken(e) if stage == Stage::EndOfData => {
            SendError::Unknown(format!("{at}: connection lost after the message data ({e})"))
        }
        Failure::Timeout => SendError::Transient(format!("{at}: timed out")),
        Failure::Broken(e) => SendError::Transient(format!("{at}: {e}")),
    }
}

fn from_lettre(e: lettre::transport::smtp::Error) -> Failure {
    match e.status() {
        Some(code) => {
            let code = u16::from(code);
            let text = e.to_string();
            Failure::Reply(code, text)
        }
        None if e.is_timeout() => Failure::Timeout,
        None => Failure::Broken(e.to_string()),
    }
}

/// Connections idle longer than this are closed rather than reused (servers drop them).
const MAX_IDLE: Duration = Duration::from_secs(30);

/// One open connection and what its server offers.
struct Conn {
    smtp: AsyncSmtpConnection,
    /// The server's EHLO offered PIPELINING (RFC 2920).
    pipelining: bool,
}

/// MAIL, RCPT and DATA as one pipelined write.
struct Pipelined<'a>(&'a Mail, &'a Rcpt);

impl std::fmt::Display for Pipelined<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Each command's text ends with its CRLF.
        write!(f, "{}{}{}", self.0, self.1, Data)
    }
}

/// A bounded pool of SMTP connections to one server.
pub struct SmtpPool {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    data_timeout: Duration,
    idle: Mutex<Vec<(Conn, Instant)>>,
    permits: Semaphore,
    pacer: Option<Mutex<Instant>>,
    interval: Duration,
    eight_bit: bool,
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
            data_timeout: Duration::from_secs(c.data_timeout_secs.max(1)),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(c.pool_size),
            eight_bit: c.eight_bit,
            pacer: (rate > 0).then(|| Mutex::new(Instant::now())),
            interval: if rate > 0 {
                Duration::from_secs_f64(1.0 / rate as f64)
            } else {
                Duration::ZERO
            },
        })
    }

    /// One of `lanes` pools that share `[smtp] pool_size` and `rate_per_second` (`work
    /// --threads`): each keeps its share of the connections (at least one) and sends at most its
    /// share of the rate, so the process as a whole keeps the configured rate.
    pub fn one_of(mut self, lanes: usize) -> SmtpPool {
        let lanes = lanes.max(1);
        self.interval *= lanes as u32;
        self.permits = Semaphore::new(self.permits.available_permits().div_ceil(lanes));
        self
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

    /// Runs one stage under `limit`.
    async fn stage<T>(
        &self,
        stage: Stage,
        limit: Duration,
        f: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, SendError> {
        match tokio::time::timeout(limit, f).await {
            Err(_) => Err(classify(stage, Failure::Timeout)),
            Ok(Err(e)) => Err(classify(stage, from_lettre(e))),
            Ok(Ok(v)) => Ok(v),
        }
    }

    async fn connect(&self) -> Result<Conn, SendError> {
        let tls_params = || TlsParameters::new(self.host.clone()).map_err(|e| classify(Stage::Connect, Failure::Broken(e.to_string())));
        let mut conn = match self.security {
            Security::Tls => {
                let tls = tls_params()?;
                // lettre's connect covers TCP, TLS, the greeting and EHLO: one limit for them.
                self.stage(
                    Stage::Greeting,
                    self.timeout,
                    AsyncSmtpConnection::connect_tokio1((self.host.as_str(), self.port), Some(self.timeout), &self.hello, Some(tls), None),
                )
                .await?
            }
            _ => {
                let tcp = match tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect((self.host.as_str(), self.port))).await {
                    Err(_) => return Err(classify(Stage::Connect, Failure::Timeout)),
                    Ok(Err(e)) => return Err(classify(Stage::Connect, Failure::Broken(e.to_string()))),
                    Ok(Ok(tcp)) => tcp,
                };
                tcp.set_nodelay(true)
                    .map_err(|e| classify(Stage::Connect, Failure::Broken(e.to_string())))?;
                let mut conn = self
                    .stage(
                        Stage::Greeting,
                        self.timeout,
                        AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello),
                    )
                    .await?;
                if self.security == Security::StartTls {
                    let tls = tls_params()?;
                    self.stage(Stage::StartTls, self.timeout, conn.starttls(tls, &self.hello)).await?;
                }
                conn
            }
        };
        // lettre keeps only the EHLO keywords it knows (not PIPELINING): ask again, before AUTH
        // (a second EHLO only resets the session, RFC 5321 §4.1.4).
        let ehlo = self
            .stage(Stage::Greeting, self.timeout, conn.command(Ehlo::new(self.hello.clone())))
            .await?;
        let pipelining = ehlo
            .message()
            .any(|line| line.split_whitespace().next().is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING")));
        if let Some(creds) = &self.credentials {
            self.stage(Stage::Auth, self.timeout, conn.auth(&[Mechanism::Plain, Mechanism::Login], creds))
                .await?;
        }
        Ok(Conn { smtp: conn, pipelining })
    }

    /// The startup health check: connect, greet, STARTTLS and AUTH as a send would, and, with
    /// `[smtp] eight_bit`, the relay's 8BITMIME (without it every non-ASCII message would be
    /// refused: the check says so at once). The connection is kept for the first message.
    pub async fn check(&self) -> Result<(), SendError> {
        let _permit = self.permits.acquire().await.map_err(|e| SendError::Transient(e.to_string()))?;
        let conn = self.connect().await?;
        if self.eight_bit && !conn.smtp.server_info().supports_feature(Extension::EightBitMime) {
            return Err(SendError::Refused(
                "the relay does not offer 8BITMIME: set [smtp] eight_bit = false (non-ASCII bodies then go quoted-printable)".into(),
            ));
        }
        self.idle.lock().await.push((conn, Instant::now()));
        Ok(())
    }

    /// Sends one message; classifies the outcome (see the module doc).
    pub async fn send(&self, to: &str, from: &str, body: &str) -> Result<(), SendError> {
        let from: Address = from.parse().map_err(|e| SendError::Refused(format!("sender {from:?}: {e}")))?;
        let to: Address = to.parse().map_err(|e| SendError::Permanent {
            message: format!("recipient: {e}"),
            bounce: true,
        })?;
        let envelope = Envelope::new(Some(from), vec![to]).map_err(|e| SendError::Permanent {
            message: e.to_string(),
            bounce: false,
        })?;
        let _permit = self.permits.acquire().await.map_err(|e| SendError::Transient(e.to_string()))?;
        self.pace().await;
        let reused = loop {
            let popped = self.idle.lock().await.pop();
            match popped {
                Some((c, at)) if at.elapsed() < MAX_IDLE && !c.smtp.has_broken() => break Some(c),
                Some(_) => continue, // dropped: closes the socket without waiting on the peer
                None => break None,
            }
        };
        let was_reused = reused.is_some();
        let mut conn = match reused {
            Some(c) => c,
            None => self.connect().await?,
        };
        let mut result = self.send_on(&mut conn, &envelope, body).await;
        if was_reused && matches!(&result, Err(SendError::Transient(_))) && conn.smtp.has_broken() {
            // A reused connection may have been closed by the server while idle (the failure was
            // before the data, so nothing was delivered): one fresh try.
            conn = self.connect().await?;
            result = self.send_on(&mut conn, &envelope, body).await;
        }
        if result.is_ok() && !conn.smtp.has_broken() {
            self.idle.lock().await.push((conn, Instant::now()));
        }
        result
    }

    /// MAIL, RCPT, DATA and the data on an open connection, each with its timeout.
    async fn send_on(&self, conn: &mut Conn, envelope: &Envelope, body: &str) -> Result<(), SendError> {
        let mut options = Vec::new();
        if !body.is_ascii() {
            if !conn.smtp.server_info().supports_feature(Extension::EightBitMime) {
                return Err(SendError::Refused(
                    "the relay does not offer 8BITMIME for a non-ASCII message".into(),
                ));
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mail = Mail::new(envelope.from().cloned(), options);
        let (pipelining, smtp) = (conn.pipelining && envelope.to().len() == 1, &mut conn.smtp);
        // After an error the connection is dropped by the caller, never pooled (its session
        // state is unknown, and pipelined replies may still be unread).
        if pipelining {
            let rcpt = Rcpt::new(envelope.to()[0].clone(), vec![]);
            self.stage(Stage::Mail, self.timeout, smtp.command(Pipelined(&mail, &rcpt))).await?;
            self.stage(Stage::Rcpt, self.timeout, smtp.read_response()).await?;
            self.stage(Stage::Data, self.timeout, smtp.read_response()).await?;
        } else {
            self.stage(Stage::Mail, self.timeout, smtp.command(mail)).await?;
            for to in envelope.to() {
                self.stage(Stage::Rcpt, self.timeout, smtp.command(Rcpt::new(to.clone(), vec![])))
                    .await?;
            }
            self.stage(Stage::Data, self.timeout, smtp.command(Data)).await?;
        }
        // The data and its end in one write (lettre's `message` writes them apart).
        self.stage(Stage::EndOfData, self.data_timeout, smtp.command(DataBlock(body)))
            .await?;
        Ok(())
    }
}

/// A message's data as it goes after DATA: dot-stuffed (RFC 5321 §4.5.2: a line that starts
/// with `.` gets another) and ended by `CRLF . CRLF`.
struct DataBlock<'a>(&'a str);

impl std::fmt::Display for DataBlock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Almost every message has no line that starts with a dot: one write.
        if !self.0.starts_with('.') && memchr::memmem::find(self.0.as_bytes(), b"\n.").is_none() {
            f.write_str(self.0)?;
            return f.write_str("\r\n.\r\n");
        }
        for (i, line) in self.0.split('\n').enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if line.starts_with('.') {
                f.write_str(".")?;
            }
            f.write_str(line)?;
        }
        f.write_str("\r\n.\r\n")
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_share_the_rate_limit() {
        let config = crate::config::SmtpConfig {
            url: crate::config::Secret::new("smtp://127.0.0.1:2525"),
            rate_per_second: 100,
            ..Default::default()
        };
        let pool = SmtpPool::from_config(&config).unwrap();
        assert_eq!(pool.interval, Duration::from_millis(10));
        let lane = pool.one_of(2);
        assert_eq!(lane.interval, Duration::from_millis(20));
        assert_eq!(lane.permits.available_permits(), 8, "[smtp] pool_size 16 split in two");
    }

    #[test]
    fn data_is_dot_stuffed_and_ended_in_one_block() {
        let body = ".top\r\nmiddle\r\n..two\r\nend.\r\n.";
        assert_eq!(DataBlock(body).to_string(), "..top\r\nmiddle\r\n...two\r\nend.\r\n..\r\n.\r\n");
        assert_eq!(DataBlock("x").to_string(), "x\r\n.\r\n");
    }

    #[test]
    fn only_a_recipient_rejection_is_a_bounce() {
        let reply = || Failure::Reply(550, "no".into());
        assert!(matches!(classify(Stage::Rcpt, reply()), SendError::Permanent { bounce: true, .. }));
        for stage in [Stage::Greeting, Stage::Auth, Stage::Mail, Stage::Data, Stage::EndOfData] {
            assert!(matches!(classify(stage, reply()), SendError::Refused(_)), "{stage:?}");
        }
    }

    #[test]
    fn after_the_data_a_lost_reply_is_unknown_before_it_transient() {
        assert!(matches!(classify(Stage::EndOfData, Failure::Timeout), SendError::Unknown(_)));
        assert!(matches!(
            classify(Stage::EndOfData, Failure::Broken("reset".into())),
            SendError::Unknown(_)
        ));
        assert!(matches!(classify(Stage::Data, Failure::Timeout), SendError::Transient(_)));
        assert!(matches!(classify(Stage::Greeting, Failure::Timeout), SendError::Transient(_)));
        assert!(matches!(
            classify(Stage::EndOfData, Failure::Reply(451, "later".into())),
            SendError::Transient(_)
        ));
        assert!(matches!(
            classify(Stage::Mail, Failure::Reply(421, "busy".into())),
            SendError::Transient(_)
        ));
    }
}
