//! The Noise transport phase as a byte pipe for yamux.
//!
//! yamux writes a byte stream; this adapter cuts it into Noise messages of up
//! to 65519 plaintext bytes (65535 on the wire with the tag), each behind a
//! 2-byte length. A message is sealed when it is full or on flush, so bulk
//! data uses full-size messages and small control frames go out at once. The
//! receiver treats the decrypted plaintexts as one concatenated stream:
//! message boundaries carry no meaning.
//!
//! Both directions rekey (Noise `Rekey()`) after every
//! [`REKEY_INTERVAL`] messages, counted separately each way, so both ends
//! agree without any signalling.
//!
//! No byte is copied more than once on either side: yamux's writes land
//! where their message will be sealed (behind the room for its length
//! prefix, in the output buffer), and a received message is opened where it
//! was read, then copied once into yamux's buffer. All buffers are allocated
//! from the per-thread [`crate::buf_pool`] while bytes are in flight and go
//! back when a direction falls idle, so an idle connection holds no large
//! buffer (a read that finds nothing waiting uses a small inline one), and
//! the hot path does not allocate.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::buf_pool;
use crate::frame::{self, Decoded, MAX_NOISE_MESSAGE, MAX_NOISE_PLAINTEXT};
use crate::noise_cipher::NoiseKeys;
use crate::stats::ConnShared;

/// Messages per direction between two Noise rekeys.
pub const REKEY_INTERVAL: u64 = 4096;

/// One message with its length prefix.
const SLOT: usize = MAX_NOISE_MESSAGE + 2;
const READ_BUF: usize = 4 * SLOT;
const WRITE_BUF: usize = 4 * SLOT;
/// What an idle connection reads into before it borrows a read buffer:
/// enough for the small frames (pings, window updates) that wake it most.
const FIRST_READ: usize = 512;

/// A Noise-encrypted, length-framed byte pipe over `T`.
pub struct NoiseSocket<T> {
    io: T,
    keys: NoiseKeys,
    shared: Arc<ConnShared>,
    /// Bytes read: opened plaintext at `ppos..pend`, then undecoded frames
    /// at `rstart..rend`. Borrowed while any of them are held (all indices
    /// are 0 without it).
    rbuf: Option<Box<[u8]>>,
    first: [u8; FIRST_READ],
    rstart: usize,
    rend: usize,
    ppos: usize,
    pend: usize,
    rx_messages: u64,
    /// Sealed messages at `wout_pos..wout_len` waiting for the pipe, then
    /// the message being filled: its prefix at `wout_len`, its `wplain_len`
    /// plaintext bytes from `wout_len + 2`. A message is only opened where a
    /// whole one fits, so it never has to move. Borrowed while any of them
    /// are held.
    wbuf: Option<Box<[u8]>>,
    wout_pos: usize,
    wout_len: usize,
    wplain_len: usize,
    tx_messages: u64,
    read_eof: bool,
}

