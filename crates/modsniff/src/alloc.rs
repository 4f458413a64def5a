//! The global allocator: mimalloc, with two options set before it starts.
//!
//! A full analysis allocates and frees a few objects per connection and per DNS message
//! (~320k connections and ~240k DNS records per GB of the benchmark corpus); under glibc's
//! allocator that was ~20 % of a run (malloc, free, consolidation). mimalloc's defaults
//! commit whole arenas and keep freed pages for a second, which cost ~30 MiB of peak RSS;
//! `csrc/alloc_defaults.c` commits on demand and keeps freed pages for 100 ms instead, set
//! before mimalloc initialises (figures in BENCHMARKS.md). `MIMALLOC_*` environment variables
//! still override them.

// The only unsafe code of the binary: the global allocator's entry points, and calls into the
// C shim, which has no preconditions.
#![allow(unsafe_code)]

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
#[cfg(test)]
use std::ffi::c_long;
use std::ffi::{c_int, c_void};

#[global_allocator]
static GLOBAL: MiAlloc = MiAlloc;

/// Every mimalloc block is aligned to at least a word (its smallest block is one word and
/// block sizes are whole words from a 16-byte aligned start), so `mi_malloc` serves any
/// alignment up to this.
const WORD_ALIGN: usize = std::mem::size_of::<usize>();

/// mimalloc through its plain entry points wherever the alignment allows. The `mimalloc`
/// crate's allocator calls `mi_malloc_aligned` for everything, which mimalloc serves from
/// its fast path only when a free block of the size is at hand and happens to sit at the
/// alignment; else, unless the block size is a power of two, it over-allocates and aligns by
/// hand. Every allocation over 1 KiB (a connection's state, its TLS record, ...) took that
/// path, and so did smaller ones whose size class needed a fresh page: 44,160 times in the
/// first 100,000 packets of the benchmark corpus (callgrind).
struct MiAlloc;

// SAFETY: each method forwards to the mimalloc function with the same contract; the plain
// ones are used only for alignments that every mimalloc block meets (`WORD_ALIGN`), and
// `mi_free` frees blocks from either kind.
unsafe impl GlobalAlloc for MiAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if layout.align() <= WORD_ALIGN {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if layout.align() <= WORD_ALIGN {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: see the impl.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if layout.align() <= WORD_ALIGN {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

unsafe extern "C" {
    fn modsniff_mi_defaults_linked() -> c_int;
    #[cfg(test)]
    fn modsniff_mi_arena_eager_commit() -> c_long;
    #[cfg(test)]
    fn modsniff_mi_purge_delay() -> c_long;
}

/// Refers to the constructor's object so that the linker keeps it: nothing else does, and
/// an unreferenced object of a static library is left out (with its constructor).
pub fn keep_defaults_linked() {
    // SAFETY: a C function without arguments or side effects.
    std::hint::black_box(unsafe { modsniff_mi_defaults_linked() });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_meet_their_alignment() {
        // Sizes around mimalloc's bins and its 1 KiB small-object bound, at each alignment
        // that takes the plain path and one that does not.
        for align in [1usize, 2, 4, 8, 16, 64] {
            for size in [
                1usize, 3, 8, 20, 24, 40, 100, 1000, 1024, 1408, 1792, 5000, 70_000,
            ] {
                let Ok(layout) = Layout::from_size_align(size.max(align), align) else {
                    continue;
                };
                // SAFETY: non-zero size; freed with the same allocator.
                unsafe {
                    let p = GLOBAL.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    let q = GLOBAL.realloc(p, layout, layout.size() * 3);
                    assert_eq!(q as usize % align, 0, "realloc size {size} align {align}");
                    GLOBAL.dealloc(
                        q,
                        Layout::from_size_align_unchecked(layout.size() * 3, align),
                    );
                    let z = GLOBAL.alloc_zeroed(layout);
                    assert!(
                        std::slice::from_raw_parts(z, layout.size())
                            .iter()
                            .all(|&b| b == 0)
                    );
                    assert_eq!(z as usize % align, 0);
                    GLOBAL.dealloc(z, layout);
                }
            }
        }
    }

    #[test]
    fn defaults_are_applied_before_mimalloc_starts() {
        // SAFETY: both read one mimalloc option.
        let (eager, purge) =
            unsafe { (modsniff_mi_arena_eager_commit(), modsniff_mi_purge_delay()) };
        // mimalloc's own defaults are 2 and 1000; the environment may override ours.
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            assert_eq!(eager, 0);
        }
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge, 100);
        }
    }
}
