//! Identities, units and amounts.
//!
//! Why newtypes: a byte·second is not a byte and neither is a credit; mixing them is a
//! type error here rather than a bug in the ledger. Every arithmetic operation is
//! checked and returns [`ArithmeticError`] on overflow, so a hostile amount can make a
//! receipt invalid but never wrap a balance.

use std::fmt;

use data_encoding::BASE32_NOPAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::codec::{DecodeError, Reader, Writer};

/// An overflow or underflow in checked arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, Serialize)]
#[error("arithmetic overflow in {0}")]
pub struct ArithmeticError(pub &'static str);

/// A 32-byte BLAKE3 hash (entry hashes, receipt ids, contract ids).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// The all-zero hash used as "no previous".
    pub const ZERO: Hash32 = Hash32([0; 32]);
    /// BLAKE3 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Hash32(*blake3::hash(bytes).as_bytes())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Serialize for Hash32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }
}

/// A block id: BLAKE3 of the block's bytes.
pub type BlockId = Hash32;

/// A node's identity: BLAKE3 of its Ed25519 public key. The text form is lowercase
/// RFC 4648 base32 without padding (52 characters), as the node prints it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub [u8; 32]);

impl NodeId {
    /// The NodeId of a public key.
    pub fn from_public_key(pk: &PublicKey) -> Self {
        NodeId(*blake3::hash(&pk.0).as_bytes())
    }
    /// Parse the text form.
    pub fn parse(s: &str) -> Option<Self> {
        let bytes = BASE32_NOPAD
            .decode(s.to_ascii_uppercase().as_bytes())
            .ok()?;
        Some(NodeId(bytes.try_into().ok()?))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE32_NOPAD.encode(&self.0).to_ascii_lowercase())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.to_string();
        write!(f, "NodeId({})", s.get(..10).unwrap_or(&s))
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An Ed25519 public key, as the 32 bytes carried in signed types.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The public key of a signing key.
    pub fn of(key: &SigningKey) -> Self {
        PublicKey(key.verifying_key().to_bytes())
    }
    /// The NodeId of this key.
    pub fn node_id(&self) -> NodeId {
        NodeId::from_public_key(self)
    }
    /// The dalek key, if the bytes are a valid curve point.
    pub fn verifying_key(&self) -> Result<VerifyingKey, SignatureError> {
        VerifyingKey::from_bytes(&self.0).map_err(|_| SignatureError::BadKey)
    }
    /// Verify `sig` over `msg` (strict: rejects small-order keys and malleable signatures).
    pub fn verify(&self, msg: &[u8], sig: &Sig) -> Result<(), SignatureError> {
        let vk = self.verifying_key()?;
        vk.verify_strict(msg, &Signature::from_bytes(&sig.0))
            .map_err(|_| SignatureError::Invalid)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({:?})", self.node_id())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }
}

/// An Ed25519 signature's 64 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sig(pub [u8; 64]);

impl Sig {
    /// Sign `msg` with `key`.
    pub fn sign(key: &SigningKey, msg: &[u8]) -> Self {
        Sig(key.sign(msg).to_bytes())
    }
}

impl fmt::Debug for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, Serialize)]
pub enum SignatureError {
    /// The public key bytes are not a valid Ed25519 key.
    #[error("public key is not a valid Ed25519 point")]
    BadKey,
    /// The signature does not verify.
    #[error("signature does not verify")]
    Invalid,
}

/// A time, in seconds since the Unix epoch. Always an argument, never read from a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Seconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
    /// `self` plus `secs`, checked.
    pub fn plus(self, secs: u64) -> Result<Timestamp, ArithmeticError> {
        self.0
            .checked_add(secs)
            .map(Timestamp)
            .ok_or(ArithmeticError("timestamp"))
    }
}

/// Which resource a quantity measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ResourceKind {
    /// Storage, measured in byte·seconds.
    Storage,
    /// Bandwidth, measured in bytes delivered.
    Bandwidth,
    /// CPU, measured in WebAssembly fuel units.
    Cpu,
}

