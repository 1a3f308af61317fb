//! The dashboard's contract with the node: one [`Snapshot`] of everything the
//! dashboard shows, and one [`Action`] for everything it may ask.
//!
//! Why one whole snapshot rather than many small resources: the dashboard
//! draws a frame from one consistent picture, never a mix of a new peer list
//! and an old transfer list, and a client that missed changes catches up by
//! taking the next snapshot (the node pushes them through its event stream,
//! about once a second and on change). Everything is plain data in stable
//! units (bytes, bytes per second, seconds, unix milliseconds), and every time
//! is either an absolute unix time or an age *as of the snapshot*, so drawing
//! never reads a clock and tests are deterministic.
//!
//! Versioning: [`SNAPSHOT_VERSION`] is carried in every snapshot. Fields may
//! be added (with `#[serde(default)]`) without a bump; a change of meaning or
//! a removal bumps it. Enums a later node may extend have a catch-all
//! `#[serde(other)]` variant so an older dashboard still reads them.
//!
//! Size: lists are bounded by the node (see each field); the dashboard
//! draws only visible rows, so 1,000 peers and 10,000 paths are cheap.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The version of the snapshot format this code reads and writes.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Most upload/download rate samples a snapshot carries (5 minutes at 1 s).
pub const MAX_RATE_SAMPLES: usize = 300;
/// Most log events a snapshot carries (the node keeps a ring of them).
pub const MAX_LOG_EVENTS: usize = 1000;

/// Everything the dashboard shows, as of one instant of the node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always [`SNAPSHOT_VERSION`] when produced by this code.
    pub version: u32,
    /// Increases by one with every snapshot the node produces; lets a client
    /// see that it missed some and skip redrawing an unchanged one.
    pub seq: u64,
    /// When the node took this snapshot, unix milliseconds (UTC).
    pub taken_at_ms: u64,
    /// Who and where this node is.
    pub node: NodeSummary,
    /// Disk use per block class and of the disk as a whole.
    pub space: Space,
    /// Upload and download rate history, for the sparklines.
    pub traffic: Traffic,
    /// This node's credit in the market.
    pub credit: Credit,
    /// Things the owner should look at, most severe first.
    pub alerts: Vec<Alert>,
    /// Known peers: connected ones, remembered ones and banned ones.
    pub peers: Vec<Peer>,
    /// Added paths and their contents, in any order (the dashboard sorts).
    pub files: Vec<FileEntry>,
    /// Running, queued and recently finished transfers.
    pub transfers: Vec<Transfer>,
    /// The market tab's data.
    pub market: Market,
    /// The newest tracing events, oldest first, at most [`MAX_LOG_EVENTS`].
    pub logs: Vec<LogEvent>,
}

/// Who and where this node is (the fields of `GET /v1/status`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSummary {
    /// This node's NodeId, text form (52 base32 characters).
    pub node_id: String,
    /// The cairn version the node runs.
    pub version: String,
    /// Addresses other nodes can dial, `ip:port`.
    pub addresses: Vec<String>,
    /// A ticket other nodes can join with (`cairn…`), shown as text and QR.
    pub ticket: String,
    /// Seconds since the node started.
    pub uptime_secs: u64,
    /// The node's data directory.
    pub data_dir: String,
}

/// Space use, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Space {
    /// The owner's own blocks (pinned).
    pub own: ClassUsage,
    /// Blocks kept for others under a contract: the space lent.
    pub hosted: ClassUsage,
    /// Others' blocks kept while space is free.
    pub cache: ClassUsage,
    /// Bytes of this node's data that peers hold for it.
    pub stored_on_peers: u64,
    /// How much this node may store on peers under the quota policy
    /// (`None`: no market policy in force yet).
    pub network_quota: Option<u64>,
    /// Free bytes on the data directory's filesystem.
    pub disk_free: u64,
    /// Size of the data directory's filesystem.
    pub disk_total: u64,
}

/// One block class's use against its quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassUsage {
    /// Bytes stored.
    pub used: u64,
    /// The configured limit, `None` for no limit but the disk.
    pub quota: Option<u64>,
}

/// Transfer-rate history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Seconds between two samples.
    pub sample_secs: u32,
    /// Upload rate samples in bytes per second, oldest first, at most
    /// [`MAX_RATE_SAMPLES`].
    pub up: Vec<u64>,
    /// Download rate samples in bytes per second, oldest first, at most
    /// [`MAX_RATE_SAMPLES`].
    pub down: Vec<u64>,
    /// Bytes sent since the node started.
    pub total_up: u64,
    /// Bytes received since the node started.
    pub total_down: u64,
}

