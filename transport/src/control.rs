//! The control stream: a sans-io state machine that carries stream keys and
//! runs a DH ratchet.
//!
//! The dialler's first yamux stream. Each side first sends a plaintext
//! `Hello` with an X25519 public key; the root key mixes that DH with the
//! Noise handshake hash. Every later message is sealed (ChaCha20-Poly1305)
//! under a per-direction key derived from the current root. At intervals the
//! dialler proposes a fresh X25519 key (`Ratchet`), the listener answers
//! (`RatchetAck`), and both move to a root that mixes the new DH secret, so
//! whoever stole a root key loses it at the next step (post-compromise
//! security). Frames carry the ratchet epoch so the receiver knows which key
//! to use across the switch; it holds at most the current and the next.
//!
//! Nothing here touches sockets or clocks: `on_frame` and `poll` take `now`
//! and return [`Output`]s for the driver to act on.

use std::time::{Duration, Instant};

use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use rand::rngs::OsRng;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::stream_cipher::CipherKind;

/// Largest control frame body.
pub const MAX_CONTROL_FRAME: usize = 512;
/// Version in `Hello`.
pub const CONTROL_VERSION: u8 = 1;
/// Shortest interval between two ratchet steps a listener accepts.
pub const MIN_RATCHET_INTERVAL: Duration = Duration::from_secs(1);

const T_HELLO: u8 = 0x01;
const T_RATCHET: u8 = 0x02;
const T_RATCHET_ACK: u8 = 0x03;
const T_STREAM_KEY: u8 = 0x04;
const T_KEY_ACK: u8 = 0x05;
const T_PING: u8 = 0x06;
const T_PONG: u8 = 0x07;

/// A control message (the plaintext of a sealed frame).
#[derive(Clone, PartialEq, Eq)]
pub enum ControlMsg {
    /// Dialler proposes a ratchet step with a fresh X25519 public key.
    Ratchet {
        /// New public key.
        public: [u8; 32],
    },
    /// Listener completes the ratchet step.
    RatchetAck {
        /// New public key.
        public: [u8; 32],
    },
    /// The key the sender will use on `stream_id` from `epoch` on.
    StreamKey {
        /// yamux stream id.
        stream_id: u32,
        /// Key epoch.
        epoch: u32,
        /// Cipher of this key.
        cipher: CipherKind,
        /// Key bytes.
        key: Zeroizing<[u8; 32]>,
    },
    /// The sender started reading `stream_id` under `epoch` and erased older keys.
    KeyAck {
        /// yamux stream id.
        stream_id: u32,
        /// Epoch now in use.
        epoch: u32,
    },
    /// RTT probe.
    Ping {
        /// Echoed in the pong.
        nonce: u64,
    },
    /// RTT answer.
    Pong {
        /// The ping's nonce.
        nonce: u64,
    },
}

impl std::fmt::Debug for ControlMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlMsg::Ratchet { .. } => f.write_str("Ratchet"),
            ControlMsg::RatchetAck { .. } => f.write_str("RatchetAck"),
            ControlMsg::StreamKey {
                stream_id,
                epoch,
                cipher,
                ..
            } => write!(f, "StreamKey({stream_id}, {epoch}, {cipher:?})"),
            ControlMsg::KeyAck { stream_id, epoch } => write!(f, "KeyAck({stream_id}, {epoch})"),
            ControlMsg::Ping { nonce } => write!(f, "Ping({nonce})"),
            ControlMsg::Pong { nonce } => write!(f, "Pong({nonce})"),
        }
    }
}

/// Why the control stream failed; all but `Crypto` are peer faults.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlError {
    /// A message could not be decoded.
    #[error("malformed control message")]
    Malformed,
    /// Unknown message type.
    #[error("unknown control message type {0:#x}")]
    UnknownType(u8),
    /// Frame larger than allowed.
    #[error("control frame too long")]
    TooLong,
    /// Wrong `Hello` (version or shape).
    #[error("bad control hello")]
    BadHello,
    /// A sealed frame failed to open or named an unexpected epoch.
    #[error("control frame failed authentication")]
    Auth,
    /// A ratchet message out of turn or too frequent.
    #[error("ratchet message out of turn")]
    RatchetOutOfTurn,
    /// A message only the other role may send.
    #[error("message not allowed from this side")]
    WrongRole,
    /// Counter space exhausted.
    #[error("control nonce space exhausted")]
    NonceExhausted,
}

