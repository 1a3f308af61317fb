//! Fuzzes the DHT core with a stream of peer messages: each chunk of input is
//! a sender (one byte, picking one of a few peer ids), a time step and the
//! bytes of one `dht/1` message. The core must never panic, and what it
//! keeps (routing table, pending requests, queries) must stay bounded.
#![no_main]

use cairn::dht::{Config, Dht, Key, Message, PeerInfo, Time};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut dht = Dht::new(Key([0; 32]), Config::default());
    let mut now = Time::from_secs(1_800_000_000);
    for i in 1..4u8 {
        dht.add_peer(PeerInfo::bare(Key([i; 32])), now);
    }
    let _ = dht.find_node(Key([9; 32]), now);
    let mut rest = data;
    while rest.len() >= 4 {
        let from = Key([rest[0] % 8; 32]);
        now = now.plus_ms(u64::from(rest[1]) * 100);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let body = &rest[4..];
        let (msg, tail) = body.split_at(len.min(body.len()));
        rest = tail;
        match Message::decode(msg) {
            Ok(m) => dht.handle_message(from, m, now),
            Err(_) => dht.on_malformed(&from),
        }
        dht.tick(now);
        while dht.poll_action().is_some() {}
        assert!(dht.routing_table().len() <= 20 * 256);
        assert!(dht.pending_requests() <= dht.config().max_pending_requests);
    }
});
