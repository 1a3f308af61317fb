//! Live counters for the dashboard, shared between I/O tasks and handles.
//!
//! Counters are atomics written on the data path without locks; the
//! snapshot types are plain values a caller can keep or serialise.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::identity::NodeId;
use crate::stream_cipher::CipherKind;

/// Shared per-connection state written by the I/O tasks.
#[derive(Debug)]
pub(crate) struct ConnShared {
    pub created: Instant,
    pub bytes_tx: AtomicU64,
    pub bytes_rx: AtomicU64,
    pub noise_rekeys_tx: AtomicU64,
    pub noise_rekeys_rx: AtomicU64,
    pub last_rx_ms: AtomicU64,
    /// Milliseconds after `created` of the last application stream opening or
    /// closing; with `streams_open == 0` it is when the connection went idle.
    pub last_stream_ms: AtomicU64,
    pub rtt_us: AtomicU64,
    pub control_ratchets: AtomicU64,
    pub streams_open: AtomicU32,
    violation: Mutex<Option<&'static str>>,
}

impl ConnShared {
    pub fn new(now: Instant) -> Self {
        ConnShared {
            created: now,
            bytes_tx: AtomicU64::new(0),
            bytes_rx: AtomicU64::new(0),
            noise_rekeys_tx: AtomicU64::new(0),
            noise_rekeys_rx: AtomicU64::new(0),
            last_rx_ms: AtomicU64::new(0),
            last_stream_ms: AtomicU64::new(0),
            rtt_us: AtomicU64::new(0),
            control_ratchets: AtomicU64::new(0),
            streams_open: AtomicU32::new(0),
            violation: Mutex::new(None),
        }
    }
    /// Records the first rule a peer broke.
    pub fn set_violation(&self, reason: &'static str) {
        if let Ok(mut v) = self.violation.lock()
            && v.is_none()
        {
            *v = Some(reason);
        }
    }
    pub fn violation(&self) -> Option<&'static str> {
        self.violation.lock().ok().and_then(|v| *v)
    }
    fn ms_since_created(&self) -> u64 {
        u64::try_from(
            tokio::time::Instant::now()
                .into_std()
                .saturating_duration_since(self.created)
                .as_millis(),
        )
        .unwrap_or(u64::MAX)
    }
    pub fn touch_rx(&self) {
        self.last_rx_ms
            .store(self.ms_since_created(), Ordering::Relaxed);
    }
    /// Records that an application stream opened or closed.
    pub fn touch_streams(&self) {
        self.last_stream_ms
            .store(self.ms_since_created(), Ordering::Relaxed);
    }
    /// Why the connection should be closed as idle at `now`, if it should:
    /// no application stream open for `idle` (control traffic and pings do
    /// not count), or nothing at all received for `idle` (a dead peer).
    pub fn idle_reason(&self, now: Instant, idle: Duration) -> Option<&'static str> {
        let since = |ms: &AtomicU64| {
            now.saturating_duration_since(
                self.created + Duration::from_millis(ms.load(Ordering::Relaxed)),
            )
        };
        if self.streams_open.load(Ordering::Acquire) == 0 && since(&self.last_stream_ms) >= idle {
            return Some("idle timeout: no application streams");
        }
        if since(&self.last_rx_ms) >= idle {
            return Some("idle timeout: nothing received");
        }
        None
    }
}

/// Shared per-stream counters.
#[derive(Debug)]
pub(crate) struct StreamShared {
    pub id: u32,
    pub protocol: String,
    pub created: Instant,
    pub bytes_tx: AtomicU64,
    pub bytes_rx: AtomicU64,
    pub send_epoch: AtomicU32,
    pub recv_epoch: AtomicU32,
    pub send_cipher: AtomicU32,
    pub recv_cipher: AtomicU32,
    pub rotations_tx: AtomicU64,
    pub rotations_rx: AtomicU64,
    /// Milliseconds after `created` of the last rotation either way, +1 (0 = never).
    pub last_rotation_ms: AtomicU64,
}

