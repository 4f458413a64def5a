/* modsniff's mimalloc defaults, applied before mimalloc initialises.
 *
 * mimalloc reads its options when the process loads (its constructor has priority 101) and
 * commits arenas eagerly on Linux; with that default a full analysis peaked at 85 MiB RSS
 * against glibc's 57 MiB. With arena_eager_commit=0 and purge_delay=0 it peaked at 59 MiB
 * and kept its speed (BENCHMARKS.md). Setting the options from `main` is too late (the
 * runtime has allocated by then), so this constructor runs one priority earlier.
 * mi_option_set_default leaves MIMALLOC_* environment variables in charge. */
#include <mimalloc.h>

__attribute__((constructor(100))) static void modsniff_mi_defaults(void) {
    mi_option_set_default(mi_option_arena_eager_commit, 0);
    mi_option_set_default(mi_option_purge_delay, 0);
}

/* Referenced from Rust so that the linker keeps this object (and its constructor). */
int modsniff_mi_defaults_linked(void) { return 1; }

/* The two options as mimalloc now holds them (for the test in src/alloc.rs). */
long modsniff_mi_arena_eager_commit(void) { return mi_option_get(mi_option_arena_eager_commit); }
long modsniff_mi_purge_delay(void) { return mi_option_get(mi_option_purge_delay); }
