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
# yourself: sudo ip netns exec ikt-demo-r2 ./target/release/ikev1d show ipsec
# --socket /run/ikev1d-demo/r2.sock). Builds ikev1d (cargo build --release) when
# needed. Namespaces: ikt-demo-r2, ikt-demo-r3.
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
echo "== building ikev1d (cargo build --release)"
cargo build --release -q
bin=$PWD/target/release/ikev1d
run=/run/ikev1d-demo
mkdir -p $run

pids=()
cleanup() {
    set +e
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    ip netns del ikt-demo-r2 2>/dev/null
    ip netns del ikt-demo-r3 2>/dev/null
    rm -rf $run
}
trap cleanup EXIT

echo "== two routers: R2 2001:db8::2 (eth0) <-> R3 2001:db8::3 (eth0)"
ip netns add ikt-demo-r2
ip netns add ikt-demo-r3
ip link add ikt-demo-a netns ikt-demo-r2 type veth peer name ikt-demo-b netns ikt-demo-r3
for r in 2 3; do
    ns=ikt-demo-r$r
    [ $r = 2 ] && dev=ikt-demo-a || dev=ikt-demo-b
    ip -n $ns link set $dev name eth0
    ip -n $ns addr add 2001:db8::$r/64 dev eth0 nodad
    ip -n $ns link set eth0 up
    ip -n $ns link set lo up
done

for r in 2 3; do
    echo "== R$r: ikev1d run --config examples/r$r.conf"
    sed 's/^/   | /' examples/r$r.conf | grep -v '^   | *$' | head -40
    ip netns exec ikt-demo-r$r env RUST_LOG=ikev1d=debug "$bin" run --config examples/r$r.conf \
        --socket $run/r$r.sock --dataplane "$dataplane" >$run/r$r.log 2>&1 &
    pids+=($!)
done

echo "== waiting for Tunnel23"
up=
for _ in $(seq 1 60); do
    if ip netns exec ikt-demo-r2 "$bin" show ipsec --json --socket $run/r2.sock 2>/dev/null | grep -q '"spi"'; then
        up=1; break
    fi
    sleep 0.5
done
if [ -z "$up" ]; then
    echo "demo.sh: Tunnel23 did not come up; R2's log:" >&2
    tail -40 $run/r2.log >&2
    exit 1
fi
sleep 0.5

echo "== R2# ping fe80::23:3%Tunnel23 (as in the seed)"
ip netns exec ikt-demo-r2 ping -c 5 -i 0.2 -W 2 fe80::23:3%Tunnel23
echo "== R2# ping 192.168.23.3"
ip netns exec ikt-demo-r2 ping -c 5 -i 0.2 -W 2 192.168.23.3

echo "== R2# show crypto isakmp sa"
ip netns exec ikt-demo-r2 "$bin" show isakmp --socket $run/r2.sock
echo "== R2# show crypto ipsec sa"
ip netns exec ikt-demo-r2 "$bin" show ipsec --socket $run/r2.sock
echo "== R2 debug crypto isakmp (state changes)"
grep -E "Old State|Tunnel23|SA " $run/r2.log | head -30 || true

if [ -n "$keep" ]; then
    read -r -p "Routers running; press Enter to tear down. " _ || true
fi
echo "== teardown"
