#!/bin/bash
# test.sh - the whole ikev1d test suite (what CI runs).
#
#   sudo ./scripts/test.sh [--quick] [--only PATTERN] [--serial] [--list] [--help]
#
# Installs what the suite needs when it is missing (apt packages, the Debian kernel the
# VM boots), then: cargo fmt --check, cargo clippy -D warnings, cargo test, and every
# network suite tests/*.sh on the binaries cargo test built (one build for all), in two
# lanes at once (flood and scale first, alone): the VM suites one after the other in one, the host suites
# in the other, which then takes VM suites not yet begun. A suite's output is printed
# whole when it ends; a table of every step's time and result ends the run.
#   --quick         stop after cargo test (no root needed)
#   --only PATTERN  only the suites whose name matches PATTERN, an extended regular
#                   expression (e.g. 'netns|stay'): cargo build, then those suites
#   --serial        one lane: every suite after the other, its output as it comes
#   --list          the suites, one a line, with their lane
# Environment: IKT_NS, the prefix of every namespace the suites make (default ikt; see
# tests/lib.sh); IKT_SUITE_TIMEOUT, seconds one suite may take (1500).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,19s/^# \{0,1\}//p' "$0"; }
# suites: the names of tests/*.sh but tests/lib.sh, their helpers
suites() { for t in tests/*.sh; do t=${t#tests/}; [ "$t" = lib.sh ] || echo "${t%.sh}"; done; }
# lane SUITE: vm or host. A VM suite keeps the CPU busy (QEMU's TCG emulates the
# guest's); a host suite mostly waits on timers (pings, DPD, lifetimes, idle-time), so
# the two lanes overlap well on 2 cores. flood and scale run alone, before the lanes:
# they load the CPU themselves (20,000 MM1/s; 200 tunnels' handshakes) under time
# limits (Quick Modes, `show`, tunnels up, SIGTERM), and beside another suite either
# would starve it or be starved (scale beside diagnosis failed a check of each; issue 9
# item 10: a busy CPU in one lane must not decide the other lane's checks).
lane() { case $1 in vm-*) echo vm ;; flood|scale) echo alone ;; *) echo host ;; esac; }
quick= only= serial=
while [ $# -gt 0 ]; do
    case $1 in
        --help|-h) usage; exit 0 ;;
        --quick) quick=1 ;;
        --only) [ $# -ge 2 ] || { usage >&2; exit 2; }; only=$2; shift ;;
        --serial) serial=1 ;;
        --list) for t in $(suites); do printf '%-24s %s\n' "$t" "$(lane "$t")"; done; exit 0 ;;
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

logs=$(mktemp -d "${TMPDIR:-/tmp}/ikev1d-test.XXXXXX")
trap 'rm -rf "$logs"' EXIT
# run_suite SUITE LANE: the suite (one that hangs is stopped: TERM, it still removes
# what it made, and fails), its result line for the summary in $logs/SUITE.sum. In
# lanes its output goes to $logs/SUITE.out and is printed whole when it ends, one
# suite's at a time, so that the two lanes' lines never interleave.
run_suite() {
    local name=$1 lane=$2 t0=$SECONDS rc=0 out=/dev/stdout
    [ -n "$serial" ] || out=$logs/$name.out
    [ -z "$serial" ] || printf '\n=== %s ===\n' "$name"
    timeout -k 30 "${IKT_SUITE_TIMEOUT:-1500}" bash "tests/$name.sh" </dev/null >"$out" 2>&1 || rc=$?
    printf '%-28s %5d s  %s\n' "$name" $((SECONDS - t0)) \
        "$([ $rc = 0 ] && echo PASS || echo "FAIL (exit $rc)")" >"$logs/$name.sum"
    [ -n "$serial" ] ||
        { flock 9; printf '\n=== %s (%s lane, ended at %d s) ===\n' "$name" "$lane" \
            $((SECONDS - t_start)); cat "$out"; } 9>"$logs/print.lock"
}
# run_lane NAME SUITE...: the suites one after the other, then (the host lane) the VM
# suites the VM lane has not begun, from the end of its queue: the VM suites are most of
# the time, and once the host suites are done a second VM fits. The lane's time in the
# summary.
run_lane() {
    local lane=$1 t0=$SECONDS n=0 name; shift
    for name; do run_suite "$name" "$lane"; n=$((n + 1)); done
    while name=$(next_vm_suite "$lane"); do run_suite "$name" "$lane"; n=$((n + 1)); done
    printf '%-28s %5d s  (%d suites)\n' "$lane lane" $((SECONDS - t0)) "$n" >"$logs/lane-$lane.sum"
}
# next_vm_suite LANE: the next suite of the VM lane not begun, taken off $logs/vm.queue
# (the VM lane from its front, the host lane from its back); fails when none is left
next_vm_suite() {
    local q=$logs/vm.queue name
    {
        flock 8
        [ -s "$q" ] || return 1
        if [ "$1" = vm ]; then name=$(head -n 1 "$q"); sed -i 1d "$q"
        else name=$(tail -n 1 "$q"); sed -i '$d' "$q"; fi
    } 8>"$logs/queue.lock"
    echo "$name"
}

alone=() host=() vm=()
for name in $(suites); do
    [ -z "$only" ] || [[ $name =~ $only ]] || continue
    case $([ -n "$serial" ] && echo host || lane "$name") in
        alone) alone+=("$name") ;;
        vm) vm+=("$name") ;;
        *) host+=("$name") ;;
    esac
done
total=$((${#alone[@]} + ${#host[@]} + ${#vm[@]}))
[ "$total" -gt 0 ] || { echo "test.sh: no suite matches '$only' (--list shows them)" >&2; exit 2; }
[[ " ${host[*]} " != *" packaging "* ]] ||
    must "install cargo-deb" bash -c '. tests/lib.sh && need_cargo_deb'
for name in "${alone[@]}"; do run_suite "$name" alone; done
vm_lane=
if [ ${#vm[@]} -gt 0 ]; then
    printf '%s\n' "${vm[@]}" >"$logs/vm.queue"
    run_lane vm &
    vm_lane=$!
    # stopped from outside: the other lane's suite is stopped too (timeout passes the
    # TERM on, and the suite removes what it made)
    trap 'pkill -TERM -P "$vm_lane" 2>/dev/null; wait "$vm_lane"; exit 1' TERM INT HUP
fi
run_lane "$([ -n "$serial" ] && echo serial || echo host)" "${host[@]}"
[ -z "$vm_lane" ] || wait "$vm_lane"

failed=0
for name in "${alone[@]}" "${host[@]}" "${vm[@]}"; do
    summary+=("$(cat "$logs/$name.sum")")
    grep -q ' PASS$' "$logs/$name.sum" || failed=$((failed + 1))
done
for f in "$logs"/lane-*.sum; do summary+=("$(cat "$f")"); done
print_summary
printf '\nsuites: %d passed, %d failed\n' $((total - failed)) "$failed"
[ "$failed" = 0 ]
