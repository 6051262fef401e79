//! The HTTP server: accepts connections, bounds what each client may hold, and hands
//! requests to the router with the client's address attached.
//!
//! What a slow or greedy client can hold is bounded (see `docs/security.md`):
//! - request headers must arrive within [`HEADER_TIMEOUT`], and an idle keep-alive
//!   connection is closed after as long (hyper's HTTP/1 header-read timer also runs while
//!   a connection waits for its next request);
//! - a request body may pause at most [`BODY_IDLE_TIMEOUT`] between chunks and must be
//!   whole within [`BODY_DEADLINE`] (applied by the router's layers);
//! - one client address (an IPv6 client by its /64) holds at most
//!   `USERD_MAX_CONNECTIONS_PER_CLIENT` connections; trusted proxies are exempt, as they
//!   carry many clients;
//! - HTTP/2 connections are pinged and closed when the peer stops answering.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, Waker},
    time::Duration,
};

use axum::{body::Body, http::Request, response::Response};
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
};
use tokio::net::TcpListener;
use tower::{Service, ServiceExt, util::Oneshot};

use super::client::{ClientAddr, TrustedProxies};
use crate::domain::throttle::counted_address;

/// Longest wait for a request's headers, and for the next request on an idle connection.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest pause between two chunks of a request body.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest time a request body may take in all (a 25 MiB upload at 50 KB/s).
pub const BODY_DEADLINE: Duration = Duration::from_secs(600);
/// How long in-flight requests may finish after a shutdown is asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections held per client address.
#[derive(Clone)]
struct Held {
    per_client: usize,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

/// One connection's place in [`Held`], given back when the connection ends.
struct Slot {
    held: Held,
    key: String,
}

impl Held {
    fn take(&self, key: String) -> Option<Slot> {
        let mut counts = self.counts.lock().ok()?;
        let n = counts.entry(key.clone()).or_insert(0);
        if *n >= self.per_client {
            return None;
        }
        *n += 1;
        Some(Slot { held: self.clone(), key })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.held.counts.lock()
            && let Some(n) = counts.get_mut(&self.key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// Serves `router` on `listener` until `stop` resolves, then lets requests in flight
/// finish (for at most [`DRAIN_TIMEOUT`]).
pub async fn serve(
    listener: TcpListener,
    router: super::App,
    proxies: TrustedProxies,
    per_client: usize,
    stop: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    let builder = Arc::new(builder);
    let held = Held { per_client, counts: Arc::default() };
    let proxies = Arc::new(proxies);
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let slot = if proxies.contains(peer.ip()) {
            None
        } else {
            match held.take(counted_address(peer.ip())) {
                Some(slot) => Some(slot),
                None => {
                    tracing::debug!("a client holds its most connections; one more is refused");
                    drop(stream);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let service = Connection { app: Mutex::new(router.clone()), proxies: proxies.clone(), peer: peer.ip() };
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running {}s after shutdown was asked for were cut", DRAIN_TIMEOUT.as_secs());
    }
    Ok(())
}

/// What serves one connection's requests: the application with the client's address
/// attached to each request. The application is called in place, not cloned for every
/// request as a shared service would be (a boxed stack: an allocation and a round of
/// reference counts a request); a request waits for the lock only while another one of
/// the same connection is being handed over (HTTP/2), never while one is served.
struct Connection {
    app: Mutex<super::App>,
    proxies: Arc<TrustedProxies>,
    peer: std::net::IpAddr,
}

impl hyper::service::Service<Request<Incoming>> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<<super::App as Service<Request<Body>>>::Future, Oneshot<super::App, Request<Body>>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let client = self.proxies.client(self.peer, req.headers());
        req.extensions_mut().insert(ClientAddr(client));
        let req = req.map(Body::new);
        let mut app = self.app.lock().unwrap_or_else(PoisonError::into_inner);
        // The application is always ready (no layer of it holds back); were it not, the
        // request would wait for a copy of it to be.
        match app.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Either::Left(app.call(req)),
            _ => Either::Right(app.clone().oneshot(req)),
        }
    }
}

/// A failed accept: a connection given up by its client is nothing; running out of file
/// descriptors is waited out (accepting again at once would spin).
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