/// Encodes a message's plaintext.
pub fn encode_message(msg: &ControlMsg) -> Vec<u8> {
    let mut v = Vec::with_capacity(48);
    match msg {
        ControlMsg::Ratchet { public } => {
            v.push(T_RATCHET);
            v.extend_from_slice(public);
        }
        ControlMsg::RatchetAck { public } => {
            v.push(T_RATCHET_ACK);
            v.extend_from_slice(public);
        }
        ControlMsg::StreamKey {
            stream_id,
            epoch,
            cipher,
            key,
        } => {
            v.push(T_STREAM_KEY);
            v.extend_from_slice(&stream_id.to_be_bytes());
            v.extend_from_slice(&epoch.to_be_bytes());
            v.push(cipher.to_wire());
            v.extend_from_slice(&key[..]);
        }
        ControlMsg::KeyAck { stream_id, epoch } => {
            v.push(T_KEY_ACK);
            v.extend_from_slice(&stream_id.to_be_bytes());
            v.extend_from_slice(&epoch.to_be_bytes());
        }
        ControlMsg::Ping { nonce } => {
            v.push(T_PING);
            v.extend_from_slice(&nonce.to_be_bytes());
        }
        ControlMsg::Pong { nonce } => {
            v.push(T_PONG);
            v.extend_from_slice(&nonce.to_be_bytes());
        }
    }
    v
}

fn arr<const N: usize>(b: &[u8]) -> Result<[u8; N], ControlError> {
    b.try_into().map_err(|_| ControlError::Malformed)
}

/// Decodes a message's plaintext. Trailing bytes are refused.
pub fn decode_message(b: &[u8]) -> Result<ControlMsg, ControlError> {
    let (&t, rest) = b.split_first().ok_or(ControlError::Malformed)?;
    match t {
        T_RATCHET => Ok(ControlMsg::Ratchet { public: arr(rest)? }),
        T_RATCHET_ACK => Ok(ControlMsg::RatchetAck { public: arr(rest)? }),
        T_STREAM_KEY => {
            if rest.len() != 41 {
                return Err(ControlError::Malformed);
            }
            let cipher = CipherKind::from_wire(rest[8]).ok_or(ControlError::Malformed)?;
            Ok(ControlMsg::StreamKey {
                stream_id: u32::from_be_bytes(arr(&rest[..4])?),
                epoch: u32::from_be_bytes(arr(&rest[4..8])?),
                cipher,
                key: Zeroizing::new(arr(&rest[9..])?),
            })
        }
        T_KEY_ACK => {
            let r: [u8; 8] = arr(rest)?;
            Ok(ControlMsg::KeyAck {
                stream_id: u32::from_be_bytes(arr(&r[..4])?),
                epoch: u32::from_be_bytes(arr(&r[4..])?),
            })
        }
        T_PING => Ok(ControlMsg::Ping {
            nonce: u64::from_be_bytes(arr(rest)?),
        }),
        T_PONG => Ok(ControlMsg::Pong {
            nonce: u64::from_be_bytes(arr(rest)?),
        }),
        other => Err(ControlError::UnknownType(other)),
    }
}

/// Encodes a `Hello`: type, version, X25519 public key.
pub fn encode_hello(public: &[u8; 32]) -> [u8; 34] {
    let mut h = [0u8; 34];
    h[0] = T_HELLO;
    h[1] = CONTROL_VERSION;
    h[2..].copy_from_slice(public);
    h
}

/// Parses a `Hello`.
pub fn parse_hello(b: &[u8]) -> Result<[u8; 32], ControlError> {
    match b {
        [T_HELLO, CONTROL_VERSION, rest @ ..] => arr(rest).map_err(|_| ControlError::BadHello),
        _ => Err(ControlError::BadHello),
    }
}

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Opened the connection and the control stream; drives the ratchet.
    Dialler,
    /// Accepted the connection.
    Listener,
}

