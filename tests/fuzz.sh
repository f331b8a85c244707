#!/bin/bash
# fuzz.sh - the fuzz targets, briefly (scripts/fuzz.sh, FUZZ_SECONDS each, default 30):
# each runs (executions counted) and finds no crash. A longer run: scripts/fuzz.sh 600.
# The first run builds the targets with cargo-fuzz (a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin fuzz

out=$IKT_RUN/fuzz.out
secs=${FUZZ_SECONDS:-30}
scripts/fuzz.sh "$secs" >"$out" 2>&1 || true
sed 's/^/    /' "$out"
ran_clean() { grep -qE "^fuzz $1: [0-9]+ executions in $secs s, .*no crash$" "$out"; }
check "decode: ISAKMP decoding for $secs s, no crash" ran_clean decode
check "responder: a responder past MM4 for $secs s, no crash" ran_clean responder
suite_end
