#!/bin/bash
# stay-up.sh - tunnels stay up on this machine: rekeys lose nothing, a crashed peer comes
# back. All scenarios run at once, each in its own namespaces ($IKT_NS-u*):
#   rk  two ikev1d, userspace data path: phase 2 lifetime 30 s, phase 1 60 s, 1000 pings
#       (-i 0.1) over Tunnel23: every one sent is answered (at least 100 sent), >= 3
#       phase 2 and >= 1 phase 1 rekeys
#   sr  the same with strongSwan 5.9.8 (kernel-libipsec) as R3
#   kl  kill -9 of R3 and a restart: tunnel back within 20 s, pings pass, both hold one
#       ISAKMP SA and one SA pair (one of each also after the simultaneous start)
# The kernel data path does the same in the VM: tests/vm-stay-up.sh, its own suite, so
# that the emulated CPU never competes with these pings.
# Environment: STAY_RUN_S (100), STAY_P2_S (30), STAY_P1_S (60) change the rekey
# scenario's duration and lifetimes. Arguments: the scenarios to run (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin stay-up
export SSW_DIR=$IKT_RUN/ssw
PEER=scripts/strongswan-peer.sh
stay_params
U=$IKT_NS-u

rk() {
    local p=${U}rk
    routers $p-r2 2001:db8::2 $p-r3 2001:db8::3 64
    short_lifetimes examples/r2.conf "$IKT_RUN/rk-r2.conf" "$P2_S" "$P1_S"
    short_lifetimes examples/r3.conf "$IKT_RUN/rk-r3.conf" "$P2_S" "$P1_S"
    start_ikev1d $p-r3 "$IKT_RUN/rk-r3.conf" "$IKT_RUN/rk-r3.log"
    start_ikev1d $p-r2 "$IKT_RUN/rk-r2.conf" "$IKT_RUN/rk-r2.log"
    check "rk: Tunnel23 up within 20 s" wait_sa $p-r2 20
    ping_bg $p-r2 fe80::23:3%Tunnel23 $COUNT "$IKT_RUN/rk.ping"
    wait "$PING_PID" || true
    check "rk: userspace: every ping answered across rekeys" lossless "$IKT_RUN/rk.ping" $MIN_SENT
    rekeys rk "$IKT_RUN/rk-r2.log"
    check "rk: R2 ends with one ISAKMP SA and one SA pair" wait_counts $p-r2 "1 1" 15
    check "rk: R3 ends with one ISAKMP SA and one SA pair" wait_counts $p-r3 "1 1" 15
}

sr() {
    local p=${U}sr
    # the seed's R2 plus the inner global address strongSwan's traffic selectors use
    short_lifetimes examples/r2.conf "$IKT_RUN/sr-r2.conf" "$P2_S" "$P1_S" \
        's/^ipv6 address FE80::23:2 link-local$/&\nipv6 address 2001:DB8:100::2\/64/'
    routers $p-r2 2001:db8::2 $p-ss 2001:db8::3 64
    ip -n $p-ss addr add 2001:db8:100::3/128 dev lo
    on_exit "$PEER" stop $p-ss
    watch_log "$SSW_DIR/peer-$p-ss/charon.log"
    IKE_PROPOSALS=des-sha1-modp768 ESP_PROPOSALS=aes128-sha1 \
        "$PEER" start $p-ss 2001:db8::3 2001:db8::2 cisco >"$IKT_RUN/sr-peer.log" 2>&1 ||
        { cat "$IKT_RUN/sr-peer.log"; check "sr: strongSwan starts" false; return; }
    start_ikev1d $p-r2 "$IKT_RUN/sr-r2.conf" "$IKT_RUN/sr-r2.log"
    check "sr: Tunnel23 up with strongSwan within 20 s" wait_sa $p-r2 20
    ping_bg $p-r2 2001:db8:100::3 $COUNT "$IKT_RUN/sr.ping"
    wait "$PING_PID" || true
    check "sr: strongSwan: every ping answered across rekeys" lossless "$IKT_RUN/sr.ping" $MIN_SENT
    rekeys sr "$IKT_RUN/sr-r2.log"
    check "sr: strongSwan still has one CHILD_SA installed" bash -c \
        "[ \"\$($PEER status $p-ss 2>/dev/null | grep -c INSTALLED)\" = 1 ]"
    check "sr: R2 ends with one ISAKMP SA and one SA pair" wait_counts $p-r2 "1 1" 15
    [ "$IKT_FAILED" = 0 ] || "$PEER" status $p-ss
}

kl() {
    local p=${U}kl spi_before
    routers $p-r2 2001:db8::2 $p-r3 2001:db8::3 64
    start_ikev1d $p-r3 examples/r3.conf "$IKT_RUN/kl-r3.log"
    start_ikev1d $p-r2 examples/r2.conf "$IKT_RUN/kl-r2.log"
    check "kl: Tunnel23 up within 20 s" wait_sa $p-r2 20
    check "kl: after the simultaneous start R2 holds one ISAKMP SA and one SA pair" wait_counts $p-r2 "1 1" 10
    check "kl: after the simultaneous start R3 holds one ISAKMP SA and one SA pair" wait_counts $p-r3 "1 1" 10
    spi_before=$(outbound_spi $p-r2)
    kill -KILL "$(cat "$IKT_RUN/$p-r3.pid")"
    wait "$(cat "$IKT_RUN/$p-r3.pid")" 2>/dev/null || true
    start_ikev1d $p-r3 examples/r3.conf "$IKT_RUN/kl-r3-restarted.log"
    check "kl: kill -9 + restart of R3: R2 on a new SA pair within 20 s" new_sa_within $p-r2 "$spi_before" 20
    check "kl: then 20/20 pings pass" pings $p-r2 fe80::23:3%Tunnel23 20
    check "kl: survivor R2 holds one ISAKMP SA and one SA pair" wait_counts $p-r2 "1 1" 10
    check "kl: restarted R3 holds one ISAKMP SA and one SA pair" wait_counts $p-r3 "1 1" 10
}

all=(rk sr kl)
for s in "${@:-${all[@]}}"; do scenario "$s" "$s"; done
wait_scenarios $((RUN_S * 2 + 150))
suite_end
