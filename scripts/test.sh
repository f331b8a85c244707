#!/bin/bash
# test.sh - the whole ikev1d test suite (what CI runs).
#
#   sudo ./scripts/test.sh [--quick] [--only PATTERN] [--list] [--help]
#
# Installs what the suite needs when it is missing (apt packages, the Debian kernel the
# VM boots), then: cargo fmt --check, cargo clippy -D warnings, cargo test, and every
# network suite tests/*.sh, one after the other, on the binaries cargo test built (one
# build for all). Each suite prints PASS/FAIL lines and its duration; a table of every
# step's time and result ends the run.
#   --quick         stop after cargo test (no root needed)
#   --only PATTERN  only the suites whose name matches PATTERN, an extended regular
#                   expression (e.g. 'netns|stay'): cargo build, then those suites
#   --list          the suites, one a line
# Environment: IKT_NS, the prefix of every namespace the suites make (default ikt; see
# tests/lib.sh); IKT_SUITE_TIMEOUT, seconds one suite may take (1500).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,17s/^# \{0,1\}//p' "$0"; }
# suites: the names of tests/*.sh but tests/lib.sh, their helpers
suites() { for t in tests/*.sh; do t=${t#tests/}; [ "$t" = lib.sh ] || echo "${t%.sh}"; done; }
quick= only=
while [ $# -gt 0 ]; do
    case $1 in
        --help|-h) usage; exit 0 ;;
        --quick) quick=1 ;;
        --only) [ $# -ge 2 ] || { usage >&2; exit 2; }; only=$2; shift ;;
        --list) suites; exit 0 ;;
        *) echo "test.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

summary=()
# step NAME CMD...: run CMD as a section, its time and result in the summary
step() {
    local name=$1 t0=$SECONDS rc=0; shift
    printf '\n=== %s ===\n' "$name"
    "$@" || rc=$?
    summary+=("$(printf '%-28s %5d s  %s' "$name" $((SECONDS - t0)) "$([ $rc = 0 ] && echo PASS || echo "FAIL (exit $rc)")")")
    return $rc
}
print_summary() {
    printf '\n=== summary (%d s in all) ===\n' $((SECONDS - t_start))
    printf '%s\n' "${summary[@]}"
}
t_start=$SECONDS

# apt packages the network and VM suites need
need_pkgs=(strongswan-charon strongswan-swanctl libcharon-extra-plugins
    libstrongswan-standard-plugins qemu-system-x86 busybox-static kmod xz-utils
    iproute2 iputils-ping iperf3 tcpdump systemd vagrant python3 jq nftables)
install_missing() {
    local missing=() p
    for p in "${need_pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]}"
        if [ "$(id -u)" != 0 ]; then echo "test.sh: need root to install ${missing[*]}" >&2; return 1; fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # The VM suites boot a stock Debian kernel that run-in-vm.sh fetches with apt-get
    # download: make sure the package lists exist on a fresh machine.
    if ! ls "${XDG_CACHE_HOME:-$HOME/.cache}"/run-in-vm/linux-image-*.deb >/dev/null 2>&1 &&
        ! apt-cache depends linux-image-amd64 2>/dev/null | grep -q 'Depends: linux-image-[0-9]'; then
        apt-get update -q >/dev/null
    fi
}

# must STEP: a step the rest depends on
must() { step "$@" || { print_summary; exit 1; }; }
[ -n "$quick" ] || must "install missing packages" install_missing
if [ -z "$only" ]; then
    must "cargo fmt --check" cargo fmt --all -- --check
    must "cargo clippy" cargo clippy --all-targets -- -D warnings
    # builds ikev1d and examples/dp_driver too (dev profile): the suites use those
    must "cargo test" cargo test
    [ -z "$quick" ] || { print_summary; exit 0; }
else
    must "cargo build" cargo build --bins --examples
fi
export IKT_BUILT=1

total=0 failed=0
for name in $(suites); do
    [ -z "$only" ] || [[ $name =~ $only ]] || continue
    total=$((total + 1))
    # a suite that hangs is stopped (TERM: it still removes what it made) and fails
    step "$name" timeout -k 30 "${IKT_SUITE_TIMEOUT:-1500}" bash "tests/$name.sh" || failed=$((failed + 1))
done
[ "$total" -gt 0 ] || { echo "test.sh: no suite matches '$only' (--list shows them)" >&2; exit 2; }
print_summary
printf '\nsuites: %d passed, %d failed\n' $((total - failed)) "$failed"
[ "$failed" = 0 ]
