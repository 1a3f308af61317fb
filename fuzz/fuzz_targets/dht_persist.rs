//! Fuzzes the decoders of the DHT's on-disk values (`dht.redb`, docs/PROTOCOL.md
//! §2.4): a provider list and a contact's addresses. Neither may panic, and a
//! provider list that decodes must encode back to the same bytes.
#![no_main]

use cairn::dht::service::persist::{decode_addrs, decode_providers, encode_providers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = decode_providers(data) {
        assert_eq!(encode_providers(&list), data);
    }
    let _ = decode_addrs(data);
});
