//! The `blocks/1` messages and their exact byte layout (docs/PROTOCOL.md §7).
//!
//! Every message is one frame: a 4-byte big-endian length, then a type byte
//! and the type's fields. The frame length is checked against a per-type
//! limit *before* anything is buffered or allocated, so a peer can make us
//! hold at most one largest block (the store's largest shard) per stream.
//! The protocol name carries the version; a new layout gets `blocks/2`.
//! Decoding is pure (bytes in, message or error out) so it can be fuzzed.
//!
//! `PutPublic` (type 9) was added within `blocks/1` rather than as
//! `blocks/2`: it is a put with a hint (the file name, and whether the bytes
//! begin the file) for the host's type filter, answered exactly like `Put`;
//! it carries its own version byte so its layout can change alone. A node
//! that predates it answers with its ordinary protocol error (unknown
//! message type) and the adder places the shard elsewhere.

use crate::store::BlockId;

/// The protocol name streams are opened with.
pub const PROTOCOL: &str = "blocks/1";
/// Largest block a message may carry: the largest shard the store makes
/// (one copy of the largest chunk, sealed).
pub const MAX_BLOCK: usize =
    crate::store::manifest::MAX_CHUNK as usize + crate::store::crypto::TAG_LEN;
/// Most ids in one want-list.
pub const MAX_WANT: usize = 1024;
/// Longest reason text in a refusal or an error.
pub const MAX_TEXT: usize = 512;
/// Frame length prefix.
pub const LEN_PREFIX: usize = 4;
/// Largest frame body of any type (a block message).
pub const MAX_FRAME: usize = 1 + 32 + MAX_BLOCK;
/// Largest frame body of a message that is not a block or a put.
pub const MAX_SMALL_FRAME: usize = 1 + 1 + 2 + MAX_WANT * 32;

const T_WANT: u8 = 1;
const T_HAVE: u8 = 2;
const T_DONT_HAVE: u8 = 3;
const T_BLOCK: u8 = 4;
const T_PUT: u8 = 5;
const T_PUT_ACK: u8 = 6;
const T_PUT_REFUSED: u8 = 7;
const T_ERROR: u8 = 8;
const T_PUT_PUBLIC: u8 = 9;

/// Version of the `PutPublic` layout.
pub const PUT_PUBLIC_VERSION: u8 = 1;
/// Longest file name a `PutPublic` carries, bytes (UTF-8). Longer names are
/// cut from the front so the extension survives.
pub const MAX_PUBLIC_NAME: usize = 255;
/// `PutPublic` flag: the bytes begin the file (shard 0 of its first chunk).
const FLAG_LEADING: u8 = 1;
/// Fixed part of a `PutPublic` body before the name: type, version, id,
/// flags, name length.
const PUT_PUBLIC_FIXED: usize = 1 + 1 + 32 + 1 + 2;

/// What a want-list asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WantMode {
    /// Send the blocks (answered by `Block` or `DontHave` per id).
    Block,
    /// Only say whether they are held (answered by `Have` or `DontHave`).
    Have,
}

/// Why a put was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// The peer has no `store` right here.
    NotAllowed,
    /// The block is larger than this node accepts.
    TooLarge,
    /// Taking it would exceed the space this node lends.
    NoSpace,
    /// The bytes do not hash to the id.
    WrongId,
    /// Storing failed locally (disk, database).
    Failed,
    /// A public share's type is refused by this host's filter (the reason
    /// names the rule).
    TypeRefused,
}

impl RefusalCode {
    fn code(self) -> u8 {
        match self {
            RefusalCode::NotAllowed => 1,
            RefusalCode::TooLarge => 2,
            RefusalCode::NoSpace => 3,
            RefusalCode::WrongId => 4,
            RefusalCode::Failed => 5,
            RefusalCode::TypeRefused => 6,
        }
    }
    fn from_code(c: u8) -> Option<RefusalCode> {
        Some(match c {
            1 => RefusalCode::NotAllowed,
            2 => RefusalCode::TooLarge,
            3 => RefusalCode::NoSpace,
            4 => RefusalCode::WrongId,
            5 => RefusalCode::Failed,
            6 => RefusalCode::TypeRefused,
            _ => return None,
        })
    }
}

impl std::fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RefusalCode::NotAllowed => "not allowed to store here",
            RefusalCode::TooLarge => "block too large",
            RefusalCode::NoSpace => "no space lent left",
            RefusalCode::WrongId => "bytes do not match the id",
            RefusalCode::Failed => "storing failed",
            RefusalCode::TypeRefused => "type refused by the host's filter",
        })
    }
}