/// Credit, in the market's credit units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    /// Earned minus spent (may be negative within the policy's allowance).
    pub balance: i64,
    /// Credit earned by lending, all time.
    pub earned: u64,
    /// Credit spent by using others' resources, all time.
    pub spent: u64,
}

/// Something the owner should look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub severity: Severity,
    pub kind: AlertKind,
    /// One line for a person, e.g. "/photos has 3 of 6 shards on its worst chunk".
    pub message: String,
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// What an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A path is below its redundancy target.
    BelowRedundancy,
    /// A peer is banned.
    PeerBanned,
    /// The disk or a class quota is (nearly) full.
    DiskFull,
    /// The ledger failed verification.
    Ledger,
    /// A kind this dashboard does not know yet.
    #[serde(other)]
    Other,
}

/// A peer as the transport and the exchange see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// The peer's NodeId, text form.
    pub node_id: String,
    /// The address of the live connection, else the last one known.
    pub address: Option<String>,
    /// Whether a connection is up now.
    pub connected: bool,
    /// Smoothed round-trip time, milliseconds (`None` when not connected).
    pub latency_ms: Option<u32>,
    /// Open yamux streams on the connection.
    pub streams: u32,
    /// The data-stream cipher in use (of the most recently opened stream).
    pub cipher: Option<Cipher>,
    /// Current key epoch of our streams to the peer (sum over open streams'
    /// rotations; grows by one per rotation).
    pub epoch_out: u64,
    /// Current key epoch of the peer's streams to us.
    pub epoch_in: u64,
    /// Seconds since the last key rotation either way.
    pub since_rotation_secs: Option<u64>,
    /// Bytes sent to the peer, all time.
    pub bytes_out: u64,
    /// Bytes received from the peer, all time.
    pub bytes_in: u64,
    /// Credit balance with this peer (positive: it owes us).
    pub credit: i64,
    /// Reputation 0–100 (audits passed, good blocks served).
    pub reputation: u8,
    /// What the peer may do here.
    pub permissions: Permissions,
    /// Whether the peer is on the ban list.
    pub banned: bool,
}

/// A data-stream cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cipher {
    #[serde(rename = "chacha20-poly1305")]
    ChaCha20Poly1305,
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    #[serde(other)]
    Other,
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cipher::ChaCha20Poly1305 => "ChaCha20",
            Cipher::Aes256Gcm => "AES-GCM",
            Cipher::Other => "other",
        })
    }
}

/// What a peer may do on this node (Stasher's client rights).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// May store blocks here.
    pub store: bool,
    /// May fetch blocks from here.
    pub fetch: bool,
    /// May run compute jobs here.
    pub compute: bool,
    /// May relay through here.
    pub relay: bool,
}

impl Permissions {
    /// Everything allowed.
    pub const ALL: Permissions = Permissions {
        store: true,
        fetch: true,
        compute: true,
        relay: true,
    };
}

impl fmt::Display for Permissions {
    /// `sfcr` with `-` for a right not granted, like `ls -l`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |on: bool, ch: char| if on { ch } else { '-' };
        write!(
            f,
            "{}{}{}{}",
            c(self.store, 's'),
            c(self.fetch, 'f'),
            c(self.compute, 'c'),
            c(self.relay, 'r')
        )
    }
}

/// A path in the store: an added root or something under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Absolute, `/`-separated path in the node's namespace (`/photos/2024/a.jpg`).
    pub path: String,
    /// A directory or a file.
    pub kind: EntryKind,
    /// Bytes (a directory: the sum of its files).
    pub size: u64,
    /// The redundancy target in force for this path (its own policy or the
    /// nearest ancestor's).
    pub redundancy: Redundancy,
    /// Whether the policy is set on this path itself (not inherited).
    pub policy_here: bool,
    /// How well the target is met.
    pub health: Health,
}

/// Directory or file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Dir,
    File,
}

/// A redundancy target: whole copies on distinct peers, or k data + m parity
/// shards on distinct peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Redundancy {
    Copies { n: u8 },
    Erasure { k: u8, m: u8 },
}

impl Default for Redundancy {
    fn default() -> Self {
        Redundancy::Copies { n: 1 }
    }
}

