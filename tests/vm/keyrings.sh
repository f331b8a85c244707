#!/bin/bash
# keyrings.sh - keyrings, ISAKMP profiles and phase 1 identities between two ikev1d on
# the data path IKT_DATAPLANE: kernel INSIDE the VM (tests/vm-keyrings.sh), userspace on
# the host (tests/keyrings.sh). Scenarios, at once:
#   kg  R2 = examples/r2-keyring.conf (key in a keyring, ISAKMP profile R3 named by the
#       ipsec profile, Tunnel0) against R3 = examples/r3.conf (a global key): R2
#       initiates (R3 --passive), then R3 initiates (R2 --passive); pings; `show isakmp`
#       shows R2's SA with profile R3, R3's with none
#   wild IPv4, a wildcard responder: R3's keyring holds `pre-shared-key address 0.0.0.0
#       0.0.0.0`, its profile `match identity address 0.0.0.0`; R2 has a global key
#   fq  FQDN identities: R2 sends ID_FQDN R2.example.com (`crypto isakmp identity
#       hostname`); R3's profile matches `host domain example.com` and answers with
#       R3.example.com (`self-identity fqdn`)
#   mm  R3's profile matches R2's address but only another domain's names: R3 refuses
#       R2's FQDN in one line naming the profile and its match lines; no SA comes up
# Then: no pre-shared key of the suite is in any daemon's log.
# Arguments: the scenarios (default all). Namespaces $IKT_NS-<scenario>-r2/-r3.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
DP=${IKT_DATAPLANE:-kernel}
suite_begin keyrings-$DP
echo "kernel $(uname -r); data path $DP"
# a fresh devtmpfs (the VM's) has /dev/net/tun only once the module is loaded
[ "$DP" != userspace ] || [ -e /dev/net/tun ] || modprobe tun
KEYS=(cisco Wild-Card-Key-1 Fqdn-Key-2 Mism-Key-3)

# profile_of NS: the profile of the first ISAKMP SA `show isakmp --json` lists
profile_of() { json_field "$1" isakmp '.[0].profile'; }

# profiles NS_A A NS_B B: the profiles of A's and B's SAs ("null": none)
profiles() {
    local a b
    a=$(profile_of "$1") b=$(profile_of "$3")
    echo "    profiles: ${1##*-} $a, ${3##*-} $b"
    [ "$a" = "$2" ] && [ "$b" = "$4" ]
}

# stop_daemons: SIGTERM to this scenario's daemons, and wait for them
stop_daemons() {
    local p
    for p in "${IKT_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${IKT_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    IKT_PIDS=()
}

# v4_conf OUT ADDR PEER EXTRA TUNNEL_EXTRA: an IPv4 VTI (Tunnel1, 192.168.23.ADDR) from
# eth0 to PEER with the lines EXTRA (keys, keyrings, profiles, identity) before the
# transform set and TUNNEL_EXTRA in the ipsec profile
v4_conf() {
    {
        echo "crypto isakmp policy 10"; echo " encr aes 256"; echo " hash sha256"
        echo " authentication pre-share"; echo " group 14"
        printf '%s\n' "$4"
        echo "crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac"
        echo "crypto ipsec profile VTI"; echo " set transform-set TS"
        [ -z "$5" ] || printf '%s\n' "$5"
        echo "interface Tunnel1"; echo " ip address 192.168.23.$2 255.255.255.0"
        echo " tunnel source eth0"; echo " tunnel mode ipsec ipv4"
        echo " tunnel destination $3"; echo " tunnel protection ipsec profile VTI"
    } >"$1"
    chmod 600 "$1"
}

# up TAG R2 R2_CONF R3 R3_CONF PASSIVE: the PASSIVE side (r2|r3) starts first with
# --passive, the other initiates once it listens (logs $IKT_RUN/TAG-r2.log, -r3.log);
# the tunnel comes up and 192.168.23.3 answers R2's pings through it
up() {
    local t=$1 r2=$2 first=$6 side
    declare -A ns=([r2]=$2 [r3]=$4) confs=([r2]=$3 [r3]=$5)
    serially
    for side in "$first" $([ "$first" = r2 ] && echo r3 || echo r2); do
        start_ikev1d "${ns[$side]}" "${confs[$side]}" "$IKT_RUN/$t-$side.log" --dataplane "$DP" \
            $([ "$side" = "$first" ] && echo --passive)
        [ "$side" != "$first" ] || listening "${ns[$side]}" 60
    done
    check "$t: tunnel up, $([ "$first" = r2 ] && echo R3 || echo R2) initiating" wait_sa "$r2" 60
    serial_end
    check "$t: ping 192.168.23.3 3/3" pings "$r2" 192.168.23.3 3
}

kg() {
    local r2=$IKT_NS-kg-r2 r3=$IKT_NS-kg-r3
    routers $r2 2001:db8::2 $r3 2001:db8::3 64 || return 1
    up kg-a $r2 examples/r2-keyring.conf $r3 examples/r3.conf r3
    check "kg-a: show isakmp: R2's SA has profile R3, R3's none" profiles $r2 R3 $r3 null
    check "kg-a: show isakmp text names the profile" eval "show $r2 isakmp | grep -q ', profile R3$'"
    check "kg-a: R2 says which profile serves the SA" grep -q "peer matches R3 profile" "$IKT_RUN/kg-a-r2.log"
    [ "$DP" != kernel ] || check "kg-a: Tunnel0 is an xfrm interface with if_id 2^31" \
        eval "ip -n $r2 -d link show Tunnel0 | grep -q 'if_id 0x80000000'"
    stop_daemons
    up kg-b $r2 examples/r2-keyring.conf $r3 examples/r3.conf r2
    check "kg-b: R2 chose profile R3 by R3's ID" profiles $r2 R3 $r3 null
    check "kg-b: R2 was the responder only" eval \
        "grep -q 'New State = IKE_R_MM1' $IKT_RUN/kg-b-r2.log && ! grep -q 'New State = IKE_I_MM' $IKT_RUN/kg-b-r2.log"
}

