//! Reading and writing one length-prefixed `dht/1` frame on a stream.
//!
//! Separate from the codec because it is the only place that touches async
//! I/O: the length is checked against [`MAX_MESSAGE_SIZE`] (via
//! [`frame_len`]) before the body is allocated or read, and a stream that
//! ends mid-frame is told apart from one that ends cleanly before a frame
//! starts (a peer that opened and closed a stream is not malformed; one that
//! stopped half-way through a frame is). Timeouts belong to the callers.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::dht::message::{FRAME_HEADER_LEN, frame_len};

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The stream ended before the first byte of a frame.
    #[error("stream closed before a frame")]
    Closed,
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame")]
    Truncated,
    /// The announced length is over the limit (the body is not read).
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// The stream failed.
    #[error("stream error: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// Whether the peer provably broke the framing (rather than vanishing).
    pub fn is_malformed(&self) -> bool {
        matches!(self, FrameError::Truncated | FrameError::TooLarge(_))
    }
}

/// Reads one frame and returns its body (at most `MAX_MESSAGE_SIZE` bytes).
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; FRAME_HEADER_LEN];
    let mut got = 0;
    while got < FRAME_HEADER_LEN {
        let n = r.read(&mut header[got..]).await?;
        if n == 0 {
            return Err(if got == 0 {
                FrameError::Closed
            } else {
                FrameError::Truncated
            });
        }
        got += n;
    }
    let len = frame_len(header).map_err(|_| {
        FrameError::TooLarge(usize::try_from(u32::from_be_bytes(header)).unwrap_or(usize::MAX))
    })?;
    let mut body = vec![0u8; len];
    match r.read_exact(&mut body).await {
        Ok(_) => Ok(body),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(FrameError::Truncated),
        Err(e) => Err(FrameError::Io(e)),
    }
}

/// Writes an already framed message and flushes it.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, frame: &[u8]) -> io::Result<()> {
    w.write_all(frame).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dht::message::MAX_MESSAGE_SIZE;

    #[tokio::test]
    async fn reads_a_frame_and_tells_clean_close_from_truncation() {
        let mut ok: &[u8] = &[0, 0, 0, 3, 7, 8, 9];
        assert_eq!(read_frame(&mut ok).await.unwrap(), vec![7, 8, 9]);
        assert!(matches!(read_frame(&mut ok).await, Err(FrameError::Closed)));
        let mut short_header: &[u8] = &[0, 0];
        assert!(matches!(
            read_frame(&mut short_header).await,
            Err(FrameError::Truncated)
        ));
        let mut short_body: &[u8] = &[0, 0, 0, 9, 1, 2];
        assert!(matches!(
            read_frame(&mut short_body).await,
            Err(FrameError::Truncated)
        ));
    }

    #[tokio::test]
    async fn oversized_length_is_refused_before_the_body() {
        let len = u32::try_from(MAX_MESSAGE_SIZE + 1).unwrap();
        let mut input: &[u8] = &len.to_be_bytes();
        match read_frame(&mut input).await {
            Err(FrameError::TooLarge(n)) => assert_eq!(n, MAX_MESSAGE_SIZE + 1),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        let mut huge: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(read_frame(&mut huge).await.unwrap_err().is_malformed());
    }
}
