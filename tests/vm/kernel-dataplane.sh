#!/bin/bash
# kernel-dataplane.sh - runs INSIDE the VM (see tests/vm-kernel-dataplane.sh): the kernel
# data path driven by examples/dp_driver.rs in namespaces ikt-k*, with mirrored SPIs.
set -uo pipefail
cd "$(dirname "$0")/../.."
DP=$PWD/target/release/examples/dp_driver
RUN=/run/ikt-k
mkdir -p $RUN
failed=0 t0=$EPOCHREALTIME
declare -A FD PID
NETNS=()

check() {
    local name=$1 t=$EPOCHREALTIME; shift
    if "$@"; then echo -n "PASS"; else echo -n "FAIL"; failed=1; fi
    printf ' %s (%d ms)\n' "$name" $(( (${EPOCHREALTIME/./} - ${t/./}) / 1000 ))
}
cleanup() {
    set +e
    for id in "${!PID[@]}"; do kill "${PID[$id]}" 2>/dev/null; done
    for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT

# link NS_A IF_A ADDR_A NS_B IF_B ADDR_B LEN: a veth between two namespaces
link() {
    local ns
    for ns in "$1" "$4"; do
        ip netns list | grep -qw "$ns" || { ip netns add "$ns"; NETNS+=("$ns"); ip -n "$ns" link set lo up; }
    done
    ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
    ip -n "$1" addr add "$3/$7" dev "$2" nodad; ip -n "$1" link set "$2" up
    ip -n "$4" addr add "$6/$7" dev "$5" nodad; ip -n "$4" link set "$5" up
}

# dp ID NS ARGS...: start dp_driver in NS, stdin a fifo held open on FD[ID]; wait for READY
dp() {
    local id=$1 ns=$2 i; shift 2
    rm -f $RUN/$id.in; mkfifo $RUN/$id.in
    ip netns exec "$ns" env ${VTI:+IKEV1D_FORCE_VTI=1} "$DP" --dataplane kernel "$@" \
        <$RUN/$id.in >$RUN/$id.out 2>&1 &
    PID[$id]=$!
    exec {i}>$RUN/$id.in
    FD[$id]=$i
    # the first one loads esp6, xfrm_interface, ... (slow under TCG)
    for i in $(seq 1 600); do
        grep -q READY $RUN/$id.out && return 0
        kill -0 "${PID[$id]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "!! $id did not get READY:"; cat $RUN/$id.out; return 1
}
# counters ID: "in_packets out_packets" of the driver's SA pair
counters() {
    local id=$1 n
    n=$(grep -c '^{' $RUN/$id.out)
    echo counters >&${FD[$id]}
    for _ in $(seq 1 50); do
        [ "$(grep -c '^{' $RUN/$id.out)" -gt "$n" ] && break; sleep 0.1
    done
    grep '^{' $RUN/$id.out | tail -1 |
        python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["inbound"]["packets"], c["outbound"]["packets"])'
}
# quit ID: ask the driver to clean up and wait for it
quit() {
    local id=$1 rc=0
    local fd=${FD[$id]}
    echo quit >&$fd
    exec {fd}>&-
    for _ in $(seq 1 300); do kill -0 "${PID[$id]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${PID[$id]}" 2>/dev/null && echo "!! $id did not exit after quit"
    wait "${PID[$id]}" || rc=$?
    unset "PID[$id]"
    [ $rc = 0 ] || { echo "!! $id exited $rc:"; cat $RUN/$id.out; }
    return $rc
}
# pings NS LL V4 IFACE: the tunnel carries inner IPv6 (link-local) and IPv4, 5/5 each
pings() {
    ip netns exec "$1" ping -c 5 -i 0.2 -W 3 -q "$2%$4" | grep -q ' 5 received' &&
        ip netns exec "$1" ping -c 5 -i 0.2 -W 3 -q "$3" | grep -q ' 5 received'
}
# moved BEFORE AFTER: both directions counted at least the 10 echo requests/replies
moved() {
    local b=($1) a=($2)
    echo "   in/out packets: $1 -> $2"
    [ $((a[0] - b[0])) -ge 10 ] && [ $((a[1] - b[1])) -ge 10 ]
}
# only_foreign NS: the foreign state and policy are all the XFRM state there is
only_foreign() {
    local states policies
    states=$(ip -n "$1" xfrm state | grep -c '^src')
    policies=$(ip -n "$1" xfrm policy | grep -c '^src')
    [ "$states" = 1 ] && [ "$policies" = 1 ] && ip -n "$1" xfrm state | grep -q 'spi 0x00004242' &&
        ip -n "$1" xfrm policy | grep -q 'src 2001:db8:99::/64' ||
        { ip -n "$1" xfrm state; ip -n "$1" xfrm policy; return 1; }
}
no_link() { ! ip -n "$1" link show "$2" >/dev/null 2>&1; }
# quit_all ID...: every driver quits cleanly
quit_all() {
    local id rc=0
    for id; do quit "$id" || rc=1; done
    return $rc
}
# clean: no Tunnel23 in ikt-ka or ikt-kb, only the foreign XFRM state in ikt-ka, none in ikt-kb
clean() {
    no_link ikt-ka Tunnel23 && no_link ikt-kb Tunnel23 && only_foreign ikt-ka &&
        [ -z "$(ip -n ikt-kb xfrm state)" ] && ! ip -n ikt-kb xfrm policy | grep -q '^src'
}

