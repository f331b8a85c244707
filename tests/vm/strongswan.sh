#!/bin/bash
# strongswan.sh - runs INSIDE the VM (see tests/vm-strongswan.sh): ikev1d on the kernel
# data path (xfrm interface) against strongSwan 5.9.8 on kernel ESP (kernel-netlink,
# KERNEL_ESP=1 of scripts/strongswan-peer.sh), des-sha1-modp768 / aes128-sha1 against
# the IOS defaults of examples/r2.conf. (a) ikev1d initiates; (b) strongSwan initiates,
# ikev1d --passive. Each: SA pair up on both sides, pings between the inner addresses
# 2001:db8:100::2 <-> 2001:db8:100::3 both ways, both sides' counters agree.
# IKT_DATAPLANE=userspace runs the same against ikev1d's userspace data path (raw ESP).
set -uo pipefail
cd "$(dirname "$0")/../.."
# charon's state must not live under /run: strongswan-peer.sh bind-mounts over /run
export IKT_RUN=/run/ikt-vs SSW_DIR=/tmp/ikt-vs-ssw
mkdir -p $IKT_RUN
. scripts/lib.sh
R2=ikt-s-r2 SS=ikt-s-ss
PEER=scripts/strongswan-peer.sh
DATAPLANE=${IKT_DATAPLANE:-kernel}

teardown() {
    "$PEER" stop $SS >/dev/null 2>&1
    lib_cleanup
}
trap teardown EXIT
echo "kernel $(uname -r), ikev1d data path $DATAPLANE"
# the VM's devtmpfs has /dev/net/tun only once the module is loaded
[ "$DATAPLANE" != userspace ] || modprobe tun

show_logs() {
    echo "--- $1: R2 log (ikev1d)"; tail -40 "$IKT_RUN/r2.log"
    echo "--- $1: strongSwan log"; tail -40 "$SSW_DIR/peer-$SS/charon.log"
    echo "--- $1: strongSwan SAs"; "$PEER" status $SS 2>/dev/null
    echo "--- $1: strongSwan xfrm, table 220"; ip -n $SS xfrm state; ip -n $SS -6 route show table 220
}

mac() { ip -n "$1" -br link show eth0 | awk '{print $3}'; }

# charon with kernel ESP installs ::/0 <-> ::/0 policies, which also take the outer
# link's neighbour discovery once an entry expires (see scripts/strongswan-peer.sh):
# both sides' neighbour entries are pinned. Its table 220 routes ::/0 via 2001:db8::2
# on eth0 with no preferred source: RFC 6724 rule 5 (prefer the outgoing interface)
# would pick 2001:db8::3, whose answers we route outside the tunnel; with
# 2001:db8:100::3 on eth0 too, rule 8 (longest matching prefix) picks it.
setup() {
    sed 's/^ipv6 address FE80::23:2 link-local$/&\nipv6 address 2001:DB8:100::2\/64/' \
        examples/r2.conf >"$IKT_RUN/r2.conf"
    routers $R2 2001:db8::2 $SS 2001:db8::3 64
    ip -n $SS addr add 2001:db8:100::3/128 dev eth0 nodad
    ip -n $R2 neigh replace 2001:db8::3 lladdr "$(mac $SS)" dev eth0 nud permanent
    ip -n $SS neigh replace 2001:db8::2 lladdr "$(mac $R2)" dev eth0 nud permanent
    KERNEL_ESP=1 IKE_PROPOSALS=des-sha1-modp768 ESP_PROPOSALS=aes128-sha1 \
        "$PEER" start $SS 2001:db8::3 2001:db8::2 cisco >"$IKT_RUN/peer-start.log" 2>&1 ||
        { cat "$IKT_RUN/peer-start.log"; return 1; }
}

ping_ok() { ip netns exec "$1" ping -c 5 -i 0.2 -W 3 -q "$2" >/dev/null; }

# strongSwan's CHILD_SA "in"/"out" packet counts (swanctl --list-sas)
ssw_packets() { "$PEER" status $SS 2>/dev/null | awk -v d="$1" '$1 == d { print $5; exit }'; }

# counters_agree TAG: R2 encaps = strongSwan's in, R2 decaps = strongSwan's out, each
# >= 10 (5 echo requests one way, 5 replies the other, twice), data path $DATAPLANE.
# Both tunnel devices also carry the odd link-scope packet of their own (MLD, router
# solicitation) and the two sides are read one after the other: a few reads.
counters_agree() {
    local ours in out _
    for _ in 1 2 3 4 5 6; do
        ours=$(json_field $R2 ipsec 'a[0]["outbound"]["packets"], a[0]["inbound"]["packets"], a[0]["dataplane"]')
        in=$(ssw_packets in) out=$(ssw_packets out)
        [ "$ours" = "$in $out $DATAPLANE" ] && [ "${in:-0}" -ge 10 ] && [ "${out:-0}" -ge 10 ] && break
        sleep 0.5
    done
    echo "$1: R2 encaps/decaps/dataplane: $ours   strongSwan in/out: $in/$out"
    [ "$ours" = "$in $out $DATAPLANE" ] && [ "${in:-0}" -ge 10 ] && [ "${out:-0}" -ge 10 ]
}

tunnel_works() {
    local t=$1
    check "$t: strongSwan has the CHILD_SA installed, plain ESP" bash -c \
        "$PEER status $SS 2>/dev/null | grep -q 'INSTALLED, TUNNEL,'"
    check "$t: no NAT-T: ikev1d talks to port 500" \
        test "$(json_field $R2 ipsec 'a[0]["peer_port"]')" = 500
    check "$t: ping R2 -> 2001:db8:100::3 5/5" ping_ok $R2 2001:db8:100::3
    check "$t: ping strongSwan -> 2001:db8:100::2 5/5" ping_ok $SS 2001:db8:100::2
    check "$t: counters agree on both sides, dataplane $DATAPLANE" counters_agree "$t"
}

next() {
    [ $IKT_FAILED = 0 ] || show_logs "$1"
    teardown
    IKT_PIDS=() IKT_NETNS=()
    mkdir -p $IKT_RUN
}

# (a) ikev1d initiates
setup
start_ikev1d $R2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2.log" --dataplane "$DATAPLANE"
check "a: SAs up (ikev1d initiates)" wait_sa $R2 30
check "a: ikev1d was the Main Mode initiator" grep -q "New State = IKE_I_MM2" "$IKT_RUN/r2.log"
tunnel_works a
next a

# (b) strongSwan initiates, ikev1d only responds
setup
start_ikev1d $R2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2.log" --dataplane "$DATAPLANE" --passive
check "b: ikev1d --passive is listening" bash -c \
    "for i in \$(seq 120); do ip netns exec $R2 $IKT_BIN show isakmp --socket $IKT_RUN/$R2.sock >/dev/null 2>&1 && exit 0; sleep 0.25; done; exit 1"
check "b: strongSwan initiates: swanctl --initiate succeeds" bash -c "$PEER initiate $SS >$IKT_RUN/initiate.log 2>&1"
check "b: SAs up" wait_sa $R2 20
check "b: ikev1d was the responder only" bash -c \
    "grep -q 'New State = IKE_R_MM1' $IKT_RUN/r2.log && ! grep -q 'New State = IKE_I_MM' $IKT_RUN/r2.log"
tunnel_works b
next b

exit $IKT_FAILED
