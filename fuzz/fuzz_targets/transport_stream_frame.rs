//! Per-stream frame decoder (head, then AEAD open in place) and the stream
//! header parser.
#![no_main]
use cairn_transport::stream_cipher::{CipherKind, FRAME_HEAD, StreamKey, parse_head, parse_header_start, parse_protocol};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(start) = data.get(..2)
        && let Ok(len) = parse_header_start([start[0], start[1]])
        && let Some(name) = data.get(2..2 + len)
    {
        let _ = parse_protocol(name);
    }
    let Some(head) = data.get(..FRAME_HEAD) else { return };
    let head: [u8; FRAME_HEAD] = head.try_into().unwrap_or([0; FRAME_HEAD]);
    let Ok(h) = parse_head(&head, 65536) else { return };
    let mut body = data[FRAME_HEAD..].to_vec();
    let take = (h.len as usize + 16).min(body.len());
    for kind in [CipherKind::ChaCha20Poly1305, CipherKind::Aes256Gcm] {
        let mut key = StreamKey::new(kind, h.epoch, &[7u8; 32]);
        let _ = key.open(&head, &mut body[..take]);
    }
});