# pair TAG LOCAL PEER [ARGS...]: Tunnel23 between ikt-ka (.2) and ikt-kb (.3), mirrored SPIs
pair() {
    local tag=$1 a=$2 b=$3 inner=$4; shift 4
    check "$tag: ikt-ka Tunnel23 up" dp $tag-a ikt-ka --name Tunnel23 --if-id 23 --local $a --peer $b \
        --inner $inner --ipv4 192.168.23.2/24 --link-local fe80::23:2 --mtu 1400 --spi-in 4098 --spi-out 4099 "$@"
    check "$tag: ikt-kb Tunnel23 up" dp $tag-b ikt-kb --name Tunnel23 --if-id 23 --local $b --peer $a \
        --inner $inner --ipv4 192.168.23.3/24 --link-local fe80::23:3 --mtu 1400 --spi-in 4099 --spi-out 4098 "$@"
    local before after
    before=$(counters $tag-a)
    check "$tag: ping fe80::23:3%Tunnel23 and 192.168.23.3, 5/5 each" pings ikt-ka fe80::23:3 192.168.23.3 Tunnel23
    after=$(counters $tag-a)
    check "$tag: counters moved by the pings" moved "$before" "$after"
}

echo "kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime) s"
link ikt-ka eth0 2001:db8::2 ikt-kb eth0 2001:db8::3 64
ip -n ikt-ka addr add 192.0.2.2/24 dev eth0
ip -n ikt-kb addr add 192.0.2.3/24 dev eth0
# someone else's IPsec: must survive every cleanup
ip -n ikt-ka xfrm state add src 2001:db8::9 dst 2001:db8::2 proto esp spi 0x4242 reqid 7 mode tunnel \
    enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff auth-trunc 'hmac(sha1)' 0x0011223344556677889900112233445566778899 96
ip -n ikt-ka xfrm policy add src 2001:db8:99::/64 dst 2001:db8:98::/64 dir out \
    tmpl src 2001:db8::2 dst 2001:db8::9 proto esp reqid 7 mode tunnel

# 1. xfrm interface, IPv6 outer
pair xi 2001:db8::2 2001:db8::3 v6
check "xi: Tunnel23 is an xfrm interface with if_id 23, MTU 1400" bash -c \
    "ip -n ikt-ka -d link show Tunnel23 | grep -q 'xfrm .*if_id 0x17' && ip -n ikt-ka link show Tunnel23 | grep -q 'mtu 1400'"
check "xi: the fixed link-local is the only one" bash -c \
    "[ \"\$(ip -n ikt-ka -6 addr show dev Tunnel23 scope link | grep -c inet6)\" = 1 ] && ip -n ikt-ka -6 addr show dev Tunnel23 | grep -q 'fe80::23:2/64'"
