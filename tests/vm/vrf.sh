#!/bin/bash
# vrf.sh - runs INSIDE the VM (see tests/vm-vrf.sh): VRFs with two ikev1d (or three), on
# the kernel data path and on the userspace one (`--dataplane userspace`), each scenario
# in namespaces of its own, at once:
#   ivrf-k, ivrf-u  the seed's Tunnel23 with `vrf forwarding BLUE` on R2: BLUE is created
#         (a free table), Tunnel23 enslaved, `ip route vrf BLUE` in its table; pinged
#         from inside VRF BLUE, not reachable from the default VRF; SIGTERM removes BLUE
#   fvrf-k, fvrf-u  `tunnel vrf RED`: R2's outer interface is in VRF RED (which the host
#         has already: SIGTERM leaves it), its key in `crypto keyring ... vrf RED`; IKE
#         and ESP leave through RED; on the kernel path R2 holds 17 more addresses in
#         RED, so its IKE sockets there are the 0.0.0.0 pair bound to RED
#   two-k, two-u  two tunnels to the same peer address 192.0.2.3 from the same local
#         address 192.0.2.2, one through VRF RED, one through VRF GREEN (two routers R3
#         and R4 on two links), each VRF with its own keyring and key: both up at once
#   gre   the README's GRE over IPsec example: GRE with a key in transport mode, the
#         tunnel in VRF BLUE, the underlay in VRF RED, on both routers
# Arguments: the scenarios to run (default: all). Namespaces $IKT_NS-f<scenario>-*.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
suite_begin vrf
F=$IKT_NS-f
echo "kernel $(uname -r)"
modprobe -a vrf ip_gre tun

# vrf_device NS NAME TABLE IF: a VRF device the host has before ikev1d starts, IF in it
vrf_device() {
    ip -n "$1" link add "$2" type vrf table "$3" && ip -n "$1" link set "$2" up &&
        ip -n "$1" link set "$4" master "$2"
}

# readdr NS IF ADDR/LEN: an address (again: moving IF into a VRF takes IPv6's away)
readdr() { ip -n "$1" addr replace "$3" dev "$2" nodad 2>/dev/null || ip -n "$1" addr replace "$3" dev "$2"; }

# in_vrf_pings NS VRF ADDR: 5/5 from inside VRF (ping bound to the VRF device)
in_vrf_pings() {
    local out
    out=$(ip netns exec "$1" ping -n -q -c 5 -i 0.1 -W 2 -I "$2" "$3" 2>&1) || true
    echo "    ping -I $2 $3: $(grep 'packets transmitted' <<<"$out")"
    [[ $out =~ 5\ packets\ transmitted,\ 5\ received ]]
}

# unreachable_outside NS ADDR: from the default VRF there is no route to ADDR
unreachable_outside() {
    local out
    out=$(ip netns exec "$1" ping -n -c 1 -W 1 "$2" 2>&1) && return 1
    echo "    default VRF: $(head -n 1 <<<"$out")"
    true
}

# gone NS IF: no such link
gone() { ! ip -n "$1" link show "$2" >/dev/null 2>&1; }

# unset_up TAG: a scenario whose namespaces, links or VRF devices could not be made
# fails, rather than end without a check
unset_up() { check "$1: namespaces, links and VRF devices set up" false; }

# stop NS: SIGTERM to the ikev1d in NS, until it exited
stop() {
    local pid
    pid=$(cat "$IKT_RUN/$1.pid")
    kill -TERM "$pid"
    until_true 20 eval "! kill -0 $pid 2>/dev/null"
}

ivrf() {
    local dp=$1 t=ivrf-${1:0:1} r2 r3
    r2=$F$t-r2 r3=$F$t-r3
    routers $r2 2001:db8::2 $r3 2001:db8::3 64 || { unset_up $t; return; }
    sed -e 's/^interface Tunnel23$/vrf definition BLUE\n address-family ipv4\n address-family ipv6\n&\n vrf forwarding BLUE/' \
        -e '$a ip route vrf BLUE 10.3.0.0 255.255.0.0 Tunnel23' examples/r2.conf >"$IKT_RUN/$t-r2.conf"
    chmod 600 "$IKT_RUN/$t-r2.conf"
    start_ikev1d $r3 examples/r3.conf "$IKT_RUN/$t-r3.log" --dataplane $dp
    start_ikev1d $r2 "$IKT_RUN/$t-r2.conf" "$IKT_RUN/$t-r2.log" --dataplane $dp
    serially
    check "$t: Tunnel23 SAs up ($dp)" wait_sa $r2 120
    serial_end
    check "$t: BLUE is a VRF device ikev1d made, Tunnel23 its slave" bash -c \
        "ip -n $r2 -d link show BLUE | grep -q 'vrf table' && ip -n $r2 link show Tunnel23 | grep -q 'master BLUE'"
    check "$t: ip route vrf BLUE holds 10.3.0.0/16 via Tunnel23" bash -c \
        "ip -n $r2 route show vrf BLUE | grep -q '^10.3.0.0/16 dev Tunnel23'"
    check "$t: ping 192.168.23.3 from inside VRF BLUE 5/5" in_vrf_pings $r2 BLUE 192.168.23.3
    check "$t: ping fe80::23:3%Tunnel23 5/5" pings $r2 fe80::23:3%Tunnel23 5
    check "$t: 192.168.23.3 is not reachable from the default VRF" unreachable_outside $r2 192.168.23.3
    check "$t: show ipsec: ivrf BLUE, fvrf null" eval \
        "[ \"\$(json_field $r2 ipsec '.[0] | \"\(.ivrf) \(.fvrf)\"')\" = 'BLUE null' ]"
    stop $r2
    check "$t: SIGTERM removes BLUE, which ikev1d created" gone $r2 BLUE
}

