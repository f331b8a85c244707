#!/bin/bash
# strongswan.sh - ikev1d against a real strongSwan 5.9.8 IKEv1 peer (scripts/strongswan-peer.sh)
# in two network namespaces. Run by tests/vm-strongswan.sh INSIDE the VM (ikev1d on the
# kernel data path, strongSwan on kernel ESP: KERNEL_ESP=1) and by
# tests/strongswan-userspace.sh on the host (ikev1d userspace, strongSwan kernel-libipsec,
# which always floats to UDP 4500: NAT-T, RFC 3947/3948).
#
# R2 runs ikev1d with examples/r2.conf (IOS default policy DES/SHA-1/group 1,
# transform-set esp-aes esp-sha-hmac) plus `ipv6 address 2001:DB8:100::2/64`; strongSwan
# offers des-sha1-modp768 / aes128-sha1 and has 2001:db8:100::3 (the inner addresses of
# strongSwan's captures in fixtures/). (a) ikev1d initiates; (b) ikev1d --passive,
# strongSwan initiates. Each: SA pair up on both sides, 5 pings each way between the
# inner addresses, both sides count the same packets, the data path and UDP
# encapsulation are the expected ones, and on SIGTERM our Delete clears strongSwan's SAs.
#
# Environment: IKT_DATAPLANE kernel|userspace (default kernel), KERNEL_ESP (see
# scripts/strongswan-peer.sh). Namespaces $IKT_NS-s-r2, $IKT_NS-s-ss. Needs jq: python3
# takes ~10 s to start under the VM's emulated CPU, reading its library over 9p.
# Other algorithms (tests/vm/crypto.sh runs several of these at once, each with its own
# IKT_NS): R2_CONF is R2's configuration (default examples/r2.conf), SSW_IKE / SSW_ESP
# strongSwan's proposals, R2_GROUP / R2_TRANSFORM / R2_PFS what `show isakmp` / `show
# ipsec` must then report, R2_XFRM a pattern R2's `ip xfrm state` must show (kernel path),
# R2_TUNNEL R2's tunnel interface (Tunnel23), R2_PROFILE the ISAKMP profile `show isakmp`
# must name for R2's SA (null: none), SSW_SUITE the suite's name. R2_ADDRESSES=K: R2
# holds K more local addresses (on lo, each the `tunnel source` of a shut-down tunnel):
# past 16, R2 listens on the [::] wildcard (src/daemon/ike_socket.rs), which must then
# be the only pair of IKE sockets, and carry IKE and, with UDP_ENCAP on 4500, NAT-T.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
DATAPLANE=${IKT_DATAPLANE:-kernel}
suite_begin "${SSW_SUITE:-strongswan-$DATAPLANE}"
# not under /run: strongswan-peer.sh bind-mounts over /run
export SSW_DIR=$IKT_RUN/ssw
R2=$IKT_NS-s-r2 SS=$IKT_NS-s-ss
PEER=scripts/strongswan-peer.sh
if [ -n "${KERNEL_ESP:-}" ]; then
    ESP="ESP on kernel-netlink" ssw_mode="TUNNEL," r2_port=500 nat_t=false
else
    ESP="ESP in UDP 4500 (kernel-libipsec)" ssw_mode="TUNNEL-in-UDP," r2_port=4500 nat_t=true
fi

on_exit "$PEER" stop $SS
watch_log "$SSW_DIR/peer-$SS/charon.log"
echo "kernel $(uname -r); ikev1d data path $DATAPLANE; strongSwan $ESP"
# a fresh devtmpfs (the VM's) has /dev/net/tun only once the module is loaded
# (kernel-libipsec, strongSwan's data path without KERNEL_ESP, needs it too)
{ [ "$DATAPLANE" != userspace ] && [ -n "${KERNEL_ESP:-}" ]; } || [ -e /dev/net/tun ] || modprobe tun

show_state() {
    echo "--- $1: strongSwan SAs"; "$PEER" status $SS 2>/dev/null
    echo "--- $1: strongSwan table 220"; ip -n $SS -6 route show table 220
}

mac() { ip -n "$1" -br link show eth0 | awk '{print $3}'; }

