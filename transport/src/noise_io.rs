//! The Noise transport phase as a byte pipe for yamux.
//!
//! yamux writes a byte stream; this adapter cuts it into Noise messages of up
//! to 65519 plaintext bytes (65535 on the wire with the tag), each behind a
//! 2-byte length. A message is sealed when its plaintext buffer is full or on
//! flush, so bulk data uses full-size messages and small control frames go
//! out at once. The receiver treats the decrypted plaintexts as one
//! concatenated stream: message boundaries carry no meaning.
//!
//! Both directions rekey (Noise `Rekey()`) after every
//! [`REKEY_INTERVAL`] messages, counted separately each way, so both ends
//! agree without any signalling. All buffers are allocated once per
//! connection; the hot path does not allocate.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::frame::{self, Decoded, MAX_NOISE_MESSAGE, MAX_NOISE_PLAINTEXT};
use crate::stats::ConnShared;

/// Messages per direction between two Noise rekeys.
pub const REKEY_INTERVAL: u64 = 4096;

const READ_BUF: usize = 4 * (MAX_NOISE_MESSAGE + 2);
const WRITE_BUF: usize = 4 * (MAX_NOISE_MESSAGE + 2);

/// A Noise-encrypted, length-framed byte pipe over `T`.
pub struct NoiseSocket<T> {
    io: T,
    noise: snow::TransportState,
    shared: Arc<ConnShared>,
    rbuf: Box<[u8]>,
    rstart: usize,
    rend: usize,
    pbuf: Box<[u8]>,
    ppos: usize,
    plen: usize,
    rx_messages: u64,
    wplain: Box<[u8]>,
    wplain_len: usize,
    wout: Box<[u8]>,
    wout_pos: usize,
    wout_len: usize,
    tx_messages: u64,
    read_eof: bool,
}

fn violation(shared: &ConnShared, reason: &'static str) -> io::Error {
    shared.set_violation(reason);
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

impl<T: AsyncRead + AsyncWrite + Unpin> NoiseSocket<T> {
    /// Wraps a pipe whose handshake produced `noise`.
    pub(crate) fn new(io: T, noise: snow::TransportState, shared: Arc<ConnShared>) -> Self {
        NoiseSocket {
            io,
            noise,
            shared,
            rbuf: vec![0u8; READ_BUF].into_boxed_slice(),
            rstart: 0,
            rend: 0,
            pbuf: vec![0u8; MAX_NOISE_MESSAGE].into_boxed_slice(),
            ppos: 0,
            plen: 0,
            rx_messages: 0,
            wplain: vec![0u8; MAX_NOISE_PLAINTEXT].into_boxed_slice(),
            wplain_len: 0,
            wout: vec![0u8; WRITE_BUF].into_boxed_slice(),
            wout_pos: 0,
            wout_len: 0,
            tx_messages: 0,
            read_eof: false,
        }
    }

    /// Encrypts the pending plaintext into the output buffer (which must have room).
    fn seal(&mut self) -> io::Result<()> {
        if self.wplain_len == 0 {
            return Ok(());
        }
        let start = self.wout_len;
        let out = &mut self.wout[start + 2..start + 2 + MAX_NOISE_MESSAGE];
        let n = self
            .noise
            .write_message(&self.wplain[..self.wplain_len], out)
            .map_err(|e| io::Error::other(format!("noise encrypt: {e}")))?;
        self.wout[start..start + 2].copy_from_slice(&frame::prefix(n));
        self.wout_len += 2 + n;
        self.wplain_len = 0;
        self.tx_messages += 1;
        if self.tx_messages.is_multiple_of(REKEY_INTERVAL) {
            self.noise.rekey_outgoing();
            self.shared.noise_rekeys_tx.fetch_add(1, Ordering::Relaxed);
        }
        self.shared
            .bytes_tx
            .fetch_add(2 + n as u64, Ordering::Relaxed);
        Ok(())
    }

    fn out_has_room(&self) -> bool {
        self.wout_len + 2 + MAX_NOISE_MESSAGE <= self.wout.len()
    }

    /// Writes the sealed output to the pipe until it is empty.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.wout_pos < self.wout_len {
            let n = ready!(
                Pin::new(&mut self.io).poll_write(cx, &self.wout[self.wout_pos..self.wout_len])
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

    /// Decrypts the next complete message in the read buffer, if any.
    fn try_decode(&mut self) -> io::Result<bool> {
        let decoded = frame::decode(&self.rbuf[self.rstart..self.rend])
            .map_err(|_| violation(&self.shared, "empty noise frame"))?;
        let Decoded::Frame { body, consumed } = decoded else {
            return Ok(false);
        };
        if body.len() < frame::NOISE_TAG {
            return Err(violation(&self.shared, "noise frame shorter than its tag"));
        }
        let n = self
            .noise
            .read_message(body, &mut self.pbuf)
            .map_err(|_| violation(&self.shared, "noise message failed to decrypt"))?;
        self.rstart += consumed;
        self.ppos = 0;
        self.plen = n;
        self.rx_messages += 1;
        if self.rx_messages.is_multiple_of(REKEY_INTERVAL) {
            self.noise.rekey_incoming();
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
            if this.ppos < this.plen {
                let n = out.len().min(this.plen - this.ppos);
                out[..n].copy_from_slice(&this.pbuf[this.ppos..this.ppos + n]);
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
            // Compact so a whole message fits after rstart.
            if this.rstart > 0 && this.rbuf.len() - this.rstart < MAX_NOISE_MESSAGE + 2 {
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
            let free = this.wplain.len() - this.wplain_len;
            if free > 0 {
                let n = free.min(buf.len());
                this.wplain[this.wplain_len..this.wplain_len + n].copy_from_slice(&buf[..n]);
                this.wplain_len += n;
                return Poll::Ready(Ok(n));
            }
            if !this.out_has_room() {
                ready!(this.poll_drain(cx))?;
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
        if this.wplain_len > 0 {
            if !this.out_has_room() {
                ready!(this.poll_drain(cx))?;
            }
            this.seal()?;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
