//! The HTTP listener: accepts connections and serves each with hyper's HTTP/1.1 (upgrades for
//! GraphQL's WebSocket), within the bounds of `[listener]` (SPEC §9, RELIABILITY R8 and L-03).
//!
//! Invariant: a connection waits at most `header_read_timeout` for a complete request head —
//! a new connection's first request and every next one on a kept-alive connection — so neither
//! a trickled header (slowloris) nor an idle keep-alive connection holds a socket longer.
//! Invariant: a write that makes no progress for `write_stall_timeout` (a client that stopped
//! reading) fails the connection, which drops its response: a stream's record, in-flight
//! place, concurrency place and endpoint slot are given back (RELIABILITY R8).
//! Invariant: at most `max_connections` are open at once; one accepted beyond that is closed at
//! once (and counted), so the process never runs out of file descriptors for the ones it
//! serves, the database and its upstreams.
//! Invariant: after the shutdown signal no connection is accepted; open ones finish their
//! request in flight and close (the caller bounds how long that may take).

use crate::{config::ListenerConfig, metrics::Metrics};
use axum::{extract::ConnectInfo, Router};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    time::Sleep,
};
use tower::ServiceExt;

/// File descriptors kept for what is not a client connection — the database, upstream
/// connections, log files, the listener itself: this many, or a quarter of a smaller limit.
const RESERVED_FDS: u64 = 1024;

/// The descriptors a limit of `limit` leaves for client connections.
fn room_for_connections(limit: u64) -> u64 {
    limit.saturating_sub(RESERVED_FDS.min(limit / 4)).max(64)
}

/// Raises the soft limit on open files to the hard limit (the default soft limit, often 1024,
/// is far below what `max_connections` needs) and returns the connection cap the limit allows:
/// `configured`, or less when the file limit cannot hold it (with a warning).
pub fn connection_cap(configured: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(error = %error, "cannot raise the open-file limit");
            match rlimit::getrlimit(rlimit::Resource::NOFILE) {
                Ok((soft, _)) => soft,
                Err(_) => return configured,
            }
        }
    };
    let room = usize::try_from(room_for_connections(limit)).unwrap_or(usize::MAX);
    if configured > room {
        tracing::warn!(
            configured,
            allowed = room,
            open_file_limit = limit,
            "listener.max_connections is above what the open-file limit allows; capping it"
        );
        return room;
    }
    configured
}

/// Serves `app` on `listener` until `shutdown` completes, then waits for open connections to
/// close.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: ListenerConfig,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let cap = connection_cap(settings.max_connections);
    let slots = Arc::new(Semaphore::new(cap));
    // Every connection holds a receiver; `closed()` resolves when the last one is gone.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors (or another transient error): wait, as hyper's
                    // and axum's loops do, rather than spin.
                    tracing::warn!(error = %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.connection_refused();
            drop(stream);
            continue;
        };
        if let Err(error) = stream.set_nodelay(true) {
            // No Nagle delay: stream events must leave as soon as they are written.
            tracing::debug!(error = %error, "cannot set TCP_NODELAY");
        }
        let service = app.clone().map_request(move |request: axum::http::Request<Incoming>| {
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let mut stopped = stopped.clone();
        let header_read_timeout = settings.header_read_timeout;
        // The place goes with the socket: an upgraded one (a GraphQL subscription) keeps it
        // after hyper hands the socket over.
        let stream = StallGuard::new(stream, settings.write_stall_timeout, slot);
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                served = connection.as_mut() => log_end(peer, served),
                _ = async { stopped.wait_for(|stop| *stop).await.map(|_| ()) } => {
                    connection.as_mut().graceful_shutdown();
                    log_end(peer, connection.await);
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(stopped);
    stop.closed().await;
}

/// A connection whose writes fail once one has waited `limit` without progress: the client
/// stopped reading and its socket buffers are full.
struct StallGuard {
    stream: TcpStream,
    limit: Duration,
    /// Armed while a write waits; reset by every byte written.
    stalled: Option<Pin<Box<Sleep>>>,
    /// The connection's place under `max_connections`, given back when the socket closes.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl StallGuard {
    fn new(stream: TcpStream, limit: Duration, slot: tokio::sync::OwnedSemaphorePermit) -> Self {
        StallGuard {
            stream,
            limit,
            stalled: None,
            _slot: slot,
        }
    }

    /// Arms the timer for a write that could not proceed; an error once it has run out.
    fn waited(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let limit = self.limit;
        let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing for listener.write_stall_timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            Poll::Pending => self.waited(cx),
            written => {
                self.stalled = None;
                written
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.waited(cx),
            written => {
                self.stalled = None;
                written
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

fn log_end(peer: SocketAddr, served: Result<(), hyper::Error>) {
    if let Err(error) = served {
        // Timeouts, resets and malformed requests: the client's doing, not the server's.
        tracing::debug!(peer = %peer, error = %error, "connection ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_file_limit_is_raised_to_its_hard_limit_and_caps_connections() {
        let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let low = hard.min(2048);
        rlimit::setrlimit(rlimit::Resource::NOFILE, low, hard).unwrap();
        let cap = connection_cap(usize::MAX);
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert_eq!(soft, hard, "the soft limit is raised to the hard one");
        assert_eq!(cap as u64, room_for_connections(hard), "the cap leaves room");
        assert_eq!(room_for_connections(1024), 768, "a quarter of a small limit is kept");
        assert_eq!(room_for_connections(1 << 20), (1 << 20) - 1024);
        assert_eq!(connection_cap(100), 100, "a cap within the limit stays");
    }
}