impl Redundancy {
    /// Shards (or copies) per chunk when the target is met.
    pub fn target(&self) -> u32 {
        match *self {
            Redundancy::Copies { n } => u32::from(n),
            Redundancy::Erasure { k, m } => u32::from(k) + u32::from(m),
        }
    }

    /// Fewest shards (or copies) per chunk from which the chunk can be read.
    pub fn needed(&self) -> u32 {
        match *self {
            Redundancy::Copies { .. } => 1,
            Redundancy::Erasure { k, .. } => u32::from(k),
        }
    }
}

impl fmt::Display for Redundancy {
    /// The CLI's text form: `copies=3` or `4+2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Redundancy::Copies { n } => write!(f, "copies={n}"),
            Redundancy::Erasure { k, m } => write!(f, "{k}+{m}"),
        }
    }
}

/// How well a path meets its redundancy target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Shards (or copies) available of the path's worst chunk.
    pub available: u32,
    /// Shards (or copies) per chunk the target asks for.
    pub target: u32,
    /// Chunks under the path.
    pub chunks: u64,
    /// Chunks below target but still readable.
    pub chunks_at_risk: u64,
    /// Chunks that cannot be read (fewer than k shards anywhere).
    pub chunks_lost: u64,
    /// Repairs running under the path.
    pub repairs: u32,
}

/// A one-word verdict on a [`Health`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// Every chunk meets the target.
    Healthy,
    /// Some chunks are below target, all are readable.
    AtRisk,
    /// Some chunks cannot be read.
    Lost,
}

impl Health {
    pub fn state(&self) -> HealthState {
        if self.chunks_lost > 0 {
            HealthState::Lost
        } else if self.chunks_at_risk > 0 || self.available < self.target {
            HealthState::AtRisk
        } else {
            HealthState::Healthy
        }
    }
}

/// A block transfer the user started (add, get) or the node runs (repair).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Identifies the transfer for [`Action::CancelTransfer`].
    pub id: u64,
    pub direction: Direction,
    /// What moves: a path, or a cap's short form.
    pub name: String,
    /// Peers involved at the moment.
    pub peers: u32,
    /// Bytes moved so far.
    pub bytes_done: u64,
    /// Bytes in all, when known.
    pub bytes_total: Option<u64>,
    /// Current rate, bytes per second.
    pub rate: u64,
    pub state: TransferState,
}

impl Transfer {
    /// Seconds until done at the current rate, when that can be told.
    pub fn eta_secs(&self) -> Option<u64> {
        let total = self.bytes_total?;
        if self.rate == 0 || self.state != TransferState::Running {
            return None;
        }
        Some(total.saturating_sub(self.bytes_done).div_ceil(self.rate))
    }

    /// Fraction done, 0.0–1.0, when the total is known.
    pub fn ratio(&self) -> Option<f64> {
        let total = self.bytes_total?;
        if total == 0 {
            return Some(1.0);
        }
        Some((self.bytes_done as f64 / total as f64).clamp(0.0, 1.0))
    }
}

/// Which way a transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Placing shards on peers (`add`, repair).
    Up,
    /// Fetching shards from peers (`get`, `cat`).
    Down,
}

/// Where a transfer is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    Queued,
    Running,
    Done,
    Cancelled,
    Failed { error: String },
}

/// The market tab's data. Later issues fill it; an empty market is valid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Market {
    /// Open offers, ours and those seen from peers.
    pub offers: Vec<Offer>,
    /// Contracts this node is party to.
    pub contracts: Vec<Contract>,
    /// The newest receipts of the ledger, newest first (at most 100).
    pub receipts: Vec<Receipt>,
    /// The newest storage-proof audits, newest first (at most 100).
    pub audits: Vec<Audit>,
    /// The ledger's state.
    pub ledger: Ledger,
    /// What this node lends now (the lend form starts from it).
    pub lending: Lending,
}

/// A resource traded in the market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Byte·hours of disk.
    Storage,
    /// Bytes served.
    Bandwidth,
    /// Fuel units of WebAssembly compute.
    Cpu,
    #[serde(other)]
    Other,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Storage => "storage",
            Resource::Bandwidth => "bandwidth",
            Resource::Cpu => "cpu",
            Resource::Other => "other",
        })
    }
}

