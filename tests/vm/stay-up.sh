#!/bin/bash
# stay-up.sh - runs INSIDE the VM (see tests/vm-stay-up.sh): tunnels stay up on the kernel
# data path. Concurrently, but one bring-up (daemons started until the tunnel is up) at a
# time, so that each time limit measures its own exchange:
#   vrk  phase 2 lifetime 30 s, phase 1 60 s, 1000 pings (-i 0.1) over Tunnel23: none
#        lost, >= 3 phase 2 and >= 1 phase 1 rekeys, no SA left behind in the kernel
#   vkl  kill -9 of R3 and a restart: back within 20 s, one ISAKMP SA and one SA pair
#        on both sides, `ip xfrm state` holds exactly that pair on both sides
#   vnl  netem 20% loss + 100 ms jitter on both veth ends: tunnel up within 30 s
#   vdp  keepalive 10 3 on both, R3's link goes down: DPD removes the SAs within
#        S*R+S = 40 s, in one log line, and R2's kernel holds no ESP state after
# Arguments: the scenarios to run (default: all). Namespaces $IKT_NS-v*.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
suite_begin vm-stay-up
stay_params
V=$IKT_NS-v
echo "kernel $(uname -r)"

# xfrm_states NS: ESP states in the kernel
xfrm_states() { ip -n "$1" xfrm state | grep -c '^src' || true; }

vrk() {
    local p=${V}rk
    routers $p-r2 2001:db8::2 $p-r3 2001:db8::3 64
    short_lifetimes examples/r2.conf "$IKT_RUN/rk-r2.conf" "$P2_S" "$P1_S"
    short_lifetimes examples/r3.conf "$IKT_RUN/rk-r3.conf" "$P2_S" "$P1_S"
    serially
    start_ikev1d $p-r3 "$IKT_RUN/rk-r3.conf" "$IKT_RUN/vrk-r3.log" --dataplane kernel
    start_ikev1d $p-r2 "$IKT_RUN/rk-r2.conf" "$IKT_RUN/vrk-r2.log" --dataplane kernel
    check "vrk: Tunnel23 up within 60 s" wait_sa $p-r2 60
    serial_end
    ping_bg $p-r2 fe80::23:3%Tunnel23 $COUNT "$IKT_RUN/vrk.ping"
    wait "$PING_PID" || true
    check "vrk: kernel: every ping answered across rekeys" lossless "$IKT_RUN/vrk.ping" $MIN_SENT
    rekeys vrk "$IKT_RUN/vrk-r2.log"
    check "vrk: R2 ends with one ISAKMP SA and one SA pair" wait_counts $p-r2 "1 1" 15
    check "vrk: R2's kernel ends with exactly the ESP states of that pair" kernel_is_show $p-r2 15
    check "vrk: R3's kernel ends with exactly the ESP states of that pair" kernel_is_show $p-r3 15
}

vkl() {
    local p=${V}kl spi_before
    routers $p-r2 2001:db8::2 $p-r3 2001:db8::3 64
    serially
    start_ikev1d $p-r3 examples/r3.conf "$IKT_RUN/vkl-r3.log" --dataplane kernel
    start_ikev1d $p-r2 examples/r2.conf "$IKT_RUN/vkl-r2.log" --dataplane kernel
    check "vkl: Tunnel23 up within 60 s" wait_sa $p-r2 60
    check "vkl: after the simultaneous start R2 holds one ISAKMP SA and one SA pair" wait_counts $p-r2 "1 1" 15
    serial_end
    spi_before=$(outbound_spi $p-r2)
    serially
    kill -KILL "$(cat "$IKT_RUN/$p-r3.pid")"
    wait "$(cat "$IKT_RUN/$p-r3.pid")" 2>/dev/null || true
    echo "    vkl: after kill -9, R3's kernel holds $(xfrm_states $p-r3) ESP states"
    start_ikev1d $p-r3 examples/r3.conf "$IKT_RUN/vkl-r3-restarted.log" --dataplane kernel
    check "vkl: kill -9 + restart of R3: R2 on a new SA pair within 20 s" new_sa_within $p-r2 "$spi_before" 20
    serial_end
    check "vkl: then 20/20 pings pass" pings $p-r2 fe80::23:3%Tunnel23 20
    check "vkl: survivor R2 holds one ISAKMP SA and one SA pair" wait_counts $p-r2 "1 1" 10
    check "vkl: restarted R3 holds one ISAKMP SA and one SA pair" wait_counts $p-r3 "1 1" 10
    check "vkl: no stale kernel state: R2's kernel holds exactly the ESP states of that pair" kernel_is_show $p-r2 10
    check "vkl: no stale kernel state: R3's kernel holds exactly the ESP states of that pair" kernel_is_show $p-r3 10
}

vnl() {
    local p=${V}nl ns t0
    routers $p-r2 2001:db8::2 $p-r3 2001:db8::3 64
    for ns in $p-r2 $p-r3; do
        if ! ip netns exec $ns tc qdisc add dev eth0 root netem loss 20% delay 100ms 100ms; then
            check "vnl: netem available (sch_netem)" false
            return
        fi
    done
    serially
    t0=$SECONDS
    start_ikev1d $p-r3 examples/r3.conf "$IKT_RUN/vnl-r3.log" --dataplane kernel
    start_ikev1d $p-r2 examples/r2.conf "$IKT_RUN/vnl-r2.log" --dataplane kernel
    check "vnl: 20% loss + 100 ms jitter both ways: Tunnel23 up within 30 s" wait_sa $p-r2 30
    serial_end
    echo "    vnl: up after $((SECONDS - t0)) s, $(count "$IKT_RUN/vnl-r2.log" retransmitting) retransmissions by R2"
    check "vnl: pings get through (>= 5 of 20)" bash -c \
        "ip netns exec $p-r2 ping -n -c 20 -i 0.2 -W 2 fe80::23:3%Tunnel23 | grep -qE ' ([5-9]|1[0-9]|20) received'"
}

vdp() {
    local p=${V}dp t0 n
    routers $p-r2 2001:db8::2 $p-r3 2001:db8::3 64
    variant examples/r2.conf "$IKT_RUN/dp-r2.conf" "$(dpd_line 10 3)"
    variant examples/r3.conf "$IKT_RUN/dp-r3.conf" "$(dpd_line 10 3)"
    serially
    start_ikev1d $p-r3 "$IKT_RUN/dp-r3.conf" "$IKT_RUN/vdp-r3.log" --dataplane kernel
    start_ikev1d $p-r2 "$IKT_RUN/dp-r2.conf" "$IKT_RUN/vdp-r2.log" --dataplane kernel
    check "vdp: Tunnel23 up within 60 s" wait_sa $p-r2 60
    serial_end
    ip -n $p-r3 link set eth0 down
    t0=$SECONDS
    check "vdp: R3's link down: R2 removes the SA pair within 40 s (S*R+S)" wait_pairs $p-r2 0 40
    echo "    vdp: SAs gone $((SECONDS - t0)) s after the link went down"
    n=$(count "$IKT_RUN/vdp-r2.log" 'DPD timeout')
    check "vdp: the DPD timeout is logged in one line ($n)" test "$n" = 1
    check "vdp: R2's kernel holds no ESP state" kernel_is_show $p-r2 5
}

all=(vrk vkl vnl vdp)
for s in "${@:-${all[@]}}"; do scenario "$s" "$s"; done
wait_scenarios $((RUN_S * 2 + 150))
suite_end
