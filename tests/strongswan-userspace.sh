#!/bin/bash
# strongswan-userspace.sh - ikev1d against a real strongSwan 5.9.8 IKEv1 peer on this
# machine's kernel (no XFRM ESP: both sides carry ESP in userspace). R2 runs ikev1d with
# an IOS configuration like examples/r2.conf (default policy DES/SHA-1/group 1,
# transform-set esp-aes esp-sha-hmac) plus an inner global address; strongSwan
# (scripts/strongswan-peer.sh, kernel-libipsec) offers des-sha1-modp768 / aes128-sha1.
# kernel-libipsec always floats to UDP 4500, so this exercises NAT-T (RFC 3947/3948).
#   (a) ikev1d initiates;  (b) strongSwan initiates, ikev1d runs --passive.
# Each: SA pair up on both sides, pings between the inner addresses both ways, both
# sides' counters agree, data path userspace, UDP 4500. Namespaces: ikt-s-r2, ikt-s-ss.
set -euo pipefail
cd "$(dirname "$0")/.."
IKT_RUN=$(mktemp -d /tmp/ikt-s.XXXXXX)
export SSW_DIR=$IKT_RUN/ssw
. scripts/lib.sh
R2=ikt-s-r2 SS=ikt-s-ss
PEER=scripts/strongswan-peer.sh

teardown() {
    "$PEER" stop $SS >/dev/null 2>&1 || true
    lib_cleanup
}
trap teardown EXIT

for tool in /usr/lib/ipsec/charon swanctl; do
    command -v $tool >/dev/null || { echo "FAIL $tool missing (scripts/test.sh installs strongSwan)"; exit 1; }
done

# show_logs TAG: what a failure needs to be understood
show_logs() {
    echo "--- $1: R2 log (ikev1d)"; tail -40 "$IKT_RUN/r2.log"
    echo "--- $1: strongSwan log"; tail -40 "$SSW_DIR/peer-$SS/charon.log" 2>/dev/null
    echo "--- $1: strongSwan SAs"; "$PEER" status $SS 2>/dev/null
}

# Both namespaces, then charon. With kernel-libipsec charon routes the remote TS ::/0
# into its TUN: table 220 holds "default dev ipsec0" (no preferred source) and "throw
# 2001:db8::2" so that IKE and ESP-in-UDP to us stay on eth0. ipsec0 has no global
# address, so the kernel picks the source by RFC 6724 rule 8 (longest matching
# prefix): 2001:db8:100::3 over 2001:db8::3 for 2001:db8:100::2.
setup() {
    # R2: the seed's R2 plus the inner global address strongSwan's captures used
    sed 's/^ipv6 address FE80::23:2 link-local$/&\nipv6 address 2001:DB8:100::2\/64/' \
        examples/r2.conf >"$IKT_RUN/r2.conf"
    grep -q '^ipv6 address 2001:DB8:100::2/64' "$IKT_RUN/r2.conf"
    routers $R2 2001:db8::2 $SS 2001:db8::3 64
    ip -n $SS addr add 2001:db8:100::3/128 dev eth0 nodad
    IKE_PROPOSALS=des-sha1-modp768 ESP_PROPOSALS=aes128-sha1 \
        "$PEER" start $SS 2001:db8::3 2001:db8::2 cisco >"$IKT_RUN/peer-start.log" 2>&1 ||
        { cat "$IKT_RUN/peer-start.log"; return 1; }
}

ping_ok() { ip netns exec "$1" ping -c 5 -i 0.2 -W 2 -q "$2" >/dev/null; }

# strongSwan's CHILD_SA "in"/"out" packet counts (swanctl --list-sas)
ssw_packets() { "$PEER" status $SS 2>/dev/null | awk -v d="$1" '$1 == d { print $5; exit }'; }

