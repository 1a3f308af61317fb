//! The `blocks/1` decoder and session on arbitrary peer bytes: nothing may
//! panic, every decoded message re-encodes to the same frame, and the
//! session never hands out a block that does not hash to its id. Bytes read
//! into the decoder's own room (in steps the input picks, with large block
//! bodies received in place) decode exactly as bytes pushed in one piece.
#![no_main]

use cairn::exchange::session::{Event, Session};
use cairn::exchange::wire::{DIRECT_BODY, Decoder, LEN_PREFIX, Message, WantMode};
use cairn::store::BlockId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        assert_eq!(&m.encode()[LEN_PREFIX..], data);
    }
    let mut d = Decoder::new();
    d.push(data);
    let pushed = drain(&mut d);
    let step = data.first().map_or(1, |b| *b as usize * 61 + 1);
    assert_eq!(read_in_steps(data, step), pushed);
    // The same bytes behind a large block frame, so its body is read in
    // place and what follows it lands in the slack.
    let filler = Message::Block {
        id: BlockId([7; 32]),
        bytes: vec![0x5a; DIRECT_BODY + data.len()],
    }
    .encode();
    let mut big = filler.clone();
    big.extend_from_slice(data);
    let mut d = Decoder::new();
    d.push(&big);
    let pushed = drain(&mut d);
    assert_eq!(read_in_steps(&big, step), pushed);
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

/// Messages up to the first error (or the end), and whether it ended in one.
fn drain(d: &mut Decoder) -> (Vec<Message>, bool) {
    let mut out = Vec::new();
    loop {
        match d.next_message() {
            Ok(Some(m)) => out.push(m),
            Ok(None) => return (out, false),
            Err(_) => return (out, true),
        }
    }
}

/// Read `data` into the decoder's room `step` bytes at a time, decoding
/// after every read, as a stream reader does.
fn read_in_steps(data: &[u8], step: usize) -> (Vec<Message>, bool) {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let room = d.read_buf(step);
        let n = room.len().min(data.len() - at);
        room[..n].copy_from_slice(&data[at..at + n]);
        d.filled(n);
        at += n;
        loop {
            match d.next_message() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}
