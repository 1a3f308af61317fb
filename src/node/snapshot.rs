//! The node's snapshot producer: every [`INTERVAL`] it gathers what the node
//! knows (identity, transport connections and their key rotations, store
//! space, disk, the log ring) into one [`Snapshot`] and publishes it on a
//! `tokio::sync::watch` that the API's feed routes read.
//!
//! Why split into a gatherer and a pure [`SnapshotBuilder`]: the builder owns
//! the history (rate samples, per-connection byte counters, the last
//! published content) and decides from plain inputs whether anything
//! changed, so it is tested without sockets or clocks. `seq` moves only when
//! the content changed — time-derived fields (`taken_at_ms`, ages, uptime
//! below a minute) do not count — so an idle node publishes nothing and an
//! attached dashboard redraws nothing. Traffic counts as a change, including
//! the first zero sample after a burst, so sparklines settle.
//!
//! Rates: per-connection byte counters (socket bytes, Noise framing included)
//! are differenced per connection, so a connection that closes does not make
//! the totals go backwards; one sample per [`SAMPLE`], at most
//! [`MAX_RATE_SAMPLES`].

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn_transport::{CipherKind, ConnectionStats, Endpoint};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::api::snapshot::{
    Alert, AlertKind, Cipher, ClassUsage, MAX_RATE_SAMPLES, NodeSummary, Peer, Permissions,
    SNAPSHOT_VERSION, Severity, Snapshot, Space, Traffic,
};
use crate::store::{Class, StatsReport};

use super::logbuf::LogBuf;

/// How often the node gathers a snapshot.
pub const INTERVAL: Duration = Duration::from_millis(500);
/// How often a rate sample is taken for the sparklines.
pub const SAMPLE: Duration = Duration::from_secs(1);
/// Free disk below this share of the disk raises a "disk full" alert.
pub const DISK_ALERT_FREE_PERCENT: u64 = 5;

/// Reads the store's space use; `None` when it cannot be read right now.
pub type StoreStatsFn = Arc<dyn Fn() -> Option<StatsReport> + Send + Sync>;

/// How long the store's statistics are reused: they walk the whole block
/// index, too much to repeat twice a second on a large store.
const STORE_STATS_TTL: Duration = Duration::from_secs(5);

/// A [`StoreStatsFn`] over `store` that recomputes at most every
/// [`STORE_STATS_TTL`].
pub fn cached_store_stats(store: crate::store::Store) -> StoreStatsFn {
    let cache: parking_lot::Mutex<Option<(Instant, StatsReport)>> = parking_lot::Mutex::new(None);
    Arc::new(move || {
        let mut c = cache.lock();
        if let Some((at, rep)) = &*c
            && at.elapsed() < STORE_STATS_TTL
        {
            return Some(rep.clone());
        }
        let rep = store.stats().ok()?;
        *c = Some((Instant::now(), rep.clone()));
        Some(rep)
    })
}

/// Fills the parts of a snapshot other services own (the peer book's
/// permissions and bans, the store's files and health, transfers, the
/// market) into a blank snapshot; called off the async threads each
/// gathering. See [`merge_extra`] for how it combines with the transport's
/// view.
pub type ExtraFn = Arc<dyn Fn(&mut Snapshot) + Send + Sync>;

/// Where the snapshot task reads from.
#[derive(Clone)]
pub struct Sources {
    /// Identity, addresses, ticket, version, data dir (uptime is filled in).
    pub node: NodeSummary,
    pub started: Instant,
    /// The node's transport endpoints (their live connections become peers).
    pub endpoints: Vec<Endpoint>,
    /// The store's `stats()`, when the node owns a store.
    pub store_stats: Option<StoreStatsFn>,
    /// The node's log ring.
    pub logs: LogBuf,
    /// The data directory, for the disk's free and total size.
    pub data_dir: PathBuf,
    /// Other services' contributions, applied in order.
    pub extra: Vec<ExtraFn>,
}

/// One gathering of everything that changes, as plain data.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Wall clock, unix milliseconds.
    pub now_ms: u64,
    pub uptime_secs: u64,
    /// Live connections, with each one's time since its last key rotation.
    pub connections: Vec<ConnInput>,
    pub store: Option<StatsReport>,
    /// `(free, total)` bytes of the data directory's filesystem.
    pub disk: Option<(u64, u64)>,
    /// The log ring's version and, when it moved, its events.
    pub logs_version: u64,
    /// What the [`ExtraFn`]s filled in, when there are any.
    pub extra: Option<Snapshot>,
}