# counters_agree TAG: R2 encaps = strongSwan's in, R2 decaps = strongSwan's out, each
# >= 10 (5 echo requests one way, 5 replies the other, twice), data path userspace.
# Both tunnel devices also carry the odd link-scope packet of their own (MLD, router
# solicitation) and the two sides are read one after the other: a few reads.
counters_agree() {
    local ours in out _
    for _ in 1 2 3 4 5 6; do
        ours=$(json_field $R2 ipsec 'a[0]["outbound"]["packets"], a[0]["inbound"]["packets"], a[0]["dataplane"]')
        in=$(ssw_packets in) out=$(ssw_packets out)
        [ "$ours" = "$in $out userspace" ] && [ "${in:-0}" -ge 10 ] && [ "${out:-0}" -ge 10 ] && break
        sleep 0.5
    done
    echo "$1: R2 encaps/decaps/dataplane: $ours   strongSwan in/out: $in/$out"
    [ "$ours" = "$in $out userspace" ] && [ "${in:-0}" -ge 10 ] && [ "${out:-0}" -ge 10 ]
}

nat_t() {
    [ "$(json_field $R2 ipsec 'a[0]["peer_port"]')" = 4500 ] &&
        [ "$(json_field $R2 isakmp 'a[0]["nat_t"], a[0]["state"]')" = "True QM_IDLE" ] &&
        "$PEER" status $SS 2>/dev/null | grep -q 'INSTALLED, TUNNEL-in-UDP'
}

# tunnel_works TAG: the checks common to both directions
tunnel_works() {
    local t=$1
    check "$t: R2 has the SA pair" wait_sa $R2 5
    check "$t: strongSwan has the CHILD_SA installed" bash -c "$PEER status $SS 2>/dev/null | grep -q INSTALLED"
    check "$t: ping R2 -> 2001:db8:100::3 5/5" ping_ok $R2 2001:db8:100::3
    check "$t: ping strongSwan -> 2001:db8:100::2 5/5" ping_ok $SS 2001:db8:100::2
    check "$t: counters agree on both sides, dataplane userspace" counters_agree "$t"
    check "$t: NAT-T: ESP in UDP 4500 on both sides" nat_t
}

# next: everything down before the next scenario
next() {
    [ $IKT_FAILED = 0 ] || show_logs "$1"
    teardown
    IKT_PIDS=() IKT_NETNS=()
    mkdir -p "$IKT_RUN"
}

# (a) ikev1d initiates
setup
start_ikev1d $R2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2.log"
check "a: SAs up within 20 s (ikev1d initiates)" wait_sa $R2 20
check "a: ikev1d was the Main Mode initiator" grep -q "New State = IKE_I_MM2" "$IKT_RUN/r2.log"
tunnel_works a
kill -TERM "$(cat "$IKT_RUN/$R2.pid")"
check "a: SIGTERM: strongSwan deletes its SAs on our Delete" bash -c \
    "for i in \$(seq 20); do $PEER status $SS 2>/dev/null | grep -q ESTABLISHED || exit 0; sleep 0.25; done; exit 1"
next a

# (b) strongSwan initiates, ikev1d only responds
setup
start_ikev1d $R2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2.log" --passive
check "b: ikev1d --passive is listening" bash -c \
    "for i in \$(seq 40); do ip netns exec $R2 $IKT_BIN show isakmp --socket $IKT_RUN/$R2.sock >/dev/null 2>&1 && exit 0; sleep 0.25; done; exit 1"
check "b: strongSwan initiates: swanctl --initiate succeeds" bash -c "$PEER initiate $SS >$IKT_RUN/initiate.log 2>&1"
check "b: SAs up within 10 s" wait_sa $R2 10
check "b: ikev1d was the responder only" bash -c \
    "grep -q 'New State = IKE_R_MM1' $IKT_RUN/r2.log && ! grep -q 'New State = IKE_I_MM' $IKT_RUN/r2.log"
tunnel_works b
next b

exit $IKT_FAILED