/// What the driver must do after a step.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    /// Write this frame body to the control stream.
    Send(Vec<u8>),
    /// The peer announced a key for its direction of a stream.
    StreamKey {
        /// yamux stream id.
        stream_id: u32,
        /// Epoch.
        epoch: u32,
        /// Cipher.
        cipher: CipherKind,
        /// Key bytes.
        key: Zeroizing<[u8; 32]>,
    },
    /// The peer started reading our direction of a stream under `epoch`.
    KeyAck {
        /// yamux stream id.
        stream_id: u32,
        /// Epoch.
        epoch: u32,
    },
    /// A round-trip time was measured.
    Rtt(Duration),
    /// A ratchet step completed.
    Ratcheted,
}

struct DirKey {
    epoch: u32,
    aead: ChaCha20Poly1305,
    counter: u64,
}

impl DirKey {
    fn new(root: &[u8; 32], epoch: u32, label: &str) -> DirKey {
        let k = Zeroizing::new(blake3::derive_key(label, root));
        DirKey {
            epoch,
            aead: ChaCha20Poly1305::new((&*k).into()),
            counter: 0,
        }
    }
    fn nonce(&self) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&self.counter.to_be_bytes());
        n
    }
}

const LABEL_ROOT: &str = "cairn/1 control root";
const LABEL_STEP: &str = "cairn/1 control ratchet";
const LABEL_D2L: &str = "cairn/1 control dialler to listener";
const LABEL_L2D: &str = "cairn/1 control listener to dialler";

/// The control stream's keys, ratchet and pings.
pub struct ControlState {
    role: Role,
    root: Zeroizing<[u8; 32]>,
    epoch: u32,
    send: DirKey,
    recv: DirKey,
    recv_next: Option<DirKey>,
    /// Dialler: secret of a proposed step awaiting `RatchetAck`.
    pending: Option<StaticSecret>,
    last_ratchet: Instant,
    ratchet_interval: Duration,
    ping_interval: Duration,
    next_ping: Instant,
    ping_out: Option<(u64, Instant)>,
    ping_nonce: u64,
}

impl std::fmt::Debug for ControlState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlState")
            .field("role", &self.role)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// A fresh X25519 key for a `Hello`.
pub fn hello_secret() -> (StaticSecret, [u8; 32]) {
    let s = StaticSecret::random_from_rng(OsRng);
    let p = PublicKey::from(&s).to_bytes();
    (s, p)
}

fn labels(role: Role) -> (&'static str, &'static str) {
    match role {
        Role::Dialler => (LABEL_D2L, LABEL_L2D),
        Role::Listener => (LABEL_L2D, LABEL_D2L),
    }
}

impl ControlState {
    /// Builds the state once both `Hello`s are known.
    pub fn new(
        role: Role,
        handshake_hash: &[u8; 32],
        own: StaticSecret,
        peer_hello: &[u8; 32],
        ratchet_interval: Duration,
        ping_interval: Duration,
        now: Instant,
    ) -> ControlState {
        let dh = Zeroizing::new(own.diffie_hellman(&PublicKey::from(*peer_hello)).to_bytes());
        let mut material = Zeroizing::new([0u8; 64]);
        material[..32].copy_from_slice(handshake_hash);
        material[32..].copy_from_slice(&dh[..]);
        let root = Zeroizing::new(blake3::derive_key(LABEL_ROOT, &material[..]));
        let (s, r) = labels(role);
        ControlState {
            role,
            send: DirKey::new(&root, 0, s),
            recv: DirKey::new(&root, 0, r),
            root,
            epoch: 0,
            recv_next: None,
            pending: None,
            last_ratchet: now,
            ratchet_interval,
            ping_interval,
            next_ping: now,
            ping_out: None,
            ping_nonce: 0,
        }
    }

