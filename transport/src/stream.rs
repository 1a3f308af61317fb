//! A data stream: a yamux stream whose payload is sealed again with keys of
//! its own, exposed as tokio `AsyncRead + AsyncWrite`.
//!
//! Writes are gathered into frames of up to `max_frame_size` in a frame
//! buffer borrowed from the per-thread [`crate::buf_pool`]: a write of a
//! whole frame or more is sealed at once, smaller writes are collected until
//! the frame is full or the caller flushes, so an application writing 8 KiB
//! at a time still sends full frames (one seal, one yamux frame, one wakeup
//! per 64 KiB instead of per write). Nothing is allocated per frame. Like a
//! `BufWriter`, bytes may still sit in that buffer when `poll_write`
//! returns: call `flush` (or `shutdown`) to push them out; a stream dropped
//! without either loses them. The buffer goes back to the pool once yamux
//! has taken the frame. The reader opens frames in place: in the caller's buffer when it
//! has room for the whole frame (no copy of ours at all), else in a
//! borrowed buffer kept until the plaintext is read out. An idle stream holds
//! no frame buffer. Rotation is decided by
//! [`crate::rotation::RotationSchedule`] before each frame; the new key
//! travels on the control stream.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use futures::io::{AsyncRead as FRead, AsyncWrite as FWrite};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::buf_pool;
use crate::connection::StreamCtx;
use crate::control::ControlMsg;
use crate::keys::StreamKeys;
use crate::rotation::{EpochProgress, RotationSchedule};
use crate::stats::{StreamShared, StreamStats};
use crate::stream_cipher::{self, FRAME_HEAD, StreamKey, TAG};

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

enum ReadState {
    Head {
        filled: usize,
    },
    /// Reading the ciphertext + tag; `filled` bytes of it are in `rbuf`.
    Body {
        len: usize,
        epoch: u32,
        filled: usize,
    },
    /// Plaintext `rbuf[pos..end]` waits for the caller.
    Plain {
        pos: usize,
        end: usize,
    },
    Eof,
}

/// One encrypted data stream.
pub struct Stream {
    pub(crate) io: yamux::Stream,
    id: u32,
    ctx: Arc<StreamCtx>,
    keys: Arc<StreamKeys>,
    stats: Arc<StreamShared>,
    max_frame: usize,
    inbound: bool,
    // sending
    send_key: StreamKey,
    next_key: Option<StreamKey>,
    /// Test-only copies of the raw sending keys (current, next).
    #[cfg(any(test, feature = "test-util"))]
    test_keys: (
        zeroize::Zeroizing<[u8; 32]>,
        Option<zeroize::Zeroizing<[u8; 32]>>,
    ),
    progress: EpochProgress,
    schedule: RotationSchedule,
    /// Length of a frame buffer: the largest frame plus its overhead.
    frame_buf: usize,
    /// Borrowed from the pool only while it holds something: either
    /// `wfill` plaintext bytes gathered at `FRAME_HEAD..` for the next frame,
    /// or a sealed frame `wbuf[wpos..wlen]` yamux has not taken yet (never
    /// both: a frame is sealed from the whole buffer).
    wbuf: Option<Box<[u8]>>,
    wfill: usize,
    wpos: usize,
    wlen: usize,
    // receiving
    recv_key: Option<StreamKey>,
    head: [u8; FRAME_HEAD],
    /// The frame being assembled or read out, when it is not assembled in
    /// the caller's buffer; borrowed from the pool.
    rbuf: Option<Box<[u8]>>,
    rstate: ReadState,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("id", &self.id)
            .field("protocol", &self.stats.protocol)
            .finish_non_exhaustive()
    }
}

