#!/bin/bash
# gre.sh - GRE over IPsec (`tunnel protection` on `tunnel mode gre ip|ipv6`, IOS's default
# tunnel mode) between two ikev1d. Run by tests/vm-gre.sh INSIDE the VM (the kernel data
# path: a gre/ip6gre interface and XFRM for protocol 47) and by tests/gre-userspace.sh on
# the host (the userspace data path, which does GRE itself over a TUN device).
#
# Scenarios, each in namespaces of its own, at once (arguments pick some):
#   v4k  GRE over IPv4, tunnel key 100, the transform set in transport mode: transport
#   v4   GRE over IPv4, no key, the transform set in tunnel mode: tunnel
#   v6k  GRE over IPv6, tunnel key 6, tunnel mode
#   v6   GRE over IPv6, no key, transport mode
#   ku   (kernel only) R2 on the kernel path, R3 on the userspace path: the two GREs
#        and ESPs are the same on the wire
#   key  (userspace only) the two ends' keys differ: the SAs come up, nothing crosses
#   ka   (userspace only) IOS's GRE keepalive (R3 sends R2 a GRE packet from R2 back to
#        itself): R2 sends it back through the SA, never in the clear
#   ss   (kernel only) against strongSwan on kernel ESP in transport mode with a Linux
#        GRE interface on its side (traffic selectors 192.0.2.3[gre] <-> 192.0.2.2[gre]):
#        ikev1d initiates, then strongSwan does
# Each: the SAs up with the mode IOS's rules give, `show ipsec` naming GRE (tunnel_mode,
# protocol 47, the endpoints as proxies); 5 pings to the peer's tunnel address and IPv6
# link-local multicast (ff02::1%TunnelN) answered by the peer; on the link, the outer
# ping between the two routers in the clear, the tunnel's traffic as ESP, no GRE in the
# clear; on the kernel path `ip xfrm policy` holds only the endpoints' GRE; SIGTERM
# leaves nothing behind.
#
# Environment: IKT_DATAPLANE kernel|userspace (default kernel). Namespaces
# $IKT_NS-g<scenario>-r2/-r3.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
DATAPLANE=${IKT_DATAPLANE:-kernel}
suite_begin gre
G=$IKT_NS-g
echo "kernel $(uname -r); ikev1d data path $DATAPLANE"
# a fresh namespace's unused GRE fallback devices (gre0...) come with the module: load it
# once here rather than in every scenario at once
[ "$DATAPLANE" != kernel ] || modprobe -a ip_gre ip6_gre
[ -e /dev/net/tun ] || modprobe tun

# gre_conf FILE NUMBER SRC PEER ME FAMILY KEY MODE: an IOS configuration of
# interface TunnelNUMBER (IOS's default mode for ip, `tunnel mode gre ipv6` for ipv6),
# 192.168.NUMBER.ME/24 and FE80::NUMBER:ME; KEY `-` for none; MODE transport|tunnel
gre_conf() {
    local file=$1 n=$2 src=$3 peer=$4 me=$5 family=$6 key=$7 mode=$8 keyaddr
    keyaddr="0.0.0.0 0.0.0.0"
    [ "$family" = ip ] || keyaddr="ipv6 ::/0"
    {
        echo "crypto isakmp policy 10"
        echo " encr aes 256"
        echo " hash sha256"
        echo " authentication pre-share"
        echo " group 14"
        echo "crypto isakmp key Gre-Key address $keyaddr"
        echo "crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac"
        [ "$mode" = tunnel ] || echo " mode transport"
        echo "crypto ipsec profile GRE-PROT"
        echo " set transform-set TS"
        echo "interface Tunnel$n"
        echo " ip address 192.168.$n.$me 255.255.255.0"
        echo " ipv6 address FE80::$n:$me link-local"
        echo " tunnel source $src"
        [ "$family" = ip ] || echo " tunnel mode gre ipv6"
        echo " tunnel destination $peer"
        [ "$key" = - ] || echo " tunnel key $key"
        echo " tunnel protection ipsec profile GRE-PROT"
    } >"$file"
    chmod 600 "$file"
}

# ipsec_is NS FILTER EXPECTED: `show ipsec --json`'s first pair through the jq FILTER
ipsec_is() {
    local got
    got=$(json_field "$1" ipsec ".[0] | $2")
    echo "    $1: $2 = $got"
    [ "$got" = "$3" ]
}

