//! One `blocks/1` stream's protocol state, without any I/O.
//!
//! Either side may want blocks and put blocks on the same stream; the
//! session remembers what this side asked for, so an answer nobody asked
//! for is a protocol violation, and it checks every arriving block against
//! its id (BLAKE3) before handing it out: the service above never sees an
//! unverified block, only [`Event::Tampered`] naming the peer's lie. Keeping
//! this apart from sockets makes every rule here a plain unit test.

use std::collections::{HashMap, HashSet};

use super::wire::{Decoder, ErrorCode, Message, RefusalCode, WantMode, WireError};
use crate::store::BlockId;

/// Most requests one side may have outstanding on one stream.
pub const MAX_OUTSTANDING: usize = super::wire::MAX_WANT;

/// Something the peer said, already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A block we wanted, verified against its id.
    Block {
        id: BlockId,
        bytes: Vec<u8>,
    },
    /// A block we wanted whose bytes do not hash to its id.
    Tampered {
        id: BlockId,
    },
    Have {
        id: BlockId,
    },
    DontHave {
        id: BlockId,
    },
    PutAck {
        id: BlockId,
    },
    PutRefused {
        id: BlockId,
        code: RefusalCode,
        reason: String,
    },
    /// The peer reported an error (it will usually close the stream).
    PeerError {
        code: ErrorCode,
        message: String,
    },
    /// The peer wants blocks from us.
    Wanted {
        mode: WantMode,
        ids: Vec<BlockId>,
    },
    /// The peer asks us to store a block; `bytes` hash to `id`.
    Put {
        id: BlockId,
        bytes: Vec<u8>,
    },
    /// The peer asks us to store a block of a public share; `bytes` hash
    /// to `id`. `name` and `leading` are for the host's type filter.
    PutPublic {
        id: BlockId,
        leading: bool,
        name: String,
        bytes: Vec<u8>,
    },
    /// The peer asked us to store bytes that do not hash to the id given.
    BadPut {
        id: BlockId,
    },
}

/// The peer broke the protocol; the stream should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("unsolicited {0}")]
    Unsolicited(&'static str),
    #[error("too many requests outstanding")]
    TooMany,
}

/// The state of one stream.
#[derive(Debug, Default)]
pub struct Session {
    decoder: Decoder,
    wanted: HashMap<BlockId, WantMode>,
    puts: HashSet<BlockId>,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// The frame asking for `ids`, recorded as outstanding.
    pub fn want(&mut self, mode: WantMode, ids: &[BlockId]) -> Result<Vec<u8>, SessionError> {
        if ids.is_empty() || self.wanted.len() + ids.len() > MAX_OUTSTANDING {
            return Err(SessionError::TooMany);
        }
        for id in ids {
            self.wanted.insert(*id, mode);
        }
        Ok(Message::Want {
            mode,
            ids: ids.to_vec(),
        }
        .encode())
    }

    /// The frame asking the peer to store `bytes`, recorded as outstanding.
    pub fn put(&mut self, bytes: &[u8]) -> Result<(BlockId, Vec<u8>), SessionError> {
        if self.puts.len() >= MAX_OUTSTANDING || bytes.len() > super::wire::MAX_BLOCK {
            return Err(SessionError::TooMany);
        }
        let id = BlockId::of(bytes);
        self.puts.insert(id);
        Ok((
            id,
            Message::Put {
                id,
                bytes: bytes.to_vec(),
            }
            .encode(),
        ))
    }

    /// The frame asking the peer to store a block of a public share named
    /// `name` (`leading`: the bytes begin the file), recorded as outstanding.
    pub fn put_public(
        &mut self,
        bytes: &[u8],
        name: &str,
        leading: bool,
    ) -> Result<(BlockId, Vec<u8>), SessionError> {
        if self.puts.len() >= MAX_OUTSTANDING || bytes.len() > super::wire::MAX_BLOCK {
            return Err(SessionError::TooMany);
        }
        let id = BlockId::of(bytes);
        self.puts.insert(id);
        Ok((
            id,
            Message::PutPublic {
                id,
                leading,
                name: name.to_owned(),
                bytes: bytes.to_vec(),
            }
            .encode(),
        ))
    }

