#!/bin/bash
# kernel-dataplane.sh - runs INSIDE the VM (see tests/vm-kernel-dataplane.sh): the kernel
# data path driven by examples/dp_driver.rs, with mirrored SPIs. Each scenario has its
# own namespaces ($IKT_NS-k<scenario>-a/-b/-c, a foreign IPsec state and policy in -a
# that must survive every cleanup), and they run at once:
#   xi    xfrm interface, IPv6 outer          vti6  vti6 forced (IKEV1D_FORCE_VTI=1)
#   v4    IPv4 outer, xfrm interface          vti4  IPv4 outer, vti forced
#   two   Tunnel23 and Tunnel24 to two peers  unit  dataplane::kernel::vm_tests
# Arguments: the scenarios to run (default: all).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
suite_begin vm-kernel-dataplane
K=$IKT_NS-k

# link NS_A IF_A ADDR_A NS_B IF_B ADDR_B LEN: a veth between two namespaces
link() {
    ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
    ip -n "$1" addr add "$3/$7" dev "$2" nodad && ip -n "$1" link set "$2" up &&
        ip -n "$4" addr add "$6/$7" dev "$5" nodad && ip -n "$4" link set "$5" up
}

# namespaces TAG: $K$TAG-a and -b joined by eth0 (2001:db8::2/3, 192.0.2.2/3), with
# someone else's IPsec in -a
namespaces() {
    local a=$K$1-a b=$K$1-b
    routers $a 2001:db8::2 $b 2001:db8::3 64 &&
        ip -n $a addr add 192.0.2.2/24 dev eth0 && ip -n $b addr add 192.0.2.3/24 dev eth0 &&
        ip -n $a xfrm state add src 2001:db8::9 dst 2001:db8::2 proto esp spi 0x4242 reqid 7 mode tunnel \
            enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff \
            auth-trunc 'hmac(sha1)' 0x0011223344556677889900112233445566778899 96 &&
        ip -n $a xfrm policy add src 2001:db8:99::/64 dst 2001:db8:98::/64 dir out \
            tmpl src 2001:db8::2 dst 2001:db8::9 proto esp reqid 7 mode tunnel
}

# in_out ID: "in_packets out_packets" of the driver's SA pair
in_out() { dp_counters "$1" | jq -r '"\(.inbound.packets) \(.outbound.packets)"'; }

# tunnel_pings NS LL V4 IFACE: the tunnel carries inner IPv6 (link-local) and IPv4, 5/5 each
tunnel_pings() { pings "$1" "$2%$4" 5 && pings "$1" "$3" 5; }

# moved BEFORE AFTER: both directions counted at least the 10 echo requests/replies
moved() {
    local b=($1) a=($2)
    echo "    in/out packets: $1 -> $2"
    [ $((a[0] - b[0])) -ge 10 ] && [ $((a[1] - b[1])) -ge 10 ]
}

# only_foreign NS: the foreign state and policy are all the XFRM state there is
only_foreign() {
    [ "$(ip -n "$1" xfrm state | grep -c '^src')" = 1 ] && [ "$(ip -n "$1" xfrm policy | grep -c '^src')" = 1 ] &&
        ip -n "$1" xfrm state | grep -q 'spi 0x00004242' && ip -n "$1" xfrm policy | grep -q 'src 2001:db8:99::/64' ||
        { ip -n "$1" xfrm state; ip -n "$1" xfrm policy; return 1; }
}
no_link() { ! ip -n "$1" link show "$2" >/dev/null 2>&1; }

# quit_all ID...: every driver quits cleanly
quit_all() {
    local id rc=0
    for id; do dp_stop "$id" || rc=1; done
    return $rc
}

# clean TAG: no Tunnel23 left, only the foreign XFRM state in -a, none in -b
clean() {
    no_link $K$1-a Tunnel23 && no_link $K$1-b Tunnel23 && only_foreign $K$1-a &&
        [ -z "$(ip -n $K$1-b xfrm state)" ] && ! ip -n $K$1-b xfrm policy | grep -q '^src'
}

# pair TAG LOCAL PEER INNER [ARGS...]: Tunnel23 between -a (LOCAL) and -b (PEER),
# mirrored SPIs; pings cross it and move its counters
pair() {
    local tag=$1 a=$2 b=$3 inner=$4 before; shift 4
    check "$tag: $K$tag-a Tunnel23 up" dp_start $tag-a $K$tag-a --dataplane kernel --name Tunnel23 \
        --if-id 23 --local $a --peer $b --inner $inner --ipv4 192.168.23.2/24 --link-local fe80::23:2 \
        --mtu 1400 --spi-in 4098 --spi-out 4099 "$@"
    check "$tag: $K$tag-b Tunnel23 up" dp_start $tag-b $K$tag-b --dataplane kernel --name Tunnel23 \
        --if-id 23 --local $b --peer $a --inner $inner --ipv4 192.168.23.3/24 --link-local fe80::23:3 \
        --mtu 1400 --spi-in 4099 --spi-out 4098 "$@"
    before=$(in_out $tag-a)
    check "$tag: ping fe80::23:3%Tunnel23 and 192.168.23.3, 5/5 each" tunnel_pings $K$tag-a fe80::23:3 192.168.23.3 Tunnel23
    check "$tag: counters moved by the pings" moved "$before" "$(in_out $tag-a)"
}

