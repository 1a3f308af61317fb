//! `dht/1` messages and their versioned binary encoding.
//!
//! One message type per operation and direction, so that the core can check
//! a response's kind against the request it answers. Every message starts
//! with a version byte, a type byte and the 64-bit request id that a
//! response echoes. The layout is normative in docs/PROTOCOL.md §2; the
//! limits below are part of it: a decoder refuses anything larger before it
//! allocates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::codec::{DecodeError, Reader, Writer};
use super::key::Key;
use super::record::SignedRecord;

/// The protocol version byte of `dht/1`.
pub const VERSION: u8 = 1;
/// Largest encoded message, in bytes.
pub const MAX_MESSAGE_SIZE: usize = 16 * 1024;
/// Most peers in one list of a response (= k).
pub const MAX_PEERS_PER_RESPONSE: usize = 20;
/// Most addresses given for one peer.
pub const MAX_ADDRS_PER_PEER: usize = 4;

/// Bytes of the big-endian length that precedes each message on a stream.
pub const FRAME_HEADER_LEN: usize = 4;

/// The body length announced by a frame header, refused before the body is
/// read if it is over [`MAX_MESSAGE_SIZE`] (docs/PROTOCOL.md §2.1).
pub fn frame_len(header: [u8; FRAME_HEADER_LEN]) -> Result<usize, DecodeError> {
    let len = usize::try_from(u32::from_be_bytes(header)).unwrap_or(usize::MAX);
    if len > MAX_MESSAGE_SIZE {
        return Err(DecodeError::TooLarge(len));
    }
    Ok(len)
}

/// A request id, chosen by the requester and echoed in the response.
pub type RequestId = u64;

/// A peer as carried in messages: its id and the addresses it listens on.
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub struct PeerInfo {
    /// The peer's NodeId.
    pub id: Key,
    /// Addresses to dial it at (at most [`MAX_ADDRS_PER_PEER`]).
    pub addrs: Vec<SocketAddr>,
}

impl PeerInfo {
    /// A peer with no known address.
    pub fn bare(id: Key) -> Self {
        PeerInfo {
            id,
            addrs: Vec::new(),
        }
    }
}

/// A request, as sent by the side that opens the exchange.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Request {
    /// Liveness check.
    Ping,
    /// The k peers closest to `target` that the responder knows.
    FindNode {
        /// Key looked up.
        target: Key,
    },
    /// Providers of `key`, and closer peers.
    GetProviders {
        /// Key looked up.
        key: Key,
    },
    /// Record the sender as a provider of `key` for `ttl_secs`.
    AddProvider {
        /// Provided key.
        key: Key,
        /// Requested lifetime, seconds (the responder may shorten it).
        ttl_secs: u32,
    },
    /// The record under `key`, and closer peers.
    GetRecord {
        /// Key looked up.
        key: Key,
    },
    /// Store `record`.
    PutRecord {
        /// The record.
        record: SignedRecord,
    },
}

/// Outcome code of a store request (ADD_PROVIDER, PUT_RECORD).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StoreStatus {
    /// Stored.
    Stored = 0,
    /// Refused: a newer record is held.
    Stale = 1,
    /// Refused: the record is invalid (signature, size, expiry).
    Invalid = 2,
    /// Refused: a limit (per publisher, per key, total) is reached.
    Full = 3,
}

impl StoreStatus {
    fn from_u8(v: u8) -> Result<Self, DecodeError> {
        Ok(match v {
            0 => StoreStatus::Stored,
            1 => StoreStatus::Stale,
            2 => StoreStatus::Invalid,
            3 => StoreStatus::Full,
            _ => return Err(DecodeError::Invalid("store status")),
        })
    }
}

/// A response, echoing the id of the request it answers.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Response {
    /// Answer to [`Request::Ping`].
    Pong,
    /// Answer to [`Request::FindNode`].
    Nodes {
        /// Closest peers known to the responder.
        closer: Vec<PeerInfo>,
    },
    /// Answer to [`Request::GetProviders`].
    Providers {
        /// Providers held for the key.
        providers: Vec<PeerInfo>,
        /// Closest peers known to the responder.
        closer: Vec<PeerInfo>,
    },
    /// Answer to [`Request::AddProvider`].
    AddProviderAck {
        /// Outcome.
        status: StoreStatus,
    },
    /// Answer to [`Request::GetRecord`].
    Record {
        /// The record held, if any.
        record: Option<SignedRecord>,
        /// Closest peers known to the responder.
        closer: Vec<PeerInfo>,
    },
    /// Answer to [`Request::PutRecord`].
    PutRecordAck {
        /// Outcome.
        status: StoreStatus,
    },
}

