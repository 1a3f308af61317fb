//! Handshake identity payload parser and verifier.
#![no_main]
use cairn_transport::payload::{parse, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse(data);
    if data.len() >= 32 {
        let (key, rest) = data.split_at(32);
        let key: [u8; 32] = key.try_into().unwrap_or([0; 32]);
        let _ = verify(rest, &key);
    }
});
