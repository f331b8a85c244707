#!/bin/bash
# knobs.sh - the interface and phase 2 lines of IOS, carried out by the data path: two
# ikev1d, hosts behind them where forwarding matters. With no argument: the userspace
# data path on this machine, scenarios at once; `knobs.sh kernel`: the kernel data path,
# one scenario after the other, idle beside them (tests/vm-knobs.sh runs it so inside
# the VM).
#   mss      ip tcp adjust-mss 1360 / ipv6 tcp adjust-mss 1340 on R2 only: a forwarded
#            SYN from a host behind R2 reaches the host behind R3 with the clamped MSS,
#            the SYN-ACK back reaches it clamped by R2 too (IPv4 and IPv6); a reload to
#            1300 applies at once and keeps the SAs (the kernel path: its nftables
#            table, replaced after a kill -9, gone after SIGTERM)
#   df       crypto ipsec df-bit clear | copy (default) | set, one tunnel each: the outer
#            IPv4 header of a ping with and without DF, seen on the wire
#   lines    lifetime kilobytes disable, replay window-size 1024 / replay disable in
#            show ipsec (and ip xfrm state); ip unnumbered, a secondary address and ipv6
#            enable on the interfaces, each carrying a ping
#   idle     set security-association idle-time 60: the pair goes after 60 s without
#            traffic, the interface and the ISAKMP SA stay, a ping brings a new pair
#   overlay  tunnel mode ipsec ipv4 v6-overlay and ipv6 v4-overlay: pings of the
#            overlay's family (the kernel path: af-unspec states)
#   pmtu     tunnel path-mtu-discovery, a 1400-byte link between the routers: after the
#            first packets too large for it, the host behind R2 is told a smaller MTU
#            (the userspace path lowers Tunnel23's), and packets of that size cross
# Arguments after the data path: the scenarios to run (default: all). Namespaces
# $IKT_NS-k*.
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
DP=userspace
[ "${1:-}" != kernel ] || { DP=kernel; shift; }
[ "${1:-}" != userspace ] || shift
suite_begin knobs
K=$IKT_NS-k${DP:0:1}

# run_ikev1d NS CONFIG LOG: the daemon on this suite's data path
run_ikev1d() { start_ikev1d "$1" "$2" "$3" --dataplane $DP; }

# lans P: host P-h2 (192.0.2.10, 2001:db8:2::10) behind P-r2 (LAN 192.0.2.0/26,
# 2001:db8:2::/64) and P-h3 (192.0.2.70, 2001:db8:3::10) behind P-r3 (192.0.2.64/26,
# 2001:db8:3::/64), the routers forwarding
lans() {
    local p=$1 side n h v6
    for side in 2 3; do
        add_netns "$p-h$side" || return 1
        ip link add lan0 netns "$p-r$side" type veth peer name eth0 netns "$p-h$side"
        if [ $side = 2 ]; then n=0 h=10 v6=2; else n=64 h=70 v6=3; fi
        ip -n "$p-r$side" addr add 192.0.2.$((n + 1))/26 dev lan0
        ip -n "$p-r$side" addr add 2001:db8:$v6::1/64 dev lan0 nodad
        ip -n "$p-h$side" addr add 192.0.2.$h/26 dev eth0
        ip -n "$p-h$side" addr add 2001:db8:$v6::10/64 dev eth0 nodad
        for ns in "$p-r$side" "$p-h$side"; do ip -n "$ns" link set "$([ "$ns" = "$p-r$side" ] && echo lan0 || echo eth0)" up; done
        ip -n "$p-h$side" route add default via 192.0.2.$((n + 1))
        ip -n "$p-h$side" -6 route add default via 2001:db8:$v6::1
        ip netns exec "$p-r$side" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    done
}

# conf FILE PEER-KEY-LINE PROFILE-LINES INTERFACE-BLOCKS [GLOBAL-LINES]: an IOS
# configuration, mode 600
conf() {
    {
        echo "crypto isakmp policy 10"
        echo " encr aes 256"; echo " hash sha256"; echo " authentication pre-share"; echo " group 14"
        echo "$2"
        echo "crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac"
        echo "${5:-}"
        echo "crypto ipsec profile PRO"
        echo " set transform-set TS"
        echo "$3"
        echo "$4"
    } >"$1"
    chmod 600 "$1"
}
KEY6="crypto isakmp key Knob-Key address ipv6 ::/0"
KEY4="crypto isakmp key Knob-Key address 0.0.0.0 0.0.0.0"