/// An offer to lend a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub id: String,
    /// The offering node's id; ours when `mine`.
    pub peer: String,
    pub mine: bool,
    pub resource: Resource,
    /// Units offered (bytes for storage and bandwidth, fuel for cpu).
    pub amount: u64,
    /// Credit per unit, in millionths.
    pub price_micros: u64,
}

/// A contract between this node and a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    pub id: String,
    pub peer: String,
    /// Whether this node is the host (lender).
    pub we_host: bool,
    pub resource: Resource,
    pub amount: u64,
    /// Seconds until it ends, `None` for open-ended.
    pub expires_in_secs: Option<u64>,
    pub state: ContractState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractState {
    Active,
    Ended,
    Breached,
    #[serde(other)]
    Other,
}

/// A receipt the counterparty signed, as recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Ledger sequence number.
    pub seq: u64,
    pub peer: String,
    pub resource: Resource,
    pub amount: u64,
    /// Credit moved: positive earned, negative spent.
    pub credit: i64,
    /// Seconds before the snapshot.
    pub age_secs: u64,
}

/// A storage-proof challenge and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// The host challenged (or us, when `we_were_challenged`).
    pub peer: String,
    pub we_were_challenged: bool,
    /// The block challenged, short form.
    pub block: String,
    pub passed: bool,
    pub age_secs: u64,
}

/// The ledger's length, head and last verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub entries: u64,
    /// The signed head's hash, hex (short form is fine).
    pub head: String,
    pub verification: Verification,
}

/// The outcome of the last full check of the ledger's chain and signatures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Verification {
    /// Not checked since the node started.
    #[default]
    Unverified,
    /// Checked and sound, `age_secs` ago.
    Verified { age_secs: u64 },
    /// Checked and broken.
    Failed { reason: String },
}

/// What this node lends (0 / `None`: nothing, or no limit for rates).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lending {
    /// Disk space lent to others, bytes.
    pub storage: u64,
    /// Upload rate limit for serving others, bytes/s.
    pub upload_rate: Option<u64>,
    /// Download rate limit for others' uploads to us, bytes/s.
    pub download_rate: Option<u64>,
    /// CPU lent, percent of one core.
    pub cpu_percent: u8,
}

/// One tracing event of the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvent {
    /// Unix milliseconds (UTC).
    pub time_ms: u64,
    pub level: Level,
    /// The tracing target (module path).
    pub target: String,
    /// The message with its fields, one line.
    pub message: String,
}

/// A tracing level, most severe last so that `>=` filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        })
    }
}

/// Everything the dashboard asks of the node. Each maps to one CLI command
/// (named in the variant's doc) and so to one API call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
#[non_exhaustive]
pub enum Action {
    /// `cairn join TICKET`: connect to a node and remember it.
    Join { ticket: String },
    /// `cairn invite [--pairing]`: make a ticket (with a one-time pairing
    /// secret for one's own devices).
    Invite { pairing: bool },
    /// `cairn peers ban NODE`: disconnect and refuse a peer.
    Ban { peer: String },
    /// `cairn peers allow NODE`: lift a ban.
    Allow { peer: String },
    /// `cairn peers set NODE store=on …`: change a peer's permissions; `None`
    /// leaves a right as it is.
    SetPermissions {
        peer: String,
        changes: PermissionChanges,
    },
    /// `cairn add PATH [--redundancy R]`: add a local path to the store.
    Add {
        path: String,
        redundancy: Option<Redundancy>,
    },
    /// `cairn redundancy PATH R`: set a path's redundancy target.
    SetRedundancy {
        path: String,
        redundancy: Redundancy,
    },
    /// `cairn get CAP|PATH DEST`: fetch a cap (or a stored path) to a local path.
    Get { source: String, dest: String },
    /// `cairn cap PATH` (the `export` of the files tab): the read-cap of a
    /// stored path, to share it; the answer's message carries the cap.
    ExportCap { path: String },
    /// `cairn cat CAP|PATH`: the start of a file's contents, as text.
    Cat { source: String },
    /// `cairn ls [CAP|PATH]`: list a directory.
    Ls { source: Option<String> },
    /// `cairn rm PATH`: remove a stored path (its blocks go at the next gc).
    Remove { path: String },
    /// `cairn gc`: drop blocks nothing refers to.
    Gc,
    /// `cairn verify`: check the store (and repair what can be).
    Verify,
    /// Cancel a transfer (see [`Transfer::id`]).
    CancelTransfer { id: u64 },
    /// `cairn lend …`: what this node lends; `None` leaves a setting as is.
    Lend { changes: LendChanges },
    /// Any other CLI command typed at the `:` line (e.g. `market …`,
    /// `stream …`), words as typed; the node runs it as the CLI would.
    Cli { args: Vec<String> },
}

