#!/bin/bash
# netns-userspace.sh - two ikev1d with the seed's IOS configuration on this machine's
# kernel (no XFRM ESP, so the userspace data path): Tunnel23 comes up, the seed's ping
# passes 5/5, `show ipsec` counters match, the data path is reported as userspace.
# Namespaces $IKT_NS-us-r2/-r3.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin netns-userspace
R2=$IKT_NS-us-r2 R3=$IKT_NS-us-r3

routers $R2 2001:db8::2 $R3 2001:db8::3 64
start_ikev1d $R3 examples/r3.conf "$IKT_RUN/r3.log"
cp examples/r2.conf "$IKT_RUN/r2.conf"
start_ikev1d $R2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2.log"

check "Tunnel23 SAs up within 20 s" wait_sa $R2 20
check "R3 has the SA pair too" wait_sa $R3 10
check "ping fe80::23:3%Tunnel23 5/5" pings $R2 fe80::23:3%Tunnel23 5
check "ping 192.168.23.3 5/5" pings $R2 192.168.23.3 5
sleep 0.3
counters_match() {
    local r2 r3
    r2=$(json_field $R2 ipsec '.[0] | "\(.outbound.packets) \(.inbound.packets) \(.dataplane)"')
    r3=$(json_field $R3 ipsec '.[0] | "\(.inbound.packets) \(.outbound.packets) \(.dataplane)"')
    echo "    R2 out/in: $r2   R3 in/out: $r3"
    local o i d
    read -r o i d <<<"$r2"
    [ "$r2" = "$r3" ] && [ "$o" -ge 10 ] && [ "$i" -ge 10 ] && [ "$d" = userspace ]
}
check "counters: R2 encaps = R3 decaps >= 10, dataplane userspace" counters_match
ipsec_layout() { show $R2 ipsec | grep -q "#pkts encaps: [1-9]"; }
check "show ipsec in IOS layout" ipsec_layout
check "show isakmp QM_IDLE" test "$(json_field $R2 isakmp '.[0].state')" = QM_IDLE
# a whole line, as the engine's event reads (level, then its text and nothing else): what
# cargo test troubleshooting_doc checks docs/troubleshooting.md's quotes against
check "debug log has IOS state changes, one event a line" \
    grep -qE "^[^ ]+ +DEBUG Old State = IKE_I_MM1 New State = IKE_I_MM2$" "$IKT_RUN/r2.log"
# the one line of the doc's tables that the daemon, not the engine, prints
check "log says INFO ikev1d ready as docs/troubleshooting.md quotes it" \
    grep -qE "^[^ ]+ +INFO ikev1d ready tunnels=1 dataplane=Userspace$" "$IKT_RUN/r2.log"
refused() {
    ! ip netns exec $R2 timeout 10 "$IKT_BIN" run --config examples/r2.conf \
        --socket "$IKT_RUN/k.sock" --dataplane kernel >"$IKT_RUN/k.log" 2>&1 &&
        grep -qi 'ESP' "$IKT_RUN/k.log"
}
check "--dataplane kernel refused on this kernel, naming what is missing" refused
# SIGHUP: an unchanged tunnel keeps its SAs; a bad file is rejected, the running one kept
spis() { json_field $R2 ipsec '[.[] | [.inbound.spi, .outbound.spi]] | tostring'; }
before=$(spis)
echo "! reloaded" >>"$IKT_RUN/r2.conf"
kill -HUP "$(cat "$IKT_RUN/$R2.pid")"
check "SIGHUP: reload logged" until_true 5 grep -q "configuration reloaded" "$IKT_RUN/r2.log"
after=$(spis)
echo "    SPIs before/after SIGHUP: $before / $after"
check "SIGHUP, same tunnel: SAs kept" [ "$after" = "$before" ]
sed -i 's/set transform-set TRA/set transform-set NOSUCH/' "$IKT_RUN/r2.conf"
kill -HUP "$(cat "$IKT_RUN/$R2.pid")"
check "SIGHUP, bad file: rejected with FILE:LINE, running config kept" \
    until_true 5 grep -q "reload rejected.*r2.conf:[0-9]*:" "$IKT_RUN/r2.log"
check "SIGHUP, bad file: tunnel still passes traffic" pings $R2 fe80::23:3%Tunnel23 2
suite_end
