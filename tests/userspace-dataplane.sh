#!/bin/bash
# userspace-dataplane.sh - the userspace ESP data path between two namespaces, driven
# by examples/dp_driver (fixed SAs, no IKE), for IPv6 outer, IPv4 outer and ESP-in-UDP:
# Tunnel23 gets its configured link-local address only; pings across it (inner IPv6
# link-local and IPv4) pass 5/5; the SA counters agree; a replayed and a tampered ESP
# packet are dropped and counted while the tunnel keeps working; quitting removes
# Tunnel23. Needs root. Namespaces $IKT_NS-ua/-ub.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --help ]; then sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 0; fi
. tests/lib.sh
suite_begin userspace-dataplane
A=$IKT_NS-ua B=$IKT_NS-ub

routers $A 2001:db8::2 $B 2001:db8::3 64
ip -n $A addr add 192.0.2.2/24 dev eth0
ip -n $B addr add 192.0.2.3/24 dev eth0

# Capture one ESP packet arriving in a namespace, or inject a saved one (replayed as
# is, or tampered: a fresh sequence number and a flipped ciphertext bit, so only the
# ICV can catch it).
cat >"$IKT_RUN/esp.py" <<'PY'
import socket, struct, sys
mode, fam, kind, arg, path = sys.argv[1:6]
af = socket.AF_INET6 if fam == "v6" else socket.AF_INET
if mode == "capture":
    s = socket.socket(af, socket.SOCK_RAW, 50 if kind == "esp" else 17)
    s.settimeout(10)
    while True:
        p = s.recv(65535)
        if af == socket.AF_INET:
            p = p[(p[0] & 15) * 4:]  # raw IPv4 sockets deliver the IP header
        if kind == "udp":
            if len(p) < 16 or struct.unpack("!H", p[2:4])[0] != 4500 or p[8:12] == b"\0\0\0\0":
                continue
            p = p[8:]
        open(path, "wb").write(p)
        break
