/* modsniff's mimalloc defaults, applied before mimalloc initialises.
 *
 * mimalloc reads its options when the process loads (its constructor has priority 101) and
 * commits arenas eagerly on Linux; with that default a full analysis peaked at 85 MiB RSS
 * against glibc's 57 MiB. With arena_eager_commit=0 it commits on demand. Freed pages are
 * returned to the OS 100 ms after they empty (mimalloc's default is 1 s: +20 MiB of peak RSS;
 * at 0 ms every page emptied between two batches of records was returned and faulted back
 * in, ~10 % of the engine thread's time with --threads 2, BENCHMARKS.md). Setting the options
 * from `main` is too late (the runtime has allocated by then), so this constructor runs one
 * priority earlier.
 * mi_option_set_default leaves MIMALLOC_* environment variables in charge. */
#include <mimalloc.h>

__attribute__((constructor(100))) static void modsniff_mi_defaults(void) {
    mi_option_set_default(mi_option_arena_eager_commit, 0);
    mi_option_set_default(mi_option_purge_delay, 100);
}

/* Referenced from Rust so that the linker keeps this object (and its constructor). */
int modsniff_mi_defaults_linked(void) { return 1; }

/* The two options as mimalloc now holds them (for the test in src/alloc.rs). */
long modsniff_mi_arena_eager_commit(void) { return mi_option_get(mi_option_arena_eager_commit); }
long modsniff_mi_purge_delay(void) { return mi_option_get(mi_option_purge_delay); }
