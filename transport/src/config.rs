//! Every size, count and time the transport enforces, in one serde table.
//!
//! The node embeds this struct as the `[transport]` table of its
//! `config.toml`; every field has a default so a partial table is valid.
//! Values that would make a dependency misbehave are clamped by
//! [`TransportConfig::normalized`] rather than trusted.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stream_cipher::CipherKind;

/// Limits and budgets of the transport. All durations are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransportConfig {
    /// Largest plaintext of one per-stream frame, sent and accepted (bytes,
    /// default 65483 so that frame + 24-byte stream overhead + 12-byte yamux
    /// header fill one 65535-byte Noise message exactly;
    /// 1024 ..= 1 MiB). Peers must agree on a value at least as large as the
    /// sender's.
    pub max_frame_size: u32,
    /// Streams open at once on one connection, each way (the control stream
    /// not counted). A peer opening more is disconnected.
    pub max_streams_per_connection: u32,
    /// The yamux receive window of one connection that backs every stream's
    /// guaranteed 256 KiB, bytes. Raised to at least 256 KiB ×
    /// `max_streams_per_connection`.
    pub yamux_max_connection_window: u64,
    /// Receive window a connection lends on top, bytes, into which yamux
    /// grows a busy stream's window (doubling it while the reader empties it
    /// within two round trips). Without it one stream never has more than
    /// 256 KiB in flight, which stalls a single bulk stream. A window only
    /// grows as fast as this side reads, so a peer cannot inflate it.
    pub stream_window_growth: u64,
    /// Time allowed for the TCP connect plus the Noise handshake, ms.
    pub handshake_timeout_ms: u64,
    /// A connection with no application stream open for this long is closed,
    /// ms; so is one that receives nothing at all (not even the control
    /// stream's pings) for this long.
    pub idle_timeout_ms: u64,
    /// Time a stream opener has to send its protocol header, ms.
    pub stream_header_timeout_ms: u64,
    /// Connections at once, all peers together.
    pub max_connections: u32,
    /// Connections at once from one remote IP address.
    pub max_connections_per_ip: u32,
    /// Connections waiting in `Endpoint::accept` before new ones are dropped.
    pub accept_queue: u32,
    /// Streams waiting in `Connection::accept_stream` before new ones are reset.
    pub stream_accept_queue: u32,
    /// Sender rotates a stream key after this many plaintext bytes (0 = never).
    pub rotate_after_bytes: u64,
    /// Sender rotates a stream key after this long, ms (0 = never).
    pub rotate_after_ms: u64,
    /// The control stream runs a fresh X25519 exchange this often, ms.
    pub control_ratchet_interval_ms: u64,
    /// Control-stream ping interval used for RTT, ms.
    pub ping_interval_ms: u64,
    /// Cipher of streams this side opens and of its own sending direction.
    pub default_cipher: CipherKind,
    /// Rule breaks from one IP within `offense_window_ms` that earn a ban.
    pub offenses_before_ban: u32,
    /// Window in which offenses are counted, ms.
    pub offense_window_ms: u64,
    /// How long a banned IP is refused, ms.
    pub ban_cooldown_ms: u64,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            max_frame_size: 65_483,
            max_streams_per_connection: 1024,
            yamux_max_connection_window: 1024 * 256 * 1024,
            stream_window_growth: 32 * 1024 * 1024,
            handshake_timeout_ms: 10_000,
            idle_timeout_ms: 120_000,
            stream_header_timeout_ms: 10_000,
            max_connections: 4096,
            max_connections_per_ip: 64,
            accept_queue: 128,
            stream_accept_queue: 256,
            rotate_after_bytes: 4 * 1024 * 1024,
            rotate_after_ms: 60_000,
            control_ratchet_interval_ms: 60_000,
            ping_interval_ms: 15_000,
            default_cipher: CipherKind::Aes256Gcm,
            offenses_before_ban: 3,
            offense_window_ms: 600_000,
            ban_cooldown_ms: 600_000,
        }
    }
}

/// Protocol ceiling of a per-stream frame's plaintext.
pub const MAX_FRAME_SIZE_CEILING: u32 = 1024 * 1024;

impl TransportConfig {
    /// A copy with every value forced into its valid range.
    pub fn normalized(&self) -> TransportConfig {
        let mut c = self.clone();
        c.max_frame_size = c.max_frame_size.clamp(1024, MAX_FRAME_SIZE_CEILING);
        c.max_streams_per_connection = c.max_streams_per_connection.clamp(1, 65_536);
        let min_window =
            (u64::from(c.max_streams_per_connection) + STREAM_SLACK as u64) * 256 * 1024;
        c.yamux_max_connection_window = c.yamux_max_connection_window.max(min_window);
        c.stream_window_growth = c.stream_window_growth.min(MAX_STREAM_WINDOW_GROWTH);
        c.handshake_timeout_ms = c.handshake_timeout_ms.max(1);
        c.idle_timeout_ms = c.idle_timeout_ms.max(1);
        c.stream_header_timeout_ms = c.stream_header_timeout_ms.max(1);
        c.max_connections = c.max_connections.max(1);
        c.max_connections_per_ip = c.max_connections_per_ip.max(1);
        c.accept_queue = c.accept_queue.clamp(1, 65_536);
        c.stream_accept_queue = c.stream_accept_queue.clamp(1, 65_536);
        c.control_ratchet_interval_ms = c.control_ratchet_interval_ms.max(1000);
        c.ping_interval_ms = c.ping_interval_ms.max(100);
        c.offenses_before_ban = c.offenses_before_ban.max(1);
        c
    }
    pub(crate) fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }
    pub(crate) fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
}

/// Ceiling of [`TransportConfig::stream_window_growth`] (1 GiB).
pub const MAX_STREAM_WINDOW_GROWTH: u64 = 1 << 30;

/// Streams yamux may hold above our own limit, so that a flood is seen by us
/// (and punished) rather than silently reset by yamux.
pub(crate) const STREAM_SLACK: u32 = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_table_fills_in_defaults() {
        let c: TransportConfig = serde_json::from_str(r#"{"max_frame_size": 4096}"#).unwrap();
        assert_eq!(c.max_frame_size, 4096);
        assert_eq!(
            c.idle_timeout_ms,
            TransportConfig::default().idle_timeout_ms
        );
    }

    #[test]
    fn normalized_raises_window_to_cover_all_streams() {
        let c = TransportConfig {
            yamux_max_connection_window: 1,
            ..Default::default()
        };
        let n = c.normalized();
        assert!(
            n.yamux_max_connection_window >= u64::from(n.max_streams_per_connection) * 256 * 1024
        );
    }

    #[test]
    fn normalized_caps_window_growth() {
        let c = TransportConfig {
            stream_window_growth: u64::MAX,
            ..Default::default()
        };
        assert_eq!(
            c.normalized().stream_window_growth,
            MAX_STREAM_WINDOW_GROWTH
        );
        assert_eq!(
            TransportConfig::default().normalized().stream_window_growth,
            32 * 1024 * 1024
        );
    }
}
