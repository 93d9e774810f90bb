//! How nurture reaches Redis: [`RedisTarget`] is where (`[redis] url`: plain or `rediss://`
//! with a private CA from `[redis] ca_file`, user and password in the URL; `[redis] sentinel`
//! and `master`: the primary Sentinel names; `[redis] cluster`: the primary of the one slot the
//! installation's hash tag `{prefix}` falls in), and [`RedisConn`] is the one connection every
//! Redis call of the process goes through.
//!
//! Behind Sentinel or in a cluster the connection follows its primary: a command that fails
//! because the primary is gone, demoted (`READONLY`) or no longer owns the slot (`MOVED`) sends
//! the connection to the primary Sentinel or the cluster names now (one lookup at a time, shared
//! by every caller); a command that was refused did not run and is sent once more there.

use arc_swap::ArcSwap;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
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
    /// `[redis] cluster`: the key prefix whose hash tag names the installation's slot.
    cluster: Option<String>,
}

/// Lookups of the primary (Sentinel or cluster) are at least this far apart (the callers that
/// fail meanwhile share one).
const LOOKUP_GAP: Duration = Duration::from_millis(200);

impl RedisTarget {
    /// One server at `url`.
    pub fn url(url: &str) -> RedisTarget {
        RedisTarget {
            url: url.into(),
            ca: None,
            sentinel: None,
            ack: None,
            cluster: None,
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
        if c.cluster && sentinel.is_some() {
            return Err("[redis] cluster and [redis] sentinel: choose one (a cluster fails over by itself)".into());
        }
        let replicas = c.wait_replicas.unwrap_or(if sentinel.is_some() { 1 } else { 0 });
        Ok(RedisTarget {
            url: c.url.expose().to_string(),
            ca,
            sentinel,
            ack: (replicas > 0).then_some((replicas, c.wait_ms.max(1))),
            cluster: c.cluster.then(|| c.key_prefix()),
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
        self.client_for(&self.url)
    }

    fn client_for(&self, url: &str) -> Result<Client, RedisError> {
        match self.certificates() {
            Some(certs) => Client::build_with_tls(url, certs),
            None => Client::open(url),
        }
    }

    /// `url` with another host and port (a cluster node), same scheme, user and password.
    fn url_at(&self, host: &str, port: u16) -> Result<String, RedisError> {
        let invalid = |what: &str| RedisError::from((redis::ErrorKind::InvalidClientConfig, "[redis] url", what.to_string()));
        let mut u = url::Url::parse(&self.url).map_err(|e| invalid(&e.to_string()))?;
        u.set_host(Some(host)).map_err(|e| invalid(&e.to_string()))?;
        u.set_port(Some(port)).map_err(|_| invalid("cannot set the port"))?;
        Ok(u.to_string())
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
    /// A client for the primary `current` talks to (for [`RedisConn::transactions`]).
    client: Arc<ArcSwap<Client>>,
    /// The private connection `WATCH`…`EXEC` transactions use, opened when first needed.
    private: Arc<tokio::sync::Mutex<Option<MultiplexedConnection>>>,
    /// Behind Sentinel or in a cluster: who names the primary, and where it was last.
    follow: Option<Arc<tokio::sync::Mutex<Lookup>>>,
    db: i64,
    ack: Option<(u32, u64)>,
}

/// The private connection of [`RedisConn::transactions`], held by one caller at a time.
pub struct Transactions<'a> {
    guard: tokio::sync::MutexGuard<'a, Option<MultiplexedConnection>>,
}

impl Transactions<'_> {
    /// The connection (open while held).
    pub fn connection(&mut self) -> &mut MultiplexedConnection {
        self.guard.as_mut().expect("opened by RedisConn::transactions")
    }

    /// Forgets the connection after an error on it (a later call opens a new one).
    pub fn drop_connection(mut self) {
        *self.guard = None;
    }
}

/// What a connection behind Sentinel or in a cluster needs to move.
struct Lookup {
    locator: Locator,
    /// The primary's address the connection uses.
    address: String,
    /// When the primary was last looked up.
    asked: Option<Instant>,
}

/// Who names the primary.
enum Locator {
    Sentinel(Box<SentinelClient>),
    Cluster {
        target: Box<RedisTarget>,
        /// The key prefix (its hash tag names the slot).
        tag: String,
        /// Node URLs to ask: `[redis] url`, then every node the cluster named.
        nodes: Vec<String>,
    },
}

impl Locator {
    /// A client for the primary it names now.
    async fn primary(&mut self) -> Result<Client, RedisError> {
        match self {
            Locator::Sentinel(s) => s.async_get_client().await,
            Locator::Cluster { target, tag, nodes } => {
                let mut last = None;
                for node in nodes.clone() {
                    match cluster_primary(target, tag, &node).await {
                        Ok((client, known)) => {
                            for n in known {
                                if !nodes.contains(&n) {
                                    nodes.push(n);
                                }
                            }
                            return Ok(client);
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| RedisError::from((redis::ErrorKind::Io, "no cluster node answered"))))
            }
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Locator::Sentinel(_) => "Sentinel failover",
            Locator::Cluster { .. } => "cluster slot moved",
        }
    }
}

/// Asks the cluster node at `node` which primary serves the slot of `tag` (`CLUSTER KEYSLOT`,
/// `CLUSTER SLOTS`); also returns the URLs of every node it knows.
async fn cluster_primary(target: &RedisTarget, tag: &str, node: &str) -> Result<(Client, Vec<String>), RedisError> {
    let mut conn = tokio::time::timeout(Duration::from_secs(5), target.client_for(node)?.get_multiplexed_async_connection())
        .await
        .map_err(|_| RedisError::from((redis::ErrorKind::Io, "timed out connecting to a cluster node")))??;
    let slot: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(tag).query_async(&mut conn).await?;
    let ranges: Vec<Vec<Value>> = redis::cmd("CLUSTER").arg("SLOTS").query_async(&mut conn).await?;
    let mut owner = None;
    let mut known = Vec::new();
    for range in &ranges {
        let number = |v: Option<&Value>| match v {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        };
        let (Some(start), Some(end)) = (number(range.first()), number(range.get(1))) else {
            continue;
        };
        for (i, node) in range.iter().skip(2).enumerate() {
            let Value::Array(parts) = node else { continue };
            let host = match parts.first() {
                Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                _ => continue,
            };
            let Some(port) = number(parts.get(1)) else { continue };
            let url = target.url_at(&host, port as u16)?;
            if i == 0 && (start..=end).contains(&slot) {
                owner = Some(url.clone());
            }
            if !known.contains(&url) {
                known.push(url);
            }
        }
    }
    let owner = owner.ok_or_else(|| RedisError::from((redis::ErrorKind::Io, "the cluster serves no slot for [redis] prefix")))?;
    Ok((target.client_for(&owner)?, known))
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
        let locator = match (&target.sentinel, &target.cluster) {
            (Some((sentinels, master)), _) => Some(Locator::Sentinel(Box::new(target.sentinel_client(sentinels, master)?))),
            (None, Some(tag)) => Some(Locator::Cluster {
                target: Box::new(target.clone()),
                tag: tag.clone(),
                nodes: vec![target.url.clone()],
            }),
            (None, None) => None,
        };
        let (client, manager, follow) = match locator {
            None => {
                let client = target.client()?;
                let manager = client.get_connection_manager_with_config(manager_config()).await?;
                (client, manager, None)
            }
            Some(mut locator) => {
                let client = locator.primary().await?;
                let address = address_of(&client);
                let manager = client.get_connection_manager_with_config(manager_config()).await?;
                tracing::info!(primary = %address, "Redis primary located");
                let lookup = Lookup {
                    locator,
                    address,
                    asked: None,
                };
                (client, manager, Some(Arc::new(tokio::sync::Mutex::new(lookup))))
            }
        };
        Ok(RedisConn {
            current: Arc::new(ArcSwap::from_pointee(manager)),
            client: Arc::new(ArcSwap::from_pointee(client)),
            private: Arc::new(tokio::sync::Mutex::new(None)),
            follow,
            db,
            ack: target.ack,
        })
    }

    /// Replicas a write that must survive a failover waits for, and for how long (ms).
    pub fn acknowledgement(&self) -> Option<(u32, u64)> {
        self.ack
    }

    /// The private connection for `WATCH`…`EXEC` transactions, opened on first use (5 s
    /// connection and response timeouts): one transaction at a time per process, since a
    /// `WATCH` belongs to its connection. It does not follow a failover by itself: a caller
    /// that meets an error on it calls [`Transactions::drop_connection`] and goes on through
    /// the shared connection, which does.
    pub async fn transactions(&self) -> Result<Transactions<'_>, RedisError> {
        let mut guard = self.private.lock().await;
        if guard.is_none() {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(5)))
                .set_response_timeout(Some(Duration::from_secs(5)));
            *guard = Some(self.client.load().get_multiplexed_async_connection_with_config(&config).await?);
        }
        Ok(Transactions { guard })
    }

    fn manager(&self) -> ConnectionManager {
        self.current.load().as_ref().clone()
    }

    /// After a failure that may mean the primary moved (`refused`: the server refused the
    /// command, so it did not run; else the connection failed and it may have): behind
    /// Sentinel or in a cluster, looks the primary up and moves the connection. `true` when the
    /// command did not run and may be sent again there.
    async fn after_failure(&self, refused: bool) -> bool {
        let Some(follow) = &self.follow else { return false };
        let mut lookup = follow.lock().await;
        if lookup.asked.is_some_and(|at| at.elapsed() < LOOKUP_GAP) {
            return refused;
        }
        lookup.asked = Some(Instant::now());
        let client = match lookup.locator.primary().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "no primary named (Sentinel or cluster)");
                return false;
            }
        };
        let address = address_of(&client);
        if address == lookup.address {
            return refused;
        }
        match client.get_connection_manager_with_config(manager_config()).await {
            Ok(manager) => {
                tracing::warn!(from = %lookup.address, to = %address, why = lookup.locator.describe(), "Redis primary moved");
                self.current.store(Arc::new(manager));
                self.client.store(Arc::new(client));
                *self.private.lock().await = None;
                lookup.address = address;
                refused
            }
            Err(e) => {
                tracing::warn!(primary = %address, error = %e, "cannot reach the new primary");
                false
            }
        }
    }
}

