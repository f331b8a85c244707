#!/bin/bash
# bench-esp.sh - TCP throughput through ikev1d's userspace ESP data path and through
# strongSwan's kernel-libipsec (userspace ESP too), with aes128-sha1 and with
# esp-gcm 256, and through boringtun (userspace WireGuard), on this machine, in the
# same run.
#
#   sudo scripts/bench-esp.sh [--time S] [--rounds N] [--encap] [--no-wireguard] [--help]
#
# Namespace pairs joined by veth, IPv4 inside IPv6 outside: $IKT_NS-ba/-bb (aes128-sha1)
# and $IKT_NS-be/-bf (esp-gcm 256) run examples/dp_driver (the ikev1d data path with
# fixed SAs, release build); $IKT_NS-bc/-bd (aes128-sha1) and $IKT_NS-bg/-bh
# (aes256gcm16) run strongSwan charons (scripts/strongswan-peer.sh); $IKT_NS-bi/-bj run
# boringtun-cli, configured with `wg` (both installed when missing: cargo install into
# target/tools, apt). strongSwan always floats to UDP 4500, ikev1d sends plain ESP
# unless --encap.
# Each of N rounds (default 3) runs iperf3 TCP for S seconds (default 10) through each
# tunnel in turn; prints every run, the medians, their ratios and ikev1d's packets/s.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,17s/^# \{0,1\}//p' "$0"; }
secs=10 rounds=3 encap=() wireguard=1
while [ $# -gt 0 ]; do
    case $1 in
        --help|-h) usage; exit 0 ;;
        --time) secs=$2; shift ;;
        --rounds) rounds=$2; shift ;;
        --encap) encap=(--encap 4500:4500) ;;
        --no-wireguard) wireguard= ;;
        *) echo "bench-esp.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "bench-esp.sh: needs root (namespaces, TUN)" >&2; exit 1; }

need=(iperf3 strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins)
[ -z "$wireguard" ] || need+=(wireguard-tools)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
cargo build --release --example dp_driver -q
BORINGTUN=target/tools/bin/boringtun-cli
if [ -n "$wireguard" ] && [ ! -x $BORINGTUN ]; then
    echo "installing boringtun-cli into target/tools (cargo install, a few minutes)"
    cargo install boringtun-cli --locked --root target/tools -q
fi

IKT_RUN=$(mktemp -d /tmp/ikt-bench.XXXXXX)
IKT_DRIVER=$PWD/target/release/examples/dp_driver
. tests/lib.sh
export SSW_DIR=$IKT_RUN/strongswan
trap 'ikt_cleanup; rm -rf "$IKT_RUN"' EXIT

# ikev1d NS_A NS_B NET TRANSFORM: a dp_driver tunnel, outer 2001:db8:NET::2/3
ikev1d() {
    local a=$1 b=$2 net=$3 common=(--dataplane userspace --name Tunnel23 --if-id 23 --transform "$4" "${encap[@]}")
    echo "setting up the ikev1d (dp_driver) $4 tunnel: $a <-> $b"
    routers $a 2001:db8:$net::2 $b 2001:db8:$net::3 64
    dp_start $a $a "${common[@]}" --local 2001:db8:$net::2 --peer 2001:db8:$net::3 \
        --spi-in 4097 --spi-out 8193 --ipv4 192.168.23.2/24
    dp_start $b $b "${common[@]}" --local 2001:db8:$net::3 --peer 2001:db8:$net::2 \
        --spi-in 8193 --spi-out 4097 --ipv4 192.168.23.3/24
}

# ssw NS LOCAL_TS REMOTE_TS ARGS...: strongswan-peer.sh quietly (swanctl is chatty)
ssw() {
    local ns=$1 lts=$2 rts=$3; shift 3
    LOCAL_TS=$lts REMOTE_TS=$rts scripts/strongswan-peer.sh "$@" >>"$IKT_RUN/strongswan.out" 2>&1 ||
        { cat "$IKT_RUN/strongswan.out" >&2; return 1; }
}
# strongswan NS_A NS_B NET ESP_PROPOSALS: a kernel-libipsec tunnel
strongswan() {
    local a=$1 b=$2 net=$3
    echo "setting up the strongSwan kernel-libipsec $4 tunnel: $a <-> $b"
    routers $a 2001:db8:$net::2 $b 2001:db8:$net::3 64
    on_exit scripts/strongswan-peer.sh stop $a
    on_exit scripts/strongswan-peer.sh stop $b
    ip -n $a addr add 192.168.23.2/32 dev lo
    ip -n $b addr add 192.168.23.3/32 dev lo
    export ESP_PROPOSALS=$4
    ssw $a 192.168.23.2/32 192.168.23.3/32 start $a 2001:db8:$net::2 2001:db8:$net::3 bench-psk
    ssw $b 192.168.23.3/32 192.168.23.2/32 start $b 2001:db8:$net::3 2001:db8:$net::2 bench-psk
    unset ESP_PROPOSALS
    ssw $a - - initiate $a
}

