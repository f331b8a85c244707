#!/bin/bash
# ios-paste.sh - a router's whole `show running-config`, pasted as IOS prints it (and
# partly at column 0, abbreviated), runs unchanged: Tunnel0 with its key in a keyring
# (type 7) selected by an ISAKMP profile, its source an IOS interface name mapped to
# eth0, comes up against a second ikev1d and carries a ping; its log sums up what was
# skipped and shows no secret. IOS's mixed-family VTIs (v4-overlay, v6-overlay) carry
# their overlay's traffic. Then every tests/fixtures/ios configuration runs in a namespace
# that gives it the addresses and interfaces it names: those `check` accepts begin Main
# Mode with their peers, and whatever the daemon logs, no secret is in it.
# Namespaces $IKT_NS-g-*.
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin ios-paste
G=$IKT_NS-g

routers $G-r2 2001:db8::2 $G-r3 2001:db8::3 64
start_ikev1d $G-r3 examples/r3.conf "$IKT_RUN/r3.log"

# R2: R3's seed peer, as a pasted IOS-XE running configuration. `094F471A1A0A` is the
# seed's key "cisco" in IOS's type 7.
cat > "$IKT_RUN/r2.conf" <<'C'
Building configuration...

Current configuration : 2048 bytes
!
version 17.3
hostname R2
!
banner motd ^C
  R2: authorized access only. crypto isakmp key NotConfig address ipv6 ::/0
^C
enable secret 9 $9$R2EnableHash
username admin privilege 15 secret 9 $9$R2UserHash
!
crypto keyring R3
  pre-shared-key address ipv6 2001:db8::3/128 key 7 094F471A1A0A
crypto isakmp profile R3
  keyring R3
  match identity address ipv6 2001:db8::3/128
cry isa pol 10
 auth pre-share
crypto ipsec transform-set TRA esp-aes esp-sha-hmac
 mode transport
crypto ipsec profile PRO
 set transform-set TRA
 set isakmp-profile R3
!
interface Tunnel0
ip address 192.168.23.2 255.255.255.0
load-interval 30
ipv6 address FE80::23:2 link-local
tunnel source GigabitEthernet1
tunnel mode ipsec ipv6
tunnel destination 2001:DB8::3
tunnel protection ipsec profile PRO
!
interface GigabitEthernet1
 ipv6 address 2001:DB8::2/64
!
snmp-server community R2-Publ1c RO
line vty 0 4
 password 7 121A0C041104
end
ikev1d map-interface GigabitEthernet1 eth0
C
chmod 600 "$IKT_RUN/r2.conf"
start_ikev1d $G-r2 "$IKT_RUN/r2.conf" "$IKT_RUN/r2.log"
secrets_r2="NotConfig R2EnableHash R2UserHash 094F471A1A0A R2-Publ1c 121A0C041104"

check "pasted config: check passes and names Tunnel0's if_id" bash -c \
    "$IKT_BIN check --config $IKT_RUN/r2.conf | grep -q 'Tunnel0: if_id 2147483648'"
check "Tunnel0 SAs up within 20 s" wait_sa $G-r2 20
check "ping 192.168.23.3 over Tunnel0 5/5" pings $G-r2 192.168.23.3 5
names_tunnel0() { show $G-r2 ipsec | grep -q 'interface: Tunnel0'; }
check "show ipsec names Tunnel0" names_tunnel0
check "log sums up what was skipped in one line" grep -q "skipped 11 lines outside the crypto and tunnel configuration: banner x1, enable x1, interface x1 (GigabitEthernet1), line x1, snmp-server x1, username x1, version x1" "$IKT_RUN/r2.log"
no_secret() {
    local log=$1 s; shift
    for s in "$@"; do
        if grep -qF -- "$s" "$log"; then echo "$log shows $s"; return 1; fi
    done
}
# shellcheck disable=SC2086
check "R2's log shows no secret" no_secret "$IKT_RUN/r2.log" $secrets_r2

# Mixed families (IOS's `tunnel mode ipsec ipv6 v4-overlay` / `ipv4 v6-overlay`): the
# proxy identities and the traffic are of the overlay's family.
overlay() {
    local a=$1 b=$2 mode=$3 outer_a=$4 outer_b=$5 len=$6 inner_b=$7 side peer addr
    routers "$a" "$outer_a" "$b" "$outer_b" "$len"
    for side in "$a" "$b"; do
        if [ "$side" = "$a" ]; then peer=$outer_b; addr=1; else peer=$outer_a; addr=2; fi
        {
            echo "crypto isakmp policy 10"; echo " encr aes 256"; echo " hash sha256"
            echo " authentication pre-share"; echo " group 14"
            if [[ $peer == *:* ]]; then echo "crypto isakmp key Ovl-Key address ipv6 $peer/128"
            else echo "crypto isakmp key Ovl-Key address $peer"; fi
            echo "crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac"
            echo "crypto ipsec profile MIXED"; echo " set transform-set TS"
            echo "interface Tunnel9"
            echo " ip address 192.168.23.$addr 255.255.255.0"
            echo " ipv6 address 2001:db8:9::$addr/64"
            echo " tunnel source eth0"; echo " tunnel mode $mode"
            echo " tunnel destination $peer"; echo " tunnel protection ipsec profile MIXED"
        } > "$IKT_RUN/$side.conf"
        chmod 600 "$IKT_RUN/$side.conf"
        start_ikev1d "$side" "$IKT_RUN/$side.conf" "$IKT_RUN/$side.log"
    done
    check "$mode: SAs up" wait_sa "$a" 20
    check "$mode: ping $inner_b 3/3" pings "$a" "$inner_b" 3
    check "$mode: proxy identities of the overlay family" eval \
        "show $a ipsec | grep -q 'local  ident (addr/mask/prot/port): (${8}/0/0/0)'"
}
overlay $G-a2 $G-a3 "ipsec ipv6 v4-overlay" 2001:db8::2 2001:db8::3 64 192.168.23.2 0.0.0.0
overlay $G-b2 $G-b3 "ipsec ipv4 v6-overlay" 198.51.100.2 198.51.100.3 24 2001:db8:9::2 ::

