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
//! once per connection; the hot path does not allocate.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::frame::{self, Decoded, MAX_NOISE_MESSAGE, MAX_NOISE_PLAINTEXT};
use crate::noise_cipher::NoiseKeys;
use crate::stats::ConnShared;

/// Messages per direction between two Noise rekeys.
pub const REKEY_INTERVAL: u64 = 4096;

/// One message with its length prefix.
const SLOT: usize = MAX_NOISE_MESSAGE + 2;
const READ_BUF: usize = 4 * SLOT;
const WRITE_BUF: usize = 4 * SLOT;

/// A Noise-encrypted, length-framed byte pipe over `T`.
pub struct NoiseSocket<T> {
    io: T,
    keys: NoiseKeys,
    shared: Arc<ConnShared>,
    /// Bytes read: opened plaintext at `ppos..pend`, then undecoded frames
    /// at `rstart..rend`.
    rbuf: Box<[u8]>,
    rstart: usize,
    rend: usize,
    ppos: usize,
    pend: usize,
    rx_messages: u64,
    /// Sealed messages at `wout_pos..wout_len` waiting for the pipe, then
    /// the message being filled: its prefix at `wout_len`, its `wplain_len`
    /// plaintext bytes from `wout_len + 2`. A message is only opened where a
    /// whole one fits, so it never has to move.
    wbuf: Box<[u8]>,
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
            rbuf: vec![0u8; READ_BUF].into_boxed_slice(),
            rstart: 0,
            rend: 0,
            ppos: 0,
            pend: 0,
            rx_messages: 0,
            wbuf: vec![0u8; WRITE_BUF].into_boxed_slice(),
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
        let n = self
            .keys
            .send
            .seal_in_place(&mut self.wbuf[start + 2..start + SLOT], self.wplain_len)
            .map_err(|e| io::Error::other(format!("noise encrypt: {e}")))?;
        self.wbuf[start..start + 2].copy_from_slice(&frame::prefix(n));
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
        self.wout_len + SLOT <= self.wbuf.len()
    }

    /// Writes the sealed output to the pipe until it is empty. Called only
    /// when no message is being filled, so the buffer can start over.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        debug_assert_eq!(self.wplain_len, 0);
        while self.wout_pos < self.wout_len {
            let n = ready!(
                Pin::new(&mut self.io).poll_write(cx, &self.wbuf[self.wout_pos..self.wout_len])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wout_pos += n;
        }
        self.wout_pos = 0;
        self.wout_len = 0;
        Poll::Ready(Ok(()))
    }

    /// Opens the next complete message in the read buffer, if any, where it
    /// lies.
    fn try_decode(&mut self) -> io::Result<bool> {
        let decoded = frame::decode(&self.rbuf[self.rstart..self.rend])
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
            .open_in_place(&mut self.rbuf[body_start..self.rstart + consumed])
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
                let n = out.len().min(this.pend - this.ppos);
                out[..n].copy_from_slice(&this.rbuf[this.ppos..this.ppos + n]);
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
            // Compact so a whole message fits after rstart (the plaintext
            // before it has been handed out).
            if this.rstart > 0 && this.rbuf.len() - this.rstart < SLOT {
                this.rbuf.copy_within(this.rstart..this.rend, 0);
                this.rend -= this.rstart;
                this.rstart = 0;
            }
            let mut rb = ReadBuf::new(&mut this.rbuf[this.rend..]);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?;
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
                this.wbuf[at..at + n].copy_from_slice(&buf[..n]);
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
