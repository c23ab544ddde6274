//! The running server: recovery from disk, the listeners (the client port, plaintext or
//! unified; `secureClientPort`, TLS only; metrics; admin), the writer thread and the
//! background tasks (session expiry, container/TTL cleanup, autopurge, TLS store reload).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::proto::{PathRequest, Request};

use super::clock::now_millis;
use super::conn::{self};
use super::options::ServerOptions;
use super::persist::{self, Wal, WalOptions};
use super::quorum::Ensemble;
use super::sessions::SessionTracker;
use super::shared::{ReplyTo, Shared, WriteJob};
use super::snapshotter;
use super::state::State;
use super::tree::NodeKind;
use super::txn::{Txn, TxnBody};
use super::writer;

/// Why the server could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot bind the client port {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot bind the metrics port {addr} (metricsProvider.httpPort): {source}")]
    BindMetrics {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot bind the secure client port {addr}: {source}")]
    BindSecure {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot serve TLS on the client port: {0}")]
    Tls(#[from] super::tls::TlsError),
    #[error(transparent)]
    Persist(#[from] persist::PersistError),
    #[error("cannot read {what}: {reason}")]
    Recovery { what: String, reason: String },
    #[error("the transaction log failed: {0}")]
    LogFailed(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("cannot join the ensemble: {0}")]
    Quorum(#[from] super::quorum::StartError),
}

/// A started server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    shared: Arc<Shared>,
    /// The `secureClientPort` listener's address, when there is one beside the plain one.
    secure_addr: Option<SocketAddr>,
    writer: Option<std::thread::JoinHandle<()>>,
}

/// Where the state comes from: the standalone log, or (ensemble) the raft snapshot and log.
enum Recovered {
    Standalone(writer::Resume),
    Ensemble(Box<super::options::EnsembleOptions>),
}

impl Server {
    /// Recovers the state from `dataDir`/`dataLogDir`, binds the client port and starts
    /// serving on the current tokio runtime.
    pub async fn start(opts: ServerOptions) -> Result<Server, ServerError> {
        let (state, recovered) = match &opts.ensemble {
            Some(ensemble) => (
                State::default(),
                Recovered::Ensemble(Box::new(ensemble.clone())),
            ),
            None => {
                let (state, resume) = recover(&opts)?;
                (state, Recovered::Standalone(resume))
            }
        };
        // The TLS config is built before anything binds: a bad store stops the start.
        let tls = match &opts.tls {
            Some(tls) => Some(Arc::new(super::tls::TlsAcceptor::new(
                tls.settings.clone(),
            )?)),
            None => None,
        };
        let listener = bind(&opts).await?;
        let local_addr = listener.local_addr()?;
        let secure = match opts.tls.as_ref().and_then(|t| t.secure_addr) {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::BindSecure { addr, source })?,
            ),
            None => None,
        };
        let secure_addr = match &secure {
            Some(listener) => Some(listener.local_addr()?),
            None => None,
        };
        let metrics = match opts.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::BindMetrics { addr, source })?,
            ),
            None => None,
        };
        let admin = match &opts.admin {
            Some(admin) => bind_admin(admin).await,
            None => None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        let mut tracker = SessionTracker::default();
        for (&id, s) in &state.sessions {
            tracker.register(id, s.timeout, now);
        }
        let first_session =
            initial_session_id(opts.server_id, state.sessions.keys().max().copied());
        let shared = Arc::new(Shared::new(
            opts,
            state,
            tracker,
            local_addr,
            tx,
            first_session,
        ));
        let (writer, member) = match recovered {
            Recovered::Standalone(resume) => {
                let shared = shared.clone();
                let writer = std::thread::Builder::new()
                    .name("zk-writer".into())
                    .spawn(move || writer::run(shared, rx, resume))?;
                (Some(writer), None)
            }
            Recovered::Ensemble(ensemble) => {
                shared.role.set(super::role::Role::Looking);
                let member = super::quorum::start(shared.clone(), *ensemble, rx)
                    .await
                    .map_err(ServerError::Quorum)?;
                (None, Some(member))
            }
        };
        if let Some(metrics) = metrics {
            tracing::info!(addr = %metrics.local_addr()?, "serving Prometheus metrics at /metrics");
            tokio::spawn(super::metrics::serve(
                shared.clone(),
                member.clone(),
                metrics,
            ));
        }
        if let Some((listener, command_url)) = admin {
            tokio::spawn(super::admin::serve(
                shared.clone(),
                member.clone(),
                listener,
                command_url,
            ));
        }
        let admission = Arc::new(Admission::new(
            shared.opts.limits.max_cnxns,
            shared.opts.max_client_cnxns,
        ));
        let main_mode = match (&tls, shared.opts.serve_plain, shared.opts.tls.as_ref()) {
            (Some(tls), false, _) => Some((tls.clone(), conn::Unification::TlsOnly)),
            (Some(tls), true, Some(options)) if options.port_unification => {
                Some((tls.clone(), conn::Unification::Sniff))
            }
            _ => None,
        };
        tokio::spawn(accept_loop(
            shared.clone(),
            member.clone(),
            listener,
            admission.clone(),
            main_mode,
        ));
        if let (Some(secure), Some(tls)) = (secure, &tls) {
            tracing::info!(addr = %secure.local_addr()?, "serving TLS clients (secureClientPort)");
            tokio::spawn(accept_loop(
                shared.clone(),
                member,
                secure,
                admission,
                Some((tls.clone(), conn::Unification::TlsOnly)),
            ));
        }
        if let Some(tls) = tls {
            let stop = shared.clone();
            tokio::spawn(tls.watch(super::tls::RELOAD_POLL, async move {
                wait_stopping(&stop).await
            }));
        }
        tokio::spawn(expiry_loop(shared.clone()));
        tokio::spawn(container_loop(shared.clone()));
        if !shared.opts.purge_interval.is_zero() {
            tokio::spawn(purge_loop(shared.clone()));
        }
        tracing::info!(addr = %local_addr, "serving clients");
        Ok(Server {
            shared,
            secure_addr,
            writer,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The `secureClientPort` listener's address, if it has one beside the client port.
    pub fn secure_addr(&self) -> Option<SocketAddr> {
        self.secure_addr
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Waits until the server stops (a fatal log error, or [`Server::shutdown`] elsewhere).
    pub async fn stopped(&self) {
        while !self.shared.is_stopping() {
            let notified = self.shared.stopped.notified();
            if self.shared.is_stopping() {
                break;
            }
            notified.await;
        }
    }

    /// Stops accepting, closes every connection and waits for the writer to finish what
    /// it has; returns the fatal error, if one stopped the server.
    pub fn shutdown(mut self) -> Option<String> {
        self.shared.stop();
        // The writer exits once every sender is gone; ours is inside `shared`, so wake it
        // with a no-op job that it recognises after `stopping` is set.
        self.shared.submit(WriteJob {
            session_id: 0,
            body: TxnBody::CloseSession,
            reply: ReplyTo::Nobody,
        });
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
        self.shared.failure.lock().clone()
    }
}

async fn bind(opts: &ServerOptions) -> Result<TcpListener, ServerError> {
    let socket = if opts.client_addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|source| ServerError::Bind {
        addr: opts.client_addr,
        source,
    })?;
    socket
        .set_reuseaddr(true)
        .and_then(|()| socket.bind(opts.client_addr))
        .map_err(|source| ServerError::Bind {
            addr: opts.client_addr,
            source,
        })?;
    let backlog = if opts.client_port_listen_backlog > 0 {
        opts.client_port_listen_backlog as u32
    } else {
        1024
    };
    socket.listen(backlog).map_err(|source| ServerError::Bind {
        addr: opts.client_addr,
        source,
    })
}

/// Binds the AdminServer's port. A port that cannot be bound (8080 is often taken, and
/// `admin.enableServer` defaults to true) costs the admin endpoint only: it is logged and
/// the server starts without it, as Apache's quorum peers do.
async fn bind_admin(admin: &super::options::AdminOptions) -> Option<(TcpListener, String)> {
    match TcpListener::bind(admin.addr).await {
        Ok(listener) => {
            tracing::info!(
                addr = %admin.addr,
                command_url = %admin.command_url,
                "serving the AdminServer"
            );
            Some((listener, admin.command_url.clone()))
        }
        Err(e) => {
            tracing::warn!(
                "Problem starting AdminServer on {} (admin.serverAddress/admin.serverPort): {e}; \
                 serving clients without it (set admin.enableServer=false to silence this)",
                admin.addr
            );
            None
        }
    }
}

/// Loads the newest valid snapshot (and the deltas after it) and replays the log after that.
fn recover(opts: &ServerOptions) -> Result<(State, writer::Resume), ServerError> {
    std::fs::create_dir_all(opts.snap_dir())?;
    std::fs::create_dir_all(opts.log_dir())?;
    let mut state = State::default();
    let chain = snapshotter::load(&mut state, &opts.snap_dir()).map_err(|e| match e {
        snapshotter::LoadError::Persist(e) => ServerError::Persist(e),
        snapshotter::LoadError::Decode { path, reason } => ServerError::Recovery {
            what: format!("snapshot {path}"),
            reason,
        },
    })?;
    if chain.is_some() {
        tracing::info!(
            zxid = format!("0x{:x}", state.last_zxid),
            nodes = state.tree.node_count(),
            "loaded snapshot"
        );
    }
    // From here on, what changes goes into the next delta, the log replayed below included.
    state.tree.track_changes();
    let wal_opts = WalOptions {
        fsync: opts.force_sync,
        ..WalOptions::default()
    };
    let (wal, entries) = Wal::open(&opts.log_dir(), wal_opts, state.last_zxid.max(0) as u64)?;
    let replayed = entries.len() as u64;
    for entry in entries {
        let txn = Txn::decode(&entry.payload).map_err(|e| ServerError::Recovery {
            what: format!(
                "log entry 0x{:x} in {}",
                entry.zxid,
                opts.log_dir().display()
            ),
            reason: e.to_string(),
        })?;
        state.apply(&txn);
    }
    if replayed > 0 {
        tracing::info!(
            txns = replayed,
            zxid = format!("0x{:x}", state.last_zxid),
            "replayed the log"
        );
    }
    Ok((
        state,
        writer::Resume {
            wal,
            replayed,
            chain,
        },
    ))
}

/// Session ids as Apache makes them: milliseconds shifted into the middle bits, the
/// server id in the top byte, then counting up; never below an id already in use.
fn initial_session_id(server_id: u64, max_existing: Option<i64>) -> i64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let base = (((millis << 24) >> 8) | (server_id << 56)) as i64;
    match max_existing {
        Some(max) if max >= base => max + 1,
        _ => base.max(1),
    }
}

/// Accepts on one listener; `tls` says whether (and how) its connections speak TLS. The
/// listeners share one admission count, as `maxCnxns`/`maxClientCnxns` limit a client's
/// connections to the server, whichever port they use.
async fn accept_loop(
    shared: Arc<Shared>,
    member: Option<Arc<Ensemble>>,
    listener: TcpListener,
    admission: Arc<Admission>,
    tls: Option<(Arc<super::tls::TlsAcceptor>, conn::Unification)>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = wait_stopping(&shared) => return,
        };
        let Some(ticket) = admission.admit(peer.ip()) else {
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        let member = member.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            conn::accept(shared, member, stream, peer, tls).await;
            drop(ticket);
        });
    }
}

