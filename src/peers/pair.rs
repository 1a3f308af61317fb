//! `pair/1`: the two messages that turn a joined peer into one of the owner's
//! own devices.
//!
//! Why so small: the Noise handshake has already proved both NodeIds (the
//! joiner checked the inviter's against its ticket), so the stream is private
//! and bound to the right node; all that is left is to show the one-time
//! secret from `cairn invite --pairing`. The inviter keeps only its BLAKE3
//! hash and spends it on first use, so a leaked ticket pairs at most once and
//! not after it expires. Both messages have a fixed length; anything else is
//! refused. Wire format: docs/PROTOCOL.md, "Peers".

/// The stream protocol name.
pub const PROTOCOL: &str = "pair/1";
/// Version byte of both messages.
pub const VERSION: u8 = 1;
/// Length of a request: version + 32-byte secret.
pub const REQUEST_LEN: usize = 33;
/// Length of a response: version + status.
pub const RESPONSE_LEN: usize = 2;

/// The inviter's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The secret was live: both sides are now own devices.
    Paired,
    /// Unknown, already used or expired.
    Refused,
}

/// Why a `pair/1` message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PairError {
    #[error("pair/1 message has {got} bytes, expected {want}")]
    Length { got: usize, want: usize },
    #[error("pair/1 version {0} is not supported")]
    Version(u8),
    #[error("pair/1 status {0} is unknown")]
    Status(u8),
}

pub fn encode_request(secret: &[u8; 32]) -> [u8; REQUEST_LEN] {
    let mut out = [0u8; REQUEST_LEN];
    out[0] = VERSION;
    out[1..].copy_from_slice(secret);
    out
}

pub fn decode_request(bytes: &[u8]) -> Result<[u8; 32], PairError> {
    let Some((&v, rest)) = bytes.split_first() else {
        return Err(PairError::Length {
            got: 0,
            want: REQUEST_LEN,
        });
    };
    let secret: [u8; 32] = rest.try_into().map_err(|_| PairError::Length {
        got: bytes.len(),
        want: REQUEST_LEN,
    })?;
    if v != VERSION {
        return Err(PairError::Version(v));
    }
    Ok(secret)
}

pub fn encode_response(v: Verdict) -> [u8; RESPONSE_LEN] {
    [
        VERSION,
        match v {
            Verdict::Paired => 0,
            Verdict::Refused => 1,
        },
    ]
}

pub fn decode_response(bytes: &[u8]) -> Result<Verdict, PairError> {
    let [v, status] = *bytes else {
        return Err(PairError::Length {
            got: bytes.len(),
            want: RESPONSE_LEN,
        });
    };
    if v != VERSION {
        return Err(PairError::Version(v));
    }
    match status {
        0 => Ok(Verdict::Paired),
        1 => Ok(Verdict::Refused),
        s => Err(PairError::Status(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn messages_round_trip() {
        let s = [3u8; 32];
        assert_eq!(decode_request(&encode_request(&s)).unwrap(), s);
        for v in [Verdict::Paired, Verdict::Refused] {
            assert_eq!(decode_response(&encode_response(v)).unwrap(), v);
        }
    }

    #[test]
    fn malformed_messages_are_named() {
        assert_eq!(
            decode_request(&[1; 10]),
            Err(PairError::Length { got: 10, want: 33 })
        );
        let mut r = encode_request(&[0; 32]);
        r[0] = 2;
        assert_eq!(decode_request(&r), Err(PairError::Version(2)));
        assert_eq!(decode_response(&[1, 7]), Err(PairError::Status(7)));
        assert!(decode_response(&[]).is_err());
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode_request(&b);
            let _ = decode_response(&b);
        }
    }
}
