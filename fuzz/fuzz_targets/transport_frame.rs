//! Length-delimited Noise frame decoder: any bytes, never a panic, and every
//! frame it reports lies inside the input.
#![no_main]
use cairn_transport::frame::{Decoded, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Decoded::Frame { body, consumed }) = decode(rest) {
        assert!(consumed <= rest.len() && body.len() + 2 == consumed);
        rest = &rest[consumed..];
    }
});
