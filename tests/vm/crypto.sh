#!/bin/bash
# crypto.sh - the algorithms Cisco calls "next generation encryption", against real
# ESP: runs INSIDE the VM on kernel ESP (tests/vm-crypto.sh), and on this machine with
# IKT_DATAPLANE=userspace (tests/strongswan-crypto.sh: part 2 only, ikev1d's userspace
# ESP against strongSwan's kernel-libipsec, which has no AES-GMAC: cases 1, 3, 4).
#
# 1. Kernel against userspace: for each new ESP transform, the kernel data path
#    (examples/dp_driver, XFRM) in ikt-xk and the userspace one in ikt-xu with the same
#    keys. A ping crosses both ways: the kernel's packets open in userspace and
#    userspace's open in the kernel; both count the same packets; the kernel's state
#    carries the algorithm as `ip xfrm state` shows it (rfc4106(gcm(aes)), 128-bit
#    ICV, key and salt).
# 2. Against strongSwan (kernel ESP, tests/vm/strongswan.sh): IKE aes256-sha256-ecp256,
#    aes256-sha384-ecp384, aes256-sha512-ecp521, aes128-sha256-modp2048s256 with ESP
#    aes256gcm16 + PFS ecp256, aes128gmac, aes256-sha384, aes256-sha512; four cases
#    at once (tests/vm/strongswan.sh each, with IKT_NS $IKT_NS-x1 .. -x4), each side
#    initiating once. Namespaces $IKT_NS-xk, $IKT_NS-xu.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
DATAPLANE=${IKT_DATAPLANE:-kernel}
suite_begin crypto-$DATAPLANE
t0=$EPOCHREALTIME
ms() { echo $(( (${EPOCHREALTIME/./} - ${1/./}) / 1000 )); }
echo "kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime) s; ikev1d data path $DATAPLANE"
[ -e /dev/net/tun ] || modprobe tun

# --- 1. kernel <-> userspace -------------------------------------------------------
K=$IKT_NS-xk U=$IKT_NS-xu

in_out() { dp_counters "$1" | jq -r '"\(.inbound.packets) \(.outbound.packets)"'; }

# same_packets K0 U0: since K0/U0, the kernel's out = userspace's in and the other
# way round, 10 or more each (5 echo requests and 5 replies). The sides are read one
# after the other, and the tunnel also carries the odd link-scope packet: a few reads.
same_packets() {
    local k0 u0 k u kin kout uin uout _
    read -ra k0 <<<"$1"; read -ra u0 <<<"$2"
    for _ in 1 2 3 4 5 6; do
        read -ra k <<<"$(in_out $K)"; read -ra u <<<"$(in_out $U)"
        kin=$((k[0] - k0[0])) kout=$((k[1] - k0[1])) uin=$((u[0] - u0[0])) uout=$((u[1] - u0[1]))
        [ $kout = $uin ] && [ $uout = $kin ] && [ $kout -ge 10 ] && [ $kin -ge 10 ] && break
        sleep 0.5
    done
    echo "    kernel in/out $kin/$kout, userspace in/out $uin/$uout; userspace drops: $(dp_counters $U |
        jq -c '{integrity: .inbound.integrity_errors, replay: .inbound.replay_errors}')"
    [ $kout = $uin ] && [ $uout = $kin ] && [ $kout -ge 10 ] && [ $kin -ge 10 ]
}

# has_state PATTERN: the kernel side's states match PATTERN (else shown, keys cut short;
# read whole first: grep -q may stop reading early, failing `ip` under pipefail)
has_state() {
    local states
    states=$(ip -n $K xfrm state)
    grep -qE "$1" <<<"$states" || { sed -E 's/(0x[0-9a-f]{4})[0-9a-f]+/\1.../' <<<"$states"; return 1; }
}

# cross TRANSFORM XFRM_PATTERN: one kernel/userspace tunnel with TRANSFORM
cross() {
    local t=$1 pattern=$2 k0 u0 _
    local common=(--name Tunnel23 --if-id 23 --transform "$t" --mtu 1400)
    check "$t: kernel data path up" dp_start $K $K --dataplane kernel "${common[@]}" \
        --local 2001:db8::2 --peer 2001:db8::3 --spi-in 4098 --spi-out 4099 \
        --ipv4 192.168.23.2/24 --link-local fe80::23:2
    check "$t: userspace data path up" dp_start $U $U --dataplane userspace "${common[@]}" \
        --local 2001:db8::3 --peer 2001:db8::2 --spi-in 4099 --spi-out 4098 \
        --ipv4 192.168.23.3/24 --link-local fe80::23:3
    check "$t: ip xfrm state shows $pattern" has_state "$pattern"
    # a baseline once both sides are quiet (no packet in flight counted on one side only)
    for _ in 1 2 3 4 5 6 7 8; do
        k0=$(in_out $K) u0=$(in_out $U)
        sleep 0.3
        [ "$k0 $u0" = "$(in_out $K) $(in_out $U)" ] && break
    done
    check "$t: ping kernel -> userspace 192.168.23.3 5/5" pings $K 192.168.23.3 5
    check "$t: ping kernel -> userspace fe80::23:3%Tunnel23 5/5" pings $K fe80::23:3%Tunnel23 5
    check "$t: both sides counted the same packets" same_packets "$k0" "$u0"
    check "$t: both drivers quit cleanly" eval "dp_stop $K && dp_stop $U"
}

