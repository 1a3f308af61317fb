//! The allocator settings for a process that runs this transport (glibc).
//!
//! yamux allocates a fresh buffer for every data frame it sends and
//! receives, up to one stream frame (64 KiB) each, and frees it as soon as
//! the frame is written or read out. With glibc's default policy a heap
//! whose top holds more than 128 KiB free is trimmed: the pages go back to
//! the kernel and the next frames fault them in again, zeroed. On the
//! sending end of a bulk stream that was a tenth of its CPU (page faults,
//! `clear_page`, memcg charging and TLB flushes in `perf`), and the sender
//! is the end that bounds a stream. [`tune`] keeps up to 8 MiB free at a
//! heap's top (and serves allocations up to 4 MiB from the heap, which
//! glibc's own adaptive threshold would reach after the first large
//! free); docs/TRANSPORT.md, "The allocator", has the figures.
//!
//! It also caps glibc at two arenas. glibc gives each thread that
//! allocates under contention an arena of its own (up to 8 per core) and
//! keeps what is freed in it: a fetch, whose reader threads and runtime
//! workers pass MiB-sized buffers between them, peaked at 111 MB with the
//! default and 68 MB with two arenas, at the same speed
//! (`scripts/bench-fetch.sh`, 1 GiB).
//!
//! These are process-wide settings, so the library never applies them on
//! its own: every `cairn` process that runs a node (`cairn daemon`, and
//! `cairn` with its dashboard) calls [`tune`] before its runtime starts,
//! and so do the transport benches, so that they measure what the node
//! runs. Other allocators and platforms are left alone.

/// Heap memory kept free at the top before glibc trims it.
pub const TRIM_THRESHOLD: usize = 8 << 20;
/// Allocations at least this large get a mapping of their own.
pub const MMAP_THRESHOLD: usize = 4 << 20;
/// glibc arenas in the process.
pub const ARENA_MAX: usize = 2;

/// Applies the settings above. Call it before the process starts other
/// threads (it is harmless later, but arenas made before it stay).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() {
    // SAFETY: mallopt only sets allocator tunables, under glibc's own lock.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX as libc::c_int);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int);
    }
}

/// Other allocators keep their own policy.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}