/// One connection as the builder needs it.
#[derive(Debug, Clone)]
pub struct ConnInput {
    pub node_id: String,
    pub addr: String,
    pub outbound: bool,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub rtt: Option<Duration>,
    pub streams: u32,
    pub cipher: Option<CipherKind>,
    pub rotations_sent: u64,
    pub rotations_received: u64,
    pub since_rotation: Option<Duration>,
}

impl ConnInput {
    /// From the transport's statistics, with `now` for the rotation age.
    pub fn from_stats(s: &ConnectionStats, now: Instant) -> ConnInput {
        let last_rotation = s.streams.iter().filter_map(|st| st.last_rotation).max();
        ConnInput {
            node_id: s.remote_node_id.to_string(),
            addr: s.remote_addr.to_string(),
            outbound: s.outbound,
            bytes_sent: s.bytes_sent,
            bytes_received: s.bytes_received,
            rtt: s.rtt,
            streams: u32::try_from(s.streams.len()).unwrap_or(u32::MAX),
            // The newest stream's cipher: streams are listed in opening order.
            cipher: s.streams.iter().rev().find_map(|st| st.send_cipher),
            rotations_sent: s.streams.iter().map(|st| st.rotations_sent).sum(),
            rotations_received: s.streams.iter().map(|st| st.rotations_received).sum(),
            since_rotation: last_rotation.map(|t| now.saturating_duration_since(t)),
        }
    }
}

/// Builds snapshots from [`Inputs`] and decides when one is new.
#[derive(Debug)]
pub struct SnapshotBuilder {
    node: NodeSummary,
    seq: u64,
    /// Per connection: the byte counters seen last.
    counters: HashMap<(String, String, bool), (u64, u64)>,
    /// Bytes counted since the last rate sample.
    pending: (u64, u64),
    last_sample_ms: Option<u64>,
    up: VecDeque<u64>,
    down: VecDeque<u64>,
    total: (u64, u64),
    logs_version: Option<u64>,
    logs: Vec<crate::api::snapshot::LogEvent>,
    /// The content of the last published snapshot, time fields zeroed.
    last_key: Option<Snapshot>,
}

impl SnapshotBuilder {
    pub fn new(node: NodeSummary) -> SnapshotBuilder {
        SnapshotBuilder {
            node,
            seq: 0,
            counters: HashMap::new(),
            pending: (0, 0),
            last_sample_ms: None,
            up: VecDeque::new(),
            down: VecDeque::new(),
            total: (0, 0),
            logs_version: None,
            logs: Vec::new(),
            last_key: None,
        }
    }

    /// Whether the log ring moved since the last build (so the caller copies
    /// the events only then).
    pub fn logs_stale(&self, version: u64) -> bool {
        self.logs_version != Some(version)
    }

    /// Take one gathering; returns a snapshot when its content differs from
    /// the last one returned. `logs` is read only when [`Self::logs_stale`].
    pub fn build(
        &mut self,
        inputs: Inputs,
        logs: impl FnOnce() -> Vec<crate::api::snapshot::LogEvent>,
    ) -> Option<Snapshot> {
        if self.logs_stale(inputs.logs_version) {
            self.logs = logs();
            self.logs_version = Some(inputs.logs_version);
        }
        self.count_bytes(&inputs.connections);
        self.sample(inputs.now_ms);

        let space = space_of(inputs.store.as_ref(), inputs.disk);
        let mut snap = Snapshot {
            version: SNAPSHOT_VERSION,
            seq: self.seq,
            taken_at_ms: inputs.now_ms,
            node: NodeSummary {
                uptime_secs: inputs.uptime_secs,
                ..self.node.clone()
            },
            alerts: alerts_of(&space),
            space,
            traffic: Traffic {
                sample_secs: SAMPLE.as_secs() as u32,
                up: self.up.iter().copied().collect(),
                down: self.down.iter().copied().collect(),
                total_up: self.total.0,
                total_down: self.total.1,
            },
            peers: peers_of(&inputs.connections),
            logs: self.logs.clone(),
            ..Snapshot::default()
        };
        if let Some(extra) = inputs.extra {
            merge_extra(&mut snap, extra);
        }
        let key = content_key(&snap);
        if self.last_key.as_ref() == Some(&key) {
            return None;
        }
        self.last_key = Some(key);
        self.seq += 1;
        snap.seq = self.seq;
        Some(snap)
    }