# multicast NS IFACE PEER_LL: ping ff02::1%IFACE is answered by the peer's link-local
multicast() {
    local out
    out=$(ip netns exec "$1" ping -n -c 3 -i 0.2 -W 2 "ff02::1%$2" 2>&1) || true
    echo "    ping ff02::1%$2: $(grep -c "from $3" <<<"$out") replies from $3"
    grep -q "bytes from $3%$2" <<<"$out"
}

# on_the_wire TAG NS_R2 NS_R3 OUTER_R3 INNER_R3: while R2 pings R3's outer address and
# its tunnel address, what the two routers send on their link: the outer ping and its
# reply in the clear, the tunnel's packets as ESP, no GRE. (What each sends: a
# tunnel-mode packet XFRM decrypted passes the receiving interface's taps again.)
on_the_wire() {
    local t=$1 r2=$2 r3=$3 outer=$4 inner=$5 cap=$IKT_RUN/$1.wire pids=() ns icmp
    : >"$cap"
    for ns in "$r2" "$r3"; do
        ip netns exec "$ns" tcpdump -nn -l -Q out -i eth0 \
            'icmp or icmp6 or esp or proto 47 or (ip6 and ip6[6] == 47)' >>"$cap" 2>/dev/null &
        pids+=($!)
    done
    sleep 1
    ip netns exec "$r2" ping -n -q -c 3 -i 0.2 -W 2 "$outer" >/dev/null 2>&1
    ip netns exec "$r2" ping -n -q -c 3 -i 0.2 -W 2 "$inner" >/dev/null 2>&1
    sleep 1
    kill "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
    icmp="ICMP echo"
    [[ $outer != *:* ]] || icmp="ICMP6, echo"
    echo "    $t on the link: $(grep -c "$icmp request" "$cap") echo requests to $outer and \
$(grep -c "$icmp reply" "$cap") replies in the clear, $(grep -c ESP "$cap") ESP, $(grep -c GRE "$cap") GRE"
    grep -q "> $outer: $icmp request" "$cap" && grep -q ": $icmp reply" "$cap" &&
        [ "$(grep -c 'ESP(spi' "$cap")" -ge 6 ] && ! grep -q GRE "$cap"
}

# only_gre_policies NS LOCAL PEER: the XFRM policies (but the IKE sockets' own) are the
# two for the endpoints' GRE
only_gre_policies() {
    local p
    p=$(ip -o -n "$1" xfrm policy | grep -v socket)
    echo "$p" | sed 's/^/    /'
    [ "$(wc -l <<<"$p")" = 2 ] &&
        grep -q "^src $2/[0-9]* dst $3/[0-9]* proto gre" <<<"$p" &&
        grep -q "^src $3/[0-9]* dst $2/[0-9]* proto gre" <<<"$p"
}

# nothing_left NS IFACE: after SIGTERM no tunnel interface, XFRM state or policy of ours
nothing_left() {
    ! ip -n "$1" link show "$2" >/dev/null 2>&1 && [ -z "$(ip -n "$1" xfrm state)" ] &&
        [ -z "$(ip -o -n "$1" xfrm policy | grep -v socket)" ]
}

# unset_up TAG: a scenario whose namespaces or links could not be made fails, rather
# than end without a check
unset_up() { check "$1: namespaces and links set up" false; }

# pair TAG FAMILY KEY_R2 KEY_R3 MODE DP_R2 DP_R3: Tunnel<N> between -r2 and -r3
pair() {
    local t=$1 family=$2 k2=$3 k3=$4 mode=$5 dp2=$6 dp3=$7 r2=$G$1-r2 r3=$G$1-r3 n a2 a3 len
    case $t in v4k) n=10 ;; v4) n=11 ;; v6k) n=12 ;; v6) n=13 ;; ku) n=14 ;; key) n=15 ;; ka) n=17 ;; esac
    if [ "$family" = ip ]; then a2=192.0.2.2 a3=192.0.2.3 len=24; else a2=2001:db8::2 a3=2001:db8::3 len=64; fi
    routers $r2 $a2 $r3 $a3 $len || { unset_up $t; return 1; }
    gre_conf "$IKT_RUN/$t-r2.conf" $n eth0 $a3 2 $family $k2 $mode
    gre_conf "$IKT_RUN/$t-r3.conf" $n eth0 $a2 3 $family $k3 $mode
    start_ikev1d $r3 "$IKT_RUN/$t-r3.conf" "$IKT_RUN/$t-r3.log" --dataplane $dp3
    start_ikev1d $r2 "$IKT_RUN/$t-r2.conf" "$IKT_RUN/$t-r2.log" --dataplane $dp2
    serially
    check "$t: Tunnel$n SAs up" wait_sa $r2 120
    serial_end
    PAIR=($r2 $r3 $n $a2 $a3)
}

