//! Metered bandwidth with payment and disconnect thresholds, after Swarm's SWAP.
//!
//! Why thresholds: the receiver of bytes signs a receipt for them, but asking for a
//! receipt after every block would double the messages. The server lets unreceipted
//! debt grow to a payment threshold, then asks for a receipt; if the debt reaches the
//! disconnect threshold (the peer kept taking and never signed), it stops serving that
//! peer. A free-rider gets at most the disconnect threshold for free, once.

use serde::Serialize;
use thiserror::Error;

/// Thresholds, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BandwidthPolicy {
    /// Ask for a receipt once this much is unreceipted.
    pub payment_threshold: u64,
    /// Stop serving once a request would push the debt past this.
    pub disconnect_threshold: u64,
}

impl Default for BandwidthPolicy {
    fn default() -> Self {
        BandwidthPolicy {
            payment_threshold: 4 << 20,
            disconnect_threshold: 16 << 20,
        }
    }
}

/// What the server should do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ServeAction {
    /// Serve it.
    Serve,
    /// Serve it and ask for a receipt covering `unreceipted` bytes.
    ServeAndRequestReceipt {
        /// Bytes owed so far, this request included.
        unreceipted: u64,
    },
    /// Refuse: the peer is cut off.
    Refuse,
}

/// Why a bandwidth receipt is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, Serialize)]
#[non_exhaustive]
pub enum BandwidthError {
    /// The receipt covers more bytes than were served and not yet receipted.
    #[error("receipt for {receipted} bytes exceeds the {owed} owed")]
    OverReceipt {
        /// Bytes in the receipt.
        receipted: u64,
        /// Bytes owed.
        owed: u64,
    },
}

/// The server's account of one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ServeAccount {
    /// Bytes served and not yet receipted.
    pub unreceipted: u64,
    /// Bytes served and receipted.
    pub receipted: u64,
    /// Whether the peer is cut off.
    pub disconnected: bool,
}

impl ServeAccount {
    /// The peer asks for `bytes`.
    pub fn on_request(&mut self, policy: &BandwidthPolicy, bytes: u64) -> ServeAction {
        if self.disconnected {
            return ServeAction::Refuse;
        }
        let owed = self.unreceipted.saturating_add(bytes);
        if owed > policy.disconnect_threshold {
            self.disconnected = true;
            return ServeAction::Refuse;
        }
        self.unreceipted = owed;
        if owed >= policy.payment_threshold {
            ServeAction::ServeAndRequestReceipt { unreceipted: owed }
        } else {
            ServeAction::Serve
        }
    }
    /// The peer signed a receipt for `bytes` (its signatures are checked by the ledger).
    pub fn on_receipt(&mut self, bytes: u64) -> Result<(), BandwidthError> {
        if bytes > self.unreceipted {
            return Err(BandwidthError::OverReceipt {
                receipted: bytes,
                owed: self.unreceipted,
            });
        }
        self.unreceipted -= bytes;
        self.receipted = self.receipted.saturating_add(bytes);
        Ok(())
    }
}