# tunnel N SOURCE DESTINATION MODE LINES...: an interface TunnelN block
tunnel() {
    local n=$1 src=$2 dst=$3 mode=$4 l; shift 4
    echo "interface Tunnel$n"
    for l in "$@"; do echo " $l"; done
    echo " tunnel source $src"; echo " tunnel mode ipsec $mode"
    echo " tunnel destination $dst"; echo " tunnel protection ipsec profile PRO"
}

# capture NS IF OUT FILTER...: tcpdump -v in the background, ready when it returns
capture() {
    local ns=$1 dev=$2 out=$3 t0=$SECONDS; shift 3
    ip netns exec "$ns" tcpdump -nn -l -v -i "$dev" "$@" >"$out" 2>"$out.err" &
    IKT_PIDS+=($!)
    until grep -q "listening on" "$out.err" 2>/dev/null; do
        [ $((SECONDS - t0)) -lt 10 ] || return 1
        sleep 0.1
    done
}

# segment FILE FLAGS ADDRESS: tcpdump's line of the first segment with FLAGS (S: SYN,
# S.: SYN-ACK) sent from ADDRESS (for IPv4 -v puts it on a line of its own, for IPv6
# after the header's fields)
segment() {
    grep -E "(^ +|\) )${3//./\\.}\.[0-9]+ > " "$1" | grep -F "Flags [$2]," | head -n 1
}

# expect_mss FILE FLAGS ADDRESS MSS [correct]: within 5 s FILE shows that segment with
# MSS (and, received by the capturing host, a TCP checksum tcpdump finds correct)
expect_mss() {
    local t0=$SECONDS line got
    while :; do
        line=$(segment "$1" "$2" "$3")
        [ -z "$line" ] || break
        [ $((SECONDS - t0)) -lt 5 ] || break
        sleep 0.2
    done
    got=$(sed -nE 's/.*options \[mss ([0-9]+).*/\1/p' <<<"$line")
    echo "    [$2] from $3: mss ${got:-none seen}$(grep -oE 'cksum 0x[0-9a-f]+ \([a-z]+' <<<"$line" | sed 's/^/, /; s/$/)/')"
    [ "$got" = "$4" ] && { [ "${5:-}" != correct ] || grep -qF '(correct)' <<<"$line"; }
}