fn violation(ctx: &StreamCtx, reason: &'static str) -> io::Error {
    ctx.violation(reason);
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

impl Stream {
    /// Wraps a yamux stream whose keys are registered as `keys`, and sends
    /// our epoch-0 key over the control stream.
    pub(crate) async fn new(
        io: yamux::Stream,
        keys: Arc<StreamKeys>,
        ctx: Arc<StreamCtx>,
        protocol: String,
        inbound: bool,
    ) -> io::Result<Stream> {
        let id = io.id().val();
        let cfg = &ctx.config;
        let kind = cfg.default_cipher;
        let (send_key, bytes) = StreamKey::random(kind, 0);
        #[cfg(any(test, feature = "test-util"))]
        let test_keys = (bytes.clone(), None);
        keys.send_epoch.store(0, Ordering::Release);
        ctx.control_tx
            .send(ControlMsg::StreamKey {
                stream_id: id,
                epoch: 0,
                cipher: kind,
                key: bytes,
            })
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::ConnectionAborted, "connection closed"))?;
        let stats = Arc::new(StreamShared::new(id, protocol, now()));
        stats
            .send_cipher
            .store(u32::from(kind.to_wire()), Ordering::Relaxed);
        ctx.track(&stats);
        let max_frame = cfg.max_frame_size as usize;
        let schedule = RotationSchedule {
            bytes: (cfg.rotate_after_bytes > 0).then_some(cfg.rotate_after_bytes),
            age: (cfg.rotate_after_ms > 0)
                .then(|| std::time::Duration::from_millis(cfg.rotate_after_ms)),
        };
        ctx.shared.streams_open.fetch_add(1, Ordering::AcqRel);
        ctx.shared.touch_streams();
        Ok(Stream {
            io,
            id,
            keys,
            stats,
            max_frame,
            inbound,
            send_key,
            next_key: None,
            #[cfg(any(test, feature = "test-util"))]
            test_keys,
            progress: EpochProgress {
                bytes: 0,
                started: now(),
                acknowledged: false,
            },
            schedule,
            frame_buf: FRAME_HEAD + max_frame + TAG,
            wbuf: None,
            wfill: 0,
            wpos: 0,
            wlen: 0,
            recv_key: None,
            head: [0u8; FRAME_HEAD],
            rbuf: None,
            rstate: ReadState::Head { filled: 0 },
            ctx,
        })
    }

    /// The protocol named in the stream header.
    pub fn protocol(&self) -> &str {
        &self.stats.protocol
    }

    /// yamux stream id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Live statistics of this stream.
    pub fn stats(&self) -> StreamStats {
        self.stats.snapshot()
    }

    /// Test hook (feature `test-util`): a copy of the raw bytes of the
    /// current sending key. Production builds keep no such copy.
    #[cfg(any(test, feature = "test-util"))]
    pub fn send_key_bytes_for_test(&self) -> [u8; 32] {
        *self.test_keys.0
    }

    /// Test hook: the current sending epoch and cipher.
    #[cfg(any(test, feature = "test-util"))]
    pub fn send_epoch(&self) -> (u32, crate::stream_cipher::CipherKind) {
        (self.send_key.epoch(), self.send_key.kind())
    }

    /// Test hook: writes raw bytes to the yamux stream, bypassing the
    /// stream cipher, to play a peer that breaks the frame format.
    #[cfg(any(test, feature = "test-util"))]
    pub async fn write_raw_for_test(&mut self, bytes: &[u8]) -> io::Result<()> {
        use futures::io::AsyncWriteExt as _;
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    /// Hands the pending sealed frame to yamux; the buffer goes back to the
    /// pool once yamux has all of it. Gathered plaintext stays.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.wlen == 0 {
            return Poll::Ready(Ok(()));
        }
        let Some(wbuf) = &self.wbuf else {
            return Poll::Ready(Ok(()));
        };
        while self.wpos < self.wlen {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &wbuf[self.wpos..self.wlen]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wpos += n;
        }
        self.wpos = 0;
        self.wlen = 0;
        if let Some(b) = self.wbuf.take() {
            buf_pool::give(b);
        }
        Poll::Ready(Ok(()))
    }

    /// Seals the gathered plaintext into the pending frame.
    fn seal_gathered(&mut self) -> io::Result<()> {
        if self.wfill == 0 {
            return Ok(());
        }
        debug_assert_eq!(self.wlen, 0);
        self.maybe_rotate();
        let n = self.wfill;
        let Some(wbuf) = self.wbuf.as_mut() else {
            return Err(io::Error::other("no frame buffer"));
        };
        let total = self.send_key.seal(wbuf, n).map_err(io::Error::other)?;
        self.wfill = 0;
        self.wpos = 0;
        self.wlen = total;
        self.progress.bytes += n as u64;
        Ok(())
    }

    /// Moves `got` bytes of a frame body that were read into the caller's
    /// buffer into a pooled buffer, because this call returns without them.
    fn stage(&mut self, partial: &[u8], len: usize, epoch: u32) {
        let mut b = buf_pool::take(self.frame_buf);
        b[..partial.len()].copy_from_slice(partial);
        self.rbuf = Some(b);
        self.rstate = ReadState::Body {
            len,
            epoch,
            filled: partial.len(),
        };
    }

    /// Announces the next key as soon as the receiver acknowledged the
    /// current one, and switches to it when the schedule says so. Announcing
    /// early means the receiver holds the next key before its first frame
    /// arrives, so rotation never stalls the reader.
    fn maybe_rotate(&mut self) {
        let t = now();
        let current = self.send_key.epoch();
        if self.next_key.is_none()
            && self.keys.acked.load(Ordering::Acquire) == i64::from(current)
            && let Some(next_epoch) = current.checked_add(1)
        {
            let kind = self.send_key.kind();
            let (key, bytes) = StreamKey::random(kind, next_epoch);
            #[cfg(any(test, feature = "test-util"))]
            let test_copy = bytes.clone();
            let msg = ControlMsg::StreamKey {
                stream_id: self.id,
                epoch: next_epoch,
                cipher: kind,
                key: bytes,
            };
            // A full control queue just postpones the announcement.
            if self.ctx.control_tx.try_send(msg).is_ok() {
                self.next_key = Some(key);
                #[cfg(any(test, feature = "test-util"))]
                {
                    self.test_keys.1 = Some(test_copy);
                }
            }
        }
        self.progress.acknowledged = self.next_key.is_some();
        if !self.schedule.due(&self.progress, t) {
            return;
        }
        let Some(next) = self.next_key.take() else {
            return;
        };
        let next_epoch = next.epoch();
        self.keys.send_epoch.store(next_epoch, Ordering::Release);
        self.send_key = next; // the old key is dropped, and so wiped, here
        #[cfg(any(test, feature = "test-util"))]
        if let Some(k) = self.test_keys.1.take() {
            self.test_keys.0 = k;
        }
        self.progress = EpochProgress {
            bytes: 0,
            started: t,
            acknowledged: false,
        };
        self.stats.send_epoch.store(next_epoch, Ordering::Relaxed);
        self.stats.rotations_tx.fetch_add(1, Ordering::Relaxed);
        self.stats.mark_rotation(t);
    }

    /// Makes the key for `epoch` current, waiting for it if it has not arrived.
    fn poll_recv_key(&mut self, cx: &mut Context<'_>, epoch: u32) -> Poll<io::Result<()>> {
        if self.recv_key.as_ref().is_some_and(|k| k.epoch() == epoch) {
            return Poll::Ready(Ok(()));
        }
        let expected = match &self.recv_key {
            Some(k) => k.epoch().checked_add(1),
            None => Some(0),
        };
        if expected != Some(epoch) {
            return Poll::Ready(Err(violation(
                &self.ctx,
                "stream frame with an unexpected key epoch",
            )));
        }
        let next = {
            let mut slot = self.keys.slot.lock().unwrap_or_else(|p| p.into_inner());
            if slot.closed {
                return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
            }
            match slot.next.take() {
                Some(k) => k,
                None => {
                    slot.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        };
        if next.epoch() != epoch {
            return Poll::Ready(Err(violation(&self.ctx, "stream key epoch mismatch")));
        }
        if self.recv_key.is_some() {
            self.stats.rotations_rx.fetch_add(1, Ordering::Relaxed);
            self.stats.mark_rotation(now());
        }
        self.stats
            .recv_cipher
            .store(u32::from(next.kind().to_wire()), Ordering::Relaxed);
        self.stats.recv_epoch.store(epoch, Ordering::Relaxed);
        self.recv_key = Some(next); // the previous key is dropped, and so wiped, here
        if self
            .ctx
            .control_tx
            .try_send(ControlMsg::KeyAck {
                stream_id: self.id,
                epoch,
            })
            .is_err()
        {
            return Poll::Ready(Err(io::Error::other("control queue full")));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this.rstate {
                ReadState::Eof => return Poll::Ready(Ok(())),
                ReadState::Plain { pos, end } => {
                    let Some(rbuf) = &this.rbuf else {
                        return Poll::Ready(Err(io::Error::other("no frame buffer")));
                    };
                    if pos < end {
                        let n = out.remaining().min(end - pos);
                        out.put_slice(&rbuf[pos..pos + n]);
                        this.rstate = ReadState::Plain { pos: pos + n, end };
                        this.stats.bytes_rx.fetch_add(n as u64, Ordering::Relaxed);
                        return Poll::Ready(Ok(()));
                    }
                    if let Some(b) = this.rbuf.take() {
                        buf_pool::give(b);
                    }
                    this.rstate = ReadState::Head { filled: 0 };
                }
                ReadState::Head { filled } => {
                    if filled == FRAME_HEAD {
                        let h = stream_cipher::parse_head(&this.head, this.max_frame as u32)
                            .map_err(|_| violation(&this.ctx, "stream frame too long"))?;
                        this.rstate = ReadState::Body {
                            len: h.len as usize,
                            epoch: h.epoch,
                            filled: 0,
                        };
                        continue;
                    }
                    let n = ready!(
                        Pin::new(&mut this.io).poll_read(cx, &mut this.head[filled..FRAME_HEAD])
                    )?;
                    if n == 0 {
                        if filled == 0 {
                            this.rstate = ReadState::Eof;
                            continue;
                        }
                        return Poll::Ready(Err(violation(&this.ctx, "truncated stream frame")));
                    }
                    this.rstate = ReadState::Head { filled: filled + n };
                }
                ReadState::Body { len, epoch, filled } => {
                    let total = len + TAG;
                    if this.rbuf.is_none() && out.remaining() >= total {
                        return this.read_frame_into(cx, out, len, epoch);
                    }
                    let rbuf = this
                        .rbuf
                        .get_or_insert_with(|| buf_pool::take(this.frame_buf));
                    if filled < total {
                        let n =
                            ready!(Pin::new(&mut this.io).poll_read(cx, &mut rbuf[filled..total]))?;
                        if n == 0 {
                            return Poll::Ready(Err(violation(
                                &this.ctx,
                                "truncated stream frame",
                            )));
                        }
                        this.rstate = ReadState::Body {
                            len,
                            epoch,
                            filled: filled + n,
                        };
                        continue;
                    }
                    ready!(this.poll_recv_key(cx, epoch))?;
                    let (Some(key), Some(rbuf)) = (this.recv_key.as_mut(), this.rbuf.as_mut())
                    else {
                        return Poll::Ready(Err(io::Error::other("no receive key")));
                    };
                    let n = key
                        .open(&this.head, &mut rbuf[..total])
                        .map_err(|_| violation(&this.ctx, "stream frame failed to decrypt"))?;
                    this.rstate = ReadState::Plain { pos: 0, end: n };
                }
            }
        }
    }
}

impl Stream {
    /// Reads the body of the current frame straight into the caller's
    /// buffer (which has room for it) and opens it there. If the body or
    /// its key is not all here yet, what arrived is moved to a pooled
    /// buffer before returning `Pending`, since the caller may come back
    /// with another buffer.
    fn read_frame_into(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
        len: usize,
        epoch: u32,
    ) -> Poll<io::Result<()>> {
        let total = len + TAG;
        let dst = out.initialize_unfilled_to(total);
        let mut got = 0;
        while got < total {
            match Pin::new(&mut self.io).poll_read(cx, &mut dst[got..total]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(violation(&self.ctx, "truncated stream frame")));
                }
                Poll::Ready(Ok(n)) => got += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if got > 0 {
                        self.stage(&dst[..got], len, epoch);
                    }
                    return Poll::Pending;
                }
            }
        }
        match self.poll_recv_key(cx, epoch) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {
                self.stage(&dst[..total], len, epoch);
                return Poll::Pending;
            }
        }
        let Some(key) = self.recv_key.as_mut() else {
            return Poll::Ready(Err(io::Error::other("no receive key")));
        };
        let n = key
            .open(&self.head, &mut dst[..total])
            .map_err(|_| violation(&self.ctx, "stream frame failed to decrypt"))?;
        out.advance(n);
        self.stats.bytes_rx.fetch_add(n as u64, Ordering::Relaxed);
        self.rstate = ReadState::Head { filled: 0 };
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = this.max_frame - this.wfill;
        let n = buf.len().min(room);
        let wbuf = this
            .wbuf
            .get_or_insert_with(|| buf_pool::take(this.frame_buf));
        wbuf[FRAME_HEAD + this.wfill..FRAME_HEAD + this.wfill + n].copy_from_slice(&buf[..n]);
        this.wfill += n;
        this.stats.bytes_tx.fetch_add(n as u64, Ordering::Relaxed);
        if this.wfill == this.max_frame {
            this.seal_gathered()?;
            // Start sending at once; a frame yamux cannot take yet waits
            // for the next write or the flush.
            if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        this.seal_gathered()?;
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        this.seal_gathered()?;
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_close(cx)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if let Some(b) = self.wbuf.take() {
            buf_pool::give(b);
        }
        if let Some(b) = self.rbuf.take() {
            buf_pool::give(b);
        }
        self.ctx.registry.remove(self.id);
        self.ctx.shared.streams_open.fetch_sub(1, Ordering::AcqRel);
        self.ctx.shared.touch_streams();
        if self.inbound {
            self.ctx.inbound_streams.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
