//! Error enums, one per layer the caller sees.

use crate::handshake::HandshakeError;

/// Why a connection could not be set up or broke.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// Socket failure.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The Noise handshake failed.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// A step took longer than its configured limit.
    #[error("timed out")]
    Timeout,
    /// The connection closed.
    #[error("connection closed")]
    Closed,
    /// yamux failed.
    #[error("yamux: {0}")]
    Yamux(String),
    /// The control stream broke a rule.
    #[error("control stream: {0}")]
    Control(crate::control::ControlError),
    /// The peer broke a rule.
    #[error("protocol violation: {0}")]
    Violation(&'static str),
    /// A connection limit refused it.
    #[error("refused by limit: {0}")]
    Refused(&'static str),
    /// The endpoint is shut down.
    #[error("endpoint closed")]
    EndpointClosed,
}

/// Why a stream could not be opened or accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Protocol name empty, longer than 64 bytes or not `[a-z0-9/._-]`.
    #[error("bad protocol name")]
    BadProtocol,
    /// The connection closed.
    #[error("connection closed")]
    ConnectionClosed,
    /// Too many streams on this connection.
    #[error("too many streams")]
    TooManyStreams,
    /// yamux refused.
    #[error("yamux: {0}")]
    Yamux(String),
    /// Socket failure while writing the header.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