check "xi: SAs are tunnel mode, af-unspec, bound to if_id 23" bash -c \
    "ip -n ikt-ka xfrm state | grep -A4 'spi 0x00001002' | grep -q 'mode tunnel' && ip -n ikt-ka xfrm state | grep -q 'if_id 0x17' && ip -n ikt-ka xfrm state | grep -q af-unspec"
ip -n ikt-ka -s xfrm state | sed 's/^/   /' | grep -E 'spi|lifetime current|bytes' | head -8
check "xi: both drivers quit cleanly" quit_all xi-a xi-b
check "xi: no Tunnel23, state or policy of ours left; the foreign ones remain" clean

# 2. vti6 forced (IKEV1D_FORCE_VTI=1)
VTI=1 pair vti6 2001:db8::2 2001:db8::3 v6
check "vti6: Tunnel23 is vti6 with key 23, SAs marked 23" bash -c \
    "ip -n ikt-ka -d link show Tunnel23 | grep -q vti6 && ip -n ikt-ka -d link show Tunnel23 | grep -q 'ikey 0.0.0.23' && ip -n ikt-ka xfrm state | grep -q 'mark 0x17/0xffffffff'"
check "vti6: quit cleans up" eval "quit_all vti6-a vti6-b && clean"

# 3. IPv4 outer (tunnel mode ipsec ipv4), xfrm interface, then forced vti
pair v4 192.0.2.2 192.0.2.3 v4
check "v4: quit cleans up" eval "quit_all v4-a v4-b && clean"
VTI=1 pair vti4 192.0.2.2 192.0.2.3 v4
check "vti4: Tunnel23 is vti" bash -c "ip -n ikt-ka -d link show Tunnel23 | grep -q ' vti '"
check "vti4: quit cleans up" eval "quit_all vti4-a vti4-b && clean"

# 4. two tunnels in ikt-ka to two peers: Tunnel23 (if_id 23) to ikt-kb, Tunnel24 (if_id 24) to ikt-kc
link ikt-ka eth1 2001:db8:1::2 ikt-kc eth0 2001:db8:1::4 64
pair two 2001:db8::2 2001:db8::3 v6
check "two: ikt-ka Tunnel24 up" dp two-a24 ikt-ka --name Tunnel24 --if-id 24 --local 2001:db8:1::2 --peer 2001:db8:1::4 \
    --ipv4 192.168.24.2/24 --link-local fe80::24:2 --spi-in 8194 --spi-out 8196
check "two: ikt-kc Tunnel24 up" dp two-c24 ikt-kc --name Tunnel24 --if-id 24 --local 2001:db8:1::4 --peer 2001:db8:1::2 \
    --ipv4 192.168.24.4/24 --link-local fe80::24:4 --spi-in 8196 --spi-out 8194
before=$(counters two-a24)
check "two: ping fe80::24:4%Tunnel24 and 192.168.24.4, 5/5 each" pings ikt-ka fe80::24:4 192.168.24.4 Tunnel24
check "two: Tunnel24 counters moved" moved "$before" "$(counters two-a24)"
check "two: Tunnel23 still passes traffic" pings ikt-ka fe80::23:3 192.168.23.3 Tunnel23
check "two: distinct if_ids 23 and 24" bash -c \
    "ip -n ikt-ka -d link show Tunnel23 | grep -q 'if_id 0x17' && ip -n ikt-ka -d link show Tunnel24 | grep -q 'if_id 0x18'"
check "two: Tunnel24's driver quits, Tunnel23 unharmed" eval "quit two-a24 && no_link ikt-ka Tunnel24 && pings ikt-ka fe80::23:3 192.168.23.3 Tunnel23"
check "two: quit cleans up" eval "quit_all two-a two-b two-c24 && clean && no_link ikt-kc Tunnel24"

# 5. the unit tests that need this kernel, in a namespace of their own
ip netns add ikt-ke; NETNS+=(ikt-ke); ip -n ikt-ke link set lo up
check "vm_tests: interfaces, ALLOCSPI/UPDSA, expiry events, crash leftovers, socket options" \
    ip netns exec ikt-ke "$IKT_KTEST" --ignored --test-threads=1 -q dataplane::kernel::vm_tests

echo "scenarios took $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 )) ms; uptime $(cut -d' ' -f1 /proc/uptime) s"
exit $failed