mss() {
    local p=${K}m c=$IKT_RUN/${K}m
    routers $p-r2 2001:db8::2 $p-r3 2001:db8::3 64
    lans $p
    conf "$c-r2.conf" "$KEY6" "" "$(tunnel 23 eth0 2001:db8::3 ipv6 \
        "ip address 192.168.23.2 255.255.255.0" "ipv6 address FE80::23:2 link-local" \
        "ip tcp adjust-mss 1360" "ipv6 tcp adjust-mss 1340")
ip route 192.0.2.64 255.255.255.192 Tunnel23
ipv6 route 2001:db8:3::/64 Tunnel23"
    conf "$c-r3.conf" "$KEY6" "" "$(tunnel 23 eth0 2001:db8::2 ipv6 \
        "ip address 192.168.23.3 255.255.255.0" "ipv6 address FE80::23:3 link-local")
ip route 192.0.2.0 255.255.255.192 Tunnel23
ipv6 route 2001:db8:2::/64 Tunnel23"
    run_ikev1d $p-r3 "$c-r3.conf" "$c-r3.log"
    run_ikev1d $p-r2 "$c-r2.conf" "$c-r2.log"
    check "mss: SAs up" wait_sa $p-r2 60
    check "mss: host to host ping across" pings $p-h2 192.0.2.70 3
    ip netns exec $p-h3 iperf3 -s >/dev/null 2>&1 &
    IKT_PIDS+=($!)
    capture $p-h2 eth0 "$c-h2.cap" tcp
    capture $p-h3 eth0 "$c-h3.cap" tcp
    sleep 1 # iperf3 listening
    for dst in 192.0.2.70 2001:db8:3::10; do
        ip netns exec $p-h2 timeout 5 bash -c "exec 3<>/dev/tcp/$dst/5201" || true
    done
    check "mss: IPv4 SYN from h2 (1460) reaches h3 with MSS 1360 (R2's ip tcp adjust-mss)" \
        expect_mss "$c-h3.cap" S 192.0.2.10 1360 correct
    check "mss: h3's SYN-ACK leaves with MSS 1460" expect_mss "$c-h3.cap" S. 192.0.2.70 1460
    check "mss: ... and reaches h2 with MSS 1360 (R2 clamps what leaves the tunnel too)" \
        expect_mss "$c-h2.cap" S. 192.0.2.70 1360 correct
    check "mss: IPv6 SYN from h2 (1440) reaches h3 with MSS 1340 (ipv6 tcp adjust-mss)" \
        expect_mss "$c-h3.cap" S 2001:db8:2::10 1340 correct
    check "mss: IPv6 SYN-ACK reaches h2 with MSS 1340" expect_mss "$c-h2.cap" S. 2001:db8:3::10 1340 correct
    # A reload that changes the line: in place, the SA pair kept.
    local spi
    spi=$(outbound_spi $p-r2)
    sed -i 's/ip tcp adjust-mss 1360/ip tcp adjust-mss 1300/' "$c-r2.conf"
    kill -HUP "$(cat "$IKT_RUN/$p-r2.pid")"
    check "mss: SIGHUP with adjust-mss 1300: reloaded" until_true 10 grep -q "configuration reloaded" "$c-r2.log"
    capture $p-h3 eth0 "$c-h3-reloaded.cap" tcp
    sleep 2 # the data path worker applies it after the log line
    ip netns exec $p-h2 timeout 5 bash -c "exec 3<>/dev/tcp/192.0.2.70/5201" || true
    check "mss: ... the next SYN reaches h3 with MSS 1300" expect_mss "$c-h3-reloaded.cap" S 192.0.2.10 1300 correct
    check "mss: ... over the same SA pair" eval "[ \"\$(outbound_spi $p-r2)\" = '$spi' ] && pings $p-h2 192.0.2.70 3"
    if [ $DP = kernel ]; then
        local tables="ip netns exec $p-r2 nft list tables inet"
        check "mss: R2's nftables table ikev1d_Tunnel23 holds the clamp" bash -c \
            "ip netns exec $p-r2 nft list table inet ikev1d_Tunnel23 | grep -q 'maxseg size set 1300'"
        # A crashed R2 leaves its table; the next one replaces it.
        kill -KILL "$(cat "$IKT_RUN/$p-r2.pid")"
        wait "$(cat "$IKT_RUN/$p-r2.pid")" 2>/dev/null || true
        run_ikev1d $p-r2 "$c-r2.conf" "$c-r2-again.log"
        check "mss: after kill -9 and a restart, SAs up again" new_sa_within $p-r2 0 60
        check "mss: ... with one table, the clamp in it" bash -c \
            "[ \$($tables | grep -c ikev1d) = 1 ] && ip netns exec $p-r2 nft list table inet ikev1d_Tunnel23 | grep -q 'maxseg size set 1300'"
        kill -TERM "$(cat "$IKT_RUN/$p-r2.pid")"
        check "mss: SIGTERM removes the table" until_true 15 eval "! $tables | grep -q ikev1d"
    fi
}

# df_flags FILE: the IPv4 flags of the ESP packets in FILE, one a line
df_flags() { sed -nE 's/.* IP .*flags \[([^]]*)\].*proto ESP.*/\1/p' "$1"; }

# df_case P TAG SRC INNER-PEER WITH-DF WITHOUT-DF: a ping with DF and one without from
# R2 to INNER-PEER; the outer headers from SRC carry WITH-DF and WITHOUT-DF
df_case() {
    local p=$1 tag=$2 src=$3 dst=$4 cap=$IKT_RUN/${K}d-$2.cap got
    capture $p-r3 eth0 "$cap" "src host $src and esp"
    ip netns exec $p-r2 ping -n -q -c 1 -W 2 -M do "$dst" >/dev/null
    ip netns exec $p-r2 ping -n -q -c 1 -W 2 -M dont "$dst" >/dev/null
    until_true 5 eval "[ \$(df_flags $cap | wc -l) -ge 2 ]"
    got=$(df_flags "$cap" | head -n 2 | tr '\n' ' ')
    echo "    $tag: outer flags of a DF ping, then a non-DF ping: ${got:-none seen}"
    check "df: $tag: outer DF [$5] then [$6]" test "$got" = "$5 $6 "
}

