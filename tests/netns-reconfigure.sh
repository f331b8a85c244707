#!/bin/bash
# netns-reconfigure.sh - SIGHUP with changed interface addresses and routes
# reconfigures Tunnel23 in place (userspace data path, dataplane::link): the new IPv4
# prefix replaces the old one, a new IPv6 address appears, the dropped route goes,
# the kept one stays, the fixed link-local stays the only one, traffic still passes.
# Namespaces $IKT_NS-dr-r2/-r3.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin netns-reconfigure
R2=$IKT_NS-dr-r2 R3=$IKT_NS-dr-r3

routers $R2 2001:db8::2 $R3 2001:db8::3 64
start_ikev1d $R3 examples/r3.conf "$IKT_RUN/r3.log"
cat examples/r2.conf - >"$IKT_RUN/r2.conf" <<'C'
ip route 198.51.100.0 255.255.255.0 Tunnel23
ipv6 route 2001:db8:99::/64 Tunnel23
C
start_ikev1d $R2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2.log"
# has IN WHAT... : `ip -n R2 WHAT...` prints a line matching IN
has() { local re=$1; shift; ip -n $R2 "$@" | grep -q "$re"; }
check "SAs up" wait_sa $R2 20
check "route v4" has '198.51.100.0/24 dev Tunnel23' route
check "route v6" has '2001:db8:99::/64 dev Tunnel23' -6 route
sed -i 's/ip address 192.168.23.2 255.255.255.0/ip address 192.168.23.2 255.255.255.128\nipv6 address 2001:DB8:23::2\/64/; s/^ip route 198.51.100.0 255.255.255.0 Tunnel23/ip route 198.51.100.128 255.255.255.128 Tunnel23/' "$IKT_RUN/r2.conf"
kill -HUP "$(cat "$IKT_RUN/$R2.pid")"
check "reloaded" until_true 5 grep -q "configuration reloaded" "$IKT_RUN/r2.log"
# the links change after the log line, on the data path's side: allow them a moment
check "new /25, no /24" until_true 5 eval "has 192.168.23.2/25 addr show dev Tunnel23 && ! has /24 addr show dev Tunnel23"
check "new v6 global" until_true 5 has 2001:db8:23::2/64 addr show dev Tunnel23
one_link_local() { [ "$(ip -n $R2 -6 addr show dev Tunnel23 scope link | grep -c inet6)" = 1 ]; }
check "only fixed link-local" until_true 5 one_link_local
check "old v4 route gone, new there" until_true 5 eval "! has 198.51.100.0/24 route && has '198.51.100.128/25 dev Tunnel23' route"
check "v6 route kept" until_true 5 has '2001:db8:99::/64 dev Tunnel23' -6 route
check "ping link-local after reload" pings $R2 fe80::23:3%Tunnel23 2
[ "$IKT_FAILED" = 0 ] || { ip -n $R2 addr show dev Tunnel23; ip -n $R2 route; ip -n $R2 -6 route; }
suite_end
