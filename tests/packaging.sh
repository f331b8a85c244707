#!/bin/bash
# packaging.sh - the deployment kit checks: the systemd unit verifies clean, the
# Vagrantfile validates, and the Debian package builds and holds the expected files.
# Needs target/release/ikev1d (scripts/test.sh builds it first).
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() { local what=$1; shift; if "$@"; then echo "PASS $what"; else echo "FAIL $what"; fail=1; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# systemd-analyze verify resolves ExecStart: point it at the built binary.
verify_unit() {
    sed "s|/usr/bin/ikev1d|$PWD/target/release/ikev1d|g" systemd/ikev1d.service > "$tmp/ikev1d.service"
    local out
    out=$(systemd-analyze verify "$tmp/ikev1d.service" 2>&1) || { echo "$out"; return 1; }
    # verify prints problems without failing for some of them: any output is a problem
    out=$(echo "$out" | grep -v "^$" | grep -v "Failed to prepare filename" || true)
    [ -z "$out" ] || { echo "$out"; return 1; }
}
check "systemd-analyze verify systemd/ikev1d.service" verify_unit
check "unit hardening present" grep -q '^CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW$' systemd/ikev1d.service

if command -v vagrant >/dev/null; then
    check "vagrant validate" bash -c 'VAGRANT_HOME=$0/vagrant.d vagrant validate --ignore-provider >/dev/null' "$tmp"
else
    echo "FAIL vagrant validate (vagrant not installed)"; fail=1
fi
check "scripts answer --help" bash -c 'for s in scripts/*.sh; do bash "$s" --help >/dev/null || { echo "$s --help failed"; exit 1; }; done'

build_deb() {
    command -v cargo-deb >/dev/null || cargo install cargo-deb --locked -q
    cargo deb --no-build --no-strip -o "$tmp/ikev1d.deb" >/dev/null
    dpkg-deb -x "$tmp/ikev1d.deb" "$tmp/root"
    local f
    for f in usr/bin/ikev1d lib/systemd/system/ikev1d.service etc/ikev1d/ikev1d.conf \
             usr/share/man/man8/ikev1d.8.gz usr/share/doc/ikev1d/README.md; do
        [ -e "$tmp/root/$f" ] || { echo "missing $f in the package"; return 1; }
    done
    dpkg-deb -I "$tmp/ikev1d.deb" conffiles | grep -qx /etc/ikev1d/ikev1d.conf || { echo "no conffile"; return 1; }
    [ "$(stat -c %a "$tmp/root/etc/ikev1d/ikev1d.conf")" = 600 ] || { echo "config not 0600"; return 1; }
}
check "Debian package builds with the expected files" build_deb

# The shipped configuration is a template that check refuses until its placeholders are
# edited (a fresh install must not answer anyone with a well-known key); once edited,
# it passes.
template_refused_until_edited() {
    local conf=$tmp/root/etc/ikev1d/ikev1d.conf out
    if out=$("$tmp/root/usr/bin/ikev1d" check --config "$conf" 2>&1); then
        echo "the template passed check: $out"; return 1
    fi
    echo "$out" | grep -q "still holds a placeholder of the template" || { echo "$out"; return 1; }
    sed -e 's/<pre-shared-key>/Xq7-example-key/' -e 's/<peer-address>/198.51.100.3/' \
        -e 's/<tunnel-address> <tunnel-netmask>/192.168.23.2 255.255.255.252/' \
        -e 's/<local-interface>/198.51.100.2/' "$conf" > "$tmp/edited.conf"
    chmod 600 "$tmp/edited.conf"
    "$tmp/root/usr/bin/ikev1d" check --config "$tmp/edited.conf" >/dev/null
}
check "the packaged configuration is a template check refuses until edited" template_refused_until_edited
check "the unit keeps keys out of core files" grep -qx 'LimitCORE=0' systemd/ikev1d.service
exit $fail
