//! The node's configuration file, `config.toml` in the data directory.
//!
//! `cairn init` writes [`DEFAULT_TOML`]: every setting with its default value
//! and a comment saying what it does, so a user edits a documented file rather
//! than guessing names. Unknown keys are an error (a typo must not be silently
//! ignored), and a missing key takes its default. A unit test keeps the
//! template and [`Config::default`] identical.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Every setting of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub node: NodeConfig,
    pub api: ApiConfig,
    pub transport: cairn_transport::TransportConfig,
    pub store: StoreConfig,
    pub dht: crate::dht::service::DhtConfig,
    pub peers: PeersConfig,
    pub placement: PlacementConfig,
    pub exchange: ExchangeLimitsConfig,
    pub host: HostConfig,
}

/// Host filters: what this node refuses to keep for others among public
/// (plaintext) shares. Encrypted shards cannot be filtered by type (the
/// host sees only ciphertext); their limits are `store.quota_hosted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostConfig {
    /// Filter public shares by type at all.
    pub public_filter: bool,
    /// Extensions refused (case-insensitive, without the dot).
    pub refuse_extensions: Vec<String>,
    /// Refuse files whose first bytes are an executable's magic bytes.
    pub refuse_magic: bool,
}

impl Default for HostConfig {
    fn default() -> Self {
        let f = crate::exchange::filter::HostFilter::default();
        HostConfig {
            public_filter: f.enabled,
            refuse_extensions: f.refuse_extensions,
            refuse_magic: f.refuse_magic,
        }
    }
}

impl From<&HostConfig> for crate::exchange::filter::HostFilter {
    fn from(c: &HostConfig) -> Self {
        crate::exchange::filter::HostFilter {
            enabled: c.public_filter,
            refuse_extensions: c.refuse_extensions.clone(),
            refuse_magic: c.refuse_magic,
        }
    }
}

/// Where `cairn add` puts shards when the node has peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PlacementConfig {
    /// Keep a local copy of every shard placed on peers.
    pub keep_local: bool,
}

/// Bandwidth limits of the block exchange, bytes per second (0: unlimited).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangeLimitsConfig {
    pub up: u64,
    pub down: u64,
    pub peer_up: u64,
    pub peer_down: u64,
}

/// The local HTTP API that the CLI and the dashboard use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Loopback address the API listens on; port 0 picks a free port (the
    /// bound address is written to `api.addr` in the data directory).
    pub listen: SocketAddr,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_API_PORT)),
        }
    }
}

/// Settings of the node as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Addresses the transport listens on.
    pub listen: Vec<SocketAddr>,
    /// Addresses put in tickets. Empty: the listen addresses, with an
    /// unspecified IP (0.0.0.0 / ::) replaced by this machine's interface
    /// addresses.
    pub announce: Vec<SocketAddr>,
    /// Log filter in `tracing` syntax; the `RUST_LOG` variable wins over it.
    pub log: String,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT))],
            announce: Vec::new(),
            log: "info".to_owned(),
        }
    }
}

/// Settings of the block store (`DIR/store`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Average chunk size of content-defined chunking, in bytes (min is a
    /// quarter, max four times this). Between 1024 and 4194304.
    pub chunk_avg: u32,
    /// Default redundancy of `cairn add`: "k+m" (k data + m parity shards).
    pub redundancy: String,
    /// AEAD for new chunks: "aes256-gcm-siv" or "xchacha20-poly1305".
    pub cipher: crate::store::Cipher,
    /// Most bytes of `own` blocks (0: unlimited).
    pub quota_own: u64,
    /// Most bytes of `hosted` blocks: the space lent to others (0: unlimited).
    pub quota_hosted: u64,
    /// Most bytes of `cache` blocks (0: unlimited).
    pub quota_cache: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            chunk_avg: 1 << 20,
            redundancy: "4+2".to_owned(),
            cipher: crate::store::Cipher::Aes256Gcm,
            quota_own: 0,
            quota_hosted: 0,
            quota_cache: 0,
        }
    }
}

impl StoreConfig {
    /// The quota of a class (0: unlimited).
    pub fn quota(&self, c: crate::store::Class) -> u64 {
        match c {
            crate::store::Class::Own => self.quota_own,
            crate::store::Class::Hosted => self.quota_hosted,
            crate::store::Class::Cache => self.quota_cache,
        }
    }
}