wild() {
    local r2=$IKT_NS-wild-r2 r3=$IKT_NS-wild-r3
    routers $r2 192.0.2.2 $r3 192.0.2.3 24 || return 1
    v4_conf "$IKT_RUN/wild-r2.conf" 2 192.0.2.3 "crypto isakmp key Wild-Card-Key-1 address 192.0.2.3" ""
    v4_conf "$IKT_RUN/wild-r3.conf" 3 192.0.2.2 "crypto keyring ANY
 pre-shared-key address 0.0.0.0 0.0.0.0 key Wild-Card-Key-1
crypto isakmp profile ANY
 keyring ANY
 match identity address 0.0.0.0" " set isakmp-profile ANY"
    up wild $r2 "$IKT_RUN/wild-r2.conf" $r3 "$IKT_RUN/wild-r3.conf" r3
    check "wild: R3's SA has profile ANY" profiles $r2 null $r3 ANY
}

# fq_conf OUT SIDE PEER MATCH: the fq / mm configurations; MATCH: R3's profile's match
# lines
fq_conf() {
    if [ "$2" = 2 ]; then
        v4_conf "$1" 2 "$3" "hostname R2
ip domain name example.com
crypto isakmp identity hostname
crypto isakmp key $5 address $3" ""
    else
        v4_conf "$1" 3 "$3" "hostname R3
ip domain name example.com
crypto keyring BRANCHES
 pre-shared-key address $3 key $5
crypto isakmp profile BRANCHES
 keyring BRANCHES
$4
 self-identity fqdn" " set isakmp-profile BRANCHES"
    fi
}

fq() {
    local r2=$IKT_NS-fq-r2 r3=$IKT_NS-fq-r3
    routers $r2 192.0.2.2 $r3 192.0.2.3 24 || return 1
    fq_conf "$IKT_RUN/fq-r2.conf" 2 192.0.2.3 "" Fqdn-Key-2
    fq_conf "$IKT_RUN/fq-r3.conf" 3 192.0.2.2 " match identity host domain example.com" Fqdn-Key-2
    up fq $r2 "$IKT_RUN/fq-r2.conf" $r3 "$IKT_RUN/fq-r3.conf" r3
    check "fq: R3 matched R2's ID_FQDN to profile BRANCHES" eval \
        "grep -q 'processing ID payload: type ID_FQDN, host R2.example.com, protocol 17, port 500' $IKT_RUN/fq-r3.log &&
         grep -q 'peer matches BRANCHES profile' $IKT_RUN/fq-r3.log"
    check "fq: R2 received R3's ID_FQDN" \
        grep -q 'processing ID payload: type ID_FQDN, host R3.example.com' "$IKT_RUN/fq-r2.log"
    check "fq: R3's SA has profile BRANCHES" profiles $r2 null $r3 BRANCHES
}

mm() {
    local r2=$IKT_NS-mm-r2 r3=$IKT_NS-mm-r3
    routers $r2 192.0.2.2 $r3 192.0.2.3 24 || return 1
    fq_conf "$IKT_RUN/mm-r2.conf" 2 192.0.2.3 "" Mism-Key-3
    fq_conf "$IKT_RUN/mm-r3.conf" 3 192.0.2.2 " match identity address 192.0.2.0 255.255.255.0
 match identity host domain example.org" Mism-Key-3
    start_ikev1d $r3 "$IKT_RUN/mm-r3.conf" "$IKT_RUN/mm-r3.log" --dataplane "$DP" --passive
    listening $r3 60
    start_ikev1d $r2 "$IKT_RUN/mm-r2.conf" "$IKT_RUN/mm-r2.log" --dataplane "$DP"
    check "mm: R3 refuses R2's FQDN naming the profile and its match lines" logged \
        "invalid identity from 192.0.2.2: the peer identifies itself as host R2.example.com, which no match identity accepts \(crypto isakmp profile BRANCHES, line [0-9]+ \(match identity address 192.0.2.0 255.255.255.0, match identity host domain example.org\)\)" \
        60 "$IKT_RUN/mm-r3.log"
    check "mm: no SA pair on either side" eval "[ \"\$(count_sas $r2 ipsec)\" = 0 ] && [ \"\$(count_sas $r3 ipsec)\" = 0 ]"
}

for s in ${@:-kg wild fq mm}; do scenario "$s" "$s"; done
wait_scenarios 400

no_key_in_logs() {
    local f k found=0
    for f in "$IKT_RUN"/*.log; do
        for k in "${KEYS[@]}"; do
            grep -qF -- "$k" "$f" && { echo "    ${f##*/} shows the key $k"; found=1; }
        done
    done
    echo "    $(ls "$IKT_RUN"/*.log | wc -l) logs searched for ${#KEYS[@]} keys"
    [ $found = 0 ]
}
check "no pre-shared key in any daemon log" no_key_in_logs
suite_end
