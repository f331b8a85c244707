#!/bin/bash
# daemon.sh - runs INSIDE the VM (see tests/vm-daemon.sh): two (or three) ikev1d on the
# kernel data path with the seed's configuration and variants. Namespaces $IKT_NS-vx*,
# -vv*, -v4*.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
suite_begin vm-daemon
echo "kernel $(uname -r)"
X=$IKT_NS-vx V=$IKT_NS-vv F=$IKT_NS-v4

# conf NAME LOCAL_SRC PEER MODE V4ADDR LINKLOCAL [TUNNEL]: an IOS config like the seed's
conf() {
    local name=$1 src=$2 peer=$3 mode=$4 v4=$5 ll=$6 tun=${7:-Tunnel23} fam=ipv6
    [ "$mode" = ipv4 ] && fam=""
    cat > "$IKT_RUN/$name.conf" <<EOC
crypto isakmp policy 10
 authentication pre-share
crypto isakmp key cisco address ipv6 ::/0
crypto isakmp key cisco address 0.0.0.0 0.0.0.0
crypto ipsec transform-set TRA esp-aes esp-sha-hmac
 mode transport
crypto ipsec profile PRO
 set transform-set TRA
interface $tun
 ip address $v4 255.255.255.0
 ipv6 address $ll link-local
 tunnel source $src
 tunnel mode ipsec $mode
 tunnel destination $peer
 tunnel protection ipsec profile PRO
EOC
}

# seed TAG [ARGS...]: the seed on two namespaces $IKT_NS-TAG-r2/-r3, kernel data path
seed() {
    local t=$1 p=$IKT_NS-$1; shift
    routers $p-r2 2001:db8::2 $p-r3 2001:db8::3 64
    start_ikev1d $p-r3 examples/r3.conf $IKT_RUN/$p-r3.log "$@"
    start_ikev1d $p-r2 examples/r2.conf $IKT_RUN/$p-r2.log "$@"
    check "$t: Tunnel23 SAs up" wait_sa $p-r2 60
    check "$t: ping fe80::23:3%Tunnel23 5/5" pings $p-r2 fe80::23:3%Tunnel23 5
    check "$t: ping 192.168.23.3 5/5 (IPv4 inside IPv6 SAs)" pings $p-r2 192.168.23.3 5
    local o i d
    read -r o i d <<<"$(json_field $p-r2 ipsec '.[0] | "\(.outbound.packets) \(.inbound.packets) \(.dataplane)"')"
    echo "    $t: R2 outbound/inbound packets, dataplane: $o $i $d"
    check "$t: counters count the 10 pings, dataplane kernel" eval '[ "${o:-0}" -ge 10 ] && [ "${i:-0}" -ge 10 ] && [ "$d" = kernel ]'
}

# 1. the seed, xfrm interface
seed vx
check "vx: Tunnel23 is an xfrm interface" bash -c "ip -n $X-r2 -d link show Tunnel23 | grep -q 'xfrm'"
check "vx: fixed link-local only" bash -c "[ \"\$(ip -n $X-r2 -6 addr show dev Tunnel23 scope link | grep -c inet6)\" = 1 ] && ip -n $X-r2 -6 addr show dev Tunnel23 | grep -q fe80::23:2"

# 2. SIGTERM: nothing of ours left, a foreign state survives
ip -n $X-r2 xfrm state add src 2001:db8::9 dst 2001:db8::2 proto esp spi 0x4242 mode tunnel enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff auth-trunc 'hmac(sha1)' 0x0011223344556677889900112233445566778899 96
pid=$(cat $IKT_RUN/$X-r2.pid)
kill -TERM $pid
check "SIGTERM: daemon exited" until_true 15 eval "! kill -0 $pid 2>/dev/null"
check "SIGTERM: no Tunnel23 left" bash -c "! ip -n $X-r2 link show Tunnel23 2>/dev/null"
check "SIGTERM: only the foreign state left" bash -c "[ \"\$(ip -n $X-r2 xfrm state | grep -c '^src')\" = 1 ] && ip -n $X-r2 xfrm state | grep -q 0x00004242"
check "SIGTERM: no policy left" bash -c "[ -z \"\$(ip -n $X-r2 xfrm policy | grep -v '^$' | grep -v 'socket')\" ]"
# (the peer may already be re-negotiating: its ALLOCSPI leaves a larval state without keys)
peer_cleared() { [ "$(count_sas $X-r3 ipsec)" = 0 ] && ! ip -n $X-r3 xfrm state | grep -q auth-trunc; }
check "SIGTERM: the peer got our Delete" until_true 10 peer_cleared
ikt_cleanup; IKT_LOGS=()