# r2_red NS_R2 NS_R3 TAG: R2's eth0 in the VRF RED the host has (table 10)
fvrf() {
    local dp=$1 t=fvrf-${1:0:1} r2 r3 i
    r2=$F$t-r2 r3=$F$t-r3
    routers $r2 192.0.2.2 $r3 192.0.2.3 24 || { unset_up $t; return; }
    vrf_device $r2 RED 10 eth0 && readdr $r2 eth0 192.0.2.2/24 || { unset_up $t; return; }
    {
        echo "vrf definition RED"
        echo " address-family ipv4"
        echo "crypto isakmp policy 10"
        echo " encr aes 256"
        echo " hash sha256"
        echo " authentication pre-share"
        echo " group 14"
        echo "crypto ipsec df-bit clear"
        echo "crypto keyring RED-KEYS vrf RED"
        echo " pre-shared-key address 192.0.2.3 key red-key"
        echo "crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac"
        echo "crypto ipsec profile P"
        echo " set transform-set TS"
        echo "interface Tunnel1"
        echo " ip address 192.168.1.2 255.255.255.0"
        echo " tunnel source eth0"
        echo " tunnel mode ipsec ipv4"
        echo " tunnel destination 192.0.2.3"
        echo " tunnel vrf RED"
        echo " tunnel protection ipsec profile P"
        # On the kernel path R2 also holds 17 shut-down tunnels' addresses in RED (on the
        # VRF device): past 16 its IKE sockets in RED are the 0.0.0.0 pair, bound to RED.
        [ "$dp" = kernel ] && for ((i = 1; i <= 17; i++)); do
            ip -n $r2 addr add "192.0.2.$((100 + i))/32" dev RED
            printf 'interface Tunnel%d\n shutdown\n tunnel source 192.0.2.%d\n tunnel mode ipsec ipv4\n tunnel destination 192.0.2.3\n tunnel vrf RED\n tunnel protection ipsec profile P\n' \
                $((100 + i)) $((100 + i))
        done
    } >"$IKT_RUN/$t-r2.conf"
    sed -e '/^vrf definition RED/,/address-family/d' -e '/tunnel vrf/d' -e 's/192.0.2.3/192.0.2.2/' \
        -e 's/192.168.1.2/192.168.1.3/' -e 's/keyring RED-KEYS vrf RED/keyring GLOBAL-KEYS/' \
        "$IKT_RUN/$t-r2.conf" >"$IKT_RUN/$t-r3.conf"
    chmod 600 "$IKT_RUN/$t-r2.conf" "$IKT_RUN/$t-r3.conf"
    start_ikev1d $r3 "$IKT_RUN/$t-r3.conf" "$IKT_RUN/$t-r3.log" --dataplane $dp
    start_ikev1d $r2 "$IKT_RUN/$t-r2.conf" "$IKT_RUN/$t-r2.log" --dataplane $dp
    serially
    check "$t: Tunnel1 SAs up through VRF RED ($dp)" wait_sa $r2 120
    serial_end
    check "$t: ping 192.168.1.3 5/5" pings $r2 192.168.1.3 5
    check "$t: df-bit clear: a DF ping's ESP packet leaves RED without DF" outer_without_df $r2 $r3
    [ "$dp" != kernel ] || check "$t: R2's 18 addresses in RED: only the 0.0.0.0 pair of IKE sockets, bound to RED" \
        eval "ike_sockets_are $r2 2 && ip netns exec $r2 ss -Huan | grep -q '0.0.0.0%RED:500 '"
    check "$t: show: fvrf RED in show ipsec and show isakmp" eval \
        "[ \"\$(json_field $r2 ipsec '.[0].fvrf')\$(json_field $r2 isakmp '.[0].fvrf')\" = REDRED ]"
    check "$t: the global table has no route to the peer: only RED's does" bash -c \
        "! ip -n $r2 route get 192.0.2.3 >/dev/null 2>&1 && ip -n $r2 route get 192.0.2.3 vrf RED | grep -q eth0"
    stop $r2
    check "$t: SIGTERM leaves RED, which ikev1d did not create" bash -c \
        "ip -n $r2 -d link show RED | grep -q 'vrf table 10' && ip -n $r2 link show eth0 | grep -q 'master RED'"
    check "$t: SIGTERM: no Tunnel1 left" gone $r2 Tunnel1
}

