//! The accept loop in front of the app, with the limits `axum::serve` lacks.
//!
//! Every tenant shares one listener, so whatever a client can hold open
//! without authenticating is held against all of them. With no header
//! timeout and no cap, about 20,000 idle TCP connections from one client used
//! up the process's file descriptors; accept then failed with `EMFILE` and
//! every tenant went offline (issue 12, H4). Here:
//!
//! - a connection must send a complete request head within
//!   [`ConnectionLimits::header_read_timeout`]: one that opens and sends
//!   nothing, trickles a head, or sits idle between keep-alive requests is
//!   closed (hyper's `header_read_timeout`, which restarts before each head);
//! - a request body, or a response the client will not read, that moves no
//!   bytes for [`ConnectionLimits::idle_timeout`] ends its connection
//!   (`stall.rs`); a handler thinking for that long is not cut;
//! - open connections are capped host-wide and per client address (an IPv6
//!   client by its /64); a connection past a cap is reset at once, before
//!   hyper sees it (`limiter.rs`). The cap is kept below the process's
//!   open-file limit, so connections alone never exhaust it; an accept error
//!   backs off briefly instead of spinning; and the accept queue is deep
//!   enough that a burst of connects does not drop other clients' SYNs;
//! - an upgraded connection (the web chat's WebSocket) keeps its place under
//!   the caps until it closes. It has no idle limit, since a visitor waiting
//!   for an agent is idle by design; only a write it never reads ends it.
//!
//! Handlers get `ConnectInfo<SocketAddr>` as with axum's
//! `into_make_service_with_connect_info`. Ctrl-C stops accepting, lets
//! requests in flight finish and closes idle connections.
//!
//! Metrics: `switchboard_connections_open` (gauge) and
//! `switchboard_connections_refused_total{reason="host"|"ip"}`.
//!
//! In production this sits behind a reverse proxy, which enforces the same
//! limits per real client (README, "Production: behind a reverse proxy").

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

pub(crate) use limiter::client_of;
pub use limiter::{Limiter, Permit, Refused};

mod limiter;
mod stall;

/// How long and how many connections a client may hold. Plain values, set by
/// `serve`'s flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once, all clients together. Kept below the
    /// open-file limit (less [`RESERVED_FDS`]) whatever it is set to.
    pub max_connections: usize,
    /// Connections open at once from one address (one /64 for IPv6). Behind a
    /// reverse proxy every connection comes from the proxy: raise this to
    /// `max_connections` there and let the proxy limit real clients.
    pub max_connections_per_ip: usize,
    /// How long a connection may take to send a request head, counted from
    /// when it opens or its previous response was sent.
    pub header_read_timeout: Duration,
    /// How long a request body or a response write may make no progress.
    /// Longer than any handler's quiet wait on the client, shorter than a
    /// client's patience.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_connections_per_ip: 256,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// File descriptors kept for everything but client connections: the
/// database, plugin files, outbound HTTP to providers and plugins.
pub const RESERVED_FDS: usize = 256;

/// How long accept waits after an error that is not one client's (`EMFILE`,
/// `ENFILE`, `ENOBUFS`): long enough not to spin, short enough that clients
/// barely notice.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// At most one warning about refused connections per this long: an attack
/// must not flood the log too.
const REFUSAL_WARNING_EVERY: Duration = Duration::from_secs(10);

/// Bind a listener whose accept queue absorbs bursts. std's and tokio's
/// backlog of 128 overflows when a flood of connects outruns accept, and the
/// kernel then drops SYNs, benign ones too, each costing a second's
/// retransmit.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // As std does: a restart need not wait for the old connections' TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Connections the kernel queues for accept; it caps this at
/// `net.core.somaxconn` (4096 on current Linux).
const LISTEN_BACKLOG: u32 = 1024;

