#!/bin/bash
# stay-up.sh - tunnels stay up: rekeys lose nothing, a crashed peer comes back, and the
# kernel data path does the same in a VM. All scenarios run at once (each in its own
# namespaces), with the VM part (tests/vm/stay-up.sh) booting alongside:
#   rk  two ikev1d, userspace data path: phase 2 lifetime 30 s, phase 1 60 s, ping -i 0.1
#       over Tunnel23 for 100 s: zero lost, >= 3 phase 2 and >= 1 phase 1 rekeys
#   sr  the same with strongSwan 5.9.8 (kernel-libipsec) as R3
#   kl  kill -9 of R3 and a restart: tunnel back within 20 s, pings pass, both hold one
#       ISAKMP SA and one SA pair (one of each also after the simultaneous start)
#   vm  tests/vm/stay-up.sh: rk, kl (kernel states = shown SAs) on the kernel data
#       path, 20% loss + 100 ms jitter (netem): up within 30 s, DPD on a dead link
# Namespaces ikt-t-u*. Environment: STAY_VM=0 skips the VM; STAY_RUN_S (100),
# STAY_P2_S (30), STAY_P1_S (60) change the rekey scenario's duration and lifetimes.
# Arguments: the host scenarios to run (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
IKT_RUN=$(mktemp -d /tmp/ikt-t.XXXXXX)
export SSW_DIR=$IKT_RUN/ssw
. scripts/lib.sh
. tests/vm/stay-lib.sh
PEER=scripts/strongswan-peer.sh
RUN_S=${STAY_RUN_S:-100} P2_S=${STAY_P2_S:-30} P1_S=${STAY_P1_S:-60}
export STAY_RUN_S=$RUN_S STAY_P2_S=$P2_S STAY_P1_S=$P1_S
COUNT=$((RUN_S * 10))
# rekeys the run must see: one every P2_S (soft expiry comes earlier), minus slack
P2_REKEYS=$((RUN_S / P2_S)) P1_REKEYS=$((RUN_S / P1_S))
VM_PGID=

teardown() {
    set +e
    [ -z "$VM_PGID" ] || kill -TERM -- "-$VM_PGID" 2>/dev/null
    stop_scenarios
    lib_cleanup
}
trap teardown EXIT

[ -x "$IKT_BIN" ] || cargo build --release -q

# rekeys TAG LOG: the counts of SAs LOG saw come up, as checks
rekeys() {
    local tag=$1 log=$2 p2 p1
    p2=$(spis_in "$log") p1=$(phase1_ups "$log")
    echo "    $tag: $p2 IPsec SA pairs (inbound SPIs), $p1 ISAKMP SAs came up"
    check "$tag: >= $P2_REKEYS phase 2 rekeys in $RUN_S s" test "$p2" -ge $((P2_REKEYS + 1))
    check "$tag: >= $P1_REKEYS phase 1 rekey(s) in $RUN_S s" test "$p1" -ge $((P1_REKEYS + 1))
}

rk() {
    local p=ikt-t-urk
    routers $p-r2 2001:db8::2 $p-r3 2001:db8::3 64
    short_lifetimes examples/r2.conf "$IKT_RUN/rk-r2.conf" "$P2_S" "$P1_S"
    short_lifetimes examples/r3.conf "$IKT_RUN/rk-r3.conf" "$P2_S" "$P1_S"
    start_ikev1d $p-r3 "$IKT_RUN/rk-r3.conf" "$IKT_RUN/rk-r3.log"
    start_ikev1d $p-r2 "$IKT_RUN/rk-r2.conf" "$IKT_RUN/rk-r2.log"
    check "rk: Tunnel23 up within 20 s" wait_sa $p-r2 20
    ping_bg $p-r2 fe80::23:3%Tunnel23 $COUNT "$IKT_RUN/rk.ping"
    wait "$PING_PID" || true
    check "rk: userspace: zero lost of $COUNT pings (-i 0.1) across rekeys" lossless "$IKT_RUN/rk.ping" $COUNT
    rekeys rk "$IKT_RUN/rk-r2.log"
    check "rk: R2 ends with one ISAKMP SA and one SA pair" wait_counts $p-r2 "1 1" 15
    check "rk: R3 ends with one ISAKMP SA and one SA pair" wait_counts $p-r3 "1 1" 15
    [ $IKT_FAILED = 0 ] || dump_logs rk "$IKT_RUN/rk-r2.log" "$IKT_RUN/rk-r3.log"
}