df() {
    local p=${K}d c=$IKT_RUN/${K}d n a
    routers $p-r2 198.51.100.2 $p-r3 198.51.100.3 24
    for a in 12 22; do
        ip -n $p-r2 addr add 198.51.100.$a/24 dev eth0
        ip -n $p-r3 addr add 198.51.100.$((a + 1))/24 dev eth0
    done
    # Tunnel1 df-bit clear (the global line), Tunnel2 copy (its own line), Tunnel3 set
    for side in 2 3; do
        local me=$side them=$((5 - side)) blocks=""
        for n in 1 2 3; do
            local line=""
            [ $n = 2 ] && line="crypto ipsec df-bit copy"
            [ $n = 3 ] && line="crypto ipsec df-bit set"
            blocks+="$(tunnel $n 198.51.100.$(( (n - 1) * 10 + me )) 198.51.100.$(( (n - 1) * 10 + them )) ipv4 \
                "ip address 192.168.23.$(( (n - 1) * 4 + me - 1 )) 255.255.255.252" ${line:+"$line"})"$'\n'
        done
        conf "$c-r$side.conf" "$KEY4" "" "$blocks" "crypto ipsec df-bit clear"
    done
    run_ikev1d $p-r3 "$c-r3.conf" "$c-r3.log"
    run_ikev1d $p-r2 "$c-r2.conf" "$c-r2.log"
    check "df: three tunnels' SAs up" wait_pairs $p-r2 3 60
    df_case $p clear 198.51.100.2 192.168.23.2 none none
    df_case $p copy 198.51.100.12 192.168.23.6 DF none
    df_case $p set 198.51.100.22 192.168.23.10 DF DF
}

