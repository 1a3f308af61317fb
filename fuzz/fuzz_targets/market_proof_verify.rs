//! Fuzz storage-proof verification: an arbitrary challenge and proof never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let (a, b) = rest.split_at((split as usize).min(rest.len()));
    if let (Ok(c), Ok(p)) = (
        cairn_market::proof::Challenge::from_bytes(a),
        cairn_market::proof::StorageProof::from_bytes(b),
    ) {
        let _ = cairn_market::proof::verify(&c, &p);
    }
});