/// Serve `app` on `listener` until `shutdown` resolves, then stop accepting,
/// let requests in flight finish and return.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let file_limit = open_files_limit();
    let max_connections = cap_for_file_limit(limits.max_connections, file_limit);
    if max_connections < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            max_connections,
            file_limit = file_limit.unwrap_or_default(),
            "the open-file limit is too low for the connection cap; lowered it (raise `ulimit -n`)"
        );
    }
    let limiter = Limiter::new(max_connections, limits.max_connections_per_ip);
    // `stop` tells connections to finish; each holds a `drained` receiver, so
    // the sender's `closed()` resolves when the last one ends.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (drained_tx, drained_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_warning: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_one_clients(&error) => continue,
            Err(error) => {
                tracing::warn!(%error, "failed to accept a connection; backing off");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        match limiter.admit(peer.ip()) {
            Ok(permit) => {
                metrics::gauge!("switchboard_connections_open").set(limiter.open() as f64);
                let task = Connection {
                    app: app.clone(),
                    limits: limits.clone(),
                    stop: stop_rx.clone(),
                    _drained: drained_rx.clone(),
                };
                tokio::spawn(task.serve(stream, peer, permit));
            }
            Err(refused) => {
                // Reset rather than closed: no bytes are read or written, the
                // client learns at once, and no TIME_WAIT is left behind here.
                let _ = stream.set_zero_linger();
                drop(stream);
                metrics::counter!("switchboard_connections_refused_total", "reason" => refused.reason())
                    .increment(1);
                if last_warning.is_none_or(|at| at.elapsed() >= REFUSAL_WARNING_EVERY) {
                    last_warning = Some(Instant::now());
                    tracing::warn!(
                        %peer, %refused, refused_so_far = limiter.refused(),
                        "refusing connections"
                    );
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(drained_rx);
    drained_tx.closed().await;
}

/// One accepted connection's task.
#[derive(Debug)]
struct Connection {
    app: Router,
    limits: ConnectionLimits,
    stop: watch::Receiver<bool>,
    /// Dropped when the task ends; `serve` waits for all of them.
    _drained: watch::Receiver<()>,
}

impl Connection {
    async fn serve(self, stream: TcpStream, peer: SocketAddr, permit: Permit) {
        // Small JSON answers: do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        let idle = self.limits.idle_timeout;
        let io = TokioIo::new(stall::WriteGuard::new(stream, permit, idle));
        let app = TowerToHyperService::new(self.app);
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(|body| Body::new(stall::BodyGuard::new(body, idle)));
            request.extensions_mut().insert(ConnectInfo(peer));
            app.call(request)
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .keep_alive(true);
        let mut connection = std::pin::pin!(builder.serve_connection(io, service).with_upgrades());
        let mut stop = self.stop;
        // The guard `wait_for` returns is not `Send`: drop it before resuming.
        let stopping = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = stopping => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            // Timeouts and clients hanging up mid-request end up here.
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    }
}

/// Errors that concern the one connection being accepted, not the listener:
/// skip it and accept the next at once.
fn is_one_clients(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted)
}

/// The host-wide cap that fits under `file_limit` with [`RESERVED_FDS`] to
/// spare (at least 1, so a misconfigured host still answers someone).
pub fn cap_for_file_limit(max_connections: usize, file_limit: Option<usize>) -> usize {
    match file_limit {
        Some(limit) => max_connections.min(limit.saturating_sub(RESERVED_FDS)).max(1),
        None => max_connections,
    }
}

/// The soft open-file limit (`ulimit -n`), where the OS says (Linux).
fn open_files_limit() -> Option<usize> {
    parse_open_files_limit(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

/// `Max open files  <soft>  <hard>  files` from `/proc/self/limits`.
fn parse_open_files_limit(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_under_the_open_file_limit() {
        assert_eq!(cap_for_file_limit(4096, Some(20_000)), 4096);
        assert_eq!(cap_for_file_limit(4096, Some(1024)), 1024 - RESERVED_FDS);
        assert_eq!(cap_for_file_limit(4096, Some(100)), 1);
        assert_eq!(cap_for_file_limit(4096, None), 4096);
    }

    #[test]
    fn the_open_file_limit_is_read_from_proc() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63432                63432                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_open_files_limit(limits), Some(1024));
        let unlimited = "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_files_limit(unlimited), None);
        assert_eq!(parse_open_files_limit(""), None);
    }

    #[test]
    fn only_one_clients_errors_are_skipped_without_a_pause() {
        use std::io::{Error, ErrorKind};
        assert!(is_one_clients(&Error::from(ErrorKind::ConnectionAborted)));
        assert!(!is_one_clients(&Error::from_raw_os_error(24))); // EMFILE
    }
}
