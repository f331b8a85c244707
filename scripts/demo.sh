#!/bin/bash
# demo.sh - the seed scenario on this machine: two routers R2 (2001:db8::2) and
# R3 (2001:db8::3) in network namespaces, each running ikev1d with the IOS
# configuration of Cisco's VTI example (examples/r2.conf, examples/r3.conf);
# Tunnel23 comes up, R2 pings fe80::23:3%Tunnel23 as in the seed, then R2's
# 'show crypto ipsec sa' and 'show crypto isakmp sa', then everything is removed.
#
#   sudo ./scripts/demo.sh [--dataplane auto|kernel|userspace] [--keep] [--help]
#
# --keep leaves the routers running until Enter is pressed (to try 'ikev1d show'
# yourself: sudo ip netns exec ikt-demo-r2 ./target/debug/ikev1d show ipsec
# --socket /run/ikev1d-demo.*/ikt-demo-r2.sock). Builds ikev1d (cargo build) when
# needed. Namespaces: ikt-demo-r2, ikt-demo-r3 ($IKT_NS-demo-*).
set -euo pipefail
cd "$(dirname "$0")/.."

dataplane=auto keep=
while [ $# -gt 0 ]; do
    case $1 in
        --help|-h) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
        --dataplane) dataplane=$2; shift ;;
        --keep) keep=1 ;;
        *) echo "demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (sudo ./scripts/demo.sh)" >&2; exit 1; }

for tool in ip ping; do
    command -v $tool >/dev/null || {
        apt-get update -q >/dev/null && apt-get install -y -q iproute2 iputils-ping >/dev/null
    }
done
if ! command -v cargo >/dev/null; then
    echo "demo.sh: cargo is needed to build ikev1d (install Rust: https://rustup.rs)" >&2
    exit 1
fi
echo "== building ikev1d (cargo build)"
. tests/lib.sh
ikt_build
IKT_RUN=$(mktemp -d /run/ikev1d-demo.XXXXXX)
trap 'ikt_cleanup; rm -rf "$IKT_RUN"' EXIT
R2=$IKT_NS-demo-r2 R3=$IKT_NS-demo-r3

echo "== two routers: R2 2001:db8::2 (eth0) <-> R3 2001:db8::3 (eth0)"
routers $R2 2001:db8::2 $R3 2001:db8::3 64

for r in 2 3; do
    echo "== R$r: ikev1d run --config examples/r$r.conf"
    grep -v '^ *$' examples/r$r.conf | sed 's/^/   | /'
    start_ikev1d $IKT_NS-demo-r$r examples/r$r.conf "$IKT_RUN/r$r.log" --dataplane "$dataplane"
done

echo "== waiting for Tunnel23"
if ! wait_sa $R2 30; then
    echo "demo.sh: Tunnel23 did not come up; R2's log:" >&2
    tail -40 "$IKT_RUN/r2.log" >&2
    exit 1
fi
sleep 0.5

echo "== R2# ping fe80::23:3%Tunnel23 (as in the seed)"
ip netns exec $R2 ping -c 5 -i 0.2 -W 2 fe80::23:3%Tunnel23
echo "== R2# ping 192.168.23.3"
ip netns exec $R2 ping -c 5 -i 0.2 -W 2 192.168.23.3

echo "== R2# show crypto isakmp sa"
show $R2 isakmp
echo "== R2# show crypto ipsec sa"
show $R2 ipsec
echo "== R2 debug crypto isakmp (state changes)"
grep -E "Old State|Tunnel23|SA " "$IKT_RUN/r2.log" | head -30 || true

if [ -n "$keep" ]; then
    read -r -p "Routers running; press Enter to tear down. " _ || true
fi
echo "== teardown"