/// One `dht/1` message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Message {
    /// A request, with the addresses the sender listens on.
    Request {
        /// Id to echo.
        id: RequestId,
        /// Where the sender can be dialled (so that it can enter routing tables).
        sender_addrs: Vec<SocketAddr>,
        /// The request.
        body: Request,
    },
    /// A response to the request with the same id.
    Response {
        /// The id of the request answered.
        id: RequestId,
        /// The response.
        body: Response,
    },
}

const T_PING: u8 = 0x01;
const T_FIND_NODE: u8 = 0x02;
const T_GET_PROVIDERS: u8 = 0x03;
const T_ADD_PROVIDER: u8 = 0x04;
const T_GET_RECORD: u8 = 0x05;
const T_PUT_RECORD: u8 = 0x06;
const T_PONG: u8 = 0x81;
const T_NODES: u8 = 0x82;
const T_PROVIDERS: u8 = 0x83;
const T_ADD_PROVIDER_ACK: u8 = 0x84;
const T_RECORD: u8 = 0x85;
const T_PUT_RECORD_ACK: u8 = 0x86;

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A list, field or the whole message is over its limit.
    #[error("limit exceeded: {0}")]
    LimitExceeded(&'static str),
}

impl Message {
    /// Encodes the message. Refuses (rather than truncates) anything over a limit.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer::default();
        w.u8(VERSION);
        match self {
            Message::Request {
                id,
                sender_addrs,
                body,
            } => {
                let t = match body {
                    Request::Ping => T_PING,
                    Request::FindNode { .. } => T_FIND_NODE,
                    Request::GetProviders { .. } => T_GET_PROVIDERS,
                    Request::AddProvider { .. } => T_ADD_PROVIDER,
                    Request::GetRecord { .. } => T_GET_RECORD,
                    Request::PutRecord { .. } => T_PUT_RECORD,
                };
                w.u8(t);
                w.u64(*id);
                write_addrs(&mut w, sender_addrs)?;
                match body {
                    Request::Ping => {}
                    Request::FindNode { target: k }
                    | Request::GetProviders { key: k }
                    | Request::GetRecord { key: k } => w.bytes(&k.0),
                    Request::AddProvider { key, ttl_secs } => {
                        w.bytes(&key.0);
                        w.u32(*ttl_secs);
                    }
                    Request::PutRecord { record } => {
                        check_record(record)?;
                        record.encode(&mut w);
                    }
                }
            }
            Message::Response { id, body } => {
                let t = match body {
                    Response::Pong => T_PONG,
                    Response::Nodes { .. } => T_NODES,
                    Response::Providers { .. } => T_PROVIDERS,
                    Response::AddProviderAck { .. } => T_ADD_PROVIDER_ACK,
                    Response::Record { .. } => T_RECORD,
                    Response::PutRecordAck { .. } => T_PUT_RECORD_ACK,
                };
                w.u8(t);
                w.u64(*id);
                match body {
                    Response::Pong => {}
                    Response::Nodes { closer } => write_peers(&mut w, closer)?,
                    Response::Providers { providers, closer } => {
                        write_peers(&mut w, providers)?;
                        write_peers(&mut w, closer)?;
                    }
                    Response::AddProviderAck { status } | Response::PutRecordAck { status } => {
                        w.u8(*status as u8)
                    }
                    Response::Record { record, closer } => {
                        match record {
                            None => w.u8(0),
                            Some(r) => {
                                check_record(r)?;
                                w.u8(1);
                                r.encode(&mut w);
                            }
                        }
                        write_peers(&mut w, closer)?;
                    }
                }
            }
        }
        let out = w.into_inner();
        if out.len() > MAX_MESSAGE_SIZE {
            return Err(EncodeError::LimitExceeded("message size"));
        }
        Ok(out)
    }

    /// The message as a stream frame: its length (4 bytes, big-endian), then
    /// its encoding.
    pub fn encode_frame(&self) -> Result<Vec<u8>, EncodeError> {
        let body = self.encode()?;
        let len =
            u32::try_from(body.len()).map_err(|_| EncodeError::LimitExceeded("message size"))?;
        let mut out = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decodes one message from exactly `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        if bytes.len() > MAX_MESSAGE_SIZE {
            return Err(DecodeError::TooLarge(bytes.len()));
        }
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let t = r.u8()?;
        let id = r.u64()?;
        let msg = if t & 0x80 == 0 {
            let sender_addrs = read_addrs(&mut r)?;
            let body = match t {
                T_PING => Request::Ping,
                T_FIND_NODE => Request::FindNode {
                    target: Key(r.array()?),
                },
                T_GET_PROVIDERS => Request::GetProviders {
                    key: Key(r.array()?),
                },
                T_ADD_PROVIDER => Request::AddProvider {
                    key: Key(r.array()?),
                    ttl_secs: r.u32()?,
                },
                T_GET_RECORD => Request::GetRecord {
                    key: Key(r.array()?),
                },
                T_PUT_RECORD => Request::PutRecord {
                    record: SignedRecord::decode(&mut r)?,
                },
                other => return Err(DecodeError::UnknownType(other)),
            };
            Message::Request {
                id,
                sender_addrs,
                body,
            }
        } else {
            let body = match t {
                T_PONG => Response::Pong,
                T_NODES => Response::Nodes {
                    closer: read_peers(&mut r)?,
                },
                T_PROVIDERS => Response::Providers {
                    providers: read_peers(&mut r)?,
                    closer: read_peers(&mut r)?,
                },
                T_ADD_PROVIDER_ACK => Response::AddProviderAck {
                    status: StoreStatus::from_u8(r.u8()?)?,
                },
                T_RECORD => {
                    let record = match r.u8()? {
                        0 => None,
                        1 => Some(SignedRecord::decode(&mut r)?),
                        _ => return Err(DecodeError::Invalid("record presence flag")),
                    };
                    Response::Record {
                        record,
                        closer: read_peers(&mut r)?,
                    }
                }
                T_PUT_RECORD_ACK => Response::PutRecordAck {
                    status: StoreStatus::from_u8(r.u8()?)?,
                },
                other => return Err(DecodeError::UnknownType(other)),
            };
            Message::Response { id, body }
        };
        r.finish()?;
        Ok(msg)
    }
}

fn check_record(r: &SignedRecord) -> Result<(), EncodeError> {
    if r.name.len() > super::record::MAX_NAME_LEN || r.value.len() > super::record::MAX_VALUE_LEN {
        return Err(EncodeError::LimitExceeded("record"));
    }
    Ok(())
}

pub(crate) fn write_addrs(w: &mut Writer, addrs: &[SocketAddr]) -> Result<(), EncodeError> {
    let n = u8::try_from(addrs.len())
        .ok()
        .filter(|n| usize::from(*n) <= MAX_ADDRS_PER_PEER)
        .ok_or(EncodeError::LimitExceeded("addresses per peer"))?;
    w.u8(n);
    for a in addrs {
        match a.ip() {
            IpAddr::V4(ip) => {
                w.u8(4);
                w.bytes(&ip.octets());
            }
            IpAddr::V6(ip) => {
                w.u8(6);
                w.bytes(&ip.octets());
            }
        }
        w.u16(a.port());
    }
    Ok(())
}

pub(crate) fn read_addrs(r: &mut Reader<'_>) -> Result<Vec<SocketAddr>, DecodeError> {
    let n = usize::from(r.u8()?);
    if n > MAX_ADDRS_PER_PEER {
        return Err(DecodeError::LimitExceeded("addresses per peer"));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let ip = match r.u8()? {
            4 => IpAddr::V4(Ipv4Addr::from(r.array::<4>()?)),
            6 => IpAddr::V6(Ipv6Addr::from(r.array::<16>()?)),
            _ => return Err(DecodeError::Invalid("address family")),
        };
        out.push(SocketAddr::new(ip, r.u16()?));
    }
    Ok(out)
}

fn write_peers(w: &mut Writer, peers: &[PeerInfo]) -> Result<(), EncodeError> {
    let n = u8::try_from(peers.len())
        .ok()
        .filter(|n| usize::from(*n) <= MAX_PEERS_PER_RESPONSE)
        .ok_or(EncodeError::LimitExceeded("peers per response"))?;
    w.u8(n);
    for p in peers {
        w.bytes(&p.id.0);
        write_addrs(w, &p.addrs)?;
    }
    Ok(())
}

fn read_peers(r: &mut Reader<'_>) -> Result<Vec<PeerInfo>, DecodeError> {
    let n = usize::from(r.u8()?);
    if n > MAX_PEERS_PER_RESPONSE {
        return Err(DecodeError::LimitExceeded("peers per response"));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let id = Key(r.array()?);
        let addrs = read_addrs(r)?;
        out.push(PeerInfo { id, addrs });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

    fn peer(i: u8) -> PeerInfo {
        PeerInfo {
            id: Key([i; 32]),
            addrs: vec![
                SocketAddr::from(([10, 0, 0, i], 4000 + u16::from(i))),
                SocketAddr::from((Ipv6Addr::LOCALHOST, 9)),
            ],
        }
    }

    fn record() -> SignedRecord {
        SignedRecord::sign(&SigningKey::from_bytes(&[7; 32]), b"n", b"value", 3, 99).unwrap()
    }

    fn samples() -> Vec<Message> {
        let addrs = vec![SocketAddr::from(([127, 0, 0, 1], 1))];
        let reqs = [
            Request::Ping,
            Request::FindNode {
                target: Key([1; 32]),
            },
            Request::GetProviders { key: Key([2; 32]) },
            Request::AddProvider {
                key: Key([3; 32]),
                ttl_secs: 3600,
            },
            Request::GetRecord { key: Key([4; 32]) },
            Request::PutRecord { record: record() },
        ];
        let resps = [
            Response::Pong,
            Response::Nodes {
                closer: (0..20).map(peer).collect(),
            },
            Response::Providers {
                providers: vec![peer(1)],
                closer: vec![peer(2), peer(3)],
            },
            Response::AddProviderAck {
                status: StoreStatus::Full,
            },
            Response::Record {
                record: Some(record()),
                closer: vec![peer(9)],
            },
            Response::Record {
                record: None,
                closer: vec![],
            },
            Response::PutRecordAck {
                status: StoreStatus::Stale,
            },
        ];
        let mut v: Vec<Message> = reqs
            .into_iter()
            .enumerate()
            .map(|(i, body)| Message::Request {
                id: i as u64,
                sender_addrs: addrs.clone(),
                body,
            })
            .collect();
        v.extend(
            resps
                .into_iter()
                .enumerate()
                .map(|(i, body)| Message::Response {
                    id: u64::MAX - i as u64,
                    body,
                }),
        );
        v
    }

    #[test]
    fn every_message_type_round_trips() {
        for m in samples() {
            let bytes = m.encode().unwrap();
            assert!(bytes.len() <= MAX_MESSAGE_SIZE);
            assert_eq!(Message::decode(&bytes).unwrap(), m);
        }
    }

    #[test]
    fn ping_layout_matches_protocol_document() {
        let m = Message::Request {
            id: 0x0102030405060708,
            sender_addrs: vec![SocketAddr::from(([127, 0, 0, 1], 0x1f90))],
            body: Request::Ping,
        };
        assert_eq!(
            m.encode().unwrap(),
            [
                1, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 1, 4, 127, 0, 0, 1, 0x1f, 0x90
            ]
        );
    }

    #[test]
    fn every_truncation_is_rejected() {
        for m in samples() {
            let bytes = m.encode().unwrap();
            for cut in 0..bytes.len() {
                assert!(
                    Message::decode(&bytes[..cut]).is_err(),
                    "{m:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn frames_carry_their_length_and_oversized_frames_are_refused_by_header() {
        for m in samples() {
            let frame = m.encode_frame().unwrap();
            let (head, body) = frame.split_at(FRAME_HEADER_LEN);
            let len = frame_len(head.try_into().unwrap()).unwrap();
            assert_eq!(len, body.len());
            assert_eq!(Message::decode(body).unwrap(), m);
        }
        assert_eq!(
            frame_len(((MAX_MESSAGE_SIZE + 1) as u32).to_be_bytes()),
            Err(DecodeError::TooLarge(MAX_MESSAGE_SIZE + 1))
        );
        assert!(frame_len([0xff; 4]).is_err());
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = samples()[0].encode().unwrap();
        bytes.push(0);
        assert_eq!(Message::decode(&bytes), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn oversized_input_is_rejected_before_parsing() {
        let bytes = vec![1u8; MAX_MESSAGE_SIZE + 1];
        assert_eq!(
            Message::decode(&bytes),
            Err(DecodeError::TooLarge(MAX_MESSAGE_SIZE + 1))
        );
    }

    #[test]
    fn over_limit_counts_are_rejected() {
        // NODES claiming 21 peers.
        let mut bytes = vec![1, T_NODES, 0, 0, 0, 0, 0, 0, 0, 0, 21];
        bytes.extend(std::iter::repeat_n(0u8, 33 * 21));
        assert_eq!(
            Message::decode(&bytes),
            Err(DecodeError::LimitExceeded("peers per response"))
        );
        // A request with 5 sender addresses.
        let bytes = [1, T_PING, 0, 0, 0, 0, 0, 0, 0, 0, 5];
        assert_eq!(
            Message::decode(&bytes),
            Err(DecodeError::LimitExceeded("addresses per peer"))
        );
        let too_many = Response::Nodes {
            closer: (0..21).map(peer).collect(),
        };
        assert!(
            Message::Response {
                id: 0,
                body: too_many
            }
            .encode()
            .is_err()
        );
    }

    #[test]
    fn unknown_version_and_type_are_rejected() {
        let mut bytes = samples()[0].encode().unwrap();
        bytes[0] = 2;
        assert_eq!(
            Message::decode(&bytes),
            Err(DecodeError::UnsupportedVersion(2))
        );
        bytes[0] = 1;
        bytes[1] = 0x7f;
        assert_eq!(Message::decode(&bytes), Err(DecodeError::UnknownType(0x7f)));
    }

    proptest! {
        #[test]
        fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn decoded_messages_re_encode_to_the_same_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(m) = Message::decode(&bytes) {
                prop_assert_eq!(m.encode().unwrap(), bytes);
            }
        }
    }
}
