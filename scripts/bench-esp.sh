#!/bin/bash
# bench-esp.sh - TCP throughput through ikev1d's userspace ESP data path and through
# strongSwan's kernel-libipsec (userspace ESP too), on this machine, in the same run.
#
#   sudo scripts/bench-esp.sh [--time S] [--rounds N] [--encap] [--help]
#
# Two namespace pairs joined by veth: $IKT_NS-ba/-bb run examples/dp_driver (the ikev1d
# data path with fixed SAs, release build), $IKT_NS-bc/-bd run two strongSwan charons
# (scripts/strongswan-peer.sh). Both tunnels: aes128-sha1, IPv4 inside IPv6 outside;
# strongSwan always floats to UDP 4500, ikev1d sends plain ESP unless --encap.
# Each of N rounds (default 3) runs iperf3 TCP for S seconds (default 10) through each
# tunnel in turn; prints every run, the medians, their ratio and ikev1d's packets/s.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,13s/^# \{0,1\}//p' "$0"; }
secs=10 rounds=3 encap=()
while [ $# -gt 0 ]; do
    case $1 in
        --help|-h) usage; exit 0 ;;
        --time) secs=$2; shift ;;
        --rounds) rounds=$2; shift ;;
        --encap) encap=(--encap 4500:4500) ;;
        *) echo "bench-esp.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "bench-esp.sh: needs root (namespaces, TUN)" >&2; exit 1; }

need=(iperf3 strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
cargo build --release --example dp_driver -q

IKT_RUN=$(mktemp -d /tmp/ikt-bench.XXXXXX)
IKT_DRIVER=$PWD/target/release/examples/dp_driver
. tests/lib.sh
export SSW_DIR=$IKT_RUN/strongswan
A=$IKT_NS-ba B=$IKT_NS-bb C=$IKT_NS-bc D=$IKT_NS-bd
on_exit scripts/strongswan-peer.sh stop $C
on_exit scripts/strongswan-peer.sh stop $D
trap 'ikt_cleanup; rm -rf "$IKT_RUN"' EXIT

echo "setting up the ikev1d (dp_driver) tunnel: $A <-> $B"
routers $A 2001:db8::2 $B 2001:db8::3 64
common=(--dataplane userspace --name Tunnel23 --if-id 23 --transform esp-aes,esp-sha-hmac "${encap[@]}")
dp_start $A $A "${common[@]}" --local 2001:db8::2 --peer 2001:db8::3 \
    --spi-in 4097 --spi-out 8193 --ipv4 192.168.23.2/24
dp_start $B $B "${common[@]}" --local 2001:db8::3 --peer 2001:db8::2 \
    --spi-in 8193 --spi-out 4097 --ipv4 192.168.23.3/24

echo "setting up the strongSwan kernel-libipsec tunnel: $C <-> $D"
routers $C 2001:db8:1::2 $D 2001:db8:1::3 64
ip -n $C addr add 192.168.23.2/32 dev lo
ip -n $D addr add 192.168.23.3/32 dev lo
# ssw NS LOCAL_TS REMOTE_TS ARGS...: strongswan-peer.sh quietly (swanctl is chatty)
ssw() {
    local ns=$1 lts=$2 rts=$3; shift 3
    LOCAL_TS=$lts REMOTE_TS=$rts scripts/strongswan-peer.sh "$@" >>"$IKT_RUN/strongswan.out" 2>&1 ||
        { cat "$IKT_RUN/strongswan.out" >&2; return 1; }
}
ssw $C 192.168.23.2/32 192.168.23.3/32 start $C 2001:db8:1::2 2001:db8:1::3 bench-psk
ssw $D 192.168.23.3/32 192.168.23.2/32 start $D 2001:db8:1::3 2001:db8:1::2 bench-psk
ssw $C - - initiate $C

for pair in "$A $B" "$C $D"; do
    set -- $pair
    ip netns exec "$1" ping -c 3 -i 0.2 -W 2 192.168.23.3 >/dev/null ||
        { echo "bench-esp.sh: no ping through the $1 <-> $2 tunnel" >&2; exit 1; }
    ip netns exec "$2" iperf3 -s -B 192.168.23.3 >/dev/null 2>&1 &
    IKT_PIDS+=($!)
done
sleep 0.5

# iperf NS: one TCP run, prints Mbit/s received
iperf() {
    ip netns exec "$1" iperf3 -c 192.168.23.3 -t "$secs" -J |
        python3 -c "import json,sys; print(round(json.load(sys.stdin)['end']['sum_received']['bits_per_second']/1e6))"
}
out_packets() { dp_counters $A | python3 -c "import json,sys; print(json.load(sys.stdin)['outbound']['packets'])"; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : int((v[NR/2]+v[NR/2+1])/2)}'; }

ours=() theirs=() packets=0
for r in $(seq 1 "$rounds"); do
    p0=$(out_packets)
    m=$(iperf $A); ours+=("$m")
    packets=$((packets + $(out_packets) - p0))
    s=$(iperf $C); theirs+=("$s")
    echo "round $r: ikev1d userspace $m Mbit/s, strongSwan kernel-libipsec $s Mbit/s"
done
mo=$(median "${ours[@]}") ms=$(median "${theirs[@]}")
echo "median over $rounds x ${secs}s: ikev1d userspace $mo Mbit/s, strongSwan kernel-libipsec $ms Mbit/s"
python3 -c "print('ratio ikev1d/strongSwan: %.2f' % ($mo / max($ms, 1)))"
echo "ikev1d data path: $((packets / (rounds * secs))) ESP packets/s out (data direction)"