lines() {
    local p=${K}l c=$IKT_RUN/${K}l ll
    routers $p-r2 2001:db8::2 $p-r3 2001:db8::3 64
    lans $p
    conf "$c-r2.conf" "$KEY6" " set security-association lifetime kilobytes disable
 set security-association replay window-size 1024" "$(tunnel 23 eth0 2001:db8::3 ipv6 \
        "ip unnumbered lan0" "ipv6 enable")
ip route 192.168.23.0 255.255.255.0 Tunnel23
ip route 198.51.100.128 255.255.255.128 Tunnel23"
    conf "$c-r3.conf" "$KEY6" " set security-association replay disable" "$(tunnel 23 eth0 2001:db8::2 ipv6 \
        "ip address 192.168.23.3 255.255.255.0" "ip address 198.51.100.129 255.255.255.128 secondary" \
        "ipv6 enable")
ip route 192.0.2.0 255.255.255.192 Tunnel23" "crypto ipsec security-association lifetime kilobytes disable"
    run_ikev1d $p-r3 "$c-r3.conf" "$c-r3.log"
    run_ikev1d $p-r2 "$c-r2.conf" "$c-r2.log"
    check "lines: SAs up" wait_sa $p-r2 60
    check "lines: kilobytes disable: no kilobytes in show ipsec --json (null)" eval \
        "[ \"\$(json_field $p-r2 ipsec '.[0] | [.inbound.lifetime_remaining_kb, .outbound.lifetime_remaining_kb] | map(tostring) | join(\" \")')\" = 'null null' ]"
    check "lines: ... and the IOS timing line in seconds only" eval \
        "show $p-r2 ipsec | grep -q 'sa timing: remaining key lifetime (sec): (' && ! show $p-r2 ipsec | grep -q 'k/sec'"
    check "lines: replay window-size 1024 on R2, replay disable on R3 (show ipsec)" eval \
        "[ \"\$(json_field $p-r2 ipsec '.[0].replay_window') \$(json_field $p-r3 ipsec '.[0].replay_window')\" = '1024 0' ] && show $p-r3 ipsec | grep -q 'replay detection support: N'"
    if [ $DP = kernel ]; then
        ip -n $p-r2 -s xfrm state >"$c-r2.xfrm"
        ip -n $p-r3 -s xfrm state >"$c-r3.xfrm"
        check "lines: R2's XFRM states have a 1024-packet replay window" bash -c \
            "[ \$(grep -c 'replay_window 1024' $c-r2.xfrm) = 2 ]"
        check "lines: R3's XFRM states have none (replay-window 0, no bitmap)" bash -c \
            "[ \$(grep -c 'replay-window 0 seq' $c-r3.xfrm) = 2 ] && ! grep -q 'esn context' $c-r3.xfrm"
        check "lines: no byte limit in any XFRM state (kilobytes disable)" bash -c \
            "[ \$(grep -c 'soft (INF)(bytes), hard (INF)(bytes)' $c-r2.xfrm) = 2 ]"
    fi
    check "lines: ip unnumbered lan0: R2's Tunnel23 borrows 192.0.2.1 as a /32" bash -c \
        "ip -n $p-r2 addr show dev Tunnel23 | grep -q 'inet 192.0.2.1/32'"
    check "lines: R3's secondary address 198.51.100.129/25 is on its Tunnel23" bash -c \
        "ip -n $p-r3 addr show dev Tunnel23 | grep -q 'inet 198.51.100.129/25'"
    check "lines: R2 pings R3 from the borrowed address" pings $p-r2 192.168.23.3 3
    check "lines: a host behind R2 pings R3's secondary address" pings $p-h2 198.51.100.129 3
    ll=$(ip -n $p-r3 -6 addr show dev Tunnel23 scope link | sed -nE 's/.*inet6 (fe80::[0-9a-f:]+)\/64.*/\1/p')
    check "lines: ipv6 enable: one link-local on each side, no global" bash -c \
        "[ \$(ip -n $p-r2 -6 addr show dev Tunnel23 | grep -c inet6) = 1 ] && [ -n '$ll' ] && \
         ! ip -n $p-r3 -6 addr show dev Tunnel23 scope global | grep -q inet6"
    check "lines: ping6 R3's link-local $ll across" pings $p-r2 "$ll%Tunnel23" 3
}

idle() {
    local p=${K}i c=$IKT_RUN/${K}i side t_last t_gone old new
    routers $p-r2 2001:db8::2 $p-r3 2001:db8::3 64
    # Routers forward: no router solicitations on the tunnel to keep it busy.
    for side in r2 r3; do ip netns exec $p-$side sysctl -qw net.ipv6.conf.all.forwarding=1; done
    variant examples/r2.conf "$c-r2.conf" '/^ *set transform-set TRA/a set security-association idle-time 60'
    variant examples/r3.conf "$c-r3.conf" '/^ *set transform-set TRA/a set security-association idle-time 60'
    run_ikev1d $p-r3 "$c-r3.conf" "$c-r3.log"
    run_ikev1d $p-r2 "$c-r2.conf" "$c-r2.log"
    check "idle: SAs up" wait_sa $p-r2 60
    check "idle: ping across" pings $p-r2 192.168.23.3 3
    t_last=$SECONDS
    old=$(outbound_spi $p-r2)
    check "idle: no pair 60 s after the last packet (within 90 s)" until_true 90 pairs_are $p-r2 0
    t_gone=$((SECONDS - t_last))
    echo "    pair gone $t_gone s after the last ping"
    check "idle: ... not before 55 s" test $t_gone -ge 55
    check "idle: the log says why" logged_info "idle: no traffic for 60 s \(set security-association idle-time\)" "$c-r2.log" "$c-r3.log"
    check "idle: R3 deleted its pair too" until_true 10 pairs_are $p-r3 0
    sleep 10
    check "idle: 10 s later neither side brought it back, the ISAKMP SA stays" eval \
        "[ \"\$(sa_counts $p-r2) \$(sa_counts $p-r3)\" = '1 0 1 0' ]"
    check "idle: Tunnel23 stays up" bash -c "ip -n $p-r2 link show Tunnel23 | grep -q ',UP'"
    ip netns exec $p-r2 ping -n -q -c 20 -i 0.5 -W 1 192.168.23.3 >"$c.ping" 2>&1 || true
    echo "    $(grep 'packets transmitted' "$c.ping")"
    check "idle: a ping brings a new pair" wait_sa $p-r2 10
    new=$(outbound_spi $p-r2)
    check "idle: ... on new SPIs ($old -> $new), the later echoes answered" eval \
        "[ -n '$new' ] && [ '$new' != '$old' ] && grep -qE ' ([1-9][0-9]*) received' $c.ping && pings $p-r2 192.168.23.3 3"
}

