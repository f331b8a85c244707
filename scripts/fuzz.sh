#!/bin/bash
# fuzz.sh - run each fuzz target (fuzz/fuzz_targets: decode, responder) for a while and
# say how many inputs it tried and what it found.
#
#   ./scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60). cargo-fuzz (libFuzzer, AddressSanitizer) on the
# stable toolchain: RUSTC_BOOTSTRAP=1 lets it pass its -Z flags; cargo-fuzz is
# installed when missing. Each run starts from the kept corpus (fuzz/corpus/TARGET) and
# writes what it discovers to a scratch corpus, so the repository stays as it is. A
# crash is kept in fuzz/artifacts/TARGET/ (reproduce: cargo fuzz run TARGET FILE).
# Not one of scripts/test.sh's suites: building the instrumented targets from nothing
# (cargo-fuzz, then every dependency under AddressSanitizer, AWS-LC's C included) took
# over 13 min of a shared 2-core machine, more than the rest of the host suites. CI's
# `cargo test` replays each target's kept corpus through the same harness and runs the
# deterministic mutation tests (isakmp::tests, ike::fuzz::tests); run this for the
# coverage-guided search, e.g. nightly or after touching the decoder or the engine.
# Prints one line per target:
#   fuzz decode: 12345678 executions in 60 s, 763 edges, no crash
# and exits 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,22s/^# \{0,1\}//p' "$0"; }
case ${1:-} in --help|-h) usage; exit 0 ;; esac
secs=${1:-60}
[[ $secs =~ ^[0-9]+$ ]] || { usage >&2; exit 2; }
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode responder)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked -q
export RUSTC_BOOTSTRAP=1
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ikev1d-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

crashed=0
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t" "fuzz/corpus/$t"
    log=$scratch/$t.log
    rc=0
    cargo fuzz run -O "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1 || rc=$?
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
    edges=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
    if [ "$rc" = 0 ]; then
        echo "fuzz $t: ${execs:-?} executions in $secs s, ${edges:-?} edges, no crash"
    else
        crashed=1
        echo "fuzz $t: FOUND A CRASH after ${execs:-?} executions (exit $rc):"
        grep -E 'panicked|ERROR|SUMMARY|artifact' "$log" | head -n 10 | sed 's/^/    /'
        [ -n "$execs" ] || tail -n 20 "$log" | sed 's/^/    /'
    fi
done
exit $crashed