/// `maxCnxns` (all clients) and `maxClientCnxns` (per client address, an IPv4-mapped IPv6
/// address counted as its IPv4 one), as Apache's connection factory counts them.
struct Admission {
    max_total: usize,
    max_per_ip: usize,
    counts: Mutex<(usize, HashMap<std::net::IpAddr, usize>)>,
}

/// One admitted connection; dropping it gives its place back.
struct Ticket {
    admission: Arc<Admission>,
    ip: std::net::IpAddr,
}

impl Admission {
    fn new(max_total: usize, max_per_ip: usize) -> Admission {
        Admission {
            max_total,
            max_per_ip,
            counts: Mutex::new((0, HashMap::new())),
        }
    }

    fn admit(self: &Arc<Self>, ip: std::net::IpAddr) -> Option<Ticket> {
        let ip = ip.to_canonical();
        let mut counts = self.counts.lock();
        let (total, per_ip) = &mut *counts;
        if self.max_total > 0 && *total >= self.max_total {
            tracing::warn!(
                "Too many connections: {total} - max is {} (maxCnxns); refusing /{ip}",
                self.max_total
            );
            return None;
        }
        let count = per_ip.entry(ip).or_default();
        if self.max_per_ip > 0 && *count >= self.max_per_ip {
            tracing::warn!(
                "Too many connections from /{ip} - max is {}",
                self.max_per_ip
            );
            if *count == 0 {
                per_ip.remove(&ip);
            }
            return None;
        }
        *count += 1;
        *total += 1;
        Some(Ticket {
            admission: self.clone(),
            ip,
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.admission.counts.lock();
        let (total, per_ip) = &mut *counts;
        *total -= 1;
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

async fn wait_stopping(shared: &Shared) {
    loop {
        let notified = shared.stopped.notified();
        if shared.is_stopping() {
            return;
        }
        notified.await;
    }
}

/// Proposes a CloseSession for every session past its deadline.
async fn expiry_loop(shared: Arc<Shared>) {
    let period = (shared.opts.tick_time / 2).max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !shared.is_stopping() {
        ticker.tick().await;
        if !shared.decides_expiry() {
            continue;
        }
        let expired = shared.tracker().take_expired(Instant::now());
        for session_id in expired {
            tracing::info!("Expiring session 0x{session_id:x}");
            shared.submit(WriteJob {
                session_id,
                body: TxnBody::CloseSession,
                reply: ReplyTo::Nobody,
            });
        }
    }
}

/// Deletes empty containers that once had children, and expired TTL nodes
/// (`ContainerManager`), at most `container_max_per_minute` per minute.
async fn container_loop(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(
        shared
            .opts
            .container_check_interval
            .max(Duration::from_millis(10)),
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    while !shared.is_stopping() {
        ticker.tick().await;
        if !shared.decides_expiry() {
            continue;
        }
        let now = now_millis();
        let candidates = container_candidates(&shared.read_state(), now);
        let budget = shared.opts.container_max_per_minute.max(1) as usize;
        for path in candidates.into_iter().take(budget) {
            shared.submit(WriteJob {
                session_id: 0,
                body: TxnBody::Write {
                    auth: Vec::new(),
                    request: Request::DeleteContainer(PathRequest { path }),
                },
                reply: ReplyTo::Nobody,
            });
        }
    }
}

/// Containers that are empty and had children, and TTL nodes past their TTL.
pub fn container_candidates(state: &State, now: i64) -> Vec<String> {
    let mut out = Vec::new();
    for node in state.tree.expirable() {
        if node.has_children() {
            continue;
        }
        match node.kind() {
            NodeKind::Container if node.cversion > 0 => out.push(node.path().to_owned()),
            NodeKind::Ttl(ttl) if now.saturating_sub(node.mtime) > ttl => {
                out.push(node.path().to_owned())
            }
            _ => {}
        }
    }
    // Sorted, so that the candidates and the order they are deleted in do not depend on
    // where nodes sit in memory.
    out.sort_unstable();
    out
}

async fn purge_loop(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(shared.opts.purge_interval);
    ticker.tick().await;
    while !shared.is_stopping() {
        ticker.tick().await;
        let opts = shared.opts.clone();
        let result = tokio::task::spawn_blocking(move || {
            persist::purge(&opts.snap_dir(), &opts.log_dir(), opts.snap_retain_count)
        })
        .await;
        match result {
            Ok(Ok(removed)) => tracing::info!(files = removed.len(), "autopurge finished"),
            Ok(Err(e)) => tracing::warn!("autopurge failed: {e}"),
            Err(e) => tracing::warn!("autopurge task failed: {e}"),
        }
    }
}