/// Server replies that mean "not here (any more)": the command did not run.
const MOVED: [&str; 6] = ["READONLY", "MASTERDOWN", "LOADING", "MOVED", "TRYAGAIN", "CLUSTERDOWN"];

/// `Some(true)`: the server refused the command because the primary moved; `Some(false)`: the
/// connection failed (the command may have run); `None`: an answer (or another error).
fn moved(e: &RedisError) -> Option<bool> {
    if e.code().is_some_and(|c| MOVED.contains(&c)) {
        Some(true)
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout() {
        Some(false)
    } else {
        None
    }
}

/// A reply that is a server error saying the primary moved (replies come back as values; the
/// caller turns them into errors).
fn refused(v: &Value) -> bool {
    matches!(v, Value::ServerError(e) if MOVED.contains(&e.code()))
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let reply = self.manager().req_packed_command(cmd).await;
            let failure = match &reply {
                Ok(v) => refused(v).then_some(true),
                Err(e) => moved(e),
            };
            match failure {
                Some(did_not_run) if self.after_failure(did_not_run).await => self.manager().req_packed_command(cmd).await,
                _ => reply,
            }
        })
    }

    fn req_packed_commands<'a>(&'a mut self, pipeline: &'a Pipeline, offset: usize, count: usize) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let reply = self.manager().req_packed_commands(pipeline, offset, count).await;
            // All of an installation's keys live on one primary: a refusal there refused every
            // write of the pipeline, and sending its reads again is harmless.
            let failure = match &reply {
                Ok(values) => values.iter().any(refused).then_some(true),
                Err(e) => moved(e),
            };
            match failure {
                Some(did_not_run) if self.after_failure(did_not_run).await => {
                    self.manager().req_packed_commands(pipeline, offset, count).await
                }
                _ => reply,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.db
    }
}
