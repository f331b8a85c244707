#!/bin/bash
# dvti.sh - dynamic VTI on the userspace data path: a hub with one `interface
# Virtual-Template1 type tunnel` (`ip unnumbered Loopback0`, ISAKMP profile with a
# wildcard keyring, `match identity address 0.0.0.0` and `virtual-template 1`) and
# three spokes it has no tunnel interface for: two ikev1d (Tunnel1 with a /32 inside
# and a route to the hub's loopback) and one strongSwan 5.9.8 (kernel-libipsec, so ESP
# in UDP 4500). Each spoke gets its own Virtual-Access on the hub and pings the hub's
# loopback across it; the hub's --interface-hook adds the route back to the spoke
# (from the peer address: spoke 198.51.100.N is 192.168.23.N inside) and logs its
# arguments. Then spoke 1 is killed (-9) and restarted: it gets a new Virtual-Access,
# the stale one is gone (ip link and show both), and the hook ran down for the old one
# and up for the new one. On SIGTERM the hub removes every Virtual-Access, running the
# hook's down for each. Namespaces $IKT_NS-dv-{hub,s1,s2,ss}.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
for tool in /usr/lib/ipsec/charon swanctl jq; do
    command -v $tool >/dev/null || { echo "FAIL $tool missing (scripts/test.sh installs it)"; exit 1; }
done
suite_begin dvti
export SSW_DIR=$IKT_RUN/ssw
HUB=$IKT_NS-dv-hub S1=$IKT_NS-dv-s1 S2=$IKT_NS-dv-s2 SS=$IKT_NS-dv-ss
PEER=scripts/strongswan-peer.sh
KEY=Dvti-Spoke-Key
on_exit "$PEER" stop $SS
watch_log "$SSW_DIR/peer-$SS/charon.log"
[ -e /dev/net/tun ] || modprobe tun

# The hub's IOS configuration, as Cisco's DVTI guide writes it.
cat >"$IKT_RUN/hub.conf" <<EOF
crypto keyring SPOKES
 pre-shared-key address 0.0.0.0 0.0.0.0 key $KEY
crypto isakmp policy 10
 encr aes 256
 hash sha256
 authentication pre-share
 group 14
crypto isakmp profile DVTI
 keyring SPOKES
 match identity address 0.0.0.0
 virtual-template 1
 keepalive 10 retry 2
crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac
 mode tunnel
crypto ipsec profile DVTI-PROF
 set transform-set TS
 set isakmp-profile DVTI
interface Loopback0
 ip address 192.168.23.1 255.255.255.255
interface Virtual-Template1 type tunnel
 ip unnumbered Loopback0
 tunnel source 198.51.100.1
 tunnel mode ipsec ipv4
 tunnel protection ipsec profile DVTI-PROF
ikev1d map-interface Loopback0 lo
EOF

# spoke_conf N: an ikev1d spoke, 198.51.100.N outside, 192.168.23.N inside
spoke_conf() {
    cat >"$IKT_RUN/s$1.conf" <<EOF
crypto isakmp policy 10
 encr aes 256
 hash sha256
 authentication pre-share
 group 14
crypto isakmp key $KEY address 198.51.100.1
crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac
crypto ipsec profile SPOKE
 set transform-set TS
interface Tunnel1
 ip address 192.168.23.$1 255.255.255.255
 tunnel source 198.51.100.$1
 tunnel mode ipsec ipv4
 tunnel destination 198.51.100.1
 tunnel protection ipsec profile SPOKE
ip route 192.168.23.1 255.255.255.255 Tunnel1
EOF
}

