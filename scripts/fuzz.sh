#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a fixed time (issue 8).
#
#   scripts/fuzz.sh [--smoke] [--seconds N] [--stable] [TARGET...]
#
# --smoke     3 seconds per target (CI runs this after the tests)
# --seconds N N seconds per target (default 60)
# --stable    use the stable in-house driver even when cargo-fuzz and nightly are there
# TARGET      capture_reader decode reassembler tls http dns (default: all)
#
# First, every input under fuzz/regressions/<target>/ (crashes found so far) is replayed.
# Then, with a nightly toolchain and cargo-fuzz installed (cargo install cargo-fuzz), each
# target runs under libFuzzer, seeded from the fixtures; otherwise (CI: the registries give
# no nightly toolchain) under fuzz/src/bin/stable-fuzz.rs, a mutational driver on stable Rust
# over the same target functions. Both build with debug assertions and overflow checks.
# A crash is saved under fuzz/artifacts/<target>/ and the script exits non-zero: turn it
# into a regression (fuzz/regressions/ and a test in crates/modsniff/tests/hostile.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=60 stable=0 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) secs=3 ;;
    --seconds) secs="$2"; shift ;;
    --stable) stable=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=(capture_reader decode reassembler tls http dns)
# The fuzz crate is its own workspace: keep its build apart from the main one.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"

echo "== fuzz: building the stable driver"
# Not --locked: fuzz/Cargo.lock follows the workspace's crates, and a dependency added to
# core or capture must not break this step (cargo adds it to the lock, changing nothing else).
cargo build --release --manifest-path fuzz/Cargo.toml --bin stable-fuzz
driver="$CARGO_TARGET_DIR/release/stable-fuzz"

echo "== fuzz: replaying fuzz/regressions"
for t in "${targets[@]}"; do
  for f in fuzz/regressions/"$t"/*; do
    [ -f "$f" ] && "$driver" "$t" --replay "$f"
  done
done

use_libfuzzer=0
if [ "$stable" = 0 ] && rustup toolchain list 2>/dev/null | grep -q '^nightly' &&
  cargo +nightly fuzz --version >/dev/null 2>&1; then
  use_libfuzzer=1
fi

fail=0
for t in "${targets[@]}"; do
  if [ "$use_libfuzzer" = 1 ]; then
    echo "== fuzz: $t under libFuzzer for ${secs}s"
    corpus="fuzz/corpus/$t"
    [ -d "$corpus" ] || "$driver" "$t" --dump-seeds fuzz/corpus >/dev/null
    (cd fuzz && cargo +nightly fuzz run --features libfuzzer "$t" "corpus/$t" -- \
      -max_total_time="$secs" -rss_limit_mb=512 -timeout=10 -print_final_stats=1) || fail=1
  else
    echo "== fuzz: $t under the stable driver for ${secs}s"
    "$driver" "$t" --seconds "$secs" || fail=1
  fi
done
if [ "$fail" != 0 ]; then
  echo "fuzz: crashes found (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: no crash"