/// Codes of an `Error` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A message this side cannot accept here (unsolicited, malformed).
    Protocol,
    /// The peer lacks the right for what it asked.
    NotAllowed,
    /// Too much at once.
    Busy,
    /// Any other code (kept so an old node can read a newer one's errors).
    Other(u8),
}

impl ErrorCode {
    fn code(self) -> u8 {
        match self {
            ErrorCode::Protocol => 1,
            ErrorCode::NotAllowed => 2,
            ErrorCode::Busy => 3,
            ErrorCode::Other(c) => c,
        }
    }
    fn from_code(c: u8) -> ErrorCode {
        match c {
            1 => ErrorCode::Protocol,
            2 => ErrorCode::NotAllowed,
            3 => ErrorCode::Busy,
            c => ErrorCode::Other(c),
        }
    }
}

/// One `blocks/1` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Want {
        mode: WantMode,
        ids: Vec<BlockId>,
    },
    Have {
        id: BlockId,
    },
    DontHave {
        id: BlockId,
    },
    Block {
        id: BlockId,
        bytes: Vec<u8>,
    },
    /// "Store this block for me" (class `hosted` on the receiver).
    Put {
        id: BlockId,
        bytes: Vec<u8>,
    },
    /// "Store this block of a public (plaintext) share for me": a `Put`
    /// that names the file, so the host can filter by type; answered like
    /// a `Put`.
    PutPublic {
        id: BlockId,
        /// The bytes begin the file (its magic bytes, if any, are here).
        leading: bool,
        /// The file's name (at most [`MAX_PUBLIC_NAME`] bytes).
        name: String,
        bytes: Vec<u8>,
    },
    PutAck {
        id: BlockId,
    },
    PutRefused {
        id: BlockId,
        code: RefusalCode,
        reason: String,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// Bytes that are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("frame of {len} bytes exceeds the limit of {limit} for its type")]
    TooLarge { len: usize, limit: usize },
    #[error("empty frame")]
    Empty,
    #[error("unknown message type {0}")]
    UnknownType(u8),
    #[error("message truncated")]
    Truncated,
    #[error("message has {0} trailing bytes")]
    Trailing(usize),
    #[error("field out of range: {0}")]
    Range(&'static str),
}

/// The limit on a frame body whose first byte is `ty` (0 when unknown).
pub fn frame_limit(ty: u8) -> usize {
    match ty {
        T_BLOCK | T_PUT => MAX_FRAME,
        T_WANT => MAX_SMALL_FRAME,
        T_HAVE | T_DONT_HAVE | T_PUT_ACK => 1 + 32,
        T_PUT_REFUSED => 1 + 32 + 1 + 2 + MAX_TEXT,
        T_ERROR => 1 + 1 + 2 + MAX_TEXT,
        T_PUT_PUBLIC => PUT_PUBLIC_FIXED + MAX_PUBLIC_NAME + MAX_BLOCK,
        _ => 0,
    }
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    // Cut at a char boundary at or below the limit.
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..end]);
}

/// The part of `name` a `PutPublic` carries: all of it, or its last
/// [`MAX_PUBLIC_NAME`] bytes (cut at a char boundary) so the extension stays.
pub fn public_name(name: &str) -> &str {
    let mut start = name.len().saturating_sub(MAX_PUBLIC_NAME);
    while !name.is_char_boundary(start) {
        start += 1;
    }
    &name[start..]
}

