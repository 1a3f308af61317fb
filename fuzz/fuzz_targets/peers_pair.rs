//! `pair/1` messages come from peers: decoding any bytes must not panic, and
//! whatever decodes must encode back to the same bytes.
#![no_main]

use cairn::peers::pair;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(secret) = pair::decode_request(data) {
        assert_eq!(&pair::encode_request(&secret)[..], data);
    }
    if let Ok(v) = pair::decode_response(data) {
        assert_eq!(&pair::encode_response(v)[..], data);
    }
});
