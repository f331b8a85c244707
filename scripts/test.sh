#!/bin/bash
# test.sh - the whole ikev1d test suite (what CI runs).
#
#   sudo ./scripts/test.sh [--quick] [--help]
#
# Installs what the suite needs when it is missing (apt packages, the Debian kernel
# the VM boots), then: cargo fmt --check, cargo clippy -D warnings, cargo test, and
# the network suites in tests/*.sh (network namespaces named ikt-*, and VM tests run
# through scripts/run-in-vm.sh). --quick stops after cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }
quick=
for a in "$@"; do
    case $a in
        --help|-h) usage; exit 0 ;;
        --quick) quick=1 ;;
        *) echo "test.sh: unknown argument $a" >&2; usage >&2; exit 2 ;;
    esac
done

section() { printf '\n=== %s ===\n' "$*"; }

# apt packages the network and VM suites need
need_pkgs=(strongswan-charon strongswan-swanctl libcharon-extra-plugins
    libstrongswan-standard-plugins qemu-system-x86 busybox-static kmod xz-utils
    iproute2 iputils-ping iperf3 tcpdump systemd vagrant python3 jq)
install_missing() {
    local missing=()
    for p in "${need_pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        section "installing ${missing[*]}"
        if [ "$(id -u)" != 0 ]; then echo "test.sh: need root to install ${missing[*]}" >&2; return 1; fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

[ -n "$quick" ] || install_missing
# The VM suites boot a stock Debian kernel that run-in-vm.sh fetches with apt-get
# download: make sure the package lists exist on a fresh machine.
if [ -z "$quick" ] && ! ls "${XDG_CACHE_HOME:-$HOME/.cache}"/run-in-vm/linux-image-*.deb >/dev/null 2>&1 \
    && ! apt-cache depends linux-image-amd64 2>/dev/null | grep -q 'Depends: linux-image-[0-9]'; then
    apt-get update -q >/dev/null
fi

section "cargo fmt --check"
cargo fmt --all -- --check
section "cargo clippy"
cargo clippy --all-targets -- -D warnings
section "cargo test"
cargo test 2>&1 | tee target/cargo-test.log
[ -z "$quick" ] || exit 0

section "cargo build --release"
cargo build --release

total=0 failed=0
for t in tests/*.sh; do
    [ -e "$t" ] || continue
    section "$t"
    total=$((total + 1))
    if bash "$t"; then echo "PASS $t"; else echo "FAIL $t"; failed=$((failed + 1)); fi
done
section "network suites"
echo "$((total - failed)) passed, $failed failed"
[ "$failed" = 0 ]
