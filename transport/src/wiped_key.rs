//! A ring AEAD key whose memory is overwritten with zeros when it is dropped.
//!
//! ring keeps key schedules in plain memory and does not wipe them, while
//! forward secrecy here rests on old keys being gone: a rotated stream key,
//! a rekeyed Noise key. Every ring key this crate holds lives in a
//! [`WipedKey`].

use std::mem::{ManuallyDrop, MaybeUninit};
use std::ops::Deref;
use std::sync::atomic::{Ordering, compiler_fence};

use ring::aead::LessSafeKey;

/// A ring AEAD key, wiped on drop.
pub(crate) struct WipedKey(ManuallyDrop<LessSafeKey>);

impl WipedKey {
    pub(crate) fn new(key: LessSafeKey) -> Self {
        WipedKey(ManuallyDrop::new(key))
    }
}

impl Deref for WipedKey {
    type Target = LessSafeKey;
    fn deref(&self) -> &LessSafeKey {
        &self.0
    }
}

impl Drop for WipedKey {
    fn drop(&mut self) {
        // SAFETY: the key is dropped in place first and never used again
        // (`ManuallyDrop` prevents a second drop). The bytes it occupied are
        // then overwritten as plain memory (`MaybeUninit<u8>`), which is valid
        // for any byte of any type; volatile writes keep the compiler from
        // eliding them.
        unsafe {
            ManuallyDrop::drop(&mut self.0);
            let p = (&mut self.0 as *mut ManuallyDrop<LessSafeKey>).cast::<MaybeUninit<u8>>();
            for i in 0..size_of::<LessSafeKey>() {
                p.add(i).write_volatile(MaybeUninit::new(0));
            }
        }
        compiler_fence(Ordering::SeqCst);
    }
}
