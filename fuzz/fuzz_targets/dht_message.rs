//! Fuzzes the `dht/1` message decoder: arbitrary bytes must never panic, and
//! whatever decodes must re-encode to exactly the same bytes (the format is
//! canonical: one message, one encoding).
#![no_main]

use cairn::dht::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::decode(data) {
        let bytes = msg.encode().expect("a decoded message re-encodes");
        assert_eq!(bytes, data);
    }
});
