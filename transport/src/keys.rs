//! Per-stream key slots shared by a stream's reader/writer and the control
//! task, and the registry that maps yamux stream ids to them.
//!
//! The receive slot holds at most one not-yet-used key (the reader owns the
//! current one), so a receiver never has more than current + next. A key for
//! an epoch out of order, or a next key before the previous one was
//! acknowledged, is a protocol violation. The registry bounds how many
//! streams may have keys waiting before yamux shows us the stream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use zeroize::Zeroizing;

use crate::stream_cipher::{CipherKind, StreamKey};

#[derive(Default)]
pub(crate) struct RecvSlot {
    pub next: Option<StreamKey>,
    pub expected: u32,
    pub waker: Option<Waker>,
    pub closed: bool,
}

/// Key state of one stream.
#[derive(Default)]
pub(crate) struct StreamKeys {
    pub slot: Mutex<RecvSlot>,
    /// Epoch of our sending key.
    pub send_epoch: AtomicU32,
    /// Highest epoch of ours the peer acknowledged (-1: none).
    pub acked: AtomicI64,
}

impl StreamKeys {
    fn new() -> Self {
        StreamKeys {
            acked: AtomicI64::new(-1),
            ..Default::default()
        }
    }
    pub fn close(&self) {
        if let Ok(mut s) = self.slot.lock() {
            s.closed = true;
            s.next = None;
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }
}

struct Inner {
    streams: HashMap<u32, Arc<StreamKeys>>,
    /// Ids of the peer's streams closed lately, oldest first: a key that
    /// arrives for one of them is dropped. Only ids actually closed count —
    /// the peer's key for a stream can arrive after a later stream of its
    /// was accepted, and must not be mistaken for a key of a closed one.
    closed_remote: std::collections::VecDeque<u32>,
    closed_remote_set: std::collections::HashSet<u32>,
}

/// How many closed remote stream ids are remembered.
const CLOSED_REMEMBERED: usize = 4096;

/// The stream id → keys map of one connection.
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    /// 1 if we open odd ids (dialler), 0 if even (listener).
    local_parity: u32,
    max_entries: usize,
}

impl Registry {
    pub fn new(dialler: bool, max_streams: u32) -> Self {
        Registry {
            inner: Mutex::new(Inner {
                streams: HashMap::new(),
                closed_remote: std::collections::VecDeque::new(),
                closed_remote_set: std::collections::HashSet::new(),
            }),
            local_parity: u32::from(dialler),
            max_entries: 2 * max_streams as usize + 64,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a stream we opened, or one yamux handed us.
    pub fn claim(&self, id: u32) -> Result<Arc<StreamKeys>, &'static str> {
        let g = self.lock();
        if let Some(k) = g.streams.get(&id) {
            return Ok(k.clone());
        }
        if g.streams.len() >= self.max_entries {
            return Err("too many streams with keys");
        }
        let mut g = g;
        let k = Arc::new(StreamKeys::new());
        g.streams.insert(id, k.clone());
        Ok(k)
    }

    pub fn remove(&self, id: u32) {
        let mut g = self.lock();
        if id % 2 != self.local_parity && g.closed_remote_set.insert(id) {
            g.closed_remote.push_back(id);
            if g.closed_remote.len() > CLOSED_REMEMBERED
                && let Some(old) = g.closed_remote.pop_front()
            {
                g.closed_remote_set.remove(&old);
            }
        }
        if let Some(k) = g.streams.remove(&id) {
            k.close();
        }
    }

    /// Installs the peer's key for its direction of `id`.
    pub fn install(
        &self,
        id: u32,
        epoch: u32,
        cipher: CipherKind,
        key: &Zeroizing<[u8; 32]>,
    ) -> Result<(), &'static str> {
        let keys = {
            let mut g = self.lock();
            match g.streams.get(&id) {
                Some(k) => k.clone(),
                None if id % 2 == self.local_parity || g.closed_remote_set.contains(&id) => {
                    return Ok(()); // closed already
                }
                None => {
                    if g.streams.len() >= self.max_entries {
                        return Err("too many stream keys for unopened streams");
                    }
                    let k = Arc::new(StreamKeys::new());
                    g.streams.insert(id, k.clone());
                    k
                }
            }
        };
        let mut s = keys.slot.lock().unwrap_or_else(|p| p.into_inner());
        if s.closed {
            return Ok(());
        }
        if s.next.is_some() || epoch != s.expected {
            return Err("stream key out of order");
        }
        s.next = Some(StreamKey::new(cipher, epoch, key));
        s.expected = epoch.checked_add(1).ok_or("stream key epoch overflow")?;
        if let Some(w) = s.waker.take() {
            w.wake();
        }
        Ok(())
    }