/// Peer management: bootstrap, default rights, bans, pairing, redial.
///
/// Default rights: cairn is a storage network among people who chose to join
/// each other, so a joined peer may store and fetch by default; compute and
/// relay cost this node more and must be granted (own devices get them all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeersConfig {
    /// Tickets dialled at start and remembered as bootstrap peers.
    pub bootstrap: Vec<String>,
    /// Default rights of a newly met peer.
    pub store: bool,
    pub fetch: bool,
    pub compute: bool,
    pub relay: bool,
    /// Proven offences (e.g. a block that does not match its id) after
    /// which a peer is banned; 0: never automatically.
    pub ban_after_offences: u32,
    /// Lifetime of a pairing secret from `cairn invite --pairing`, seconds.
    pub pairing_ttl_secs: u64,
    /// First wait before redialling a lost peer, ms (doubles per failure) ...
    pub redial_min_ms: u64,
    /// ... up to this, ms.
    pub redial_max_ms: u64,
    /// Advertise this node and find others on the local network (mDNS).
    pub mdns: bool,
}

impl Default for PeersConfig {
    fn default() -> Self {
        PeersConfig {
            bootstrap: Vec::new(),
            store: true,
            fetch: true,
            compute: false,
            relay: false,
            ban_after_offences: 3,
            pairing_ttl_secs: 3600,
            redial_min_ms: 1000,
            redial_max_ms: 300_000,
            mdns: true,
        }
    }
}

/// The TCP port a node listens on unless configured otherwise.
pub const DEFAULT_PORT: u16 = 7341;
/// The loopback port of the local API unless configured otherwise.
pub const DEFAULT_API_PORT: u16 = 7342;

/// The commented configuration file that `cairn init` writes.
pub const DEFAULT_TOML: &str = r#"# cairn node configuration.
#
# Every setting is listed with its default value. Delete a line to go back to
# the default; an unknown key is an error.

[node]
# Addresses the transport listens on (TCP).
listen = ["0.0.0.0:7341"]
# Addresses put in tickets (`cairn invite`, `cairn id`). Empty: the listen
# addresses, with 0.0.0.0 replaced by this machine's interface addresses.
announce = []
# Log filter in tracing syntax (e.g. "info", "cairn=debug"). RUST_LOG wins.
log = "info"

[api]
# Loopback address of the local HTTP API used by the CLI and the dashboard.
# Requests need the token in api.token. Port 0 picks a free port.
listen = "127.0.0.1:7342"

[transport]
# Largest plaintext of one per-stream frame, bytes (1024 ..= 1048576). The
# default fills one 65535-byte Noise message with the frame and its headers.
max_frame_size = 65483
# Streams open at once on one connection, each way (control stream not counted).
max_streams_per_connection = 1024
# yamux receive window of one connection backing each stream's guaranteed
# 256 KiB, bytes (raised to at least 256 KiB per allowed stream).
yamux_max_connection_window = 268435456
# Receive window a connection lends on top of that, bytes (at most 1 GiB), into
# which yamux grows a busy stream's window as fast as this side reads it. 0
# keeps every stream at 256 KiB in flight, which stalls single bulk streams.
stream_window_growth = 33554432
# Time allowed for the TCP connect plus the Noise handshake, ms.
handshake_timeout_ms = 10000
# A connection with no application stream open (or that receives nothing) for
# this long is closed, ms; control-stream pings do not keep it open.
idle_timeout_ms = 120000
# Time a stream opener has to send its protocol header, ms.
stream_header_timeout_ms = 10000
# Connections at once, all peers together.
max_connections = 4096
# Connections at once from one remote IP address.
max_connections_per_ip = 64
# Connections waiting to be accepted before new ones are dropped.
accept_queue = 128
# Streams waiting to be accepted before new ones are reset.
stream_accept_queue = 256
# A sender rotates its stream key after this many bytes (0 = never) ...
rotate_after_bytes = 4194304
# ... or after this long, ms (0 = never), whichever comes first.
rotate_after_ms = 60000
# The control stream runs a fresh X25519 exchange this often, ms.
control_ratchet_interval_ms = 60000
# Control-stream ping interval (round-trip time), ms.
ping_interval_ms = 15000
# Cipher of the streams this node sends on: "aes-256-gcm" or "chacha20-poly1305".
default_cipher = "aes-256-gcm"
# Rule breaks from one IP within offense_window_ms that earn a ban ...
offenses_before_ban = 3
offense_window_ms = 600000
# ... and how long a banned IP is refused, ms.
ban_cooldown_ms = 600000

