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
        let (mut head, body) = self.encode_parts();
        head.extend_from_slice(body);
        head
    }

    /// The frame in two parts: its head (length prefix, type and fixed
    /// fields) and the block bytes it carries (empty for messages without
    /// a block). A sender writes both in turn, so a block goes from where
    /// it was read to the stream without being copied into a frame first.
    pub fn encode_parts(&self) -> (Vec<u8>, &[u8]) {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&[0; LEN_PREFIX]);
        let mut body: &[u8] = &[];
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
                body = &bytes[..bytes.len().min(MAX_BLOCK)];
                b.push(ty);
                b.extend_from_slice(&id.0);
            }
            Message::PutPublic {
                id,
                leading,
                name,
                bytes,
            } => {
                let name = public_name(name);
                body = &bytes[..bytes.len().min(MAX_BLOCK)];
                b.reserve(PUT_PUBLIC_FIXED + name.len());
                b.push(T_PUT_PUBLIC);
                b.push(PUT_PUBLIC_VERSION);
                b.extend_from_slice(&id.0);
                b.push(if *leading { FLAG_LEADING } else { 0 });
                b.extend_from_slice(&(name.len() as u16).to_be_bytes());
                b.extend_from_slice(name.as_bytes());
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
        let len = (b.len() - LEN_PREFIX + body.len()) as u32;
        b[..LEN_PREFIX].copy_from_slice(&len.to_be_bytes());
        (b, body)
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
/// Bytes are best read straight into the decoder: [`Decoder::read_buf`]
/// gives the room, [`Decoder::filled`] says how much arrived
/// ([`Decoder::push`] copies a slice in, for callers that have one).
/// The body of a block frame (`Block`, `Put`) of at least
/// [`DIRECT_BODY`] bytes is then read into a vector of its own once the
/// frame's head is in, and becomes the message's bytes as it is: a fetched
/// block is not copied between the stream and the store. A little room past
/// the body's end lets a stream frame that ends with the block be opened in
/// place; bytes that land there belong to the next frame and move to the
/// shared buffer.
///
/// Decoded frames in the shared buffer are skipped by moving a start
/// offset; the buffer is compacted only when the consumed part is at least
/// as large as what is left, so each byte is moved at most about once more.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Received bytes are `buf[start..end]`; `buf[end..]` is room already
    /// initialised for the next read.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// A block frame's body being received into its own vector.
    body: Option<BodyIn>,
}

/// The body of a large block frame, received in place.
#[derive(Debug)]
struct BodyIn {
    ty: u8,
    id: BlockId,
    /// `need` bytes of body and [`BODY_SLACK`] bytes of room after them.
    bytes: Vec<u8>,
    got: usize,
    need: usize,
}

/// Block bodies at least this long are received into a vector of their own.
pub const DIRECT_BODY: usize = 16 * 1024;

/// Room past a body's end offered to a read, so a stream frame that ends
/// the block (payload plus its 16-byte tag) can be opened in place.
const BODY_SLACK: usize = 64;

