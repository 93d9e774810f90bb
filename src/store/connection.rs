//! How nurture reaches Redis: [`RedisTarget`] is where (`[redis] url`: plain or `rediss://`
//! with a private CA from `[redis] ca_file`, user and password in the URL; or `[redis]
//! sentinel` + `master`: the primary Sentinel names), and [`RedisConn`] is the one connection
//! every Redis call of the process goes through. Behind Sentinel the connection follows a
//! failover: a command that fails because the primary is gone or demoted sends the connection
//! to the primary Sentinel names now (one lookup at a time, shared by every caller); a command
//! the demoted primary refused (`READONLY`) did not run and is sent once more there.

use arc_swap::ArcSwap;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Client, Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, TlsCertificates, TlsMode, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where Redis is, read from `[redis]`.
#[derive(Clone)]
pub struct RedisTarget {
    /// `[redis] url` (with Sentinel: the primary's scheme, user, password and database).
    url: String,
    /// The PEM of `[redis] ca_file`: the only CA trusted for `rediss://` (else the system's).
    ca: Option<Vec<u8>>,
    /// `[redis] sentinel` addresses and `master`, if set.
    sentinel: Option<(Vec<String>, String)>,
    /// Replicas an opt-out must reach, and how long to wait for them (milliseconds).
    ack: Option<(u32, u64)>,
}

/// Sentinel lookups are at least this far apart (the callers that fail meanwhile share one).
const LOOKUP_GAP: Duration = Duration::from_millis(200);

impl RedisTarget {
    /// One server at `url`.
    pub fn url(url: &str) -> RedisTarget {
        RedisTarget {
            url: url.into(),
            ca: None,
            sentinel: None,
            ack: None,
        }
    }

    /// From `[redis]`: `ca_file` is read here (a path relative to the config's folder already
    /// resolved by the caller).
    pub fn from_config(c: &crate::config::RedisConfig, ca_file: Option<&std::path::Path>) -> Result<RedisTarget, String> {
        let ca = match ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                format!(
                    "[redis] ca_file: cannot read {} ({e}): point it at the PEM file of the CA that signed \
                     your Redis server's certificate, or remove it to trust the system's CAs",
                    path.display()
                )
            })?),
            None => None,
        };
        let sentinel = match (c.sentinel.is_empty(), c.master.is_empty()) {
            (true, true) => None,
            (false, false) => Some((c.sentinel.clone(), c.master.clone())),
            (false, true) => {
                return Err("[redis] master: required with [redis] sentinel (the name Sentinel monitors, e.g. \"mymaster\")".into());
            }
            (true, false) => {
                return Err("[redis] sentinel: required with [redis] master (e.g. [\"10.0.0.1:26379\", \"10.0.0.2:26379\"])".into());
            }
        };
        let replicas = c.wait_replicas.unwrap_or(if sentinel.is_some() { 1 } else { 0 });
        Ok(RedisTarget {
            url: c.url.expose().to_string(),
            ca,
            sentinel,
            ack: (replicas > 0).then_some((replicas, c.wait_ms.max(1))),
        })
    }

    /// `true` when Sentinel names the server.
    pub fn is_sentinel(&self) -> bool {
        self.sentinel.is_some()
    }

    fn certificates(&self) -> Option<TlsCertificates> {
        self.ca.as_ref().map(|ca| TlsCertificates {
            client_tls: None,
            root_cert: Some(ca.clone()),
        })
    }

    /// A client for the one server of `url`.
    fn client(&self) -> Result<Client, RedisError> {
        match self.certificates() {
            Some(certs) => Client::build_with_tls(self.url.as_str(), certs),
            None => Client::open(self.url.as_str()),
        }
    }

    /// A Sentinel client that names the primary, connecting to it as `url` says.
    fn sentinel_client(&self, sentinels: &[String], master: &str) -> Result<SentinelClient, RedisError> {
        let info = self.url.as_str().into_connection_info()?;
        let tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
        let addresses = sentinels.iter().map(|s| sentinel_address(s)).collect::<Result<Vec<_>, _>>()?;
        let mut b =
            SentinelClientBuilder::new(addresses, master, SentinelServerType::Master)?.set_client_to_redis_db(info.redis_settings().db());
        if let Some(user) = info.redis_settings().username() {
            b = b.set_client_to_redis_username(user);
        }
        if let Some(password) = info.redis_settings().password() {
            b = b.set_client_to_redis_password(password);
        }
        if tls {
            b = b.set_client_to_redis_tls_mode(TlsMode::Secure);
            if let Some(certs) = self.certificates() {
                b = b.set_client_to_redis_certificates(certs);
            }
        }
        b.build()
    }
}

