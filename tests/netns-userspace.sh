#!/bin/bash
# netns-userspace.sh - two ikev1d with the seed's IOS configuration on this machine's
# kernel (no XFRM ESP, so the userspace data path): Tunnel23 comes up, the seed's ping
# passes 5/5, `show ipsec` counters match, the data path is reported as userspace.
set -euo pipefail
cd "$(dirname "$0")/.."
IKT_RUN=$(mktemp -d /tmp/ikt-us.XXXXXX)
. scripts/lib.sh
trap lib_cleanup EXIT

routers ikt-us-r2 2001:db8::2 ikt-us-r3 2001:db8::3 64
start_ikev1d ikt-us-r3 examples/r3.conf "$IKT_RUN/r3.log"
cp examples/r2.conf "$IKT_RUN/r2.conf"
start_ikev1d ikt-us-r2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2.log"

check "Tunnel23 SAs up within 20 s" wait_sa ikt-us-r2 20
check "R3 has the SA pair too" wait_sa ikt-us-r3 10
check "ping fe80::23:3%Tunnel23 5/5" ip netns exec ikt-us-r2 ping -c 5 -i 0.2 -W 2 fe80::23:3%Tunnel23
check "ping 192.168.23.3 5/5" ip netns exec ikt-us-r2 ping -c 5 -i 0.2 -W 2 192.168.23.3
sleep 0.3
counters_match() {
    local r2 r3
    r2=$(json_field ikt-us-r2 ipsec 'a[0]["outbound"]["packets"], a[0]["inbound"]["packets"], a[0]["dataplane"]')
    r3=$(json_field ikt-us-r3 ipsec 'a[0]["inbound"]["packets"], a[0]["outbound"]["packets"], a[0]["dataplane"]')
    echo "R2 out/in: $r2   R3 in/out: $r3"
    [ "$r2" = "$r3" ] && python3 -c "import sys; o,i,d='$r2'.split(); sys.exit(0 if int(o)>=10 and int(i)>=10 and d=='userspace' else 1)"
}
check "counters: R2 encaps = R3 decaps >= 10, dataplane userspace" counters_match
check "show ipsec in IOS layout" bash -c "ip netns exec ikt-us-r2 $IKT_BIN show ipsec --socket $IKT_RUN/ikt-us-r2.sock | grep -q '#pkts encaps: [1-9]'"
check "show isakmp QM_IDLE" bash -c "ip netns exec ikt-us-r2 $IKT_BIN show isakmp --json --socket $IKT_RUN/ikt-us-r2.sock | grep -q QM_IDLE"
check "debug log has IOS state changes" grep -q "Old State = IKE_I_MM1 New State = IKE_I_MM2" "$IKT_RUN/r2.log"
check "--dataplane kernel refused on this kernel, naming what is missing" bash -c \
    "! ip netns exec ikt-us-r2 timeout 10 $IKT_BIN run --config examples/r2.conf --socket $IKT_RUN/k.sock --dataplane kernel 2>&1 | tee $IKT_RUN/k.log >/dev/null; grep -qi 'ESP' $IKT_RUN/k.log"
# SIGHUP: an unchanged tunnel keeps its SAs; a bad file is rejected, the running one kept
spis() { json_field ikt-us-r2 ipsec '[(s["inbound"]["spi"], s["outbound"]["spi"]) for s in a]'; }
before=$(spis)
echo "! reloaded" >> "$IKT_RUN/r2.conf"
kill -HUP "$(cat "$IKT_RUN/ikt-us-r2.pid")"; sleep 1
after=$(spis)
echo "SPIs before/after SIGHUP: $before / $after"
check "SIGHUP, same tunnel: SAs kept" [ "$after" = "$before" ]
check "SIGHUP: reload logged" grep -q "configuration reloaded" "$IKT_RUN/r2.log"
sed -i 's/set transform-set TRA/set transform-set NOSUCH/' "$IKT_RUN/r2.conf"
kill -HUP "$(cat "$IKT_RUN/ikt-us-r2.pid")"; sleep 1
check "SIGHUP, bad file: rejected with FILE:LINE, running config kept" grep -q "reload rejected.*r2.conf:[0-9]*:" "$IKT_RUN/r2.log"
check "SIGHUP, bad file: tunnel still passes traffic" ip netns exec ikt-us-r2 ping -c 2 -i 0.2 -W 2 fe80::23:3%Tunnel23

if [ $IKT_FAILED != 0 ]; then
    echo "--- R2 log"; tail -30 "$IKT_RUN/r2.log"; echo "--- R3 log"; tail -30 "$IKT_RUN/r3.log"
fi
exit $IKT_FAILED