impl Action {
    /// Whether the action destroys or refuses something, so the dashboard
    /// asks before sending it.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            Action::Ban { .. } | Action::Remove { .. } | Action::Gc | Action::CancelTransfer { .. }
        )
    }
}

impl fmt::Display for Action {
    /// The action as the CLI command that does the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Join { ticket } => write!(f, "join {ticket}"),
            Action::Invite { pairing: false } => write!(f, "invite"),
            Action::Invite { pairing: true } => write!(f, "invite --pairing"),
            Action::Ban { peer } => write!(f, "peers ban {peer}"),
            Action::Allow { peer } => write!(f, "peers allow {peer}"),
            Action::SetPermissions { peer, changes } => write!(f, "peers set {peer}{changes}"),
            Action::Add {
                path,
                redundancy: None,
            } => write!(f, "add {path}"),
            Action::Add {
                path,
                redundancy: Some(r),
            } => write!(f, "add {path} --redundancy {r}"),
            Action::SetRedundancy { path, redundancy } => {
                write!(f, "redundancy {path} {redundancy}")
            }
            Action::Get { source, dest } => write!(f, "get {source} {dest}"),
            Action::ExportCap { path } => write!(f, "cap {path}"),
            Action::Cat { source } => write!(f, "cat {source}"),
            Action::Ls { source: None } => write!(f, "ls"),
            Action::Ls { source: Some(s) } => write!(f, "ls {s}"),
            Action::Remove { path } => write!(f, "rm {path}"),
            Action::Gc => write!(f, "gc"),
            Action::Verify => write!(f, "verify"),
            Action::CancelTransfer { id } => write!(f, "cancel {id}"),
            Action::Lend { changes } => write!(f, "lend{changes}"),
            Action::Cli { args } => write!(f, "{}", args.join(" ")),
        }
    }
}

/// Changes to a peer's rights; `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionChanges {
    pub store: Option<bool>,
    pub fetch: Option<bool>,
    pub compute: Option<bool>,
    pub relay: Option<bool>,
}

impl fmt::Display for PermissionChanges {
    /// ` store=on fetch=off …` (leading space per change).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, v) in [
            ("store", self.store),
            ("fetch", self.fetch),
            ("compute", self.compute),
            ("relay", self.relay),
        ] {
            if let Some(on) = v {
                write!(f, " {name}={}", if on { "on" } else { "off" })?;
            }
        }
        Ok(())
    }
}

/// Changes to what this node lends; `None` keeps the current value.
/// For the rates, `Some(None)` removes the limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LendChanges {
    /// Disk space lent, bytes.
    pub storage: Option<u64>,
    /// Upload rate limit, bytes/s (`Some(None)`: unlimited).
    pub upload_rate: Option<Option<u64>>,
    /// Download rate limit, bytes/s (`Some(None)`: unlimited).
    pub download_rate: Option<Option<u64>>,
    /// CPU lent, percent of one core (0–100).
    pub cpu_percent: Option<u8>,
}

impl fmt::Display for LendChanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.storage {
            write!(f, " --storage {s}")?;
        }
        let rate = |r: Option<u64>| r.map_or_else(|| "unlimited".to_owned(), |v| format!("{v}"));
        if let Some(r) = self.upload_rate {
            write!(f, " --upload {}", rate(r))?;
        }
        if let Some(r) = self.download_rate {
            write!(f, " --download {}", rate(r))?;
        }
        if let Some(c) = self.cpu_percent {
            write!(f, " --cpu {c}")?;
        }
        Ok(())
    }
}

/// What the integrator tells the dashboard besides snapshots: the outcome
/// of an action it sent, or a change in the link to the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "notice")]
pub enum Notice {
    /// The node carried out an action; `message` is its answer for a person
    /// (e.g. the ticket of an invite, the cap of an export, a cat's text).
    Done { action: Action, message: String },
    /// The node refused or failed an action; `error` says why.
    Failed { action: Action, error: String },
    /// The snapshot feed is live again.
    Connected,
    /// The snapshot feed is lost; the dashboard keeps showing the last
    /// snapshot, marked stale, with this reason.
    Disconnected { reason: String },
}