/// `host:port` or a `redis://` URL of one Sentinel.
fn sentinel_address(s: &str) -> Result<ConnectionAddr, RedisError> {
    let url = if s.contains("://") { s.to_string() } else { format!("redis://{s}") };
    Ok(url.as_str().into_connection_info()?.addr().clone())
}

/// The connection of the process (cheap to clone; clones share it).
#[derive(Clone)]
pub struct RedisConn {
    current: Arc<ArcSwap<ConnectionManager>>,
    follow: Option<Arc<Follow>>,
    db: i64,
    ack: Option<(u32, u64)>,
}

/// What a connection behind Sentinel needs to move.
struct Follow {
    sentinel: tokio::sync::Mutex<Lookup>,
}

struct Lookup {
    client: SentinelClient,
    /// The primary's address the connection uses.
    address: String,
    /// When Sentinel was last asked.
    asked: Option<Instant>,
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(3)
}

fn address_of(client: &Client) -> String {
    client.get_connection_info().addr().to_string()
}

impl RedisConn {
    /// Connects to `target` with 5 s connection and response timeouts.
    pub async fn open(target: &RedisTarget) -> Result<RedisConn, RedisError> {
        let db = target.url.as_str().into_connection_info()?.redis_settings().db();
        match &target.sentinel {
            None => {
                let manager = target.client()?.get_connection_manager_with_config(manager_config()).await?;
                Ok(RedisConn {
                    current: Arc::new(ArcSwap::from_pointee(manager)),
                    follow: None,
                    db,
                    ack: target.ack,
                })
            }
            Some((sentinels, master)) => {
                let mut sentinel = target.sentinel_client(sentinels, master)?;
                let client = sentinel.async_get_client().await?;
                let address = address_of(&client);
                let manager = client.get_connection_manager_with_config(manager_config()).await?;
                tracing::info!(primary = %address, master = %master, "Redis primary named by Sentinel");
                Ok(RedisConn {
                    current: Arc::new(ArcSwap::from_pointee(manager)),
                    follow: Some(Arc::new(Follow {
                        sentinel: tokio::sync::Mutex::new(Lookup {
                            client: sentinel,
                            address,
                            asked: None,
                        }),
                    })),
                    db,
                    ack: target.ack,
                })
            }
        }
    }

    /// Replicas a write that must survive a failover waits for, and for how long (ms).
    pub fn acknowledgement(&self) -> Option<(u32, u64)> {
        self.ack
    }

    fn manager(&self) -> ConnectionManager {
        self.current.load().as_ref().clone()
    }

    /// After `e`: behind Sentinel, if the primary may have moved, asks Sentinel and moves the
    /// connection. `true` when the command did not run and may be sent again.
    async fn after_error(&self, e: &RedisError) -> bool {
        let Some(follow) = &self.follow else { return false };
        let refused = matches!(e.code(), Some("READONLY" | "MASTERDOWN" | "LOADING"));
        if !(refused || e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()) {
            return false;
        }
        let mut lookup = follow.sentinel.lock().await;
        if lookup.asked.is_some_and(|at| at.elapsed() < LOOKUP_GAP) {
            return refused;
        }
        lookup.asked = Some(Instant::now());
        let client = match lookup.client.async_get_client().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "Sentinel did not name a primary");
                return false;
            }
        };
        let address = address_of(&client);
        if address == lookup.address {
            return refused;
        }
        match client.get_connection_manager_with_config(manager_config()).await {
            Ok(manager) => {
                tracing::warn!(from = %lookup.address, to = %address, "Redis primary moved (Sentinel failover)");
                self.current.store(Arc::new(manager));
                lookup.address = address;
                refused
            }
            Err(e) => {
                tracing::warn!(primary = %address, error = %e, "cannot reach the primary Sentinel names");
                false
            }
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match self.manager().req_packed_command(cmd).await {
                Err(e) if self.after_error(&e).await => self.manager().req_packed_command(cmd).await,
                done => done,
            }
        })
    }

    fn req_packed_commands<'a>(&'a mut self, pipeline: &'a Pipeline, offset: usize, count: usize) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            match self.manager().req_packed_commands(pipeline, offset, count).await {
                Err(e) if self.after_error(&e).await => self.manager().req_packed_commands(pipeline, offset, count).await,
                done => done,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.db
    }
}