xi() {
    local a=${K}xi-a
    namespaces xi && pair xi 2001:db8::2 2001:db8::3 v6
    check "xi: Tunnel23 is an xfrm interface with if_id 23, MTU 1400" bash -c \
        "ip -n $a -d link show Tunnel23 | grep -q 'xfrm .*if_id 0x17' && ip -n $a link show Tunnel23 | grep -q 'mtu 1400'"
    check "xi: the fixed link-local is the only one" bash -c \
        "[ \"\$(ip -n $a -6 addr show dev Tunnel23 scope link | grep -c inet6)\" = 1 ] && ip -n $a -6 addr show dev Tunnel23 | grep -q 'fe80::23:2/64'"
    check "xi: SAs are tunnel mode, af-unspec, bound to if_id 23" bash -c \
        "ip -n $a xfrm state | grep -A4 'spi 0x00001002' | grep -q 'mode tunnel' && ip -n $a xfrm state | grep -q 'if_id 0x17' && ip -n $a xfrm state | grep -q af-unspec"
    ip -n $a -s xfrm state | sed 's/^/   /' | grep -E 'spi|lifetime current|bytes' | head -8
    check "xi: both drivers quit cleanly" quit_all xi-a xi-b
    check "xi: no Tunnel23, state or policy of ours left; the foreign ones remain" clean xi
}

vti6() {
    namespaces vti6 && IKEV1D_FORCE_VTI=1 pair vti6 2001:db8::2 2001:db8::3 v6
    check "vti6: Tunnel23 is vti6 with key 23, SAs marked 23" bash -c \
        "ip -n ${K}vti6-a -d link show Tunnel23 | grep -q vti6 && ip -n ${K}vti6-a -d link show Tunnel23 | grep -q 'ikey 0.0.0.23' && ip -n ${K}vti6-a xfrm state | grep -q 'mark 0x17/0xffffffff'"
    check "vti6: quit cleans up" eval "quit_all vti6-a vti6-b && clean vti6"
}

v4() {
    namespaces v4 && pair v4 192.0.2.2 192.0.2.3 v4
    check "v4: quit cleans up" eval "quit_all v4-a v4-b && clean v4"
}

vti4() {
    namespaces vti4 && IKEV1D_FORCE_VTI=1 pair vti4 192.0.2.2 192.0.2.3 v4
    check "vti4: Tunnel23 is vti" bash -c "ip -n ${K}vti4-a -d link show Tunnel23 | grep -q ' vti '"
    check "vti4: quit cleans up" eval "quit_all vti4-a vti4-b && clean vti4"
}

# two tunnels in -a to two peers: Tunnel23 (if_id 23) to -b, Tunnel24 (if_id 24) to -c
two() {
    local a=${K}two-a c=${K}two-c before
    namespaces two && add_netns $c && link $a eth1 2001:db8:1::2 $c eth0 2001:db8:1::4 64 &&
        pair two 2001:db8::2 2001:db8::3 v6
    check "two: $a Tunnel24 up" dp_start two-a24 $a --dataplane kernel --name Tunnel24 --if-id 24 \
        --local 2001:db8:1::2 --peer 2001:db8:1::4 --ipv4 192.168.24.2/24 --link-local fe80::24:2 \
        --spi-in 8194 --spi-out 8196
    check "two: $c Tunnel24 up" dp_start two-c24 $c --dataplane kernel --name Tunnel24 --if-id 24 \
        --local 2001:db8:1::4 --peer 2001:db8:1::2 --ipv4 192.168.24.4/24 --link-local fe80::24:4 \
        --spi-in 8196 --spi-out 8194
    before=$(in_out two-a24)
    check "two: ping fe80::24:4%Tunnel24 and 192.168.24.4, 5/5 each" tunnel_pings $a fe80::24:4 192.168.24.4 Tunnel24
    check "two: Tunnel24 counters moved" moved "$before" "$(in_out two-a24)"
    check "two: Tunnel23 still passes traffic" tunnel_pings $a fe80::23:3 192.168.23.3 Tunnel23
    check "two: distinct if_ids 23 and 24" bash -c \
        "ip -n $a -d link show Tunnel23 | grep -q 'if_id 0x17' && ip -n $a -d link show Tunnel24 | grep -q 'if_id 0x18'"
    check "two: Tunnel24's driver quits, Tunnel23 unharmed" eval \
        "dp_stop two-a24 && no_link $a Tunnel24 && tunnel_pings $a fe80::23:3 192.168.23.3 Tunnel23"
    check "two: quit cleans up" eval "quit_all two-a two-b two-c24 && clean two && no_link $c Tunnel24"
}

# the unit tests that need this kernel, in a namespace of their own
unit() {
    add_netns ${K}unit
    check "vm_tests: interfaces, ALLOCSPI/UPDSA, expiry events, crash leftovers, socket options" \
        ip netns exec ${K}unit "$IKT_KTEST" --ignored --test-threads=1 -q dataplane::kernel::vm_tests
}

echo "kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime) s"
all=(xi vti6 v4 vti4 two unit)
for s in "${@:-${all[@]}}"; do scenario "$s" "$s"; done
wait_scenarios 400
echo "uptime $(cut -d' ' -f1 /proc/uptime) s"
suite_end