    /// Current ratchet epoch.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Seals a message into a frame body: `epoch u32 | ciphertext | tag`.
    pub fn seal(&mut self, msg: &ControlMsg) -> Result<Vec<u8>, ControlError> {
        if self.send.counter == u64::MAX {
            return Err(ControlError::NonceExhausted);
        }
        let mut body = Zeroizing::new(encode_message(msg));
        let ad = self.send.epoch.to_be_bytes();
        let n = self.send.nonce();
        let tag = self
            .send
            .aead
            .encrypt_in_place_detached((&n).into(), &ad, &mut body[..])
            .map_err(|_| ControlError::Auth)?;
        self.send.counter += 1;
        let mut out = Vec::with_capacity(4 + body.len() + 16);
        out.extend_from_slice(&ad);
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    fn open(&mut self, frame: &[u8]) -> Result<ControlMsg, ControlError> {
        if frame.len() > MAX_CONTROL_FRAME {
            return Err(ControlError::TooLong);
        }
        if frame.len() < 4 + 1 + 16 {
            return Err(ControlError::Malformed);
        }
        let epoch = u32::from_be_bytes(arr(&frame[..4])?);
        if self.recv_next.as_ref().is_some_and(|k| k.epoch == epoch) {
            // The peer switched: erase the old key at once.
            if let Some(next) = self.recv_next.take() {
                self.recv = next;
            }
        }
        if epoch != self.recv.epoch {
            return Err(ControlError::Auth);
        }
        let mut body = Zeroizing::new(frame[4..frame.len() - 16].to_vec());
        let tag = &frame[frame.len() - 16..];
        let n = self.recv.nonce();
        self.recv
            .aead
            .decrypt_in_place_detached((&n).into(), &frame[..4], &mut body[..], tag.into())
            .map_err(|_| ControlError::Auth)?;
        self.recv.counter = self
            .recv
            .counter
            .checked_add(1)
            .ok_or(ControlError::NonceExhausted)?;
        decode_message(&body)
    }

    fn step_root(&mut self, dh: &[u8; 32]) {
        let mut material = Zeroizing::new([0u8; 64]);
        material[..32].copy_from_slice(&self.root[..]);
        material[32..].copy_from_slice(dh);
        self.root = Zeroizing::new(blake3::derive_key(LABEL_STEP, &material[..]));
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// Handles one received frame body.
    pub fn on_frame(&mut self, frame: &[u8], now: Instant) -> Result<Vec<Output>, ControlError> {
        let msg = self.open(frame)?;
        let mut out = Vec::new();
        match msg {
            ControlMsg::Ratchet { public } => {
                if self.role != Role::Listener {
                    return Err(ControlError::WrongRole);
                }
                if self.recv_next.is_some()
                    || now.saturating_duration_since(self.last_ratchet) < MIN_RATCHET_INTERVAL
                {
                    return Err(ControlError::RatchetOutOfTurn);
                }
                let (secret, own_pub) = hello_secret();
                let dh = Zeroizing::new(secret.diffie_hellman(&PublicKey::from(public)).to_bytes());
                // The ack goes out under the old key; then both our keys move on.
                out.push(Output::Send(
                    self.seal(&ControlMsg::RatchetAck { public: own_pub })?,
                ));
                self.step_root(&dh);
                let (s, r) = labels(self.role);
                self.send = DirKey::new(&self.root, self.epoch, s);
                self.recv_next = Some(DirKey::new(&self.root, self.epoch, r));
                self.last_ratchet = now;
                out.push(Output::Ratcheted);
            }
            ControlMsg::RatchetAck { public } => {
                if self.role != Role::Dialler {
                    return Err(ControlError::WrongRole);
                }
                let secret = self.pending.take().ok_or(ControlError::RatchetOutOfTurn)?;
                let dh = Zeroizing::new(secret.diffie_hellman(&PublicKey::from(public)).to_bytes());
                drop(secret);
                self.step_root(&dh);
                let (s, r) = labels(self.role);
                self.send = DirKey::new(&self.root, self.epoch, s);
                self.recv = DirKey::new(&self.root, self.epoch, r);
                self.last_ratchet = now;
                out.push(Output::Ratcheted);
                // A ping under the new key lets the listener erase its old one.
                out.push(Output::Send(self.ping(now)?));
            }
            ControlMsg::StreamKey {
                stream_id,
                epoch,
                cipher,
                key,
            } => out.push(Output::StreamKey {
                stream_id,
                epoch,
                cipher,
                key,
            }),
            ControlMsg::KeyAck { stream_id, epoch } => {
                out.push(Output::KeyAck { stream_id, epoch })
            }
            ControlMsg::Ping { nonce } => {
                out.push(Output::Send(self.seal(&ControlMsg::Pong { nonce })?))
            }
            ControlMsg::Pong { nonce } => {
                if let Some((n, sent)) = self.ping_out
                    && n == nonce
                {
                    self.ping_out = None;
                    out.push(Output::Rtt(now.saturating_duration_since(sent)));
                }
            }
        }
        Ok(out)
    }

    fn ping(&mut self, now: Instant) -> Result<Vec<u8>, ControlError> {
        self.ping_nonce = self.ping_nonce.wrapping_add(1);
        self.ping_out = Some((self.ping_nonce, now));
        self.next_ping = now + self.ping_interval;
        self.seal(&ControlMsg::Ping {
            nonce: self.ping_nonce,
        })
    }

    /// Runs timers: pings, and (dialler) ratchet proposals.
    pub fn poll(&mut self, now: Instant) -> Result<Vec<Output>, ControlError> {
        let mut out = Vec::new();
        if now >= self.next_ping {
            out.push(Output::Send(self.ping(now)?));
        }
        if self.role == Role::Dialler
            && self.pending.is_none()
            && now.saturating_duration_since(self.last_ratchet) >= self.ratchet_interval
        {
            let (secret, public) = hello_secret();
            self.pending = Some(secret);
            out.push(Output::Send(self.seal(&ControlMsg::Ratchet { public })?));
        }
        Ok(out)
    }

    /// When `poll` next has something to do.
    pub fn next_deadline(&self) -> Instant {
        let ratchet = if self.role == Role::Dialler && self.pending.is_none() {
            self.last_ratchet + self.ratchet_interval
        } else {
            self.next_ping
        };
        self.next_ping.min(ratchet)
    }

    /// Test hook: the current per-direction sending key epoch and root.
    #[cfg(any(test, feature = "test-util"))]
    pub fn root_key(&self) -> [u8; 32] {
        *self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(now: Instant) -> (ControlState, ControlState) {
        let hh = [7u8; 32];
        let (ds, dp) = hello_secret();
        let (ls, lp) = hello_secret();
        let i = Duration::from_secs(60);
        let p = Duration::from_secs(15);
        (
            ControlState::new(Role::Dialler, &hh, ds, &lp, i, p, now),
            ControlState::new(Role::Listener, &hh, ls, &dp, i, p, now),
        )
    }

    fn deliver(from: Vec<Output>, to: &mut ControlState, now: Instant) -> Vec<Output> {
        let mut got = Vec::new();
        for o in from {
            if let Output::Send(b) = o {
                got.extend(to.on_frame(&b, now).unwrap());
            }
        }
        got
    }

    #[test]
    fn every_message_round_trips_through_its_codec() {
        let msgs = [
            ControlMsg::Ratchet { public: [1; 32] },
            ControlMsg::RatchetAck { public: [2; 32] },
            ControlMsg::StreamKey {
                stream_id: 3,
                epoch: 9,
                cipher: CipherKind::Aes256Gcm,
                key: Zeroizing::new([4; 32]),
            },
            ControlMsg::KeyAck {
                stream_id: 5,
                epoch: 6,
            },
            ControlMsg::Ping { nonce: 7 },
            ControlMsg::Pong { nonce: 8 },
        ];
        for m in msgs {
            assert_eq!(decode_message(&encode_message(&m)).unwrap(), m);
        }
        assert_eq!(decode_message(&[0x09]), Err(ControlError::UnknownType(9)));
        assert_eq!(decode_message(&[T_PING, 1]), Err(ControlError::Malformed));
    }

    #[test]
    fn keys_cross_in_both_directions() {
        let t = Instant::now();
        let (mut d, mut l) = pair(t);
        let key = ControlMsg::StreamKey {
            stream_id: 3,
            epoch: 0,
            cipher: CipherKind::ChaCha20Poly1305,
            key: Zeroizing::new([9; 32]),
        };
        let f = d.seal(&key).unwrap();
        assert!(matches!(
            l.on_frame(&f, t).unwrap()[..],
            [Output::StreamKey {
                stream_id: 3,
                epoch: 0,
                ..
            }]
        ));
        let f = l
            .seal(&ControlMsg::KeyAck {
                stream_id: 3,
                epoch: 0,
            })
            .unwrap();
        assert_eq!(
            d.on_frame(&f, t).unwrap(),
            vec![Output::KeyAck {
                stream_id: 3,
                epoch: 0
            }]
        );
    }

    #[test]
    fn ratchet_moves_both_sides_to_a_new_root_and_old_root_stops_working() {
        let t0 = Instant::now();
        let (mut d, mut l) = pair(t0);
        let old_root = d.root_key();
        let t1 = t0 + Duration::from_secs(61);
        let proposal = d.poll(t1).unwrap();
        let ack = deliver(proposal, &mut l, t1);
        assert!(ack.contains(&Output::Ratcheted));
        let after = deliver(ack, &mut d, t1);
        assert!(after.contains(&Output::Ratcheted));
        assert_eq!(d.epoch(), 1);
        assert_eq!(d.root_key(), l.root_key());
        assert_ne!(d.root_key(), old_root);
        // The dialler's ping under the new key reaches the listener, which erases epoch 0.
        deliver(after, &mut l, t1);
        assert!(l.recv_next.is_none());
        assert_eq!(l.recv.epoch, 1);
        // A frame sealed under the old root is refused.
        let mut stale = ControlState::new(
            Role::Dialler,
            &[7u8; 32],
            hello_secret().0,
            &[1u8; 32],
            Duration::from_secs(60),
            Duration::from_secs(15),
            t0,
        );
        stale.root = Zeroizing::new(old_root);
        let f = stale.seal(&ControlMsg::Ping { nonce: 1 }).unwrap();
        assert_eq!(l.on_frame(&f, t1), Err(ControlError::Auth));
    }

    #[test]
    fn ratchet_from_the_listener_is_refused() {
        let t = Instant::now();
        let (mut d, mut l) = pair(t);
        let f = l.seal(&ControlMsg::Ratchet { public: [1; 32] }).unwrap();
        assert_eq!(d.on_frame(&f, t), Err(ControlError::WrongRole));
    }

    #[test]
    fn ratchet_flood_is_refused() {
        let t = Instant::now();
        let (mut d, mut l) = pair(t);
        let f = d
            .seal(&ControlMsg::Ratchet {
                public: hello_secret().1,
            })
            .unwrap();
        assert_eq!(
            l.on_frame(&f, t + Duration::from_millis(10)),
            Err(ControlError::RatchetOutOfTurn)
        );
    }

    #[test]
    fn ping_pong_measures_rtt() {
        let t = Instant::now();
        let (mut d, mut l) = pair(t);
        let ping = d.poll(t).unwrap();
        let pong = deliver(ping, &mut l, t);
        let rtt = deliver(pong, &mut d, t + Duration::from_millis(30));
        assert_eq!(rtt, vec![Output::Rtt(Duration::from_millis(30))]);
    }

    #[test]
    fn garbage_and_replayed_frames_are_refused() {
        let t = Instant::now();
        let (mut d, mut l) = pair(t);
        assert!(l.on_frame(&[0u8; 40], t).is_err());
        let f = d.seal(&ControlMsg::Ping { nonce: 1 }).unwrap();
        l.on_frame(&f, t).unwrap();
        assert_eq!(l.on_frame(&f, t), Err(ControlError::Auth));
    }

    #[test]
    fn hello_round_trips() {
        assert_eq!(parse_hello(&encode_hello(&[5; 32])).unwrap(), [5; 32]);
        assert!(parse_hello(&[1, 2]).is_err());
    }
}