    /// The peer acknowledged our key epoch on `id`.
    pub fn ack(&self, id: u32, epoch: u32) -> Result<(), &'static str> {
        let Some(keys) = self.lock().streams.get(&id).cloned() else {
            return Ok(());
        };
        if keys.send_epoch.load(Ordering::Acquire) != epoch {
            return Err("key ack for an epoch not in use");
        }
        keys.acked.store(i64::from(epoch), Ordering::Release);
        Ok(())
    }

    pub fn close_all(&self) {
        let all: Vec<_> = self.lock().streams.drain().map(|(_, k)| k).collect();
        for k in all {
            k.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Zeroizing<[u8; 32]> {
        Zeroizing::new([1; 32])
    }

    #[test]
    fn keys_must_arrive_in_epoch_order_and_one_ahead_at_most() {
        let r = Registry::new(true, 4);
        let k = r.claim(2).unwrap();
        assert_eq!(
            r.install(2, 1, CipherKind::Aes256Gcm, &key()),
            Err("stream key out of order")
        );
        r.install(2, 0, CipherKind::Aes256Gcm, &key()).unwrap();
        // Epoch 1 before the reader took epoch 0: current + next would be exceeded.
        assert_eq!(
            r.install(2, 1, CipherKind::Aes256Gcm, &key()),
            Err("stream key out of order")
        );
        assert!(k.slot.lock().unwrap().next.take().is_some());
        r.install(2, 1, CipherKind::Aes256Gcm, &key()).unwrap();
    }

    #[test]
    fn keys_for_closed_streams_are_ignored_without_allocating() {
        let r = Registry::new(true, 4);
        r.claim(4).unwrap();
        r.remove(4);
        r.install(4, 0, CipherKind::Aes256Gcm, &key()).unwrap();
        r.install(3, 0, CipherKind::Aes256Gcm, &key()).unwrap();
        assert!(r.lock().streams.is_empty());
    }

    #[test]
    fn a_key_arriving_after_a_later_stream_was_accepted_is_kept() {
        // The peer opened streams 2 and 4; yamux handed us 4 first, then the
        // key for 2 arrived on the control stream, then stream 2 itself.
        // Dropping that key (as if 2 were closed) stalled stream 2 forever.
        let r = Registry::new(true, 4);
        r.claim(4).unwrap();
        r.install(2, 0, CipherKind::Aes256Gcm, &key()).unwrap();
        let k = r.claim(2).unwrap();
        assert!(
            k.slot.lock().unwrap().next.is_some(),
            "stream 2 has its key"
        );
    }

    #[test]
    fn keys_for_unopened_streams_are_bounded() {
        let r = Registry::new(true, 1);
        let mut refused = false;
        for id in (2..400).step_by(2) {
            refused |= r.install(id, 0, CipherKind::Aes256Gcm, &key()).is_err();
        }
        assert!(refused);
    }

    #[test]
    fn ack_must_name_the_epoch_in_use() {
        let r = Registry::new(true, 4);
        let k = r.claim(1).unwrap();
        assert!(r.ack(1, 3).is_err());
        r.ack(1, 0).unwrap();
        assert_eq!(k.acked.load(Ordering::Relaxed), 0);
    }
}