# scenario body: TAG FAMILY KEY MODE [DP_R3]
gre() {
    local t=$1 family=$2 key=$3 mode=$4 dp3=${5:-$DATAPLANE} r2 r3 n a2 a3 words=gre\ ip
    [ "$family" = ip ] || words="gre ipv6"
    pair $t $family $key $key $mode $DATAPLANE $dp3 || return
    read -r r2 r3 n a2 a3 <<<"${PAIR[*]}"
    check "$t: $mode mode, tunnel_mode $words, proxies the endpoints with protocol 47" eval \
        "ipsec_is $r2 '\"\(.mode) \(.tunnel_mode) \(.protocol) \(.local_ident) \(.dataplane)\"' \
            '$mode $words 47 $a2/$([ $family = ip ] && echo 32 || echo 128) $DATAPLANE' &&
         ipsec_is $r3 .mode $mode"
    check "$t: ping 192.168.$n.3 5/5" pings $r2 192.168.$n.3 5
    check "$t: ping ff02::1%Tunnel$n answered by fe80::$n:3" multicast $r2 Tunnel$n fe80::$n:3
    check "$t: on the link: the outer ping in the clear, the tunnel's as ESP, no GRE" \
        on_the_wire $t $r2 $r3 $a3 192.168.$n.3
    if [ "$DATAPLANE" = kernel ]; then
        check "$t: ip xfrm policy: only $a2 <-> $a3 proto gre" only_gre_policies $r2 $a2 $a3
        check "$t: Tunnel$n is a GRE interface between the endpoints, key $key" bash -c \
            "ip -n $r2 -d link show Tunnel$n | grep -qE '(gre|ip6gre) remote $a3 local $a2' &&
             { [ '$key' = - ] || ip -n $r2 -d link show Tunnel$n | grep -q 'okey 0.0.0.$key'; }"
    fi
    kill -TERM "$(cat "$IKT_RUN/$r2.pid")"
    check "$t: SIGTERM: nothing of ours left" until_true 15 nothing_left $r2 Tunnel$n
}

# the two ends' GRE keys differ: IKE knows nothing of them, the GRE packets are dropped
key() {
    local r2 r3 n before
    pair key ip 100 101 transport $DATAPLANE $DATAPLANE || return
    read -r r2 r3 n _ <<<"${PAIR[*]}"
    # counted from here: the interfaces' own packets (MLD and the like) cross the SA too
    before=$(json_field $r3 ipsec '.[0].inbound.packets')
    check "key: tunnel key 100 against 101: no ping crosses" bash -c \
        "! ip netns exec $r2 ping -n -c 3 -i 0.2 -W 1 192.168.$n.3 >/dev/null 2>&1"
    # what R3 decrypted it dropped for its key: counted on the SA, never delivered
    check "key: R3 decrypted R2's 3 pings (ESP is fine) and dropped them" eval \
        "[ \"\$(json_field $r3 ipsec '.[0].inbound.packets')\" -ge $((before + 3)) ]"
}

# keepalives NS IFACE: IOS's GRE keepalive, made by hand on R3, 50 times: into the
# tunnel, an IPv4 packet from R2's endpoint to R3's, protocol 47, holding an empty GRE
# header (protocol type 0)
keepalives() {
    ip netns exec "$1" python3 -c '
import socket, struct, sys
def checksum(h):
    s = sum(struct.unpack("!10H", h))
    while s > 0xffff: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
src, dst = socket.inet_aton("192.0.2.2"), socket.inet_aton("192.0.2.3")
h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 24, 0, 0, 255, 47, 0, src, dst)
packet = h[:10] + struct.pack("!H", checksum(h)) + h[12:] + bytes(4)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[1].encode())
for _ in range(50): s.sendto(packet, ("192.0.2.2", 0))
' "$2"
}

ka() {
    local r2 r3 n before after cap=$IKT_RUN/ka.wire pid
    pair ka ip - - transport $DATAPLANE $DATAPLANE || return
    read -r r2 r3 n _ <<<"${PAIR[*]}"
    ip netns exec $r2 tcpdump -nn -l -Q out -i eth0 'esp or proto 47' >"$cap" 2>/dev/null &
    pid=$!
    sleep 1
    # (50: a few packets of the interface's own, MLD and the like, cross it too)
    before=$(json_field $r3 ipsec '.[0].inbound.packets')
    keepalives $r3 Tunnel$n
    check "ka: R2 sent IOS's 50 keepalives back to R3 through the SA" until_true 10 eval \
        "[ \"\$(json_field $r3 ipsec '.[0].inbound.packets')\" -ge $((before + 50)) ]"
    sleep 1
    kill $pid 2>/dev/null
    wait $pid 2>/dev/null
    echo "    R2 sent $(grep -c ESP "$cap") ESP, $(grep -c GRE "$cap") GRE packets"
    check "ka: none of them in the clear" bash -c "[ \$(grep -c ESP $cap) -ge 50 ] && ! grep -q GRE $cap"
}

