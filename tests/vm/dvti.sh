#!/bin/bash
# dvti.sh - runs INSIDE the VM (see tests/vm-dvti.sh): dynamic VTI on the kernel data
# path. A hub with one `interface Virtual-Template1 type tunnel` (ISAKMP profile with a
# wildcard keyring, `match identity address ipv6 2001:db8::/64`, `virtual-template 1`,
# `keepalive 30 retry 5`) and one spoke ikev1d holding N addresses with Tunnel1..N
# (lib.sh's fan_conf, DH group $FAN_GROUP, 19 by default: the fastest under the
# emulated CPU), all its tunnels at once (the engine paces their initiations, as a
# real spoke router's would be after a restart). Every spoke gets its
# Virtual-Access (an xfrm interface, if_id 2^31 + K) and passes a ping from the hub
# (the hook gives the Virtual-Access the hub's end of the spoke's inside /64); then the
# spoke process is killed (-9) and DPD removes every Virtual-Access, with its XFRM
# states and policies, within the DPD time (30 s idle + 5 R-U-THERE 5 s apart: 55 s;
# the limit allows the emulated CPU's slowness). Argument: N (default 200).
# IKT_DATAPLANE=userspace runs it on the host's userspace path. Namespaces
# $IKT_NS-vd-hub, $IKT_NS-vd-spokes.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
suite_begin vm-dvti
N=${1:-200}
export FAN_GROUP=${FAN_GROUP:-19}
HUB=$IKT_NS-vd-hub SP=$IKT_NS-vd-spokes
echo "kernel $(uname -r); $N spokes, DH group $FAN_GROUP"

cat >"$IKT_RUN/hub.conf" <<EOF
crypto isakmp policy 10
 encr aes 256
 hash sha256
 authentication pre-share
 group $FAN_GROUP
crypto keyring SPOKES
 pre-shared-key address ipv6 2001:db8::/64 key Fan-Key
crypto isakmp profile DVTI
 keyring SPOKES
 match identity address ipv6 2001:db8::/64
 virtual-template 1
 keepalive 30 retry 5
crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac
crypto ipsec profile VTI
 set transform-set TS
 set isakmp-profile DVTI
interface Virtual-Template1 type tunnel
 tunnel source 2001:db8::1
 tunnel mode ipsec ipv6
 tunnel protection ipsec profile VTI
EOF
# The hook gives each Virtual-Access the hub's end (::1) of its spoke's inside /64:
# spoke 2001:db8::a:I is 2001:db8:1:I::2 inside (fan_conf).
cat >"$IKT_RUN/hook" <<EOF
#!/bin/sh
echo "\$1 \$2 \$3" >>"$IKT_RUN/hook.log"
[ "\$1" = up ] && ip addr add "2001:db8:1:\${3##*:}::1/64" dev "\$2" nodad
exit 0
EOF
chmod 755 "$IKT_RUN/hook"
chmod 600 "$IKT_RUN/hub.conf"

routers $HUB 2001:db8::1 $SP 2001:db8::a:1 64
for ((i = 2; i <= N; i++)); do echo "addr add 2001:db8::a:$i/64 dev eth0 nodad"; done | ip -n $SP -batch -