fn violation(shared: &ConnShared, reason: &'static str) -> io::Error {
    shared.set_violation(reason);
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

impl<T: AsyncRead + AsyncWrite + Unpin> NoiseSocket<T> {
    /// Wraps a pipe whose handshake produced `keys`.
    pub(crate) fn new(io: T, keys: NoiseKeys, shared: Arc<ConnShared>) -> Self {
        NoiseSocket {
            io,
            keys,
            shared,
            rbuf: None,
            first: [0u8; FIRST_READ],
            rstart: 0,
            rend: 0,
            ppos: 0,
            pend: 0,
            rx_messages: 0,
            wbuf: None,
            wout_pos: 0,
            wout_len: 0,
            wplain_len: 0,
            tx_messages: 0,
            read_eof: false,
        }
    }

    /// Seals the message being filled, in place.
    fn seal(&mut self) -> io::Result<()> {
        if self.wplain_len == 0 {
            return Ok(());
        }
        let start = self.wout_len;
        let wbuf = self.wbuf.as_mut().expect("a message is being filled");
        let n = self
            .keys
            .send
            .seal_in_place(&mut wbuf[start + 2..start + SLOT], self.wplain_len)
            .map_err(|e| io::Error::other(format!("noise encrypt: {e}")))?;
        wbuf[start..start + 2].copy_from_slice(&frame::prefix(n));
        self.wout_len += 2 + n;
        self.wplain_len = 0;
        self.tx_messages += 1;
        if self.tx_messages.is_multiple_of(REKEY_INTERVAL) {
            self.keys.send.rekey();
            self.shared.noise_rekeys_tx.fetch_add(1, Ordering::Relaxed);
        }
        self.shared
            .bytes_tx
            .fetch_add(2 + n as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Whether a whole message fits after the sealed ones.
    fn out_has_room(&self) -> bool {
        self.wout_len + SLOT <= WRITE_BUF
    }

    /// Writes the sealed output to the pipe until it is empty, then gives
    /// the write buffer back. Called only when no message is being filled,
    /// so the buffer can start over.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        debug_assert_eq!(self.wplain_len, 0);
        if let Some(wbuf) = &self.wbuf {
            while self.wout_pos < self.wout_len {
                let n = ready!(
                    Pin::new(&mut self.io).poll_write(cx, &wbuf[self.wout_pos..self.wout_len])
                )?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.wout_pos += n;
            }
        }
        self.wout_pos = 0;
        self.wout_len = 0;
        if let Some(b) = self.wbuf.take() {
            buf_pool::give(b);
        }
        Poll::Ready(Ok(()))
    }

    /// Opens the next complete message in the read buffer, if any, where it
    /// lies.
    fn try_decode(&mut self) -> io::Result<bool> {
        let Some(rbuf) = self.rbuf.as_mut() else {
            return Ok(false);
        };
        let decoded = frame::decode(&rbuf[self.rstart..self.rend])
            .map_err(|_| violation(&self.shared, "empty noise frame"))?;
        let Decoded::Frame { body, consumed } = decoded else {
            return Ok(false);
        };
        if body.len() < frame::NOISE_TAG {
            return Err(violation(&self.shared, "noise frame shorter than its tag"));
        }
        let body_start = self.rstart + 2;
        let n = self
            .keys
            .recv
            .open_in_place(&mut rbuf[body_start..self.rstart + consumed])
            .map_err(|_| violation(&self.shared, "noise message failed to decrypt"))?;
        self.rstart += consumed;
        self.ppos = body_start;
        self.pend = body_start + n;
        self.rx_messages += 1;
        if self.rx_messages.is_multiple_of(REKEY_INTERVAL) {
            self.keys.recv.rekey();
            self.shared.noise_rekeys_rx.fetch_add(1, Ordering::Relaxed);
        }
        self.shared
            .bytes_rx
            .fetch_add(consumed as u64, Ordering::Relaxed);
        self.shared.touch_rx();
        Ok(true)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> futures::io::AsyncRead for NoiseSocket<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if this.ppos < this.pend {
                let rbuf = this.rbuf.as_ref().expect("plaintext is held");
                let n = out.len().min(this.pend - this.ppos);
                out[..n].copy_from_slice(&rbuf[this.ppos..this.ppos + n]);
                this.ppos += n;
                return Poll::Ready(Ok(n));
            }
            if this.try_decode()? {
                continue;
            }
            if this.read_eof {
                if this.rstart == this.rend {
                    return Poll::Ready(Ok(0));
                }
                return Poll::Ready(Err(violation(&this.shared, "truncated noise frame")));
            }
            let Some(rbuf) = this.rbuf.as_mut() else {
                // Nothing held: read a little first, and borrow a buffer
                // only once bytes have come.
                let mut rb = ReadBuf::new(&mut this.first);
                ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?;
                let n = rb.filled().len();
                if n == 0 {
                    this.read_eof = true;
                    continue;
                }
                let mut b = buf_pool::take(READ_BUF);
                b[..n].copy_from_slice(&this.first[..n]);
                this.rbuf = Some(b);
                (this.ppos, this.pend, this.rstart, this.rend) = (0, 0, 0, n);
                continue;
            };
            // Compact so a whole message fits after rstart (the plaintext
            // before it has been handed out).
            if this.rstart > 0 && rbuf.len() - this.rstart < SLOT {
                rbuf.copy_within(this.rstart..this.rend, 0);
                this.rend -= this.rstart;
                this.rstart = 0;
            }
            let mut rb = ReadBuf::new(&mut rbuf[this.rend..]);
            if Pin::new(&mut this.io).poll_read(cx, &mut rb)?.is_pending() {
                if this.rstart == this.rend {
                    // Everything read has been handed out: fall idle.
                    if let Some(b) = this.rbuf.take() {
                        buf_pool::give(b);
                    }
                    (this.ppos, this.pend, this.rstart, this.rend) = (0, 0, 0, 0);
                }
                return Poll::Pending;
            }
            let n = rb.filled().len();
            if n == 0 {
                this.read_eof = true;
            }
            this.rend += n;
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> futures::io::AsyncWrite for NoiseSocket<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if this.wplain_len == 0 && !this.out_has_room() {
                ready!(this.poll_drain(cx))?;
            }
            let free = MAX_NOISE_PLAINTEXT - this.wplain_len;
            if free > 0 {
                let n = free.min(buf.len());
                let at = this.wout_len + 2 + this.wplain_len;
                let wbuf = this.wbuf.get_or_insert_with(|| buf_pool::take(WRITE_BUF));
                wbuf[at..at + n].copy_from_slice(&buf[..n]);
                this.wplain_len += n;
                return Poll::Ready(Ok(n));
            }
            this.seal()?;
            // Start sending early; a pending write is retried later.
            if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // The message being filled has its room already.
        this.seal()?;
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::noise_cipher::NoiseCipher;

    fn pair() -> (
        NoiseSocket<tokio::io::DuplexStream>,
        NoiseSocket<tokio::io::DuplexStream>,
    ) {
        let (a, b) = tokio::io::duplex(1 << 20);
        let (k1, k2) = ([7u8; 32], [9u8; 32]);
        let keys = |s: &[u8; 32], r: &[u8; 32]| NoiseKeys {
            send: NoiseCipher::new(s),
            recv: NoiseCipher::new(r),
        };
        let shared = || Arc::new(ConnShared::new(std::time::Instant::now()));
        (
            NoiseSocket::new(a, keys(&k1, &k2), shared()),
            NoiseSocket::new(b, keys(&k2, &k1), shared()),
        )
    }

    #[tokio::test]
    async fn an_idle_socket_holds_no_large_buffer_and_a_message_spanning_the_first_read_arrives_whole()
     {
        let (mut a, mut b) = pair();
        assert!(a.rbuf.is_none() && a.wbuf.is_none());
        // Larger than the small first read, and than one Noise message.
        let data: Vec<u8> = (0..3 * MAX_NOISE_PLAINTEXT + 1000)
            .map(|i| i as u8)
            .collect();
        let reader = tokio::spawn(async move {
            let mut got = vec![0u8; 3 * MAX_NOISE_PLAINTEXT + 1000];
            b.read_exact(&mut got).await.unwrap();
            (b, got)
        });
        a.write_all(&data).await.unwrap();
        a.flush().await.unwrap();
        assert!(a.wbuf.is_none(), "the write buffer goes back once drained");
        let (mut b, got) = reader.await.unwrap();
        assert!(got == data);
        // Nothing more is waiting: the next read falls idle and lets go of
        // its buffer.
        let mut one = [0u8; 1];
        let pending = futures::poll!(b.read(&mut one));
        assert!(pending.is_pending());
        assert!(b.rbuf.is_none(), "an idle reader holds no read buffer");
        // And it still reads what comes next.
        a.write_all(b"after idle").await.unwrap();
        a.flush().await.unwrap();
        let mut ten = [0u8; 10];
        b.read_exact(&mut ten).await.unwrap();
        assert_eq!(&ten, b"after idle");
    }
}
