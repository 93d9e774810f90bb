//! Serving on the open internet: our own accept loop around the router, so that a client
//! cannot hold the server. Each connection must send its request headers within
//! `[server] header_timeout_secs` (slow-loris connections are closed), each request is
//! answered within `request_timeout_secs` (408), a body above `max_body_bytes` is refused
//! from its `Content-Length` before it is read (413), at most `max_connections` are served at
//! once (the rest wait in the listen backlog), and a graceful shutdown closes connections with
//! no request in flight at once and waits `shutdown_secs` for the others, then closes them. Each request carries its peer address
//! (`ConnectInfo<SocketAddr>`).

use crate::config::ServerConfig;
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The limits of one server, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send the request headers.
    pub header_timeout: Duration,
    /// Time from the headers to the answer.
    pub request_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Largest body.
    pub max_body_bytes: usize,
    /// Wait for open connections at shutdown.
    pub shutdown: Duration,
}

impl Limits {
    /// The limits `[server]` sets (at least 1 of each).
    pub fn from_config(c: &ServerConfig) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(c.header_timeout_secs.max(1)),
            request_timeout: Duration::from_secs(c.request_timeout_secs.max(1)),
            max_connections: c.max_connections.max(1),
            max_body_bytes: c.max_body_bytes.max(1),
            shutdown: Duration::from_secs(c.shutdown_secs.max(1)),
        }
    }
}

/// Adds the request timeout and the body limit to `router`.
pub fn limit(router: Router, limits: Limits) -> Router {
    let max = limits.max_body_bytes;
    let within = limits.request_timeout;
    router
        .layer(axum::extract::DefaultBodyLimit::max(max))
        .layer(axum::middleware::from_fn(move |req: Request, next: Next| async move {
            let declared = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max as u64) {
                return (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large\n").into_response();
            }
            match tokio::time::timeout(within, next.run(req)).await {
                Ok(response) => response,
                Err(_) => (StatusCode::REQUEST_TIMEOUT, "Request took too long\n").into_response(),
            }
        }))
}

/// Serves `router` on `listener` until `stop` resolves, then shuts down gracefully within
/// the limits' shutdown time.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stop: impl Future<Output = ()>) -> std::io::Result<()> {
    let router = limit(router, limits);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let mut stop = std::pin::pin!(stop);
    // Set at shutdown: a connection with no request in flight is closed at once.
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut stop => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = tcp.set_nodelay(true);
        // Requests of this connection being answered (from the headers to the response).
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (started, answered) = (in_flight.clone(), in_flight.clone());
        // Handlers that need the client's address take `ConnectInfo<SocketAddr>`.
        let service = TowerToHyperService::new(
            router
                .clone()
                .map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req
                })
                .map_response(move |r| {
                    answered.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    r
                }),
        );
        let conn = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let idle_at_shutdown = async {
                let _ = stopping.wait_for(|s| *s).await;
                while in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            };
            // Dropping the connection closes it (and releases its graceful-shutdown watch).
            tokio::select! {
                _ = conn => {}
                _ = idle_at_shutdown => {}
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    if tokio::time::timeout(limits.shutdown, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the shutdown wait: closed");
    }
    Ok(())
}
