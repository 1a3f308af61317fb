//! The `blocks/1` decoder and session on arbitrary peer bytes: nothing may
//! panic, every decoded message re-encodes to the same frame, and the
//! session never hands out a block that does not hash to its id.
#![no_main]

use cairn::exchange::session::{Event, Session};
use cairn::exchange::wire::{Decoder, LEN_PREFIX, Message, WantMode};
use cairn::store::BlockId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        assert_eq!(&m.encode()[LEN_PREFIX..], data);
    }
    let mut d = Decoder::new();
    d.push(data);
    while let Ok(Some(_)) = d.next_message() {}
    let mut s = Session::new();
    let _ = s.want(WantMode::Block, &[BlockId::of(b"a"), BlockId([0; 32])]);
    for piece in data.chunks(97) {
        match s.receive(piece) {
            Ok(events) => {
                for e in events {
                    if let Event::Block { id, bytes } = e {
                        assert_eq!(BlockId::of(&bytes), id);
                    }
                }
            }
            Err(_) => break,
        }
    }
});
