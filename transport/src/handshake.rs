//! The Noise XX handshake with identity payloads, over any byte pipe.
//!
//! snow's `HandshakeState` is already sans-io; this module only moves its
//! messages through the length-prefixed framing with exact reads (so no byte
//! of the transport phase is consumed early), checks the identity payloads
//! and the dialled NodeId, and hands back the two split keys as
//! [`NoiseKeys`] for the transport phase (which seals in place, see
//! `noise_cipher`).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

use crate::frame::prefix;
use crate::identity::{Identity, NodeId};
use crate::noise_cipher::{NoiseCipher, NoiseKeys};
use crate::payload::{self, PayloadError};

/// The Noise protocol name.
pub const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
/// Longest handshake message accepted. Message 3 is 48 bytes of
/// encrypted static key plus the payload (96 bytes + extensions) and its tag.
pub const MAX_HANDSHAKE_MESSAGE: usize = 2048;

/// The Noise prologue.
pub const PROLOGUE: &[u8] = b"cairn/1";

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The pipe failed or closed.
    #[error("i/o during handshake: {0}")]
    Io(#[from] std::io::Error),
    /// Noise refused a message (wrong prologue, garbage, tampering).
    #[error("noise: {0}")]
    Noise(#[from] snow::Error),
    /// The identity payload was malformed or its signature bad.
    #[error("identity payload: {0}")]
    Payload(#[from] PayloadError),
    /// A zero-length frame, or one longer than [`MAX_HANDSHAKE_MESSAGE`].
    #[error("handshake frame of {0} bytes")]
    FrameLength(usize),
    /// Message 1 carried a payload; it must be empty.
    #[error("message 1 payload must be empty")]
    Message1Payload,
    /// The peer proved an identity other than the one dialled.
    #[error("dialled {expected} but the peer is {actual}")]
    WrongNodeId {
        /// NodeId we dialled.
        expected: NodeId,
        /// NodeId the peer proved.
        actual: NodeId,
    },
    /// The peer did not send a static key (cannot happen in XX).
    #[error("peer sent no static key")]
    NoRemoteStatic,
}

/// A finished handshake.
pub struct Handshaked {
    /// The transport phase's cipher states (Noise `Split()`), oriented:
    /// `send` seals what this side sends.
    pub keys: NoiseKeys,
    /// The peer's proven NodeId.
    pub remote: NodeId,
    /// The Noise handshake hash, binding later keys to this session.
    pub handshake_hash: [u8; 32],
}

impl std::fmt::Debug for Handshaked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshaked")
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

fn builder(prologue: &[u8], secret: &[u8; 32]) -> Result<snow::HandshakeState, snow::Error> {
    let params: snow::params::NoiseParams = NOISE_PARAMS.parse()?;
    let b = snow::Builder::new(params)
        .prologue(prologue)?
        .local_private_key(secret)?;
    b.build_initiator()
}

async fn write_msg<T: AsyncWrite + Unpin>(
    io: &mut T,
    hs: &mut snow::HandshakeState,
    payload: &[u8],
    buf: &mut [u8],
) -> Result<(), HandshakeError> {
    let n = hs.write_message(payload, &mut buf[2..])?;
    buf[..2].copy_from_slice(&prefix(n));
    io.write_all(&buf[..2 + n]).await?;
    io.flush().await?;
    Ok(())
}

async fn read_msg<T: AsyncRead + Unpin>(
    io: &mut T,
    hs: &mut snow::HandshakeState,
    buf: &mut [u8],
    out: &mut [u8],
) -> Result<usize, HandshakeError> {
    let mut p = [0u8; 2];
    io.read_exact(&mut p).await?;
    let len = usize::from(u16::from_be_bytes(p));
    if len == 0 || len > MAX_HANDSHAKE_MESSAGE {
        return Err(HandshakeError::FrameLength(len));
    }
    io.read_exact(&mut buf[..len]).await?;
    Ok(hs.read_message(&buf[..len], out)?)
}

fn remote_static(hs: &snow::HandshakeState) -> Result<[u8; 32], HandshakeError> {
    hs.get_remote_static()
        .and_then(|s| s.try_into().ok())
        .ok_or(HandshakeError::NoRemoteStatic)
}

/// Checks the peer's payload against the static key Noise authenticated and,
/// when dialling, against the NodeId we asked for.
fn check_remote(
    hs: &snow::HandshakeState,
    payload_bytes: &[u8],
    expected: Option<NodeId>,
) -> Result<NodeId, HandshakeError> {
    let remote = payload::verify(payload_bytes, &remote_static(hs)?)?;
    if let Some(expected) = expected
        && expected != remote
    {
        return Err(HandshakeError::WrongNodeId {
            expected,
            actual: remote,
        });
    }
    Ok(remote)
}

/// Turns a completed handshake whose peer was already verified as `remote`
/// into the transport keys (each side verifies the peer's signature once).
fn finish(mut hs: snow::HandshakeState, remote: NodeId) -> Result<Handshaked, HandshakeError> {
    if !hs.is_handshake_finished() {
        return Err(snow::Error::State(snow::error::StateProblem::HandshakeNotFinished).into());
    }
    let mut handshake_hash = [0u8; 32];
    handshake_hash.copy_from_slice(hs.get_handshake_hash().get(..32).unwrap_or(&[0u8; 32]));
    // Split(): the first key seals the initiator's messages, the second the
    // responder's.
    let (k1, k2) = hs.dangerously_get_raw_split();
    let (k1, k2) = (Zeroizing::new(k1), Zeroizing::new(k2));
    let (send, recv) = if hs.is_initiator() {
        (&k1, &k2)
    } else {
        (&k2, &k1)
    };
    Ok(Handshaked {
        keys: NoiseKeys {
            send: NoiseCipher::new(send),
            recv: NoiseCipher::new(recv),
        },
        remote,
        handshake_hash,
    })
}

/// Runs the dialler's side; fails unless the peer proves `expected`.
pub async fn initiate<T: AsyncRead + AsyncWrite + Unpin>(
    io: &mut T,
    identity: &Identity,
    expected: NodeId,
) -> Result<Handshaked, HandshakeError> {
    initiate_with_prologue(io, identity, Some(expected), PROLOGUE).await
}

/// The dialler's side with any prologue (tests use a wrong one).
pub async fn initiate_with_prologue<T: AsyncRead + AsyncWrite + Unpin>(
    io: &mut T,
    identity: &Identity,
    expected: Option<NodeId>,
    prologue: &[u8],
) -> Result<Handshaked, HandshakeError> {
    let secret = identity.noise_secret();
    let mut hs = builder(prologue, &secret)?;
    let mut buf = [0u8; MAX_HANDSHAKE_MESSAGE + 2];
    let mut out = [0u8; MAX_HANDSHAKE_MESSAGE];
    write_msg(io, &mut hs, &[], &mut buf).await?;
    let n = read_msg(io, &mut hs, &mut buf, &mut out).await?;
    // Check the responder before revealing our identity in message 3.
    let remote = check_remote(&hs, &out[..n], expected)?;
    write_msg(io, &mut hs, identity.handshake_payload(), &mut buf).await?;
    finish(hs, remote)
}

/// Runs the listener's side; accepts any peer that proves some identity.
pub async fn respond<T: AsyncRead + AsyncWrite + Unpin>(
    io: &mut T,
    identity: &Identity,
) -> Result<Handshaked, HandshakeError> {
    let secret = identity.noise_secret();
    let params: snow::params::NoiseParams = NOISE_PARAMS.parse()?;
    let mut hs = snow::Builder::new(params)
        .prologue(PROLOGUE)?
        .local_private_key(&secret[..])?
        .build_responder()?;
    let mut buf = [0u8; MAX_HANDSHAKE_MESSAGE + 2];
    let mut out = [0u8; MAX_HANDSHAKE_MESSAGE];
    let n = read_msg(io, &mut hs, &mut buf, &mut out).await?;
    if n != 0 {
        return Err(HandshakeError::Message1Payload);
    }
    write_msg(io, &mut hs, identity.handshake_payload(), &mut buf).await?;
    let n = read_msg(io, &mut hs, &mut buf, &mut out).await?;
    let remote = check_remote(&hs, &out[..n], None)?;
    finish(hs, remote)
}