impl Message {
    /// The frame: length prefix and body. Texts longer than the limit are
    /// cut; want-lists and blocks over their limits are the caller's bug and
    /// are cut to the limit too, so an encoded frame always decodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        match self {
            Message::Want { mode, ids } => {
                b.push(T_WANT);
                b.push(match mode {
                    WantMode::Block => 0,
                    WantMode::Have => 1,
                });
                let ids = &ids[..ids.len().min(MAX_WANT)];
                b.extend_from_slice(&(ids.len() as u16).to_be_bytes());
                for id in ids {
                    b.extend_from_slice(&id.0);
                }
            }
            Message::Have { id } => {
                b.push(T_HAVE);
                b.extend_from_slice(&id.0);
            }
            Message::DontHave { id } => {
                b.push(T_DONT_HAVE);
                b.extend_from_slice(&id.0);
            }
            Message::Block { id, bytes } | Message::Put { id, bytes } => {
                let ty = if matches!(self, Message::Block { .. }) {
                    T_BLOCK
                } else {
                    T_PUT
                };
                let bytes = &bytes[..bytes.len().min(MAX_BLOCK)];
                b.reserve(bytes.len() + 33);
                b.push(ty);
                b.extend_from_slice(&id.0);
                b.extend_from_slice(bytes);
            }
            Message::PutPublic {
                id,
                leading,
                name,
                bytes,
            } => {
                let name = public_name(name);
                let bytes = &bytes[..bytes.len().min(MAX_BLOCK)];
                b.reserve(PUT_PUBLIC_FIXED + name.len() + bytes.len());
                b.push(T_PUT_PUBLIC);
                b.push(PUT_PUBLIC_VERSION);
                b.extend_from_slice(&id.0);
                b.push(if *leading { FLAG_LEADING } else { 0 });
                b.extend_from_slice(&(name.len() as u16).to_be_bytes());
                b.extend_from_slice(name.as_bytes());
                b.extend_from_slice(bytes);
            }
            Message::PutAck { id } => {
                b.push(T_PUT_ACK);
                b.extend_from_slice(&id.0);
            }
            Message::PutRefused { id, code, reason } => {
                b.push(T_PUT_REFUSED);
                b.extend_from_slice(&id.0);
                b.push(code.code());
                put_text(&mut b, reason);
            }
            Message::Error { code, message } => {
                b.push(T_ERROR);
                b.push(code.code());
                put_text(&mut b, message);
            }
        }
        let mut out = Vec::with_capacity(LEN_PREFIX + b.len());
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(&b);
        out
    }

    /// Decode one frame body (without its length prefix).
    pub fn decode(body: &[u8]) -> Result<Message, WireError> {
        let (&ty, rest) = body.split_first().ok_or(WireError::Empty)?;
        let limit = frame_limit(ty);
        if limit == 0 {
            return Err(WireError::UnknownType(ty));
        }
        if body.len() > limit {
            return Err(WireError::TooLarge {
                len: body.len(),
                limit,
            });
        }
        let mut r = Reader(rest);
        let msg = match ty {
            T_WANT => {
                let mode = match r.u8()? {
                    0 => WantMode::Block,
                    1 => WantMode::Have,
                    _ => return Err(WireError::Range("want mode")),
                };
                let n = r.u16()? as usize;
                if n == 0 || n > MAX_WANT {
                    return Err(WireError::Range("want-list length"));
                }
                if r.0.len() < n * 32 {
                    return Err(WireError::Truncated);
                }
                let mut ids = Vec::with_capacity(n);
                for _ in 0..n {
                    ids.push(r.id()?);
                }
                Message::Want { mode, ids }
            }
            T_HAVE => Message::Have { id: r.id()? },
            T_DONT_HAVE => Message::DontHave { id: r.id()? },
            T_BLOCK | T_PUT => {
                let id = r.id()?;
                let bytes = std::mem::take(&mut r.0).to_vec();
                if ty == T_BLOCK {
                    Message::Block { id, bytes }
                } else {
                    Message::Put { id, bytes }
                }
            }
            T_PUT_PUBLIC => {
                let version = r.u8()?;
                if version != PUT_PUBLIC_VERSION {
                    return Err(WireError::Range("put-public version"));
                }
                let id = r.id()?;
                let leading = match r.u8()? {
                    0 => false,
                    FLAG_LEADING => true,
                    _ => return Err(WireError::Range("put-public flags")),
                };
                let n = r.u16()? as usize;
                if n > MAX_PUBLIC_NAME {
                    return Err(WireError::Range("put-public name length"));
                }
                let name = String::from_utf8(r.take(n)?.to_vec())
                    .map_err(|_| WireError::Range("put-public name is not UTF-8"))?;
                let bytes = std::mem::take(&mut r.0).to_vec();
                if bytes.len() > MAX_BLOCK {
                    return Err(WireError::Range("put-public block length"));
                }
                Message::PutPublic {
                    id,
                    leading,
                    name,
                    bytes,
                }
            }
            T_PUT_ACK => Message::PutAck { id: r.id()? },
            T_PUT_REFUSED => {
                let id = r.id()?;
                let code = RefusalCode::from_code(r.u8()?).ok_or(WireError::Range("refusal"))?;
                let reason = r.text()?;
                Message::PutRefused { id, code, reason }
            }
            T_ERROR => {
                let code = ErrorCode::from_code(r.u8()?);
                let message = r.text()?;
                Message::Error { code, message }
            }
            other => return Err(WireError::UnknownType(other)),
        };
        if !r.0.is_empty() {
            return Err(WireError::Trailing(r.0.len()));
        }
        Ok(msg)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError::Truncated);
        }
        let (h, t) = self.0.split_at(n);
        self.0 = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn id(&mut self) -> Result<BlockId, WireError> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32)?);
        Ok(BlockId(a))
    }
    fn text(&mut self) -> Result<String, WireError> {
        let n = self.u16()? as usize;
        if n > MAX_TEXT {
            return Err(WireError::Range("text length"));
        }
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| WireError::Range("text is not UTF-8"))
    }
}