# outer_without_df R2 R3: a ping with DF from R2 through Tunnel1 reaches R3 as an ESP
# packet without DF (`crypto ipsec df-bit clear`, judged against RED's route to R3).
outer_without_df() {
    local cap=$IKT_RUN/$1.esp t0=$SECONDS pid
    ip netns exec "$2" tcpdump -nn -l -v -c 1 -i eth0 "src host 192.0.2.2 and esp" >"$cap" 2>"$cap.err" &
    pid=$!
    until grep -q "listening on" "$cap.err" 2>/dev/null; do
        [ $((SECONDS - t0)) -lt 10 ] || { kill $pid; return 1; }
        sleep 0.1
    done
    ip netns exec "$1" ping -n -q -c 1 -W 2 -M do 192.168.1.3 >/dev/null
    until_true 5 grep -q "proto ESP" "$cap" || kill $pid
    wait $pid
    echo "    outer header: $(grep -o 'flags \[[^]]*\]' "$cap")"
    grep -q 'flags \[none\].*proto ESP' "$cap"
}

two() {
    local dp=$1 t=two-${1:0:1} r2 r3 r4 v
    r2=$F$t-r2 r3=$F$t-r3 r4=$F$t-r4
    routers $r2 192.0.2.2 $r3 192.0.2.3 24 && add_netns $r4 || { unset_up $t; return; }
    ip link add eth1 netns $r2 type veth peer name eth0 netns $r4 &&
        ip -n $r2 link set eth1 up && ip -n $r4 link set eth0 up &&
        ip -n $r4 addr add 192.0.2.3/24 dev eth0 || { unset_up $t; return; }
    vrf_device $r2 RED 10 eth0 && vrf_device $r2 GREEN 20 eth1 || { unset_up $t; return; }
    readdr $r2 eth0 192.0.2.2/24 && readdr $r2 eth1 192.0.2.2/24 || { unset_up $t; return; }
    {
        echo "crypto isakmp policy 10"
        echo " encr aes 256"
        echo " hash sha256"
        echo " authentication pre-share"
        echo " group 14"
        for v in RED GREEN; do
            echo "vrf definition $v"
            echo " address-family ipv4"
            echo "crypto keyring $v-KEYS vrf $v"
            echo " pre-shared-key address 192.0.2.3 key ${v,,}-key"
        done
        echo "crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac"
        echo "crypto ipsec profile P"
        echo " set transform-set TS"
        for v in 1 2; do
            echo "interface Tunnel$v"
            echo " ip address 192.168.$v.2 255.255.255.0"
            echo " tunnel source eth$((v - 1))"
            echo " tunnel mode ipsec ipv4"
            echo " tunnel destination 192.0.2.3"
            echo " tunnel vrf $([ $v = 1 ] && echo RED || echo GREEN)"
            echo " tunnel protection ipsec profile P"
        done
    } >"$IKT_RUN/$t-r2.conf"
    for v in 1 2; do
        {
            echo "crypto isakmp policy 10"
            echo " encr aes 256"
            echo " hash sha256"
            echo " authentication pre-share"
            echo " group 14"
            echo "crypto isakmp key $([ $v = 1 ] && echo red || echo green)-key address 192.0.2.2"
            echo "crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac"
            echo "crypto ipsec profile P"
            echo " set transform-set TS"
            echo "interface Tunnel$v"
            echo " ip address 192.168.$v.3 255.255.255.0"
            echo " tunnel source eth0"
            echo " tunnel mode ipsec ipv4"
            echo " tunnel destination 192.0.2.2"
            echo " tunnel protection ipsec profile P"
        } >"$IKT_RUN/$t-r$((v + 2)).conf"
    done
    chmod 600 "$IKT_RUN/$t"-r*.conf
    start_ikev1d $r3 "$IKT_RUN/$t-r3.conf" "$IKT_RUN/$t-r3.log" --dataplane $dp
    start_ikev1d $r4 "$IKT_RUN/$t-r4.conf" "$IKT_RUN/$t-r4.log" --dataplane $dp
    start_ikev1d $r2 "$IKT_RUN/$t-r2.conf" "$IKT_RUN/$t-r2.log" --dataplane $dp
    serially
    check "$t: both tunnels to 192.0.2.3 up, through RED and through GREEN ($dp)" wait_pairs $r2 2 180
    serial_end
    check "$t: two ISAKMP SAs with 192.0.2.3, one per front-door VRF" eval \
        "[ \"\$(json_field $r2 isakmp '[.[] | .fvrf] | sort | join(\" \")')\" = 'GREEN RED' ]"
    check "$t: ping 192.168.1.3 (R3, through RED) 5/5" pings $r2 192.168.1.3 5
    check "$t: ping 192.168.2.3 (R4, through GREEN) 5/5" pings $r2 192.168.2.3 5
    check "$t: each peer's tunnel is up with its own key" eval \
        "[ \"\$(count_sas $r3 ipsec) \$(count_sas $r4 ipsec)\" = '1 1' ]"
}