# 3. vti6 forced
IKEV1D_FORCE_VTI=1 seed vv
check "vv: Tunnel23 is vti6" bash -c "ip -n $V-r2 -d link show Tunnel23 | grep -q vti6"
ikt_cleanup; IKT_LOGS=()

# 4. IPv4 outer and inner (tunnel mode ipsec ipv4); a second tunnel to a second peer
routers $F-r2 192.0.2.2 $F-r3 192.0.2.3 24
add_netns $F-r4
ip link add v-r2b netns $F-r2 type veth peer name eth0 netns $F-r4
ip -n $F-r2 addr add 198.51.100.2/24 dev v-r2b; ip -n $F-r2 link set v-r2b up
ip -n $F-r4 addr add 198.51.100.4/24 dev eth0; ip -n $F-r4 link set eth0 up
conf r2 192.0.2.2 192.0.2.3 ipv4 192.168.23.2 FE80::23:2
conf r2b 198.51.100.2 198.51.100.4 ipv4 192.168.24.2 FE80::24:2 Tunnel24
sed -n '/^interface/,$p' $IKT_RUN/r2b.conf >> $IKT_RUN/r2.conf
conf r3 192.0.2.3 192.0.2.2 ipv4 192.168.23.3 FE80::23:3
conf r4 198.51.100.4 198.51.100.2 ipv4 192.168.24.4 FE80::24:4 Tunnel24
start_ikev1d $F-r3 $IKT_RUN/r3.conf $IKT_RUN/v4-r3.log
start_ikev1d $F-r4 $IKT_RUN/r4.conf $IKT_RUN/v4-r4.log
start_ikev1d $F-r2 $IKT_RUN/r2.conf $IKT_RUN/v4-r2.log
check "ipv4: both tunnels' SAs up" wait_pairs $F-r2 2 60
check "ipv4: ping 192.168.23.3 over Tunnel23" pings $F-r2 192.168.23.3 5
check "ipv4: ping 192.168.24.4 over Tunnel24" pings $F-r2 192.168.24.4 5
check "ipv4: distinct if_ids" bash -c "ip -n $F-r2 -d link show Tunnel23 | grep -q 'if_id 0x17' && ip -n $F-r2 -d link show Tunnel24 | grep -q 'if_id 0x18'"
ikt_cleanup; IKT_LOGS=()

# 5. SIGTERM of a daemon with $IKT_SIGTERM_TUNNELS (50) tunnels, none up (their six
# policies each): every interface, policy and state of ours goes, the kernel's policies
# and states read once for all of them (not once per tunnel); says how long it took
M=$IKT_NS-vm n=${IKT_SIGTERM_TUNNELS:-50}
routers $M-one 2001:db8::1 $M-many 2001:db8::a:1 64
fan_conf $IKT_RUN/many.conf $n one
start_ikev1d $M-one $IKT_RUN/many.conf $IKT_RUN/many.log --dataplane kernel
tunnels() { ip -n $M-one -o link show | grep -c ': Tunnel[0-9]*[@:]'; }
ours() { ip -n $M-one xfrm policy | grep -c 'if_id'; }
check "many: $n tunnels, $((6 * n)) policies" eval "listening $M-one 300 && [ \"\$(tunnels)\" = $n ] && [ \"\$(ours)\" = $((6 * n)) ]"
pid=$(cat $IKT_RUN/$M-one.pid)
# exited_in PID SECONDS: until PID is gone, polled finely enough to time it
exited_in() { local i; for ((i = 0; i < $2 * 50; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.02; done; return 1; }
t0=$(date +%s%N)
kill -TERM $pid
check "many: SIGTERM: daemon exited" exited_in $pid 120
echo "    many: SIGTERM -> exit with $n tunnels: $((($(date +%s%N) - t0) / 1000000)) ms"
check "many: SIGTERM: no tunnel interface left" eval '[ "$(tunnels)" = 0 ]'
check "many: SIGTERM: no policy nor state left" bash -c "[ -z \"\$(ip -n $M-one xfrm policy | grep -v '^$' | grep -v socket)\" ] && [ -z \"\$(ip -n $M-one xfrm state)\" ]"
suite_end
