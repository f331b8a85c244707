#!/bin/bash
# diagnosis.sh - every entry of the diagnosis catalogue (docs/troubleshooting.md),
# provoked on this machine: two ikev1d in namespaces whose configurations differ from
# the seed's in one line (or strongSwan, where two ikev1d cannot disagree that way).
# Each check asserts the one WARN/ERROR line that says the cause in words and names the
# configuration line (`line N`). All scenarios run at once (retransmission give-ups take
# about a minute), in namespaces $IKT_NS-d*:
#   psk       crypto isakmp key differs                  -> pre-shared key mismatch
#   policy    R3's policy 10 says `encryption aes 256`    -> no matching ISAKMP policy
#   tset      R3's transform-set says esp-3des            -> no matching transform set
#   pfs       R3's profile says `set pfs group14`         -> PFS mismatch
#   proxy     strongSwan proposes 0.0.0.0/0 over IPv6     -> proxy identity mismatch
#   unreach   R3 runs no daemon                           -> peer unreachable (MM1)
#   life      R3's profile says lifetime seconds 1800     -> lifetime shortened by the peer
#   ident     strongSwan identifies as 2001:db8::99 (no NAT) -> identity mismatch
#   dpd       keepalive 10 3 on both; R3 SIGSTOPped       -> DPD timeout within S*R+S,
#             SAs removed, one line; after SIGCONT the tunnel comes back
# Arguments: the scenarios to run (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
suite_begin diagnosis
export SSW_DIR=$IKT_RUN/ssw
PEER=scripts/strongswan-peer.sh
D=$IKT_NS-d

# diagnosed TAG REGEX SECONDS LOG...: within SECONDS one of the LOGs has a WARN or ERROR
# line matching REGEX (extended)
diagnosed() { local tag=$1; shift; check "$tag" logged "$@"; }

# pair NAME R3-SED-SCRIPT...: namespaces $D$NAME-r2/-r3 on the seed, R3's config
# edited (one line), R2's is $R2_CONF or the seed's; both daemons started. Logs
# $IKT_RUN/NAME-r2.log, NAME-r3.log.
pair() {
    local n=$1; shift
    routers $D$n-r2 2001:db8::2 $D$n-r3 2001:db8::3 64
    variant examples/r3.conf "$IKT_RUN/$n-r3.conf" "$@"
    start_ikev1d $D$n-r3 "$IKT_RUN/$n-r3.conf" "$IKT_RUN/$n-r3.log"
    start_ikev1d $D$n-r2 "${R2_CONF:-examples/r2.conf}" "$IKT_RUN/$n-r2.log"
}

# strongswan NAME R2-ARGS...: R2 (the seed plus 2001:db8:100::2) against strongSwan,
# whose settings come from the environment (scripts/strongswan-peer.sh)
strongswan() {
    local n=$1; shift
    routers $D$n-r2 2001:db8::2 $D$n-ss 2001:db8::3 64
    ip -n $D$n-ss addr add 2001:db8:100::3/128 dev lo
    variant examples/r2.conf "$IKT_RUN/$n-r2.conf" \
        's/^ipv6 address FE80::23:2 link-local$/&\nipv6 address 2001:DB8:100::2\/64/'
    on_exit "$PEER" stop $D$n-ss
    watch_log "$SSW_DIR/peer-$D$n-ss/charon.log"
    IKE_PROPOSALS=des-sha1-modp768 ESP_PROPOSALS=aes128-sha1 \
        "$PEER" start $D$n-ss 2001:db8::3 2001:db8::2 cisco >"$IKT_RUN/$n-peer.log" 2>&1 ||
        { cat "$IKT_RUN/$n-peer.log"; return 1; }
    start_ikev1d $D$n-r2 "$IKT_RUN/$n-r2.conf" "$IKT_RUN/$n-r2.log" "$@"
}

psk() {
    pair psk 's/^crypto isakmp key cisco /crypto isakmp key wrong /'
    diagnosed "psk: PSK mismatch named, with crypto isakmp key line 3" \
        'pre-shared key mismatch.*crypto isakmp key, line 3\)' 70 "$IKT_RUN/psk-r2.log" "$IKT_RUN/psk-r3.log"
}

policy() {
    pair pol '/^crypto isakmp policy 10/a encryption aes 256'
    diagnosed "policy: no matching ISAKMP policy, offer and policy 10 line 1 named" \
        'no matching proposal: peer offered (DES|AES-256)/SHA/group 1.*policy 10 \(line 1\) has' 30 "$IKT_RUN/pol-r2.log" "$IKT_RUN/pol-r3.log"
}

tset() {
    pair ts 's/^crypto ipsec transform-set TRA esp-aes /crypto ipsec transform-set TRA esp-3des /'
    diagnosed "tset: no matching transform set, transform-set line 4 named" \
        'no matching transform set for Tunnel23: peer offered .*transform set TRA \(line 4\)' 30 "$IKT_RUN/ts-r2.log" "$IKT_RUN/ts-r3.log"
}

