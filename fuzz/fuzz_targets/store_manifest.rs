//! Decoders of store bytes that can come from a peer: manifests (head, file
//! and directory bodies) and caps. None may panic, and whatever decodes must
//! encode back to the same bytes (one encoding per value).
#![no_main]

use cairn::store::Cap;
use cairn::store::manifest::{DirBody, FileBody, Head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Head::decode(data) {
        assert_eq!(h.encode(), data);
    }
    if let Ok(f) = FileBody::decode(data) {
        assert_eq!(f.encode(), data);
    }
    if let Ok(d) = DirBody::decode(data) {
        assert_eq!(d.encode(), data);
    }
    if let Ok(c) = Cap::from_bytes(data) {
        assert_eq!(c.to_bytes().as_slice(), data);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(c) = s.parse::<Cap>() {
            assert_eq!(c.to_string().parse::<Cap>().unwrap(), c);
        }
    }
});