# boringtun NS_A NS_B NET: WireGuard between wg-A and wg-B (their UAPI sockets are
# named after the interface in /var/run/wireguard, shared by all namespaces)
boringtun() {
    local a=$1 b=$2 net=$3 ns peer addr port
    echo "setting up the boringtun tunnel: $a <-> $b"
    routers $a 2001:db8:$net::2 $b 2001:db8:$net::3 64
    for ns in $a $b; do
        (umask 077 && wg genkey >"$IKT_RUN/$ns.key")
        wg pubkey <"$IKT_RUN/$ns.key" >"$IKT_RUN/$ns.pub"
        ip netns exec $ns "$BORINGTUN" wg-$ns --foreground --disable-drop-privileges \
            >"$IKT_RUN/$ns.boringtun.log" 2>&1 &
        IKT_PIDS+=($!)
    done
    for ns in $a $b; do
        for _ in $(seq 50); do [ -S /var/run/wireguard/wg-$ns.sock ] && break; sleep 0.1; done
        if [ $ns = $a ]; then peer=$b addr=2 port=3; else peer=$a addr=3 port=2; fi
        ip netns exec $ns wg set wg-$ns private-key "$IKT_RUN/$ns.key" listen-port 51820 \
            peer "$(cat "$IKT_RUN/$peer.pub")" endpoint "[2001:db8:$net::$port]:51820" \
            allowed-ips 192.168.23.0/24
        ip -n $ns addr add 192.168.23.$addr/24 dev wg-$ns
        ip -n $ns link set wg-$ns mtu 1420 up
    done
}

N=$IKT_NS-b
ikev1d $N"a" $N"b" 0 esp-aes,esp-sha-hmac
strongswan $N"c" $N"d" 1 aes128-sha1
ikev1d $N"e" $N"f" 2 "esp-gcm 256"
strongswan $N"g" $N"h" 3 aes256gcm16
tunnels=("${N}a ${N}b" "${N}c ${N}d" "${N}e ${N}f" "${N}g ${N}h")
names=("ikev1d aes128-sha1" "strongSwan aes128-sha1" "ikev1d esp-gcm 256" "strongSwan aes256gcm16")
if [ -n "$wireguard" ]; then
    boringtun $N"i" $N"j" 4
    tunnels+=("${N}i ${N}j") names+=("boringtun")
fi

for pair in "${tunnels[@]}"; do
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
out_packets() { dp_counters ${N}e | python3 -c "import json,sys; print(json.load(sys.stdin)['outbound']['packets'])"; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : int((v[NR/2]+v[NR/2+1])/2)}'; }

# results[i] holds tunnel i's runs
declare -a results
packets=0
for r in $(seq 1 "$rounds"); do
    line="round $r:"
    for i in "${!tunnels[@]}"; do
        set -- ${tunnels[$i]}
        [ "$1" != ${N}e ] || p0=$(out_packets)
        m=$(iperf "$1")
        [ "$1" != ${N}e ] || packets=$((packets + $(out_packets) - p0))
        results[$i]="${results[$i]:-} $m"
        line="$line ${names[$i]} $m,"
    done
    echo "${line%,} Mbit/s"
done
declare -A med
echo "median over $rounds x ${secs}s (Mbit/s):"
for i in "${!tunnels[@]}"; do
    med[${names[$i]}]=$(median ${results[$i]})
    printf '  %-24s %6s\n' "${names[$i]}" "${med[${names[$i]}]}"
done
ratio() { python3 -c "print('%-58s %.2f' % ('$1 / $2:', ${med[$1]} / max(${med[$2]}, 1)))"; }
ratio "ikev1d aes128-sha1" "strongSwan aes128-sha1"
ratio "ikev1d esp-gcm 256" "strongSwan aes256gcm16"
ratio "ikev1d esp-gcm 256" "ikev1d aes128-sha1"
echo "  (target: ikev1d's esp-gcm 256 at least 1.5x its own aes128-sha1)"
[ -z "$wireguard" ] || { ratio "ikev1d esp-gcm 256" "boringtun"; echo "  (aim: 1.00 or more)"; }
echo "ikev1d esp-gcm 256 data path: $((packets / (rounds * secs))) ESP packets/s out (data direction)"