impl StreamShared {
    pub fn new(id: u32, protocol: String, now: Instant) -> Self {
        StreamShared {
            id,
            protocol,
            created: now,
            bytes_tx: AtomicU64::new(0),
            bytes_rx: AtomicU64::new(0),
            send_epoch: AtomicU32::new(0),
            recv_epoch: AtomicU32::new(0),
            send_cipher: AtomicU32::new(0),
            recv_cipher: AtomicU32::new(0),
            rotations_tx: AtomicU64::new(0),
            rotations_rx: AtomicU64::new(0),
            last_rotation_ms: AtomicU64::new(0),
        }
    }
    pub fn mark_rotation(&self, now: Instant) {
        let ms = u64::try_from(now.saturating_duration_since(self.created).as_millis())
            .unwrap_or(u64::MAX - 1);
        self.last_rotation_ms
            .store(ms.saturating_add(1), Ordering::Relaxed);
    }
    pub fn snapshot(&self) -> StreamStats {
        let last = self.last_rotation_ms.load(Ordering::Relaxed);
        StreamStats {
            id: self.id,
            protocol: self.protocol.clone(),
            bytes_sent: self.bytes_tx.load(Ordering::Relaxed),
            bytes_received: self.bytes_rx.load(Ordering::Relaxed),
            send_cipher: CipherKind::from_wire(self.send_cipher.load(Ordering::Relaxed) as u8),
            recv_cipher: CipherKind::from_wire(self.recv_cipher.load(Ordering::Relaxed) as u8),
            send_epoch: self.send_epoch.load(Ordering::Relaxed),
            recv_epoch: self.recv_epoch.load(Ordering::Relaxed),
            rotations_sent: self.rotations_tx.load(Ordering::Relaxed),
            rotations_received: self.rotations_rx.load(Ordering::Relaxed),
            last_rotation: (last > 0).then(|| self.created + Duration::from_millis(last - 1)),
        }
    }
}

/// A snapshot of one stream.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct StreamStats {
    /// yamux stream id.
    pub id: u32,
    /// Protocol named in the stream header.
    pub protocol: String,
    /// Plaintext bytes written.
    pub bytes_sent: u64,
    /// Plaintext bytes read.
    pub bytes_received: u64,
    /// Cipher of our sending direction.
    pub send_cipher: Option<CipherKind>,
    /// Cipher of the peer's sending direction (once its first frame arrived).
    pub recv_cipher: Option<CipherKind>,
    /// Current key epoch of our sending direction.
    pub send_epoch: u32,
    /// Current key epoch of the peer's sending direction.
    pub recv_epoch: u32,
    /// Rotations of our sending key.
    pub rotations_sent: u64,
    /// Rotations of the peer's key we followed.
    pub rotations_received: u64,
    /// When a key last rotated, either way.
    #[serde(skip)]
    pub last_rotation: Option<Instant>,
}

/// A snapshot of one connection.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Peer's NodeId.
    pub remote_node_id: NodeId,
    /// Peer's address.
    pub remote_addr: std::net::SocketAddr,
    /// Whether we dialled.
    pub outbound: bool,
    /// Bytes written to the socket (Noise framing included).
    pub bytes_sent: u64,
    /// Bytes read from the socket (Noise framing included).
    pub bytes_received: u64,
    /// Noise rekeys of our sending direction.
    pub noise_rekeys_sent: u64,
    /// Noise rekeys of the peer's sending direction.
    pub noise_rekeys_received: u64,
    /// DH ratchet steps of the control stream.
    pub control_ratchets: u64,
    /// Round-trip time from the last control ping, if measured.
    pub rtt: Option<Duration>,
    /// Age of the connection.
    pub age: Duration,
    /// Open data streams.
    pub streams: Vec<StreamStats>,
}