# strongSwan (scripts/strongswan-peer.sh) on kernel ESP, transport mode, GRE's selectors,
# a Linux gre interface Tunnel16 with key 16 on its side
ss() {
    local r2=${G}ss-r2 r3=${G}ss-ss n=16 peer=scripts/strongswan-peer.sh pid
    export SSW_DIR=$IKT_RUN/ssw
    routers $r2 192.0.2.2 $r3 192.0.2.3 24 || { unset_up ss; return; }
    ip -n $r3 link add Tunnel$n type gre local 192.0.2.3 remote 192.0.2.2 ttl 255 key $n &&
        ip -n $r3 link set Tunnel$n addrgenmode none &&
        ip -n $r3 addr add 192.168.$n.3/24 dev Tunnel$n &&
        ip -n $r3 addr add fe80::$n:3/64 dev Tunnel$n nodad &&
        ip -n $r3 link set Tunnel$n up || { unset_up ss; return; }
    gre_conf "$IKT_RUN/ss-r2.conf" $n eth0 192.0.2.3 2 ip $n transport
    on_exit "$peer" stop $r3
    watch_log "$SSW_DIR/peer-$r3/charon.log"
    check "ss: strongSwan peer starts (transport mode, 192.0.2.3[gre] <-> 192.0.2.2[gre])" bash -c \
        "CHILD_MODE=transport LOCAL_TS='192.0.2.3[gre]' REMOTE_TS='192.0.2.2[gre]' KERNEL_ESP=1 \
         IKE_PROPOSALS=aes256-sha256-modp2048 ESP_PROPOSALS=aes256-sha256 \
         $peer start $r3 192.0.2.3 192.0.2.2 Gre-Key >$IKT_RUN/ss-start.log 2>&1" || return
    for side in a b; do
        if [ $side = a ]; then
            start_ikev1d $r2 "$IKT_RUN/ss-r2.conf" "$IKT_RUN/ss-r2-a.log" --dataplane kernel
        else
            start_ikev1d $r2 "$IKT_RUN/ss-r2.conf" "$IKT_RUN/ss-r2-b.log" --dataplane kernel --passive
            check "ss: b: ikev1d --passive is listening" listening $r2 30
            check "ss: b: strongSwan initiates" bash -c "$peer initiate $r3 >$IKT_RUN/ss-initiate.log 2>&1"
        fi
        serially
        check "ss: $side: SAs up" wait_sa $r2 120
        serial_end
        check "ss: $side: transport mode both sides" eval \
            "ipsec_is $r2 '\"\(.mode) \(.protocol)\"' 'transport 47' &&
             $peer status $r3 2>/dev/null | grep -q 'INSTALLED, TRANSPORT'"
        check "ss: $side: ping 192.168.$n.3 5/5" pings $r2 192.168.$n.3 5
        check "ss: $side: strongSwan's side pings 192.168.$n.2 5/5" pings $r3 192.168.$n.2 5
        check "ss: $side: ping ff02::1%Tunnel$n answered by fe80::$n:3" multicast $r2 Tunnel$n fe80::$n:3
        pid=$(cat "$IKT_RUN/$r2.pid")
        kill -TERM "$pid"
        check "ss: $side: SIGTERM: our Delete clears strongSwan's SAs" until_true 30 bash -c \
            "! $peer status $r3 2>/dev/null | grep -q INSTALLED"
        until_true 15 eval "! kill -0 $pid 2>/dev/null"
    done
}

all=(v4k v4 v6k v6)
[ "$DATAPLANE" = kernel ] && all+=(ku ss) || all+=(key ka)
for s in "${@:-${all[@]}}"; do
    case $s in
    v4k) scenario v4k gre v4k ip 100 transport ;;
    v4) scenario v4 gre v4 ip - tunnel ;;
    v6k) scenario v6k gre v6k ipv6 6 tunnel ;;
    v6) scenario v6 gre v6 ipv6 - transport ;;
    ku) scenario ku gre ku ip 100 transport userspace ;;
    key) scenario key key ;;
    ss) scenario ss ss ;;
    ka) scenario ka ka ;;
    *) echo "gre.sh: no scenario $s (${all[*]})"; exit 2 ;;
    esac
done
wait_scenarios 500
suite_end