# The README's GRE over IPsec example, R2 as written, R3 its mirror (as IOS would be)
gre() {
    local t=gre r2=${F}gre-r2 r3=${F}gre-r3 r
    routers $r2 192.0.2.2 $r3 192.0.2.3 24 || { unset_up $t; return; }
    for r in $r2 $r3; do vrf_device $r RED 10 eth0 || { unset_up $t; return; }; done
    readdr $r2 eth0 192.0.2.2/24 && readdr $r3 eth0 192.0.2.3/24 || { unset_up $t; return; }
    sed -n '/^| <pre>vrf definition BLUE/{s/^| <pre>//;s/<\/pre> |$//;s/<\/pre> | <pre>/\n---\n/;s/<br>/\n/g;p}' \
        README.md >"$IKT_RUN/readme.txt"
    sed '/^---$/,$d' "$IKT_RUN/readme.txt" | sed 's/GigabitEthernet1/eth0/' >"$IKT_RUN/gre-r3.conf"
    sed '1,/^---$/d' "$IKT_RUN/readme.txt" >"$IKT_RUN/gre-r2.conf"
    chmod 600 "$IKT_RUN"/gre-r*.conf
    check "gre: the README's two configurations, extracted" bash -c \
        "grep -q '^ tunnel source eth0' $IKT_RUN/gre-r2.conf && grep -q '^ tunnel destination 192.0.2.2' $IKT_RUN/gre-r3.conf"
    start_ikev1d $r3 "$IKT_RUN/gre-r3.conf" "$IKT_RUN/gre-r3.log"
    start_ikev1d $r2 "$IKT_RUN/gre-r2.conf" "$IKT_RUN/gre-r2.log"
    serially
    check "gre: Tunnel100 SAs up" wait_sa $r2 120
    serial_end
    check "gre: show ipsec: gre ip, transport, fvrf RED, ivrf BLUE" eval \
        "[ \"\$(json_field $r2 ipsec '.[0] | \"\(.tunnel_mode) \(.mode) \(.fvrf) \(.ivrf)\"')\" = 'gre ip transport RED BLUE' ]"
    check "gre: Tunnel100 is gre, key 100, link RED, master BLUE" bash -c \
        "ip -n $r2 -d link show Tunnel100 | grep -q 'master BLUE' &&
         ip -n $r2 -d link show Tunnel100 | grep -q 'gre remote 192.0.2.3 local 192.0.2.2 dev RED .*okey 0.0.0.100'"
    check "gre: ip xfrm policy: only 192.0.2.2/32 <-> 192.0.2.3/32 proto gre" bash -c \
        "[ \"\$(ip -o -n $r2 xfrm policy | grep -v socket | grep -c 'proto gre')\" = 2 ] &&
         [ \"\$(ip -o -n $r2 xfrm policy | grep -vc socket)\" = 2 ]"
    check "gre: ip route vrf BLUE holds 10.3.0.0/16" bash -c "ip -n $r2 route show vrf BLUE | grep -q '^10.3.0.0/16 dev Tunnel100'"
    check "gre: ping 192.168.100.3 from inside VRF BLUE 5/5" in_vrf_pings $r2 BLUE 192.168.100.3
    check "gre: not reachable from the default VRF" unreachable_outside $r2 192.168.100.3
    stop $r2
    check "gre: SIGTERM: BLUE removed, RED kept" bash -c "! ip -n $r2 link show BLUE 2>/dev/null && ip -n $r2 link show RED >/dev/null"
}

all=(ivrf-k ivrf-u fvrf-k fvrf-u two-k two-u gre)
for s in "${@:-${all[@]}}"; do
    case $s in
    ivrf-k) scenario $s ivrf kernel ;;
    ivrf-u) scenario $s ivrf userspace ;;
    fvrf-k) scenario $s fvrf kernel ;;
    fvrf-u) scenario $s fvrf userspace ;;
    two-k) scenario $s two kernel ;;
    two-u) scenario $s two userspace ;;
    gre) scenario $s gre ;;
    *) echo "vrf.sh: no scenario $s (${all[*]})"; exit 2 ;;
    esac
done
wait_scenarios 600
suite_end