# logged_info REGEX LOG...: an INFO line of one of the LOGs matches REGEX
logged_info() {
    local re=$1; shift
    grep -hE "INFO .*$re" "$@" | head -n 1 | sed 's/^/    /' | grep .
}

overlay() {
    local p=${K}o c=$IKT_RUN/${K}o
    # v6-overlay: IPv4 endpoints, IPv6 inside
    routers $p-a2 198.51.100.2 $p-a3 198.51.100.3 24
    conf "$c-a2.conf" "$KEY4" "" "$(tunnel 9 198.51.100.2 198.51.100.3 "ipv4 v6-overlay" "ipv6 address 2001:db8:9::2/64")"
    conf "$c-a3.conf" "$KEY4" "" "$(tunnel 9 198.51.100.3 198.51.100.2 "ipv4 v6-overlay" "ipv6 address 2001:db8:9::3/64")"
    # v4-overlay: IPv6 endpoints, IPv4 inside
    routers $p-b2 2001:db8::2 $p-b3 2001:db8::3 64
    conf "$c-b2.conf" "$KEY6" "" "$(tunnel 9 eth0 2001:db8::3 "ipv6 v4-overlay" "ip address 192.168.23.2 255.255.255.0")"
    conf "$c-b3.conf" "$KEY6" "" "$(tunnel 9 eth0 2001:db8::2 "ipv6 v4-overlay" "ip address 192.168.23.3 255.255.255.0")"
    local s
    for s in a3 a2 b3 b2; do run_ikev1d $p-$s "$c-$s.conf" "$c-$s.log"; done
    check "overlay: v6-overlay SAs up" wait_sa $p-a2 60
    check "overlay: v6-overlay: IPv6 ping across IPv4 ESP" pings $p-a2 2001:db8:9::3 3
    check "overlay: v6-overlay: proxy identities ::/0" eval "show $p-a2 ipsec | grep -q 'local  ident (addr/mask/prot/port): (::/0/0/0)'"
    check "overlay: v4-overlay SAs up" wait_sa $p-b2 60
    check "overlay: v4-overlay: IPv4 ping across IPv6 ESP" pings $p-b2 192.168.23.3 3
    check "overlay: v4-overlay: proxy identities 0.0.0.0/0" eval "show $p-b2 ipsec | grep -q 'local  ident (addr/mask/prot/port): (0.0.0.0/0/0/0)'"
    if [ $DP = kernel ]; then
        check "overlay: the XFRM states carry both families (af-unspec)" bash -c \
            "ip -n $p-a2 xfrm state | grep -q 'src 198.51.100.2' && [ \$(ip -n $p-a2 xfrm state | grep -c 'af-unspec') = 2 ] && [ \$(ip -n $p-b2 xfrm state | grep -c 'af-unspec') = 2 ]"
    fi
}

