//! Fuzz the job decoder: any bytes decode or fail cleanly; what decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = cairn_market::cpu::Job::from_bytes(data) {
        assert_eq!(v.to_bytes(), data);
    }
});