else:
    p = bytearray(open(path, "rb").read())
    if mode == "tamper":
        p[4:8] = struct.pack("!I", struct.unpack("!I", p[4:8])[0] + 1000)
        p[len(p) // 2] ^= 1
    if kind == "esp":
        socket.socket(af, socket.SOCK_RAW, 50).sendto(p, (arg, 0))
    else:
        socket.socket(af, socket.SOCK_DGRAM).sendto(p, (arg, 4500))
PY

# json OBJECT JQ-FILTER
json() { jq -r "$2" <<<"$1"; }

ping5() { pings $A "$1" 5; }

# counters_agree A0 B0: since counters A0 and B0 (taken before the pings; packets the
# kernel sent while only one side was up are lost, as on any tunnel), A's encaps =
# B's decaps and B's encaps = A's decaps, >= 10 each
counters_agree() {
    local a0=$1 b0=$2 a b d
    a=$(dp_counters $A) b=$(dp_counters $B)
    echo "    A: $a"; echo "    B: $b"
    delta() { echo $(( $(json "$1" "$3") - $(json "$2" "$3") )); }
    d=$(delta "$a" "$a0" .outbound.packets)
    [ "$d" -ge 10 ] && [ "$d" = "$(delta "$b" "$b0" .inbound.packets)" ] &&
    d=$(delta "$b" "$b0" .outbound.packets) &&
    [ "$d" -ge 10 ] && [ "$d" = "$(delta "$a" "$a0" .inbound.packets)" ]
}

only_configured_link_local() {
    local ll
    ll=$(ip -n $A -6 -o addr show dev Tunnel23 scope link | awk '{print $4}')
    [ "$ll" = fe80::23:2/64 ] || { echo "    link-local: $ll"; return 1; }
}

# replay_and_tamper FAMILY KIND PEER_OUTER: capture in B, inject from A
replay_and_tamper() {
    local fam=$1 kind=$2 peer=$3 cap=$IKT_RUN/esp.bin before after
    ip netns exec $B python3 "$IKT_RUN/esp.py" capture "$fam" "$kind" - "$cap" &
    local capturer=$!
    sleep 0.3
    ip netns exec $A ping -c 1 -W 2 192.168.23.3 >/dev/null
    wait $capturer || { echo "    no ESP packet captured"; return 1; }
    before=$(dp_counters $B)
    ip netns exec $A python3 "$IKT_RUN/esp.py" replay "$fam" "$kind" "$peer" "$cap"
    ip netns exec $A python3 "$IKT_RUN/esp.py" tamper "$fam" "$kind" "$peer" "$cap"
    sleep 0.3
    after=$(dp_counters $B)
    echo "    B before: $before"; echo "    B after:  $after"
    [ "$(json "$after" '.inbound.replay_errors - 1')" = "$(json "$before" .inbound.replay_errors)" ] &&
    [ "$(json "$after" '.inbound.integrity_errors - 1')" = "$(json "$before" .inbound.integrity_errors)" ]
}

# full_size: a ping filling the tunnel MTU, don't-fragment, crosses: the ESP packet
# still fits the 1500-byte link
full_size() {
    local mtu
    mtu=$(ip -n $A -o link show Tunnel23 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
    echo "    Tunnel23 MTU $mtu"
    ip netns exec $A ping -c 3 -i 0.2 -W 2 -M do -s $((mtu - 28)) 192.168.23.3 | grep -q ' 3 received'
}

# start_pair A_OUTER B_OUTER DRIVER_ARGS...: mirrored SPIs
start_pair() {
    local la=$1 lb=$2; shift 2
    dp_start $A $A "$@" --local "$la" --peer "$lb" --spi-in 4097 --spi-out 8193 \
        --ipv4 192.168.23.2/24 --link-local fe80::23:2 &&
    dp_start $B $B "$@" --local "$lb" --peer "$la" --spi-in 8193 --spi-out 4097 \
        --ipv4 192.168.23.3/24 --link-local fe80::23:3
}

stop_pair() { dp_stop $A && dp_stop $B; }

no_tunnel_left() { ! ip -n $A link show Tunnel23 2>/dev/null && ! ip -n $B link show Tunnel23 2>/dev/null; }

# pair NAME FAMILY KIND A_OUTER B_OUTER EXTRA_DRIVER_ARGS...
pair() {
    local name=$1 fam=$2 kind=$3 la=$4 lb=$5; shift 5
    echo "--- $name"
    check "$name: both data paths start" start_pair "$la" "$lb" \
        --dataplane userspace --name Tunnel23 --if-id 23 "$@"
    [ -n "$(ip -n $B link show Tunnel23 2>/dev/null)" ] || return 0
    check "$name: Tunnel23 has only the configured link-local address" only_configured_link_local
    local a0 b0
    a0=$(dp_counters $A) b0=$(dp_counters $B)
    check "$name: ping fe80::23:3%Tunnel23 5/5" ping5 fe80::23:3%Tunnel23
    check "$name: ping 192.168.23.3 5/5" ping5 192.168.23.3
    check "$name: counters agree on both sides" counters_agree "$a0" "$b0"
    check "$name: full-size packets cross" full_size
    check "$name: replayed and tampered ESP dropped and counted" replay_and_tamper "$fam" "$kind" "$lb"
    check "$name: tunnel still works after them" ping5 192.168.23.3
    check "$name: drivers quit cleanly" stop_pair
    check "$name: Tunnel23 removed on quit" no_tunnel_left
}

pair "IPv6 outer" v6 esp 2001:db8::2 2001:db8::3
pair "IPv4 outer" v4 esp 192.0.2.2 192.0.2.3 --inner v4
pair "ESP-in-UDP" v6 udp 2001:db8::2 2001:db8::3 --encap 4500:4500
suite_end