    /// Requests of ours not yet answered.
    pub fn outstanding(&self) -> usize {
        self.wanted.len() + self.puts.len()
    }

    /// How many more bytes the frame in progress needs (to size reads), or
    /// the error that will end the stream.
    pub fn need(&self) -> Result<usize, SessionError> {
        Ok(self.decoder.need()?)
    }

    /// Take received bytes; returns what the peer said, in order.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Vec<Event>, SessionError> {
        self.decoder.push(bytes);
        self.events()
    }

    /// Room to read received bytes into, at most `max` (a block's body is
    /// read straight into the vector it is delivered in); then call
    /// [`Session::received`].
    pub fn read_buf(&mut self, max: usize) -> &mut [u8] {
        self.decoder.read_buf(max)
    }

    /// `n` bytes were read into [`Session::read_buf`]'s room; returns what
    /// the peer said, in order.
    pub fn received(&mut self, n: usize) -> Result<Vec<Event>, SessionError> {
        self.decoder.filled(n);
        self.events()
    }

    fn events(&mut self) -> Result<Vec<Event>, SessionError> {
        let mut out = Vec::new();
        while let Some(m) = self.decoder.next_message()? {
            out.push(self.on_message(m)?);
        }
        Ok(out)
    }

    fn answer(&mut self, id: &BlockId, what: &'static str) -> Result<WantMode, SessionError> {
        self.wanted
            .remove(id)
            .ok_or(SessionError::Unsolicited(what))
    }

    fn on_message(&mut self, m: Message) -> Result<Event, SessionError> {
        Ok(match m {
            Message::Want { mode, ids } => Event::Wanted { mode, ids },
            Message::Put { id, bytes } => {
                if BlockId::of(&bytes) == id {
                    Event::Put { id, bytes }
                } else {
                    Event::BadPut { id }
                }
            }
            Message::PutPublic {
                id,
                leading,
                name,
                bytes,
            } => {
                if BlockId::of(&bytes) == id {
                    Event::PutPublic {
                        id,
                        leading,
                        name,
                        bytes,
                    }
                } else {
                    Event::BadPut { id }
                }
            }
            Message::Block { id, bytes } => {
                if self.answer(&id, "block")? != WantMode::Block {
                    return Err(SessionError::Unsolicited("block (only have was asked)"));
                }
                if BlockId::of(&bytes) == id {
                    Event::Block { id, bytes }
                } else {
                    Event::Tampered { id }
                }
            }
            Message::Have { id } => {
                self.answer(&id, "have")?;
                Event::Have { id }
            }
            Message::DontHave { id } => {
                self.answer(&id, "dont-have")?;
                Event::DontHave { id }
            }
            Message::PutAck { id } => {
                if !self.puts.remove(&id) {
                    return Err(SessionError::Unsolicited("put-ack"));
                }
                Event::PutAck { id }
            }
            Message::PutRefused { id, code, reason } => {
                if !self.puts.remove(&id) {
                    return Err(SessionError::Unsolicited("put refusal"));
                }
                Event::PutRefused { id, code, reason }
            }
            Message::Error { code, message } => Event::PeerError { code, message },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(m: Message) -> Vec<u8> {
        m.encode()
    }

    #[test]
    fn wanted_block_is_verified_before_it_is_handed_out() {
        let mut s = Session::new();
        let good = b"hello".to_vec();
        let id = BlockId::of(&good);
        s.want(WantMode::Block, &[id]).unwrap();
        let ev = s
            .receive(&frame(Message::Block {
                id,
                bytes: good.clone(),
            }))
            .unwrap();
        assert_eq!(ev, vec![Event::Block { id, bytes: good }]);
        assert_eq!(s.outstanding(), 0);
    }

    #[test]
    fn tampered_block_is_reported_not_delivered() {
        let mut s = Session::new();
        let id = BlockId::of(b"real");
        s.want(WantMode::Block, &[id]).unwrap();
        let ev = s
            .receive(&frame(Message::Block {
                id,
                bytes: b"fake".to_vec(),
            }))
            .unwrap();
        assert_eq!(ev, vec![Event::Tampered { id }]);
    }

    #[test]
    fn unsolicited_answers_are_protocol_errors() {
        let id = BlockId::of(b"x");
        let mut s = Session::new();
        assert!(matches!(
            s.receive(&frame(Message::Block {
                id,
                bytes: b"x".to_vec()
            })),
            Err(SessionError::Unsolicited(_))
        ));
        let mut s = Session::new();
        assert!(s.receive(&frame(Message::PutAck { id })).is_err());
        let mut s = Session::new();
        s.want(WantMode::Have, &[id]).unwrap();
        assert!(
            s.receive(&frame(Message::Block {
                id,
                bytes: b"x".to_vec()
            }))
            .is_err()
        );
    }

    #[test]
    fn answers_arrive_split_across_reads() {
        let mut s = Session::new();
        let a = BlockId::of(b"a");
        let b = BlockId::of(b"b");
        s.want(WantMode::Have, &[a, b]).unwrap();
        let mut bytes = frame(Message::Have { id: a });
        bytes.extend(frame(Message::DontHave { id: b }));
        let mut events = Vec::new();
        for piece in bytes.chunks(7) {
            events.extend(s.receive(piece).unwrap());
        }
        assert_eq!(
            events,
            vec![Event::Have { id: a }, Event::DontHave { id: b }]
        );
    }

    #[test]
    fn puts_are_checked_and_answered_once() {
        let mut server = Session::new();
        let mut client = Session::new();
        let (id, f) = client.put(b"data").unwrap();
        assert_eq!(
            server.receive(&f).unwrap(),
            vec![Event::Put {
                id,
                bytes: b"data".to_vec()
            }]
        );
        let lie = frame(Message::Put {
            id,
            bytes: b"other".to_vec(),
        });
        assert_eq!(server.receive(&lie).unwrap(), vec![Event::BadPut { id }]);
        let refusal = frame(Message::PutRefused {
            id,
            code: RefusalCode::NoSpace,
            reason: "full".into(),
        });
        assert!(matches!(
            client.receive(&refusal).unwrap()[..],
            [Event::PutRefused {
                code: RefusalCode::NoSpace,
                ..
            }]
        ));
        assert!(client.receive(&frame(Message::PutAck { id })).is_err());
    }

    #[test]
    fn public_puts_carry_their_name_and_are_checked() {
        let mut server = Session::new();
        let mut client = Session::new();
        let (id, f) = client.put_public(b"\x7fELF", "tool", true).unwrap();
        assert_eq!(
            server.receive(&f).unwrap(),
            vec![Event::PutPublic {
                id,
                leading: true,
                name: "tool".into(),
                bytes: b"\x7fELF".to_vec()
            }]
        );
        let lie = frame(Message::PutPublic {
            id,
            leading: false,
            name: "a.txt".into(),
            bytes: b"other".to_vec(),
        });
        assert_eq!(server.receive(&lie).unwrap(), vec![Event::BadPut { id }]);
        let refusal = frame(Message::PutRefused {
            id,
            code: RefusalCode::TypeRefused,
            reason: "ELF".into(),
        });
        assert!(matches!(
            client.receive(&refusal).unwrap()[..],
            [Event::PutRefused {
                code: RefusalCode::TypeRefused,
                ..
            }]
        ));
    }

    #[test]
    fn want_list_over_the_outstanding_limit_is_refused() {
        let mut s = Session::new();
        let ids: Vec<BlockId> = (0..=MAX_OUTSTANDING as u32)
            .map(|i| BlockId::of(&i.to_be_bytes()))
            .collect();
        assert_eq!(s.want(WantMode::Block, &ids), Err(SessionError::TooMany));
        assert!(s.want(WantMode::Block, &[]).is_err());
    }
}
