//! The global allocator: mimalloc, with two options set before it starts.
//!
//! A full analysis allocates and frees a few objects per connection and per DNS message
//! (~320k connections and ~240k DNS records per GB of the benchmark corpus); under glibc's
//! allocator that was ~20 % of a run (malloc, free, consolidation). mimalloc's defaults
//! commit whole arenas and keep freed pages for a second, which cost ~30 MiB of peak RSS;
//! `csrc/alloc_defaults.c` commits on demand and keeps freed pages for 100 ms instead, set
//! before mimalloc initialises (figures in BENCHMARKS.md). `MIMALLOC_*` environment variables
//! still override them.

// The only unsafe code of the binary: calls into the C shim, which has no preconditions.
#![allow(unsafe_code)]

use std::ffi::c_int;
#[cfg(test)]
use std::ffi::c_long;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