# Every fixture, run in a namespace of its own: what it lacks to start is supplied one
# piece at a time (each address a tunnel binds, on eth0; each IOS interface name mapped
# to eth0; an address on the interface an `ip unnumbered` tunnel borrows from), then it
# runs for 2 s, its peers never answering. A configuration `check` accepts gets as far
# as Main Mode (its keys looked up and used), or, a hub with a Virtual-Template only or
# a `responder-only` profile, ready for its peers and silent; one it refuses stops with
# its error.
# Whatever the daemon logs, no secret of the fixture is in it.
add_netns $G-fix
ip -n $G-fix link add eth0 type veth peer name eth1
ip -n $G-fix link set eth0 up && ip -n $G-fix link set eth1 up
ip -n $G-fix route add default dev eth0 && ip -n $G-fix -6 route add default dev eth0

# fixture_run NAME: run the fixture's daemon until it lacks nothing the host can supply
fixture_run() {
    local conf=$IKT_RUN/$1.conf log=$IKT_RUN/$1.log maps=() _ a m v4=198.51.100.250/32 lend=192.0.2.251/32 lender
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        ip netns exec $G-fix env RUST_LOG=ikev1d=debug timeout 2 "$IKT_BIN" run --config "$conf" \
            --socket "$IKT_RUN/fix.sock" --dataplane userspace "${maps[@]}" >"$log" 2>&1
        a=$(sed -nE 's/.*cannot bind UDP \[?([^]]+)\]?:500: .*/\1/p' "$log" | head -n 1)
        m=$(grep -oE -- '--map-interface [^= `]+=IFNAME' "$log" | head -n 1 | cut -d' ' -f2)
        if [ -n "$a" ]; then
            [[ $a == *:* ]] && ip -n $G-fix addr add "$a/128" dev eth0 nodad || ip -n $G-fix addr add "$a/32" dev eth0
        elif [ -n "$m" ]; then
            maps+=(--map-interface "${m%=IFNAME}=eth0")
        elif grep -q 'has no IPv4 address to reach' "$log" && [ -n "$v4" ]; then
            ip -n $G-fix addr add $v4 dev eth0; v4=
        elif lender=$(sed -nE 's/.*: ([^ ]+) has no IPv4 address to lend the tunnel$/\1/p' "$log" | head -n 1) &&
            [ -n "$lender" ] && [ -n "$lend" ]; then
            # `ip unnumbered IF`: IF (a Loopback on the router) needs an address to lend
            ip -n $G-fix addr add $lend dev "$lender"; lend=
        else
            return 0
        fi
    done
}
# VRF devices (a fixture whose tunnel `check` shows in a VRF needs them)
have_vrfs=
ip -n $G-fix link add ikt-vrf-probe type vrf table 4242 2>/dev/null && have_vrfs=1 &&
    ip -n $G-fix link del ikt-vrf-probe
for conf in tests/fixtures/ios/*.conf; do
    name=$(basename "$conf" .conf)
    cp "$conf" "$IKT_RUN/$name.conf"; chmod 600 "$IKT_RUN/$name.conf"
    fixture_run "$name"
    mapfile -t secrets < <(sed -n 's/^secret //p' "tests/fixtures/ios/$name.check")
    if ! grep -qx 'exit 0' "tests/fixtures/ios/$name.check"; then
        :
    elif [ -z "$have_vrfs" ] && grep -qE '^stdout +Tunnel.*(, vrf |\(tunnel vrf )' "tests/fixtures/ios/$name.check"; then
        # this kernel cannot run it (tests/vm-vrf.sh runs VRFs): it must say so
        check "$name: no VRF devices in this kernel: stops naming CONFIG_NET_VRF" \
            grep -qE ":[0-9]+: (ip )?(vrf forwarding|tunnel vrf) [^:]+: this kernel has no VRF devices \(CONFIG_NET_VRF" "$IKT_RUN/$name.log"
    elif ! grep -q ': if_id ' "tests/fixtures/ios/$name.check"; then
        # a Virtual-Template only: a hub that waits for its spokes
        check "$name: runs and waits for spokes" grep -q 'ikev1d ready' "$IKT_RUN/$name.log"
    elif grep -q '^ *responder-only' "$IKT_RUN/$name.conf"; then
        # IOS's IKE Responder-Only Mode: its tunnels wait for the peer to begin
        check "$name: runs and, responder-only, begins no Main Mode" bash -c \
            "grep -q 'ikev1d ready' '$IKT_RUN/$name.log' && ! grep -q 'beginning Main Mode exchange' '$IKT_RUN/$name.log'"
    else
        check "$name: runs and begins Main Mode" grep -q 'beginning Main Mode exchange' "$IKT_RUN/$name.log"
    fi
    check "$name: daemon log without secrets (${#secrets[@]} checked)" bash -c \
        "[ -s '$IKT_RUN/$name.log' ] && ! grep -qF -f <(printf '%s\n' \"\${@}\") '$IKT_RUN/$name.log'" _ "${secrets[@]}"
done
suite_end