    fn count_bytes(&mut self, conns: &[ConnInput]) {
        let mut seen = HashMap::with_capacity(conns.len());
        for c in conns {
            let id = (c.node_id.clone(), c.addr.clone(), c.outbound);
            let (s0, r0) = self.counters.get(&id).copied().unwrap_or((0, 0));
            // A counter that went backwards is a new connection under the same key.
            let ds = if c.bytes_sent >= s0 {
                c.bytes_sent - s0
            } else {
                c.bytes_sent
            };
            let dr = if c.bytes_received >= r0 {
                c.bytes_received - r0
            } else {
                c.bytes_received
            };
            self.pending.0 += ds;
            self.pending.1 += dr;
            self.total.0 += ds;
            self.total.1 += dr;
            seen.insert(id, (c.bytes_sent, c.bytes_received));
        }
        self.counters = seen;
    }

    fn sample(&mut self, now_ms: u64) {
        let Some(last) = self.last_sample_ms else {
            self.last_sample_ms = Some(now_ms);
            return;
        };
        let elapsed = now_ms.saturating_sub(last);
        if elapsed < SAMPLE.as_millis() as u64 {
            return;
        }
        let rate = |bytes: u64| bytes.saturating_mul(1000) / elapsed.max(1);
        push_bounded(&mut self.up, rate(self.pending.0));
        push_bounded(&mut self.down, rate(self.pending.1));
        self.pending = (0, 0);
        self.last_sample_ms = Some(now_ms);
    }
}

/// Combine other services' part with the transport's view: files,
/// transfers, market and credit are theirs; alerts are appended; a peer they
/// know keeps its permissions, ban, credit and reputation from them and its
/// live connection figures from the transport, and a known peer without a
/// connection is listed as disconnected.
pub fn merge_extra(snap: &mut Snapshot, extra: Snapshot) {
    snap.files = extra.files;
    snap.transfers = extra.transfers;
    snap.market = extra.market;
    snap.credit = extra.credit;
    snap.space.stored_on_peers = extra.space.stored_on_peers;
    snap.space.network_quota = extra.space.network_quota;
    snap.alerts.extend(extra.alerts);
    snap.alerts.sort_by_key(|a| std::cmp::Reverse(a.severity));
    for known in extra.peers {
        match snap.peers.iter_mut().find(|p| p.node_id == known.node_id) {
            Some(live) => {
                live.permissions = known.permissions;
                live.banned = known.banned;
                live.credit = known.credit;
                live.reputation = known.reputation;
                if live.address.is_none() {
                    live.address = known.address;
                }
            }
            None => snap.peers.push(Peer {
                connected: false,
                ..known
            }),
        }
    }
    snap.peers.sort_by(|a, b| a.node_id.cmp(&b.node_id));
}

fn push_bounded(v: &mut VecDeque<u64>, x: u64) {
    if v.len() == MAX_RATE_SAMPLES {
        v.pop_front();
    }
    v.push_back(x);
}

/// The snapshot with everything that only reflects the passing of time
/// removed: what "changed" is judged on. A rate history that only grew by a
/// zero after zeros counts as unchanged.
fn content_key(s: &Snapshot) -> Snapshot {
    let mut k = s.clone();
    k.seq = 0;
    k.taken_at_ms = 0;
    k.node.uptime_secs /= 60;
    // Other programs move the disk's free space all the time; a change
    // shows only when it is at least 0.1% of the disk.
    k.space.disk_free /= (s.space.disk_total / 1000).max(1);
    for p in &mut k.peers {
        p.since_rotation_secs = None;
    }
    let last = |v: &[u64]| v.last().copied().unwrap_or(0);
    k.traffic.up = vec![last(&s.traffic.up)];
    k.traffic.down = vec![last(&s.traffic.down)];
    k
}