sr() {
    local p=ikt-t-usr
    # the seed's R2 plus the inner global address strongSwan's traffic selectors use
    short_lifetimes examples/r2.conf "$IKT_RUN/sr-r2.conf" "$P2_S" "$P1_S" \
        's/^ipv6 address FE80::23:2 link-local$/&\nipv6 address 2001:DB8:100::2\/64/'
    routers $p-r2 2001:db8::2 $p-ss 2001:db8::3 64
    ip -n $p-ss addr add 2001:db8:100::3/128 dev lo
    IKE_PROPOSALS=des-sha1-modp768 ESP_PROPOSALS=aes128-sha1 \
        "$PEER" start $p-ss 2001:db8::3 2001:db8::2 cisco >"$IKT_RUN/sr-peer.log" 2>&1 ||
        { cat "$IKT_RUN/sr-peer.log"; IKT_FAILED=1; return; }
    start_ikev1d $p-r2 "$IKT_RUN/sr-r2.conf" "$IKT_RUN/sr-r2.log"
    check "sr: Tunnel23 up with strongSwan within 20 s" wait_sa $p-r2 20
    ping_bg $p-r2 2001:db8:100::3 $COUNT "$IKT_RUN/sr.ping"
    wait "$PING_PID" || true
    check "sr: strongSwan: zero lost of $COUNT pings (-i 0.1) across rekeys" lossless "$IKT_RUN/sr.ping" $COUNT
    rekeys sr "$IKT_RUN/sr-r2.log"
    check "sr: strongSwan still has one CHILD_SA installed" bash -c \
        "[ \"\$($PEER status $p-ss 2>/dev/null | grep -c INSTALLED)\" = 1 ]"
    check "sr: R2 ends with one ISAKMP SA and one SA pair" wait_counts $p-r2 "1 1" 15
    [ $IKT_FAILED = 0 ] || {
        dump_logs sr "$IKT_RUN/sr-r2.log" "$SSW_DIR/peer-$p-ss/charon.log"
        "$PEER" status $p-ss
    }
    "$PEER" stop $p-ss >/dev/null
}

kl() {
    local p=ikt-t-ukl spi_before
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
    [ $IKT_FAILED = 0 ] || dump_logs kl "$IKT_RUN/kl-r2.log" "$IKT_RUN/kl-r3-restarted.log"
}

t0=$SECONDS
if [ "${STAY_VM:-1}" != 0 ]; then
    if command -v qemu-system-x86_64 >/dev/null; then
        # its own process group, so that teardown can stop qemu with it
        setsid env VM_MEM="${VM_MEM:-1G}" VM_TIMEOUT="${VM_TIMEOUT:-600}" \
            scripts/run-in-vm.sh /bin/bash tests/vm/stay-up.sh >"$IKT_RUN/vm.out" 2>&1 &
        VM_PGID=$!
    else
        check "vm: qemu-system-x86_64 installed (scripts/test.sh installs qemu-system-x86)" false
    fi
fi
all=(rk sr kl)
for s in "${@:-${all[@]}}"; do scenario "$s" "$s"; done
wait_scenarios $((RUN_S + 150))
echo "host scenarios done after $((SECONDS - t0)) s"
if [ -n "$VM_PGID" ]; then
    vm_rc=0
    wait "$VM_PGID" || vm_rc=$?
    VM_PGID=
    sed 's/^/vm: /' "$IKT_RUN/vm.out"
    check "vm: tests/vm/stay-up.sh passed (exit $vm_rc)" test $vm_rc = 0
    echo "VM done after $((SECONDS - t0)) s"
fi
exit $IKT_FAILED
