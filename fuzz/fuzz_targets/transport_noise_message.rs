//! Noise transport messages opened in place (`NoiseCipher`): any bytes from
//! a peer, cut into frames, never panic; what we seal opens to itself, and
//! a message with any byte changed does not open.
#![no_main]
use cairn_transport::frame::{Decoded, decode};
use cairn_transport::noise_cipher::NoiseCipher;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = [7u8; 32];
    let mut rx = NoiseCipher::new(&key);
    let mut buf = data.to_vec();
    let mut rest = &mut buf[..];
    while let Ok(Decoded::Frame { consumed, .. }) = decode(rest) {
        let (frame, tail) = rest.split_at_mut(consumed);
        if let Ok(n) = rx.open_in_place(&mut frame[2..]) {
            assert!(n + 16 == consumed - 2);
        }
        rest = tail;
    }

    let len = data.len().min(65_519);
    let mut tx = NoiseCipher::new(&key);
    let mut rx = NoiseCipher::new(&key);
    let mut m = vec![0u8; len + 16];
    m[..len].copy_from_slice(&data[..len]);
    let n = tx.seal_in_place(&mut m, len).expect("room for the tag");
    if let Some(&b) = data.first() {
        let mut bad = m.clone();
        bad[usize::from(b) % n] ^= 1 << (b % 8);
        assert!(rx.open_in_place(&mut bad[..n]).is_err());
    }
    assert_eq!(rx.open_in_place(&mut m[..n]), Ok(len));
    assert_eq!(&m[..len], &data[..len]);
});
