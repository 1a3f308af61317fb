//! `PutPublic` frames and the host's type filter on arbitrary peer bytes:
//! nothing may panic, a decoded `PutPublic` re-encodes to the same frame and
//! stays within its limits, the session hands out only public blocks that
//! hash to their id, and the filter decides on any name and leading bytes.
#![no_main]

use cairn::exchange::filter::HostFilter;
use cairn::exchange::session::{Event, Session};
use cairn::exchange::wire::{LEN_PREFIX, MAX_BLOCK, MAX_PUBLIC_NAME, Message};
use cairn::store::BlockId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The body as a PutPublic (type 9) whatever its first byte.
    let mut body = vec![9u8];
    body.extend_from_slice(data);
    if let Ok(m) = Message::decode(&body) {
        assert_eq!(&m.encode()[LEN_PREFIX..], &body[..]);
        if let Message::PutPublic { name, bytes, .. } = &m {
            assert!(name.len() <= MAX_PUBLIC_NAME);
            assert!(bytes.len() <= MAX_BLOCK);
        }
    }
    let mut framed = (body.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(&body);
    let mut s = Session::new();
    if let Ok(events) = s.receive(&framed) {
        for e in events {
            if let Event::PutPublic {
                id,
                name,
                leading,
                bytes,
            } = e
            {
                assert_eq!(BlockId::of(&bytes), id);
                let _ = HostFilter::default().check(&name, leading.then_some(&bytes[..]));
            }
        }
    }
    // The filter alone on raw input: the first bytes as a (lossy) name.
    let split = data.first().map_or(0, |&n| n as usize).min(data.len());
    let name = String::from_utf8_lossy(&data[..split]);
    let _ = HostFilter::default().check(&name, Some(&data[split..]));
});