impl ResourceKind {
    pub(crate) fn encode(self, w: &mut Writer) {
        w.u8(match self {
            ResourceKind::Storage => 1,
            ResourceKind::Bandwidth => 2,
            ResourceKind::Cpu => 3,
        });
    }
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            1 => Ok(ResourceKind::Storage),
            2 => Ok(ResourceKind::Bandwidth),
            3 => Ok(ResourceKind::Cpu),
            tag => Err(DecodeError::InvalidTag {
                what: "resource",
                tag,
            }),
        }
    }
    /// The unit's name.
    pub fn unit(self) -> &'static str {
        match self {
            ResourceKind::Storage => "byte·s",
            ResourceKind::Bandwidth => "bytes",
            ResourceKind::Cpu => "fuel",
        }
    }
}

/// An amount of a resource in its unit (see [`ResourceKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Quantity(pub u64);

impl Quantity {
    /// Checked addition.
    pub fn checked_add(self, o: Quantity) -> Result<Quantity, ArithmeticError> {
        self.0
            .checked_add(o.0)
            .map(Quantity)
            .ok_or(ArithmeticError("quantity"))
    }
}

/// An unsigned amount of credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Credits(pub u64);

impl Credits {
    /// Checked addition.
    pub fn checked_add(self, o: Credits) -> Result<Credits, ArithmeticError> {
        self.0
            .checked_add(o.0)
            .map(Credits)
            .ok_or(ArithmeticError("credits"))
    }
}

/// A signed credit balance: positive = others owe this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Balance(pub i128);

impl Balance {
    /// Zero.
    pub const ZERO: Balance = Balance(0);
    /// Checked addition of a balance.
    pub fn checked_add(self, o: Balance) -> Result<Balance, ArithmeticError> {
        self.0
            .checked_add(o.0)
            .map(Balance)
            .ok_or(ArithmeticError("balance"))
    }
    /// Add earned credits.
    pub fn credit(self, c: Credits) -> Result<Balance, ArithmeticError> {
        self.checked_add(Balance(i128::from(c.0)))
    }
    /// Subtract spent credits.
    pub fn debit(self, c: Credits) -> Result<Balance, ArithmeticError> {
        self.0
            .checked_sub(i128::from(c.0))
            .map(Balance)
            .ok_or(ArithmeticError("balance"))
    }
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:+}", self.0)
    }
}

/// A price: `credits` per `per` units of a resource (so tiny unit prices such as
/// credits per byte·second stay integral).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Price {
    /// Credits charged…
    pub credits: u64,
    /// …per this many units (never zero).
    pub per: u64,
}

impl Price {
    /// The cost of `q` units, rounded down. Fails on overflow or a zero denominator.
    pub fn cost(self, q: Quantity) -> Result<Credits, ArithmeticError> {
        if self.per == 0 {
            return Err(ArithmeticError("price denominator"));
        }
        let c = u128::from(q.0)
            .checked_mul(u128::from(self.credits))
            .ok_or(ArithmeticError("price"))?
            / u128::from(self.per);
        u64::try_from(c)
            .map(Credits)
            .map_err(|_| ArithmeticError("price"))
    }
    pub(crate) fn encode(self, w: &mut Writer) {
        w.u64(self.credits);
        w.u64(self.per);
    }
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let credits = r.u64()?;
        let per = r.u64()?;
        if per == 0 {
            return Err(DecodeError::InvalidValue {
                what: "price denominator is zero",
            });
        }
        Ok(Price { credits, per })
    }
}

pub(crate) fn read_pk(r: &mut Reader<'_>) -> Result<PublicKey, DecodeError> {
    Ok(PublicKey(r.array()?))
}
pub(crate) fn read_sig(r: &mut Reader<'_>) -> Result<Sig, DecodeError> {
    Ok(Sig(r.array()?))
}
pub(crate) fn read_hash(r: &mut Reader<'_>) -> Result<Hash32, DecodeError> {
    Ok(Hash32(r.array()?))
}