/// Cuts a byte stream into frames, refusing any frame over its type's limit
/// as soon as its length and type are known (before buffering its body).
///
/// Decoded frames are skipped by moving a start offset, not by shifting
/// the rest of the buffer to the front after every frame: with pipelined
/// wants a 256 KiB read holds the tail of one block and most of the next,
/// and shifting that remainder per block cost a copy of about every byte
/// received. The buffer is emptied when everything is consumed, and
/// compacted on [`Decoder::push`] only once the consumed part is at least as
/// large as what is left, so each byte is moved at most about once more.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Bytes of `buf` before this offset are decoded already.
    start: usize,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() - self.start {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes buffered and not yet decoded.
    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.pending().len()
    }

    /// How many more bytes the frame being received needs (at least 1 when
    /// nothing complete is buffered), or an error if it is over its limit.
    pub fn need(&self) -> Result<usize, WireError> {
        let Some(len) = self.frame_len()? else {
            return Ok(LEN_PREFIX + 1 - self.buffered());
        };
        Ok((LEN_PREFIX + len).saturating_sub(self.buffered()))
    }

    fn frame_len(&self) -> Result<Option<usize>, WireError> {
        let b = self.pending();
        if b.len() < LEN_PREFIX + 1 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if len == 0 {
            return Err(WireError::Empty);
        }
        let ty = b[LEN_PREFIX];
        let limit = frame_limit(ty);
        if limit == 0 {
            return Err(WireError::UnknownType(ty));
        }
        if len > limit {
            return Err(WireError::TooLarge { len, limit });
        }
        Ok(Some(len))
    }

    /// The next complete message, if one is buffered.
    pub fn next_message(&mut self) -> Result<Option<Message>, WireError> {
        let Some(len) = self.frame_len()? else {
            return Ok(None);
        };
        if self.buffered() < LEN_PREFIX + len {
            return Ok(None);
        }
        let msg = Message::decode(&self.pending()[LEN_PREFIX..LEN_PREFIX + len]);
        self.start += LEN_PREFIX + len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        msg.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u8) -> BlockId {
        BlockId([n; 32])
    }

    fn all() -> Vec<Message> {
        vec![
            Message::Want {
                mode: WantMode::Block,
                ids: vec![id(1), id(2)],
            },
            Message::Want {
                mode: WantMode::Have,
                ids: vec![id(3)],
            },
            Message::Have { id: id(4) },
            Message::DontHave { id: id(5) },
            Message::Block {
                id: id(6),
                bytes: vec![1, 2, 3],
            },
            Message::Put {
                id: id(7),
                bytes: vec![],
            },
            Message::PutAck { id: id(8) },
            Message::PutPublic {
                id: id(10),
                leading: true,
                name: "data.csv".into(),
                bytes: vec![4, 5],
            },
            Message::PutPublic {
                id: id(11),
                leading: false,
                name: String::new(),
                bytes: vec![],
            },
            Message::PutRefused {
                id: id(12),
                code: RefusalCode::TypeRefused,
                reason: "public files named *.exe are refused".into(),
            },
            Message::PutRefused {
                id: id(9),
                code: RefusalCode::NoSpace,
                reason: "full".into(),
            },
            Message::Error {
                code: ErrorCode::Other(77),
                message: "x".into(),
            },
        ]
    }

    #[test]
    fn every_message_round_trips_through_the_decoder() {
        let mut d = Decoder::new();
        for m in all() {
            d.push(&m.encode());
        }
        for m in all() {
            assert_eq!(d.next_message().unwrap(), Some(m));
        }
        assert_eq!(d.next_message().unwrap(), None);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn messages_split_at_any_read_size_decode_the_same_interleaved_with_reads() {
        let stream: Vec<u8> = all().iter().flat_map(Message::encode).collect();
        for step in [1, 2, 3, 7, 33, 100, 1000, stream.len()] {
            let mut d = Decoder::new();
            let mut got = Vec::new();
            for piece in stream.chunks(step) {
                d.push(piece);
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got, all(), "read size {step}");
            assert_eq!(d.buffered(), 0);
            assert_eq!(d.need().unwrap(), LEN_PREFIX + 1);
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for m in all() {
            let f = m.encode();
            let body = &f[LEN_PREFIX..];
            // A block's bytes run to the end of the frame: any cut after the
            // id is a shorter block (caught by its hash, not the decoder).
            let open_ended = matches!(m, Message::Block { .. } | Message::Put { .. });
            let upto = match &m {
                _ if open_ended => 33,
                Message::PutPublic { name, .. } => PUT_PUBLIC_FIXED + name.len(),
                _ => body.len(),
            };
            for i in 0..upto {
                assert!(Message::decode(&body[..i]).is_err(), "{m:?} cut at {i}");
            }
        }
    }

    #[test]
    fn oversized_frame_is_refused_before_its_body_arrives() {
        let mut d = Decoder::new();
        let mut head = ((MAX_SMALL_FRAME + 1) as u32).to_be_bytes().to_vec();
        head.push(T_WANT);
        d.push(&head);
        assert!(matches!(d.need(), Err(WireError::TooLarge { .. })));
        assert!(d.next_message().is_err());
        let mut d = Decoder::new();
        let mut head = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        head.push(T_BLOCK);
        d.push(&head);
        assert!(d.next_message().is_err());
    }

    #[test]
    fn put_public_layout_is_exact_and_checked() {
        let m = Message::PutPublic {
            id: id(1),
            leading: true,
            name: "a.txt".into(),
            bytes: b"xyz".to_vec(),
        };
        let f = m.encode();
        let body = &f[LEN_PREFIX..];
        assert_eq!(body[0], 9);
        assert_eq!(body[1], PUT_PUBLIC_VERSION);
        assert_eq!(body[2..34], [1; 32]);
        assert_eq!(body[34], 1);
        assert_eq!(body[35..37], [0, 5]);
        assert_eq!(&body[37..42], b"a.txt");
        assert_eq!(&body[42..], b"xyz");
        let with = |i: usize, v: u8| {
            let mut b = body.to_vec();
            b[i] = v;
            Message::decode(&b)
        };
        assert_eq!(with(1, 2), Err(WireError::Range("put-public version")));
        assert_eq!(with(34, 2), Err(WireError::Range("put-public flags")));
        assert_eq!(with(35, 1), Err(WireError::Range("put-public name length")));
        let mut bad = body.to_vec();
        bad[37] = 0xff;
        assert!(Message::decode(&bad).is_err());
        // A frame over the limit is refused from its header alone.
        let mut d = Decoder::new();
        let mut head = ((PUT_PUBLIC_FIXED + MAX_PUBLIC_NAME + MAX_BLOCK + 1) as u32)
            .to_be_bytes()
            .to_vec();
        head.push(T_PUT_PUBLIC);
        d.push(&head);
        assert!(matches!(d.need(), Err(WireError::TooLarge { .. })));
    }

    #[test]
    fn long_public_names_keep_their_extension() {
        let long = format!("{}.exe", "é".repeat(200));
        let cut = public_name(&long).to_owned();
        assert!(cut.len() <= MAX_PUBLIC_NAME);
        assert!(cut.ends_with(".exe"));
        let m = Message::PutPublic {
            id: id(1),
            leading: false,
            name: long,
            bytes: vec![],
        };
        match Message::decode(&m.encode()[LEN_PREFIX..]).unwrap() {
            Message::PutPublic { name, .. } => assert_eq!(name, cut),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_type_and_bad_text_are_errors() {
        assert_eq!(Message::decode(&[99]), Err(WireError::UnknownType(99)));
        let mut b = vec![T_ERROR, 1, 0, 2, 0xff, 0xfe];
        assert!(Message::decode(&b).is_err());
        b.truncate(4);
        assert!(Message::decode(&b).is_err());
    }

    #[test]
    fn long_texts_are_cut_at_a_char_boundary() {
        let m = Message::Error {
            code: ErrorCode::Busy,
            message: "é".repeat(MAX_TEXT),
        };
        let f = m.encode();
        match Message::decode(&f[LEN_PREFIX..]).unwrap() {
            Message::Error { message, .. } => assert_eq!(message.len(), MAX_TEXT),
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn decode_never_panics_and_reencodes_exactly(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(m) = Message::decode(&b) {
                prop_assert_eq!(&m.encode()[LEN_PREFIX..], &b[..]);
            }
        }
    }
}