fn peers_of(conns: &[ConnInput]) -> Vec<Peer> {
    // One row per node: several connections to one node are summed, the
    // newest (last listed) gives the address.
    let mut by_node: Vec<Peer> = Vec::new();
    for c in conns {
        let idx = match by_node.iter().position(|p| p.node_id == c.node_id) {
            Some(i) => i,
            None => {
                by_node.push(Peer {
                    node_id: c.node_id.clone(),
                    connected: true,
                    // No peer book in the node yet: nothing is restricted.
                    permissions: Permissions::ALL,
                    ..Peer::default()
                });
                by_node.len() - 1
            }
        };
        let p = &mut by_node[idx];
        p.address = Some(c.addr.clone());
        if let Some(rtt) = c.rtt {
            p.latency_ms = Some(u32::try_from(rtt.as_millis()).unwrap_or(u32::MAX));
        }
        p.streams += c.streams;
        if let Some(k) = c.cipher {
            p.cipher = Some(match k {
                CipherKind::ChaCha20Poly1305 => Cipher::ChaCha20Poly1305,
                CipherKind::Aes256Gcm => Cipher::Aes256Gcm,
            });
        }
        p.epoch_out += c.rotations_sent;
        p.epoch_in += c.rotations_received;
        if let Some(age) = c.since_rotation {
            let secs = age.as_secs();
            p.since_rotation_secs = Some(p.since_rotation_secs.map_or(secs, |s| s.min(secs)));
        }
        p.bytes_out += c.bytes_sent;
        p.bytes_in += c.bytes_received;
    }
    by_node.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    by_node
}

fn space_of(store: Option<&StatsReport>, disk: Option<(u64, u64)>) -> Space {
    let mut space = Space::default();
    if let Some(st) = store {
        for c in &st.classes {
            let usage = ClassUsage {
                used: c.bytes,
                quota: (c.quota > 0).then_some(c.quota),
            };
            match c.class {
                Class::Own => space.own = usage,
                Class::Hosted => space.hosted = usage,
                Class::Cache => space.cache = usage,
            }
        }
    }
    if let Some((free, total)) = disk {
        space.disk_free = free;
        space.disk_total = total;
    }
    space
}

fn alerts_of(space: &Space) -> Vec<Alert> {
    let mut alerts = Vec::new();
    if space.disk_total > 0
        && space.disk_free.saturating_mul(100) < space.disk_total * DISK_ALERT_FREE_PERCENT
    {
        alerts.push(Alert {
            severity: Severity::Critical,
            kind: AlertKind::DiskFull,
            message: format!(
                "the data directory's disk is nearly full ({} MiB free)",
                space.disk_free / (1 << 20)
            ),
        });
    }
    for (name, c) in [
        ("own", space.own),
        ("hosted", space.hosted),
        ("cache", space.cache),
    ] {
        if let Some(q) = c.quota
            && c.used.saturating_mul(100) >= q.saturating_mul(95)
        {
            alerts.push(Alert {
                severity: Severity::Warning,
                kind: AlertKind::DiskFull,
                message: format!("the {name} class is at {}% of its quota", c.used * 100 / q),
            });
        }
    }
    alerts
}

/// Free and total bytes of the filesystem holding `path`.
#[cfg(unix)]
pub fn disk_space(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a valid out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let frsize = st.f_frsize as u64;
    Some((
        (st.f_bavail as u64).saturating_mul(frsize),
        (st.f_blocks as u64).saturating_mul(frsize),
    ))
}

#[cfg(not(unix))]
pub fn disk_space(_path: &std::path::Path) -> Option<(u64, u64)> {
    None
}

/// Gather and publish snapshots until `shutdown`. The first one is
/// published at once.
pub async fn run(sources: Sources, tx: watch::Sender<Snapshot>, shutdown: CancellationToken) {
    let mut builder = SnapshotBuilder::new(sources.node.clone());
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let inputs = gather(&sources).await;
        if let Some(snap) = builder.build(inputs, || sources.logs.events()) {
            tx.send_replace(snap);
        }
    }
}

