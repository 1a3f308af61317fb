//! The outermost wire framing: every Noise message is a 2-byte big-endian
//! length followed by that many bytes (1 ..= 65535).
//!
//! The decoder is a pure function over a byte slice so the same code serves
//! the handshake, the transport reader and the fuzz target; it never
//! allocates, and the largest frame it can describe is 65535 bytes, which is
//! the bound on what a peer can make us buffer per connection.

/// Largest Noise message (and so largest frame body).
pub const MAX_NOISE_MESSAGE: usize = 65535;
/// Noise AEAD tag length.
pub const NOISE_TAG: usize = 16;
/// Largest plaintext carried by one Noise transport message.
pub const MAX_NOISE_PLAINTEXT: usize = MAX_NOISE_MESSAGE - NOISE_TAG;

/// Outcome of looking for one frame at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// More bytes are needed: at least this many in total.
    Incomplete { needed: usize },
    /// A frame body, and the bytes it took from the buffer (prefix included).
    Frame { body: &'a [u8], consumed: usize },
}

/// Why a frame was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// A zero length prefix: no Noise message is empty.
    #[error("empty frame")]
    Empty,
}

/// Looks for one length-prefixed frame at the start of `buf`.
pub fn decode(buf: &[u8]) -> Result<Decoded<'_>, FrameError> {
    let Some(prefix) = buf.get(..2) else {
        return Ok(Decoded::Incomplete { needed: 2 });
    };
    let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
    if len == 0 {
        return Err(FrameError::Empty);
    }
    match buf.get(2..2 + len) {
        Some(body) => Ok(Decoded::Frame {
            body,
            consumed: 2 + len,
        }),
        None => Ok(Decoded::Incomplete { needed: 2 + len }),
    }
}

/// Writes the 2-byte prefix for a body of `len` bytes (`len` ≤ 65535).
pub fn prefix(len: usize) -> [u8; 2] {
    debug_assert!(len <= MAX_NOISE_MESSAGE);
    (len.min(MAX_NOISE_MESSAGE) as u16).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_length_is_refused() {
        assert_eq!(decode(&[0, 0, 1]), Err(FrameError::Empty));
    }

    #[test]
    fn short_buffers_ask_for_more() {
        assert_eq!(decode(&[]), Ok(Decoded::Incomplete { needed: 2 }));
        assert_eq!(decode(&[0, 3, 1]), Ok(Decoded::Incomplete { needed: 5 }));
    }

    proptest! {
        #[test]
        fn encoded_frames_decode_to_themselves(body in proptest::collection::vec(any::<u8>(), 1..3000), tail in proptest::collection::vec(any::<u8>(), 0..10)) {
            let mut wire = prefix(body.len()).to_vec();
            wire.extend_from_slice(&body);
            wire.extend_from_slice(&tail);
            prop_assert_eq!(decode(&wire), Ok(Decoded::Frame { body: &body, consumed: body.len() + 2 }));
        }
    }
}