/// Type and id: the head of a block frame after its length prefix.
const BLOCK_HEAD: usize = 1 + 32;

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Append received bytes (a copy; [`Decoder::read_buf`] avoids it).
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = self.read_buf(bytes.len());
            let n = room.len().min(bytes.len());
            room[..n].copy_from_slice(&bytes[..n]);
            self.filled(n);
            bytes = &bytes[n..];
        }
    }

    /// Room for the next read: at least 1 and at most `max` bytes (more by
    /// a few bytes at a block body's end). Report what was read with
    /// [`Decoder::filled`]; room left unfilled is simply offered again.
    pub fn read_buf(&mut self, max: usize) -> &mut [u8] {
        let max = max.max(1);
        if self.body.is_none() {
            self.start_body();
        }
        if let Some(b) = &mut self.body
            && b.got < b.need
        {
            let end = (b.got + max).min(b.bytes.len());
            return &mut b.bytes[b.got..end];
        }
        if self.start > 0 && self.start >= self.end - self.start {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < self.end + max {
            self.buf.resize(self.end + max, 0);
        }
        &mut self.buf[self.end..self.end + max]
    }

    /// `n` bytes were read into the room [`Decoder::read_buf`] gave.
    pub fn filled(&mut self, n: usize) {
        match &mut self.body {
            Some(b) if b.got < b.need => {
                b.got += n;
                if b.got > b.need {
                    // The start of the next frame, read into the slack.
                    let extra = b.got - b.need;
                    if self.buf.len() < self.end + extra {
                        self.buf.resize(self.end + extra, 0);
                    }
                    self.buf[self.end..self.end + extra].copy_from_slice(&b.bytes[b.need..b.got]);
                    self.end += extra;
                    b.got = b.need;
                }
            }
            _ => {
                self.end += n;
                debug_assert!(self.end <= self.buf.len());
            }
        }
    }

    /// If the first pending frame is a large block frame whose head is in
    /// but not its whole body, move to receiving that body in place.
    fn start_body(&mut self) {
        let Ok(Some(len)) = self.frame_len() else {
            return;
        };
        let b = self.pending();
        let ty = b[LEN_PREFIX];
        if !matches!(ty, T_BLOCK | T_PUT)
            || len < BLOCK_HEAD + DIRECT_BODY
            || b.len() < LEN_PREFIX + BLOCK_HEAD
            || b.len() >= LEN_PREFIX + len
        {
            return;
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(&b[LEN_PREFIX + 1..LEN_PREFIX + BLOCK_HEAD]);
        let need = len - BLOCK_HEAD;
        let have = &b[LEN_PREFIX + BLOCK_HEAD..];
        let mut bytes = vec![0u8; need + BODY_SLACK];
        bytes[..have.len()].copy_from_slice(have);
        self.body = Some(BodyIn {
            ty,
            id: BlockId(id),
            got: have.len(),
            bytes,
            need,
        });
        // Everything pending was this frame's.
        self.start = 0;
        self.end = 0;
    }

    /// The bytes buffered and not yet decoded.
    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.pending().len()
            + self
                .body
                .as_ref()
                .map_or(0, |b| LEN_PREFIX + BLOCK_HEAD + b.got)
    }

    /// How many more bytes the frame being received needs (at least 1 when
    /// nothing complete is buffered), or an error if it is over its limit.
    pub fn need(&self) -> Result<usize, WireError> {
        if let Some(b) = &self.body {
            return Ok(b.need - b.got);
        }
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
        if let Some(b) = &self.body {
            if b.got < b.need {
                return Ok(None);
            }
            let Some(BodyIn {
                ty,
                id,
                mut bytes,
                need,
                ..
            }) = self.body.take()
            else {
                return Ok(None);
            };
            bytes.truncate(need);
            return Ok(Some(if ty == T_BLOCK {
                Message::Block { id, bytes }
            } else {
                Message::Put { id, bytes }
            }));
        }
        let Some(len) = self.frame_len()? else {
            return Ok(None);
        };
        if self.pending().len() < LEN_PREFIX + len {
            return Ok(None);
        }
        let msg = Message::decode(&self.pending()[LEN_PREFIX..LEN_PREFIX + len]);
        self.start += LEN_PREFIX + len;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
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

    /// Small messages around large blocks (received into vectors of their
    /// own) and blocks just under the direct size.
    fn with_large_blocks() -> Vec<Message> {
        let big = |n: usize, seed: u8| -> Vec<u8> {
            (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
        };
        let mut v = vec![Message::Block {
            id: id(20),
            bytes: big(200_000, 1),
        }];
        v.extend(all());
        v.push(Message::Put {
            id: id(21),
            bytes: big(DIRECT_BODY, 2),
        });
        v.push(Message::Block {
            id: id(22),
            bytes: big(DIRECT_BODY - 1, 3),
        });
        v.push(Message::Block {
            id: id(23),
            bytes: big(MAX_BLOCK, 4),
        });
        v.push(Message::Have { id: id(24) });
        v
    }

    #[test]
    fn reads_into_the_decoder_at_any_size_give_the_same_messages() {
        let msgs = with_large_blocks();
        let stream: Vec<u8> = msgs.iter().flat_map(Message::encode).collect();
        // Read sizes that cut frames everywhere, including a head cut
        // before its id is complete and reads that end inside the slack.
        for step in [
            1,
            7,
            36,
            37,
            38,
            1000,
            65_536,
            65_536 + 16,
            262_144,
            stream.len(),
        ] {
            let mut d = Decoder::new();
            let mut got = Vec::new();
            let mut at = 0;
            while at < stream.len() {
                let room = d.read_buf(step);
                assert!(!room.is_empty());
                let n = room.len().min(stream.len() - at);
                room[..n].copy_from_slice(&stream[at..at + n]);
                d.filled(n);
                at += n;
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert!(got == msgs, "read size {step}: messages differ");
            assert_eq!(d.buffered(), 0, "read size {step}");
            assert_eq!(d.need().unwrap(), LEN_PREFIX + 1);
        }
        // All at once, decoded only at the end.
        let mut d = Decoder::new();
        d.push(&stream);
        let mut got = Vec::new();
        while let Some(m) = d.next_message().unwrap() {
            got.push(m);
        }
        assert!(got == msgs, "one push");
    }

    #[test]
    fn a_large_block_body_is_read_in_place_with_only_its_slack_past_the_end() {
        let m = Message::Block {
            id: id(30),
            bytes: vec![7; 100_000],
        };
        let f = m.encode();
        let mut d = Decoder::new();
        // The head, and a little of the body.
        d.push(&f[..LEN_PREFIX + BLOCK_HEAD + 10]);
        assert_eq!(d.need().unwrap(), 100_000 - 10);
        // The room offered ends at most the slack past the body.
        let room = d.read_buf(1 << 20);
        assert_eq!(room.len(), 100_000 - 10 + BODY_SLACK);
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