# Which source strongSwan's namespace uses for 2001:db8:100::2: charon routes the remote
# TS ::/0 in table 220 without a preferred source, into ipsec0 with kernel-libipsec
# (plus "throw 2001:db8::2", so IKE and ESP-in-UDP to us stay on eth0), via 2001:db8::2
# on eth0 with kernel ESP. On eth0, RFC 6724 rule 5 (prefer the outgoing interface)
# would pick 2001:db8::3, which we route outside the tunnel; with 2001:db8:100::3 on
# eth0 too, rule 8 (longest matching prefix) picks it, on ipsec0 (no global address)
# too. Kernel ESP's ::/0 policies also take the outer link's neighbour discovery once
# an entry expires (see scripts/strongswan-peer.sh): both entries are pinned.
setup() {
    sed 's/^ipv6 address FE80::23:2 link-local$/&\nipv6 address 2001:DB8:100::2\/64/' \
        "${R2_CONF:-examples/r2.conf}" >"$IKT_RUN/r2.conf"
    grep -q '^ipv6 address 2001:DB8:100::2/64' "$IKT_RUN/r2.conf" || return 1
    routers $R2 2001:db8::2 $SS 2001:db8::3 64
    local i
    for ((i = 1; i <= ${R2_ADDRESSES:-0}; i++)); do
        ip -n $R2 addr add "2001:db8:2::$i/128" dev lo
        printf 'interface Tunnel%d\n shutdown\n tunnel source 2001:DB8:2::%d\n tunnel mode ipsec ipv6\n tunnel destination 2001:DB8:3::%d\n tunnel protection ipsec profile PRO\n' \
            $((100 + i)) "$i" "$i" >>"$IKT_RUN/r2.conf"
    done
    ip -n $SS addr add 2001:db8:100::3/128 dev eth0 nodad
    ip -n $R2 neigh replace 2001:db8::3 lladdr "$(mac $SS)" dev eth0 nud permanent
    ip -n $SS neigh replace 2001:db8::2 lladdr "$(mac $R2)" dev eth0 nud permanent
    IKE_PROPOSALS=${SSW_IKE:-des-sha1-modp768} ESP_PROPOSALS=${SSW_ESP:-aes128-sha1} \
        "$PEER" start $SS 2001:db8::3 2001:db8::2 cisco >"$IKT_RUN/peer-start.log" 2>&1 ||
        { cat "$IKT_RUN/peer-start.log"; return 1; }
}

r2_ipsec() { show $R2 ipsec --json | jq -r ".[0] | $1"; }
ssw_status() { "$PEER" status $SS 2>/dev/null; }
ssw_down() { ! ssw_status | grep -q ESTABLISHED; }

# counters: R2's encaps and decaps, then strongSwan's CHILD_SA in and out packets
counters() {
    r2_ipsec '"\(.outbound.packets) \(.inbound.packets)"'
    ssw_status | awk '$1 == "in" { i = $5 } $1 == "out" { o = $5 } END { print i + 0, o + 0 }'
}

# counters_moved TAG BEFORE: during the pings (5 requests and 5 replies each way) R2's
# encaps and strongSwan's in grew alike, as did R2's decaps and strongSwan's out, by 10
# or more. Measured from BEFORE: what an initiator sends between installing its SAs and
# the responder installing its inbound one (QM3 in flight) is lost, as with IOS. The
# tunnel devices also carry the odd link-scope packet (MLD, router solicitation) and
# the sides are read one after the other: a few reads.
counters_moved() {
    local t=$1 b n e d si so _
    read -ra b <<<"$2"
    for _ in 1 2 3 4 5 6; do
        read -ra n <<<"$(counters | tr '\n' ' ')"
        e=$((${n[0]:-0} - b[0])) d=$((${n[1]:-0} - b[1]))
        si=$((${n[2]:-0} - b[2])) so=$((${n[3]:-0} - b[3]))
        [ $e = $si ] && [ $d = $so ] && [ $e -ge 10 ] && [ $d -ge 10 ] && break
        sleep 0.5
    done
    echo "$t: during the pings R2 encaps/decaps $e/$d, strongSwan in/out $si/$so"
    [ $e = $si ] && [ $d = $so ] && [ $e -ge 10 ] && [ $d -ge 10 ]
}

# quiet_counters: the counters once two reads a moment apart agree, so that no packet
# in flight (the odd MLD or neighbour solicitation) is in one side's baseline only
quiet_counters() {
    local a b _
    b=$(counters | tr '\n' ' ')
    for _ in 1 2 3 4 5 6 7 8; do
        sleep 0.3
        a=$b b=$(counters | tr '\n' ' ')
        [ "$a" = "$b" ] && break
    done
    echo "$b"
}

