#!/bin/bash
# netns-reconfigure.sh - SIGHUP with changed interface addresses and routes
# reconfigures Tunnel23 in place (userspace data path, dataplane::link): the new IPv4
# prefix replaces the old one, a new IPv6 address appears, the dropped route goes,
# the kept one stays, the fixed link-local stays the only one, traffic still passes.
set -uo pipefail
cd "$(dirname "$0")/.."
IKT_RUN=$(mktemp -d /tmp/ikt-dr.XXXXXX)
. scripts/lib.sh
trap lib_cleanup EXIT
routers ikt-dr-r2 2001:db8::2 ikt-dr-r3 2001:db8::3 64
start_ikev1d ikt-dr-r3 examples/r3.conf "$IKT_RUN/r3.log"
cat examples/r2.conf > "$IKT_RUN/r2.conf"
cat >> "$IKT_RUN/r2.conf" <<'C'
ip route 198.51.100.0 255.255.255.0 Tunnel23
ipv6 route 2001:db8:99::/64 Tunnel23
C
start_ikev1d ikt-dr-r2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2.log"
check "SAs up" wait_sa ikt-dr-r2 20
check "route v4" bash -c "ip -n ikt-dr-r2 route | grep -q '198.51.100.0/24 dev Tunnel23'"
check "route v6" bash -c "ip -n ikt-dr-r2 -6 route | grep -q '2001:db8:99::/64 dev Tunnel23'"
sed -i 's/ip address 192.168.23.2 255.255.255.0/ip address 192.168.23.2 255.255.255.128\nipv6 address 2001:DB8:23::2\/64/; s/^ip route 198.51.100.0 255.255.255.0 Tunnel23/ip route 198.51.100.128 255.255.255.128 Tunnel23/' "$IKT_RUN/r2.conf"
kill -HUP "$(cat "$IKT_RUN/ikt-dr-r2.pid")"; sleep 1.5
check "reloaded" grep -q "configuration reloaded" "$IKT_RUN/r2.log"
check "new /25, no /24" bash -c "ip -n ikt-dr-r2 addr show dev Tunnel23 | grep -q '192.168.23.2/25' && ! ip -n ikt-dr-r2 addr show dev Tunnel23 | grep -q '/24'"
check "new v6 global" bash -c "ip -n ikt-dr-r2 addr show dev Tunnel23 | grep -q '2001:db8:23::2/64'"
check "only fixed link-local" bash -c "[ \$(ip -n ikt-dr-r2 -6 addr show dev Tunnel23 scope link | grep -c inet6) = 1 ]"
check "old v4 route gone, new there" bash -c "! ip -n ikt-dr-r2 route | grep -q '198.51.100.0/24' && ip -n ikt-dr-r2 route | grep -q '198.51.100.128/25 dev Tunnel23'"
check "v6 route kept" bash -c "ip -n ikt-dr-r2 -6 route | grep -q '2001:db8:99::/64 dev Tunnel23'"
check "ping link-local after reload" ip netns exec ikt-dr-r2 ping -c 2 -i 0.2 -W 2 fe80::23:3%Tunnel23
if [ $IKT_FAILED != 0 ]; then
    ip -n ikt-dr-r2 addr show dev Tunnel23; ip -n ikt-dr-r2 route; ip -n ikt-dr-r2 -6 route
    echo "--- R2 log"; tail -30 "$IKT_RUN/r2.log"
fi
exit $IKT_FAILED