pmtu() {
    local p=${K}p c=$IKT_RUN/${K}p ns learnt
    # R2 - M - R3, the M-R3 link with an MTU of 1400
    for ns in r2 m r3; do add_netns $p-$ns || return 1; done
    ip link add eth0 netns $p-r2 type veth peer name to-r2 netns $p-m
    ip link add to-r3 netns $p-m type veth peer name eth0 netns $p-r3
    ip -n $p-m link set to-r3 mtu 1400
    ip -n $p-r3 link set eth0 mtu 1400
    ip -n $p-r2 addr add 198.51.100.2/25 dev eth0
    ip -n $p-m addr add 198.51.100.1/25 dev to-r2
    ip -n $p-m addr add 198.51.100.129/25 dev to-r3
    ip -n $p-r3 addr add 198.51.100.130/25 dev eth0
    for ns in r2:eth0 m:to-r2 m:to-r3 r3:eth0; do ip -n $p-${ns%:*} link set ${ns#*:} up; done
    ip -n $p-r2 route add default via 198.51.100.1
    ip -n $p-r3 route add default via 198.51.100.129
    ip netns exec $p-m sysctl -qw net.ipv4.ip_forward=1
    lans $p
    conf "$c-r2.conf" "$KEY4" "" "$(tunnel 23 eth0 198.51.100.130 ipv4 \
        "ip address 192.168.23.2 255.255.255.0" "tunnel path-mtu-discovery")
ip route 192.0.2.64 255.255.255.192 Tunnel23"
    conf "$c-r3.conf" "$KEY4" "" "$(tunnel 23 eth0 198.51.100.2 ipv4 \
        "ip address 192.168.23.3 255.255.255.0" "tunnel path-mtu-discovery")
ip route 192.0.2.0 255.255.255.192 Tunnel23"
    run_ikev1d $p-r3 "$c-r3.conf" "$c-r3.log"
    run_ikev1d $p-r2 "$c-r2.conf" "$c-r2.log"
    check "pmtu: SAs up" wait_sa $p-r2 60
    check "pmtu: small pings cross" pings $p-h2 192.0.2.70 3
    # 1400-byte packets with DF: their ESP packets exceed the M-R3 link; M says so.
    ip netns exec $p-h2 ping -n -q -c 3 -i 0.5 -W 1 -M do -s 1372 192.0.2.70 >/dev/null 2>&1 || true
    sleep 2
    ip netns exec $p-h2 ping -n -c 2 -i 0.5 -W 1 -M do -s 1372 192.0.2.70 >"$c.ping" 2>&1 || true
    learnt=$(ip -n $p-h2 route get 192.0.2.70 | sed -nE 's/.* mtu ([0-9]+).*/\1/p')
    echo "    h2: $(grep -m1 -oE 'Frag needed.*|message too long.*' "$c.ping"); route to h3: mtu ${learnt:-none}"
    check "pmtu: h2 is told an MTU between 1280 and 1400" eval "[ -n '$learnt' ] && [ '$learnt' -lt 1400 ] && [ '$learnt' -ge 1280 ]"
    if [ $DP = userspace ]; then
        check "pmtu: R2 lowered Tunnel23's MTU to 1315 (1400 - IPv4 - ESP overhead)" bash -c \
            "ip -n $p-r2 link show Tunnel23 | grep -q 'mtu 1315 '"
        check "pmtu: ... and says why" logged_info "path MTU to 198.51.100.130 is 1400: Tunnel23 MTU 1415 -> 1315 \(tunnel path-mtu-discovery\)" "$c-r2.log"
    fi
    check "pmtu: pings of that size with DF cross" pings_df $p-h2 192.0.2.70 3 $((${learnt:-1400} - 28))
}

# pings_df NS TARGET N SIZE: N of N echoes of SIZE bytes with DF answered
pings_df() {
    local out
    out=$(ip netns exec "$1" ping -n -q -c "$3" -i 0.2 -W 2 -M do -s "$4" "$2" 2>&1) || true
    echo "    ping -s $4 $2: $(grep 'packets transmitted' <<<"$out")"
    [[ $out =~ (^|$'\n')$3\ packets\ transmitted,\ $3\ received ]]
}

all=(mss df lines idle overlay pmtu)
[ $# -gt 0 ] && all=("$@")
echo "data path: $DP"
if [ $DP = userspace ]; then
    for s in "${all[@]}"; do scenario "$s" "$s"; done
else
    # the VM's emulated CPU: one scenario at a time, each cleaning up after itself; but
    # idle, whose 60 s without traffic (and 10 s more) leave the CPU to the others, runs
    # beside them, begun first so that its waits overlap their work
    for s in "${all[@]}"; do [ "$s" != idle ] || scenario idle idle; done
    for s in "${all[@]}"; do
        [ "$s" != idle ] || continue
        "$s"
        ikt_cleanup
        IKT_LOGS=()
    done
fi
wait_scenarios 300
suite_end