# negotiated: show isakmp names the DH group, show ipsec the transform set and PFS
# group; the kernel's state has the algorithm as configured (R2_XFRM)
negotiated() {
    local got states
    got=$(json_field $R2 isakmp '.[0].group')"|"$(r2_ipsec '"\(.inbound.transform)|\(.outbound.transform)|\(.pfs)"')
    echo "    group|transforms|pfs: $got"
    [ "$got" = "$R2_GROUP|$R2_TRANSFORM|$R2_TRANSFORM|$R2_PFS" ] || return 1
    # read whole first: grep -q may stop reading early, failing `ip` under pipefail
    states=$(ip -n $R2 xfrm state)
    [ -z "$xfrm" ] || grep -qE "$xfrm" <<<"$states" ||
        { sed -E 's/(0x[0-9a-f]{4})[0-9a-f]+/\1.../' <<<"$states"; return 1; }
}
R2_GROUP=${R2_GROUP:-1} R2_TRANSFORM=${R2_TRANSFORM:-esp-aes esp-sha-hmac} R2_PFS=${R2_PFS:-null}
R2_TUNNEL=${R2_TUNNEL:-Tunnel23} R2_PROFILE=${R2_PROFILE:-null}
xfrm=
[ "$DATAPLANE" != kernel ] || xfrm=${R2_XFRM:-}

encapsulation() {
    [ "$(r2_ipsec .peer_port)" = $r2_port ] &&
        [ "$(show $R2 isakmp --json | jq -r '.[0] | "\(.nat_t) \(.state)"')" = "$nat_t QM_IDLE" ] &&
        ssw_status | grep -q "INSTALLED, $ssw_mode"
}

tunnel_works() {
    local t=$1 before
    check "$t: R2 has the SA pair" wait_sa $R2 5
    check "$t: strongSwan has the CHILD_SA installed, $ESP" encapsulation
    check "$t: ikev1d reports the $DATAPLANE data path" test "$(r2_ipsec .dataplane)" = "$DATAPLANE"
    [ "${R2_ADDRESSES:-0}" -le 15 ] || check "$t: R2 with $((R2_ADDRESSES + 1)) addresses: only the [::] pair of IKE sockets" \
        eval "ike_sockets_are $R2 2 && ip netns exec $R2 ss -Huan | grep -q '\[::\]:4500 '"
    check "$t: group $R2_GROUP, $R2_TRANSFORM, PFS $R2_PFS${xfrm:+, kernel state $xfrm}" negotiated
    check "$t: R2's ISAKMP SA has profile $R2_PROFILE" test "$(json_field $R2 isakmp '.[0].profile')" = "$R2_PROFILE"
    before=$(quiet_counters)
    check "$t: ping R2 -> 2001:db8:100::3 5/5" pings $R2 2001:db8:100::3 5
    check "$t: ping strongSwan -> 2001:db8:100::2 5/5" pings $SS 2001:db8:100::2 5
    check "$t: both sides counted the same pings" counters_moved "$t" "$before"
}

# stop_ikev1d TAG: SIGTERM; our Delete must clear strongSwan's SAs, and nothing of
# ours may stay in the kernel
stop_ikev1d() {
    local pid
    pid=$(cat "$IKT_RUN/$R2.pid")
    kill -TERM "$pid"
    check "$1: SIGTERM: strongSwan deletes its SAs on our Delete" until_true 30 ssw_down
    check "$1: SIGTERM: ikev1d exits, no XFRM state or $R2_TUNNEL left" bash -c \
        "for i in \$(seq 40); do kill -0 $pid 2>/dev/null || break; sleep 0.25; done
         ! kill -0 $pid 2>/dev/null && [ -z \"\$(ip -n $R2 xfrm state)\" ] && ! ip -n $R2 link show $R2_TUNNEL 2>/dev/null"
    [ "$IKT_FAILED" = 0 ] || show_state "$1"
}

# One pair of namespaces and one charon for both directions: charon takes ~10 s to
# start under the VM's emulated CPU.
check "strongSwan peer starts" setup
[ "$IKT_FAILED" = 0 ] || exit 1

# (a) ikev1d initiates
start_ikev1d $R2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2-a.log" --dataplane "$DATAPLANE"
check "a: SAs up (ikev1d initiates)" wait_sa $R2 30
check "a: ikev1d was the Main Mode initiator" grep -q "New State = IKE_I_MM2" "$IKT_RUN/r2-a.log"
tunnel_works a
stop_ikev1d a

# (b) strongSwan initiates, ikev1d only responds
start_ikev1d $R2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2-b.log" --dataplane "$DATAPLANE" --passive
check "b: ikev1d --passive is listening" listening $R2 30
check "b: strongSwan initiates: swanctl --initiate succeeds" bash -c "$PEER initiate $SS >$IKT_RUN/initiate.log 2>&1"
check "b: SAs up" wait_sa $R2 20
check "b: ikev1d was the responder only" bash -c \
    "grep -q 'New State = IKE_R_MM1' $IKT_RUN/r2-b.log && ! grep -q 'New State = IKE_I_MM' $IKT_RUN/r2-b.log"
tunnel_works b
stop_ikev1d b
suite_end