kernel_vs_userspace() {
    local t1=$EPOCHREALTIME
    routers $K 2001:db8::2 $U 2001:db8::3 64
    # 36, 20, 28 bytes: the AES key and RFC 4106's 4-byte salt; ICVs of 128 bits (GCM,
    # GMAC), 192 and 256 (RFC 4868 truncation of HMAC-SHA-384/512).
    cross "esp-gcm 256" 'aead rfc4106\(gcm\(aes\)\) 0x[0-9a-f]{72} 128'
    cross "esp-gcm" 'aead rfc4106\(gcm\(aes\)\) 0x[0-9a-f]{40} 128'
    cross "esp-gmac 192" 'aead rfc4543\(gcm\(aes\)\) 0x[0-9a-f]{56} 128'
    cross "esp-aes 256,esp-sha384-hmac" 'auth-trunc hmac\(sha384\) 0x[0-9a-f]{96} 192'
    cross "esp-aes 256,esp-sha512-hmac" 'auth-trunc hmac\(sha512\) 0x[0-9a-f]{128} 256'
    cross "esp-null,esp-sha256-hmac" 'enc ecb\(cipher_null\) *$'
    echo "timing: kernel <-> userspace $(ms $t1) ms"
}
[ "$DATAPLANE" != kernel ] || kernel_vs_userspace

# --- 2. strongSwan, the cases at once ----------------------------------------------
# r2_conf OUT POLICY_LINES TRANSFORMS [PFS_GROUP]: examples/r2.conf with this isakmp
# policy, transform set and `set pfs`
r2_conf() {
    local out=$1 policy=$2 transforms=$3 pfs=${4:-}
    sed -e "s/^crypto isakmp policy 10$/&\n$policy/" \
        -e "s/^crypto ipsec transform-set TRA .*/crypto ipsec transform-set TRA $transforms/" \
        -e "s/^set transform-set TRA$/&${pfs:+\\nset pfs group$pfs}/" examples/r2.conf >"$out"
}

# case N IKE ESP GROUP CIPHER_HASH TRANSFORMS PFS XFRM: tests/vm/strongswan.sh in the
# background with IKT_NS $IKT_NS-xN; on the kernel path strongSwan uses kernel ESP too
pids=()
case_run() {
    local n=$1 ike=$2 esp=$3 group=$4 cipher_hash=$5 transforms=$6 pfs=$7 xfrm=$8
    r2_conf "$IKT_RUN/r2-$n.conf" "$cipher_hash\ngroup $group" "$transforms" "$pfs"
    IKT_NS=$IKT_NS-x$n R2_CONF=$IKT_RUN/r2-$n.conf SSW_IKE=$ike SSW_ESP=$esp R2_GROUP=$group \
        R2_TRANSFORM=$transforms R2_PFS=${pfs:+group$pfs} R2_XFRM=$xfrm IKT_DATAPLANE=$DATAPLANE \
        bash tests/vm/strongswan.sh >"$IKT_RUN/case-$n.out" 2>&1 &
    pids[$n]=$!
    echo "$n $ike / $esp" >>"$IKT_RUN/cases"
}
t2=$EPOCHREALTIME
case_run 1 aes256-sha256-ecp256 aes256gcm16-ecp256 19 'encryption aes 256\nhash sha256' \
    "esp-gcm 256" 19 'aead rfc4106\(gcm\(aes\)\) 0x[0-9a-f]{72} 128'
[ "$DATAPLANE" != kernel ] ||
    case_run 2 aes256-sha384-ecp384 aes128gmac 20 'encryption aes 256\nhash sha384' \
        "esp-gmac" "" 'aead rfc4543\(gcm\(aes\)\) 0x[0-9a-f]{40} 128'
case_run 3 aes256-sha512-ecp521 aes256-sha384 21 'encryption aes 256\nhash sha512' \
    "esp-aes 256 esp-sha384-hmac" "" 'auth-trunc hmac\(sha384\) 0x[0-9a-f]{96} 192'
case_run 4 aes128-sha256-modp2048s256 aes256-sha512 24 'encryption aes\nhash sha256' \
    "esp-aes 256 esp-sha512-hmac" "" 'auth-trunc hmac\(sha512\) 0x[0-9a-f]{128} 256'
# each case's checks, named after it, count as this suite's
while read -r n what; do
    rc=0
    wait "${pids[$n]}" || rc=$?
    echo "--- case $n: IKE $what"
    sed -E "s#^(PASS|FAIL) #\1 $n ${what// /} #" "$IKT_RUN/case-$n.out"
    IKT_PASSED=$((IKT_PASSED + $(grep -c '^PASS' "$IKT_RUN/case-$n.out")))
    IKT_FAILED=$((IKT_FAILED + $(grep -c '^FAIL' "$IKT_RUN/case-$n.out")))
    check "case $n ($what) exits 0" [ $rc = 0 ]
done <"$IKT_RUN/cases"
echo "timing: strongSwan cases $(ms $t2) ms; whole script $(ms $t0) ms; uptime $(cut -d' ' -f1 /proc/uptime) s"
suite_end