# The hook: its arguments and environment to a log, and the route to the spoke's
# inside address through the Virtual-Access (a routing daemon's job in production).
cat >"$IKT_RUN/hook" <<EOF
#!/bin/sh
echo "\$1 \$2 \$3 \$4 \$IKEV1D_TEMPLATE \$IKEV1D_PROFILE \${IKEV1D_UNNUMBERED:-}" >>"$IKT_RUN/hook.log"
[ "\$1" = up ] && ip route replace "192.168.23.\${3##*.}/32" dev "\$2"
exit 0
EOF
chmod 755 "$IKT_RUN/hook"
touch "$IKT_RUN/hook.log"
for f in hub s11 s12; do [ "$f" = hub ] || spoke_conf "${f#s}"; done
chmod 600 "$IKT_RUN"/*.conf

# One LAN: the hub's bridge and a veth to each spoke.
add_netns $HUB
ip -n $HUB link add br0 type bridge
ip -n $HUB addr add 198.51.100.1/24 dev br0
ip -n $HUB link set br0 up
ip -n $HUB addr add 192.168.23.1/32 dev lo
n=0
for ns in $S1 $S2 $SS; do
    n=$((n + 1))
    add_netns "$ns"
    ip link add eth0 netns "$ns" type veth peer name p$n netns $HUB
    ip -n $HUB link set p$n master br0 up
    ip -n "$ns" addr add "198.51.100.1$n/24" dev eth0
    ip -n "$ns" link set eth0 up
done
ip -n $SS addr add 192.168.23.13/32 dev lo

# vas: the hub's Virtual-Access interfaces in `ip link`, sorted
vas() { ip -n $HUB -br link show | awk '$1 ~ /^(Virtual-Access[0-9]+|Vi[0-9]+)$/ {print $1}' | sort; }
# shown: the interfaces `show ipsec` lists on the hub, sorted
shown() { json_field $HUB ipsec '.[].interface' | sort; }
# va_of PEER: the Virtual-Access `show ipsec` names for PEER
va_of() { json_field $HUB ipsec ".[] | select(.peer == \"$1\") | .interface"; }
# hub_is N: N ISAKMP SAs, N pairs, N Virtual-Access interfaces, the same in show and ip link
hub_is() {
    counts_are $HUB "$1 $1" && [ "$(vas | grep -c .)" = "$1" ] && [ "$(vas)" = "$(shown)" ]
}
hook_ran() { grep -qx "$1" "$IKT_RUN/hook.log"; }
pings_from() { pings "$1" 192.168.23.1 3; }

t0=$SECONDS
start_ikev1d $HUB "$IKT_RUN/hub.conf" "$IKT_RUN/hub.log" --dataplane userspace \
    --interface-hook "$IKT_RUN/hook"
listening $HUB 30
start_ikev1d $S1 "$IKT_RUN/s11.conf" "$IKT_RUN/s1.log" --dataplane userspace
start_ikev1d $S2 "$IKT_RUN/s12.conf" "$IKT_RUN/s2.log" --dataplane userspace
IKE_PROPOSALS=aes256-sha256-modp2048 ESP_PROPOSALS=aes256-sha256 \
    "$PEER" start $SS 198.51.100.13 198.51.100.1 $KEY >"$IKT_RUN/peer-start.log" 2>&1 ||
    cat "$IKT_RUN/peer-start.log"
"$PEER" initiate $SS >"$IKT_RUN/peer-initiate.log" 2>&1 || cat "$IKT_RUN/peer-initiate.log"
check "3 spokes up: 3 ISAKMP SAs, 3 pairs, 3 Virtual-Access interfaces on the hub within 60 s" \
    until_true 60 hub_is 3
echo "    up after $((SECONDS - t0)) s: $(vas | tr '\n' ' ')"
check "show ipsec: each spoke on its own Virtual-Access, bound to Virtual-Template1" eval \
    "[ \"\$(json_field $HUB ipsec '[.[] | select(.virtual_template == \"Virtual-Template1\") | .peer] | unique | length')\" = 3 ]"
check "show isakmp: each spoke's SA names its Virtual-Access and profile DVTI" eval \
    "[ \"\$(json_field $HUB isakmp '[.[] | select(.profile == \"DVTI\" and (.virtual_access // \"\" | startswith(\"Virtual-Access\")))] | length')\" = 3 ]"
check "show ipsec text: interface: Virtual-AccessN, Interface is bound to Virtual-Template1" eval \
    "show $HUB ipsec | grep -A1 '^interface: Virtual-Access' | grep -c 'Interface is bound to Virtual-Template1' | grep -qx 3"
check "the hook ran up for each spoke with its interface, peer, local address, template, profile" eval \
    "for p in 11 12 13; do hook_ran \"up \$(va_of 198.51.100.\$p) 198.51.100.\$p 198.51.100.1 Virtual-Template1 DVTI lo\" || exit 1; done"
check "ikev1d spoke 1 pings the hub's loopback across its Virtual-Access 3/3" pings_from $S1
check "ikev1d spoke 2 pings the hub's loopback across its Virtual-Access 3/3" pings_from $S2
check "strongSwan spoke pings the hub's loopback across its Virtual-Access 3/3" \
    ip netns exec $SS ping -n -q -c 3 -i 0.2 -W 5 -I 192.168.23.13 192.168.23.1
check "the hub's counters moved on every Virtual-Access" eval \
    "[ \"\$(json_field $HUB ipsec '[.[] | select(.inbound.packets >= 3 and .outbound.packets >= 3)] | length')\" = 3 ]"

# Spoke 1 restarts without a word (kill -9): its INITIAL-CONTACT clears the old SAs,
# and with them the old Virtual-Access.
old=$(va_of 198.51.100.11)
pid=$(cat "$IKT_RUN/$S1.pid")
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
start_ikev1d $S1 "$IKT_RUN/s11.conf" "$IKT_RUN/s1-again.log" --dataplane userspace
new_va() { local v; v=$(va_of 198.51.100.11); [ -n "$v" ] && [ "$v" != "$old" ]; }
check "restarted spoke 1 gets a new Virtual-Access (was $old) within 30 s" until_true 30 new_va
new=$(va_of 198.51.100.11)
echo "    spoke 1: $old -> $new"
check "no stale Virtual-Access: 3 in ip link, the same 3 in show ipsec, $old in neither" eval \
    "until_true 10 hub_is 3 && ! vas | grep -qx '$old' && ! shown | grep -qx '$old'"
check "the hook ran down for $old, then up for $new" eval \
    "hook_ran 'down $old 198.51.100.11 198.51.100.1 Virtual-Template1 DVTI lo' &&
     hook_ran 'up $new 198.51.100.11 198.51.100.1 Virtual-Template1 DVTI lo' &&
     [ \$(grep -n \"^down $old \" $IKT_RUN/hook.log | cut -d: -f1) -lt \$(grep -n \"^up $new \" $IKT_RUN/hook.log | cut -d: -f1) ]"
check "restarted spoke 1 pings across $new 3/3" pings_from $S1
check "the hub logged the clone and the removal in IOS words" eval \
    "grep -q '%LINK-3-UPDOWN: Interface $new, changed state to up ($new cloned from Virtual-Template1 for 198.51.100.11' $IKT_RUN/hub.log &&
     grep -q '%LINK-3-UPDOWN: Interface $old, changed state to down' $IKT_RUN/hub.log"

# SIGTERM: Deletes to every spoke, every Virtual-Access removed, the hook's down for each.
remaining=$(vas)
kill -TERM "$(cat "$IKT_RUN/$HUB.pid")"
stopped() { ! kill -0 "$(cat "$IKT_RUN/$HUB.pid")" 2>/dev/null; }
check "hub stops on SIGTERM within 15 s with no Virtual-Access left" eval \
    "until_true 15 stopped && [ -z \"\$(vas)\" ]"
check "the hook ran down for every Virtual-Access at shutdown" eval \
    "for v in $(echo $remaining); do grep -q \"^down \$v \" $IKT_RUN/hook.log || exit 1; done"
suite_end