[store]
# Average chunk size in bytes for content-defined chunking (1024..4194304).
# Smaller finds more duplicate data, larger is faster; see docs/STORE.md.
chunk_avg = 1048576
# Default redundancy of `cairn add`: k data + m parity shards per chunk; any
# k rebuild it. Override per add with --redundancy k+m or --copies N.
redundancy = "4+2"
# Cipher of new chunks: "aes256-gcm" (fastest to read back here),
# "aes256-gcm-siv" or "xchacha20-poly1305". Chunks keep the cipher they
# were written with; all three stay readable.
cipher = "aes256-gcm"
# Quotas in bytes per class of block (0: unlimited). A write past a quota
# is refused whole. own: your files; hosted: space lent to others under
# contract; cache: others' blocks kept while space is free.
quota_own = 0
quota_hosted = 0
quota_cache = 0

[dht]
# Time a peer has to answer one dht/1 request (dial, stream, response), ms.
request_timeout_ms = 10000
# Longest a DHT operation (lookup, provide, put, get) may take, ms.
operation_timeout_ms = 60000
# Inbound dht/1 streams served at once; more are dropped.
max_inbound_streams = 64
# Outbound dht/1 requests in flight at once.
max_outbound_requests = 256
# Requests per second one peer may sustain, and the burst it may send at once.
inbound_rate_per_sec = 50
inbound_burst = 100

[peers]
# Tickets (cairn…) dialled at start and remembered as bootstrap peers.
bootstrap = []
# Rights of a newly met peer: store blocks here, fetch blocks from here, run
# compute jobs here, relay through here. Own devices (paired with
# `cairn invite --pairing`) get every right. Change one peer's rights with
# `cairn peers set NODE store=on fetch=off`.
store = true
fetch = true
compute = false
relay = false
# Proven offences (e.g. a block that does not match its id) that ban a peer;
# 0: never automatically.
ban_after_offences = 3
# Lifetime of a pairing secret from `cairn invite --pairing`, seconds.
pairing_ttl_secs = 3600
# Redialling a lost peer: first wait, doubling per failure up to the max, ms.
redial_min_ms = 1000
redial_max_ms = 300000
# Advertise this node and meet other cairn nodes on the local network (mDNS,
# service _cairn._tcp). Nodes found are dialled and their NodeId proven by the
# handshake like a ticket's.
mdns = true

[placement]
# With peers, `cairn add` puts each chunk's k+m shards on distinct peers that
# may store. true: also keep every shard here; false: keep only what no peer
# took (and the manifests).
keep_local = false

[exchange]
# Bandwidth limits of block exchange, bytes per second (0: unlimited):
# all peers together up and down, and each peer up and down.
up = 0
down = 0
peer_up = 0
peer_down = 0

[host]
# What this node keeps for others of public shares (`cairn add --public`,
# plaintext). Encrypted shards cannot be filtered by type: a host sees only
# ciphertext. true: apply the two rules below to public shares.
public_filter = true
# Public files with these extensions are refused (case-insensitive, no dot).
# The default refuses programs, installers, libraries and scripts.
refuse_extensions = [
  "exe", "dll", "sys", "msi", "msp", "scr", "com", "pif", "cpl", "lnk", "bat",
  "cmd", "ps1", "psm1", "vbs", "vbe", "wsf", "wsh", "hta", "jse", "sh",
  "bash", "so", "deb", "rpm", "run", "appimage", "app", "dmg", "pkg", "dylib",
  "apk", "jar", "class",
]
# Refuse public files whose first bytes are an executable's magic: Windows
# PE (MZ), ELF, Mach-O, Java class, WebAssembly, #! scripts.
refuse_magic = true
"#;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {source}")]
    Parse {
        path: std::path::PathBuf,
        source: Box<toml::de::Error>,
    },
}

impl Config {
    /// Load a configuration file; a missing key takes its default.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_holds_exactly_the_defaults() {
        let parsed: Config = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(parsed, Config::default());
        // And every default is written out: serialising the defaults gives
        // no key that the template lacks.
        let full: toml::Value = toml::Value::try_from(Config::default()).unwrap();
        let template: toml::Value = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(full, template);
    }

    #[test]
    fn unknown_key_is_an_error() {
        let err = toml::from_str::<Config>("[node]\nlisen = []\n").unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
    }

    #[test]
    fn missing_keys_take_defaults() {
        let c: Config = toml::from_str("[node]\nlog = \"debug\"\n").unwrap();
        assert_eq!(c.node.log, "debug");
        assert_eq!(c.node.listen, NodeConfig::default().listen);
    }
}
