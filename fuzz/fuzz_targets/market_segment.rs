//! Fuzz segment decoding and verification: never a panic, and a decoded segment
//! re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cairn_market::segment::verify_segment(data);
    if let Ok(s) = cairn_market::segment::Segment::from_bytes(data) {
        assert_eq!(s.to_bytes(), data);
    }
});