pfs() {
    pair pfs '/^set transform-set TRA/a set pfs group14'
    diagnosed "pfs: PFS mismatch, set pfs line 8 named" \
        'PFS mismatch for Tunnel23: peer offered no PFS, set pfs \(line 8\) requires group 14' 30 "$IKT_RUN/pfs-r3.log"
}

proxy() {
    # strongSwan initiates with IPv4 proxies over IPv6 (ikev1d cannot be configured so)
    LOCAL_TS=0.0.0.0/0 REMOTE_TS=0.0.0.0/0 strongswan prx --passive
    "$PEER" initiate ${D}prx-ss >"$IKT_RUN/prx-initiate.log" 2>&1 &
    IKT_PIDS+=($!)
    diagnosed "proxy: proxy identity mismatch, interface Tunnel23 line 9 named" \
        'invalid identity from 2001:db8::3: proxy identities 0\.0\.0\.0/0[/0-9]* <-> 0\.0\.0\.0/0[/0-9]* not acceptable.*Tunnel23.*line 9' 40 "$IKT_RUN/prx-r2.log"
    "$PEER" stop ${D}prx-ss >/dev/null
}

unreach() {
    routers ${D}unr-r2 2001:db8::2 ${D}unr-r3 2001:db8::3 64
    start_ikev1d ${D}unr-r2 examples/r2.conf "$IKT_RUN/unr-r2.log"
    diagnosed "unreach: peer unreachable (no answer to MM1), tunnel destination line 14 named" \
        'peer unreachable \(no answer to MM1\): 2001:db8::3 .*tunnel destination of Tunnel23, line 14' 80 "$IKT_RUN/unr-r2.log"
}

life() {
    pair lif '/^set transform-set TRA/a set security-association lifetime seconds 1800'
    check "life: the tunnel still comes up" wait_sa ${D}lif-r2 20
    diagnosed "life: R2 warns its phase 2 lifetime was shortened to 1800 s, naming a line" \
        'lifetime shortened by the peer: .*1800.*line [0-9]+' 30 "$IKT_RUN/lif-r2.log"
}

ident() {
    # strongSwan with kernel-netlink only: kernel-libipsec would fake a NAT (to get UDP
    # encapsulation), and behind a NAT another identity is expected. Phase 1 is enough
    # here; this kernel cannot install its ESP SAs.
    KERNEL_ESP=1 LOCAL_ID=2001:db8::99 strongswan id
    check "ident: phase 1 still comes up" until_true 20 grep -qE 'ISAKMP SA [0-9]+ with 2001:db8::3 is up' "$IKT_RUN/id-r2.log"
    # R2's config: the seed's plus the inner address line, so tunnel destination is line 15
    diagnosed "ident: identity mismatch, tunnel destination line 15 named" \
        'identity mismatch: peer 2001:db8::3 identifies itself as .*2001:db8::99.*line 15' 30 "$IKT_RUN/id-r2.log"
    "$PEER" stop ${D}id-ss >/dev/null
}

dpd() {
    local r3pid t0 n spi
    variant examples/r2.conf "$IKT_RUN/dpd-r2.conf" "$(dpd_line 10 3)"
    R2_CONF=$IKT_RUN/dpd-r2.conf pair dpd "$(dpd_line 10 3)"
    check "dpd: Tunnel23 up" wait_sa ${D}dpd-r2 20
    r3pid=$(cat "$IKT_RUN/${D}dpd-r3.pid")
    sleep 2
    spi=$(outbound_spi ${D}dpd-r2)
    kill -STOP "$r3pid"
    t0=$SECONDS
    diagnosed "dpd: DPD timeout within 40 s (S*R+S), keepalive line 4 named" \
        'DPD timeout: peer 2001:db8::3 .*crypto isakmp keepalive 10 3.*line 4' 40 "$IKT_RUN/dpd-r2.log"
    check "dpd: R2 removed the SA pair within 40 s of SIGSTOP" wait_pairs ${D}dpd-r2 0 $((t0 + 40 - SECONDS > 0 ? t0 + 40 - SECONDS : 1))
    echo "    dpd: checked $((SECONDS - t0)) s after SIGSTOP"
    n=$(count "$IKT_RUN/dpd-r2.log" 'DPD timeout')
    check "dpd: logged in one line ($n)" test "$n" = 1
    kill -CONT "$r3pid"
    check "dpd: after SIGCONT the tunnel is back on a new SA pair within 30 s" new_sa_within ${D}dpd-r2 "$spi" 30
    check "dpd: and 10/10 pings pass" pings ${D}dpd-r2 fe80::23:3%Tunnel23 10
}

all=(psk policy tset pfs proxy unreach life ident dpd)
for s in "${@:-${all[@]}}"; do scenario "$s" "$s"; done
wait_scenarios
suite_end