async fn gather(sources: &Sources) -> Inputs {
    let now = Instant::now();
    let connections = sources
        .endpoints
        .iter()
        .flat_map(|ep| ep.connections())
        .map(|s| ConnInput::from_stats(&s, now))
        .collect();
    // Store and filesystem reads may touch the disk: off the async threads.
    let store_stats = sources.store_stats.clone();
    let dir = sources.data_dir.clone();
    let extra_fns = sources.extra.clone();
    let (store, disk, extra) = tokio::task::spawn_blocking(move || {
        let extra = (!extra_fns.is_empty()).then(|| {
            let mut part = Snapshot::default();
            for f in &extra_fns {
                f(&mut part);
            }
            part
        });
        (store_stats.and_then(|f| f()), disk_space(&dir), extra)
    })
    .await
    .unwrap_or((None, None, None));
    Inputs {
        now_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        uptime_secs: sources.started.elapsed().as_secs(),
        connections,
        store,
        disk,
        logs_version: sources.logs.version(),
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::snapshot::{Level, LogEvent};

    fn node() -> NodeSummary {
        NodeSummary {
            node_id: "me".into(),
            version: "0.1.0".into(),
            ..NodeSummary::default()
        }
    }

    fn conn(id: &str, sent: u64, recv: u64) -> ConnInput {
        ConnInput {
            node_id: id.into(),
            addr: "127.0.0.1:1".into(),
            outbound: true,
            bytes_sent: sent,
            bytes_received: recv,
            rtt: Some(Duration::from_millis(3)),
            streams: 2,
            cipher: Some(CipherKind::Aes256Gcm),
            rotations_sent: 4,
            rotations_received: 5,
            since_rotation: Some(Duration::from_secs(7)),
        }
    }

    fn at(ms: u64, conns: Vec<ConnInput>) -> Inputs {
        Inputs {
            now_ms: ms,
            uptime_secs: ms / 1000,
            connections: conns,
            ..Inputs::default()
        }
    }

    #[test]
    fn an_idle_node_publishes_once_then_nothing() {
        let mut b = SnapshotBuilder::new(node());
        let first = b.build(at(0, vec![]), Vec::new).expect("first snapshot");
        assert_eq!(first.seq, 1);
        for i in 1..100 {
            assert!(b.build(at(i * 500, vec![]), Vec::new).is_none(), "tick {i}");
        }
    }

    #[test]
    fn uptime_republishes_once_a_minute_only() {
        let mut b = SnapshotBuilder::new(node());
        b.build(at(0, vec![]), Vec::new);
        assert!(b.build(at(59_000, vec![]), Vec::new).is_none());
        let s = b
            .build(at(60_000, vec![]), Vec::new)
            .expect("minute passed");
        assert_eq!(s.seq, 2);
        assert_eq!(s.node.uptime_secs, 60);
    }

    #[test]
    fn traffic_gives_rates_and_totals_then_settles_at_zero() {
        let mut b = SnapshotBuilder::new(node());
        b.build(at(0, vec![conn("p", 0, 0)]), Vec::new);
        let s = b
            .build(at(1000, vec![conn("p", 4000, 1000)]), Vec::new)
            .expect("traffic is a change");
        assert_eq!(s.traffic.up, vec![4000]);
        assert_eq!(s.traffic.down, vec![1000]);
        assert_eq!((s.traffic.total_up, s.traffic.total_down), (4000, 1000));
        // Traffic stops: one more snapshot with the zero sample, then quiet.
        let s = b
            .build(at(2000, vec![conn("p", 4000, 1000)]), Vec::new)
            .expect("the zero sample is shown");
        assert_eq!(s.traffic.up, vec![4000, 0]);
        assert!(
            b.build(at(3000, vec![conn("p", 4000, 1000)]), Vec::new)
                .is_none()
        );
    }

    #[test]
    fn closed_connections_do_not_make_totals_go_backwards() {
        let mut b = SnapshotBuilder::new(node());
        b.build(at(0, vec![conn("p", 500, 500)]), Vec::new);
        b.build(at(1000, vec![]), Vec::new);
        let s = b
            .build(at(2000, vec![conn("q", 100, 0)]), Vec::new)
            .expect("new peer");
        assert_eq!(s.traffic.total_up, 600);
        assert_eq!(s.traffic.total_down, 500);
    }

    #[test]
    fn rate_history_is_bounded() {
        let mut b = SnapshotBuilder::new(node());
        let mut last = None;
        for i in 0..(MAX_RATE_SAMPLES as u64 + 50) {
            if let Some(s) = b.build(at(i * 1000, vec![conn("p", i * 10, 0)]), Vec::new) {
                last = Some(s);
            }
        }
        assert_eq!(last.expect("snapshots").traffic.up.len(), MAX_RATE_SAMPLES);
    }

    #[test]
    fn peers_carry_connection_stats_and_merge_per_node() {
        let mut b = SnapshotBuilder::new(node());
        let s = b
            .build(
                at(0, vec![conn("b", 10, 20), conn("a", 1, 2), conn("b", 5, 5)]),
                Vec::new,
            )
            .expect("snapshot");
        let ids: Vec<&str> = s.peers.iter().map(|p| p.node_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        let p = &s.peers[1];
        assert!(p.connected);
        assert_eq!(p.latency_ms, Some(3));
        assert_eq!(p.streams, 4);
        assert_eq!(p.cipher, Some(Cipher::Aes256Gcm));
        assert_eq!((p.epoch_out, p.epoch_in), (8, 10));
        assert_eq!(p.since_rotation_secs, Some(7));
        assert_eq!((p.bytes_out, p.bytes_in), (15, 25));
    }

    #[test]
    fn new_log_events_are_a_change_and_copied_only_then() {
        let mut b = SnapshotBuilder::new(node());
        b.build(at(0, vec![]), Vec::new);
        let mut inputs = at(500, vec![]);
        inputs.logs_version = 1;
        let ev = LogEvent {
            time_ms: 1,
            level: Level::Info,
            target: "t".into(),
            message: "hello".into(),
        };
        let s = b
            .build(inputs.clone(), || vec![ev.clone()])
            .expect("a log line is a change");
        assert_eq!(s.logs, vec![ev]);
        inputs.now_ms = 1000;
        assert!(
            b.build(inputs, || panic!("ring copied although unchanged"))
                .is_none()
        );
    }

    #[test]
    fn store_stats_fill_space_and_near_full_disk_alerts() {
        let mut b = SnapshotBuilder::new(node());
        let mut inputs = at(0, vec![]);
        inputs.store = Some(StatsReport {
            dir: "d".into(),
            roots: 1,
            classes: vec![crate::store::ClassStats {
                class: Class::Own,
                blocks: 3,
                bytes: 300,
                quota: 0,
            }],
            packs: 1,
            pack_bytes: 300,
            garbage_bytes: 0,
        });
        inputs.disk = Some((1, 1000));
        let s = b.build(inputs, Vec::new).expect("snapshot");
        assert_eq!(s.space.own.used, 300);
        assert_eq!(s.space.own.quota, None);
        assert_eq!(s.space.disk_total, 1000);
        assert!(s.alerts.iter().any(|a| a.kind == AlertKind::DiskFull));
    }

    #[test]
    fn small_moves_of_free_disk_space_are_not_a_change() {
        let mut b = SnapshotBuilder::new(node());
        let mut inputs = at(0, vec![]);
        inputs.disk = Some((500_000, 1_000_000));
        b.build(inputs.clone(), Vec::new).expect("first");
        inputs.disk = Some((500_400, 1_000_000));
        assert!(b.build(inputs.clone(), Vec::new).is_none());
        inputs.disk = Some((502_000, 1_000_000));
        assert!(b.build(inputs, Vec::new).is_some());
    }

    #[test]
    fn other_services_parts_merge_with_the_transport_view() {
        let mut b = SnapshotBuilder::new(node());
        let mut inputs = at(0, vec![conn("live", 1, 1)]);
        let extra = Snapshot {
            peers: vec![
                Peer {
                    node_id: "live".into(),
                    banned: true,
                    reputation: 90,
                    ..Peer::default()
                },
                Peer {
                    node_id: "away".into(),
                    address: Some("10.0.0.1:7341".into()),
                    connected: true,
                    ..Peer::default()
                },
            ],
            files: vec![crate::api::snapshot::FileEntry {
                path: "/a".into(),
                kind: crate::api::snapshot::EntryKind::File,
                size: 1,
                redundancy: crate::api::snapshot::Redundancy::Erasure { k: 2, m: 1 },
                policy_here: true,
                health: Default::default(),
            }],
            ..Snapshot::default()
        };
        inputs.extra = Some(extra);
        let s = b.build(inputs, Vec::new).expect("snapshot");
        assert_eq!(s.files.len(), 1);
        let away = s.peers.iter().find(|p| p.node_id == "away").expect("away");
        assert!(!away.connected, "no transport connection: disconnected");
        let live = s.peers.iter().find(|p| p.node_id == "live").expect("live");
        assert!(live.connected && live.banned);
        assert_eq!((live.reputation, live.streams), (90, 2));
        assert_eq!(live.permissions, Permissions::default());
    }

    #[test]
    fn disk_space_reads_the_filesystem() {
        let (free, total) = disk_space(std::path::Path::new(".")).expect("statvfs");
        assert!(total > 0 && free <= total);
    }
}