# vas: the hub's Virtual-Access interfaces in `ip link`
vas() { ip -n $HUB -br link show | awk '$1 ~ /^(Virtual-Access[0-9]+|Vi[0-9]+)(@|$)/ {sub(/@.*/, "", $1); print $1}' | sort; }
shown() { json_field $HUB ipsec '.[].interface' | sort; }
hub_is() { counts_are $HUB "$1 $1" && [ "$(vas | grep -c .)" = "$1" ] && [ "$(vas)" = "$(shown)" ]; }
# if_ids: N Virtual-Access interfaces, each an xfrm interface with if_id 2^31 + its
# number (one `ip -d -o link` for all: each call takes a while under the emulated CPU)
if_ids() {
    local bad
    [ "$(vas | grep -c .)" = "$N" ] || { echo "    $(vas | grep -c .) Virtual-Access interfaces"; return 1; }
    bad=$(ip -n $HUB -d -o link show type xfrm | awk '
        { name = $2; sub(/[:@].*/, "", name); n = name; sub(/^(Virtual-Access|Vi)/, "", n)
          id = ""; for (i = 1; i < NF; i++) if ($i == "if_id") id = $(i + 1)
          if (name ~ /^(Virtual-Access|Vi)[0-9]+$/ && id != sprintf("0x%x", 2147483648 + n)) print name " " id }')
    [ -z "$bad" ] || { echo "    not if_id 2^31 + N: $bad"; return 1; }
}
# hub_pings: from the hub, every spoke's inside address answers (50 at a time)
hub_pings() {
    local i pids=() failed=0
    for ((i = 1; i <= N; i++)); do
        ip netns exec $HUB ping -n -q -c 2 -i 0.5 -W 10 "2001:db8:1:$i::2" >/dev/null 2>&1 &
        pids+=($!)
        if [ ${#pids[@]} = 50 ] || [ $i = "$N" ]; then
            for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
            pids=()
        fi
    done
    echo "    $((N - failed)) of $N spokes answer 2/2 across their Virtual-Access"
    [ $failed = 0 ]
}
# xfrm_left: the hub's ESP states and tunnel policies (the IKE sockets' own bypass
# policies, `socket in/out`, stay with the daemon)
xfrm_left() { echo "$(ip -n $HUB xfrm state | grep -c '^src') states, $(ip -n $HUB xfrm policy | grep -c 'proto esp') policies"; }

fan_conf "$IKT_RUN/spokes.conf" "$N" many
t0=$SECONDS
start_ikev1d $HUB "$IKT_RUN/hub.conf" "$IKT_RUN/hub.log" --dataplane ${IKT_DATAPLANE:-kernel} --interface-hook "$IKT_RUN/hook"
listening $HUB 60
start_ikev1d $SP "$IKT_RUN/spokes.conf" "$IKT_RUN/spokes.log" --dataplane ${IKT_DATAPLANE:-kernel}
# 200 were up in 17 s here (2 cores, TCG, nothing else running); the rest is room
# for a loaded machine
limit=$((60 + N * ${DVTI_S_PER_SPOKE:-3}))
check "$N spokes up: $N ISAKMP SAs, $N pairs, $N Virtual-Access interfaces on the hub within $limit s" \
    until_true "$limit" hub_is "$N"
echo "    after $((SECONDS - t0)) s: $(sa_counts $HUB) ISAKMP SAs / pairs; hub: $(vas | head -n 3 | tr '\n' ' ')... $(vas | tail -n 1)"
[ "${IKT_DATAPLANE:-kernel}" != kernel ] || check "every Virtual-Access is an xfrm interface with if_id 2^31 + its number" if_ids
echo "    hub log: $(count "$IKT_RUN/hub.log" 'IPsec SA up') pairs up, $(count "$IKT_RUN/hub.log" 'NEW SA') MM1s, $(count "$IKT_RUN/hub.log" retransmitting) retransmissions, $(count "$IKT_RUN/hub.log" ' (ERROR|WARN) ') errors/warnings"
grep -m 3 -E ' (ERROR|WARN) ' "$IKT_RUN/hub.log" | cut -c1-240 | sed 's/^/    | /'
hooks() { echo "$(grep -c "^$1 " "$IKT_RUN/hook.log" 2>/dev/null || true)"; }
check "the hook ran up once for each spoke (within 120 s)" until_true 120 eval "[ \"\$(hooks up)\" = $N ]"
check "every Virtual-Access carries a ping" hub_pings
[ "${IKT_DATAPLANE:-kernel}" != kernel ] || check "hub kernel ESP states are the shown pairs" kernel_is_show $HUB 30

pid=$(cat "$IKT_RUN/$SP.pid")
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
t0=$SECONDS
none() { [ -z "$(vas)" ] && [ "$(count_sas $HUB ipsec)" = 0 ]; }
check "kill -9 of the spoke process: DPD removes all $N Virtual-Access interfaces within 120 s" until_true 120 none
echo "    all gone $((SECONDS - t0)) s after the kill (DPD: 30 s idle + 5 x 5 s)"
check "no XFRM state or policy of a Virtual-Access left on the hub" eval \
    "until_true 10 eval '[ \"\$(xfrm_left)\" = \"0 states, 0 policies\" ]' || { echo \"    left: \$(xfrm_left)\"; ip -n $HUB xfrm policy | sed \"s/^/    | /\"; false; }"
# the hooks run one after the other: under the emulated CPU, $N of them take a while
check "the hook ran down once for each spoke (within 120 s)" until_true 120 eval "[ \"\$(hooks down)\" = $N ]"
suite_end
