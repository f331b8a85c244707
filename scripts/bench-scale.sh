#!/bin/bash
# bench-scale.sh - one hub, N tunnels (issue 14): ikev1d against ikev1d and against
# strongSwan, and strongSwan as the hub, in the same run on this machine.
#
#   sudo scripts/bench-scale.sh [N...] [--only ikev1d|ssw-spokes|ssw-hub|ssw-ssw] [--help]
#
# N defaults to "100 1000". Two namespaces joined by veth: the hub ($IKT_NS-bh,
# 2001:db8::1) and the spokes ($IKT_NS-bs, one address per tunnel: lib.sh's fan_addrs).
# Each row is one pairing:
#   ikev1d      hub ikev1d (Tunnel1..N), spokes one ikev1d holding N addresses
#               (Tunnel1..N), both on the userspace data path
#   ssw-spokes  the same ikev1d hub, the spokes one strongSwan charon with N swanctl
#               connections (one local address each, kernel-libipsec)
#   ssw-hub     a strongSwan charon as the hub (N connections), the ikev1d spokes
#   ssw-ssw     the same strongSwan hub, the strongSwan spokes of ssw-spokes
# Columns, all about the hub:
#   up s      from the spokes' start until the hub lists N IPsec SA pairs
#   spk s     of which the spoke side's own start: ikev1d until its control socket
#             answers (its TUN devices and IKE sockets made), strongSwan until swanctl
#             has loaded the N connections (their initiations begin during the load)
#   cpu s     the hub's user+system CPU seconds until then (/proc/PID/stat)
#   KiB/tun   (hub VmRSS with N pairs up - VmRSS of the same hub with 1 tunnel and no
#             peer) / N; the userspace data path's fixed per-worker packet buffers are
#             in both and cancel out (stated once below)
#   show s    `ikev1d show ipsec --json` (strongSwan: `swanctl --list-sas`), N entries
#   down s    SIGTERM until the hub process is gone (ikev1d: Deletes sent, tunnels
#             removed)
# The hub uses DH group 14 and aes256/sha256 in phase 1 and 2, as lib.sh's fan_conf.
# Release build (cargo build --release), or $IKEV1D_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,29s/^# \{0,1\}//p' "$0"; }
sizes=() only=
while [ $# -gt 0 ]; do
    case $1 in
        --help|-h) usage; exit 0 ;;
        --only) only=$2; shift ;;
        [0-9]*) sizes+=("$1") ;;
        *) echo "bench-scale.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1000)
[ "$(id -u)" = 0 ] || { echo "bench-scale.sh: needs root (namespaces, TUN)" >&2; exit 1; }
if [ -z "${IKEV1D_BIN:-}" ]; then
    cargo build --release --bins -q
    IKEV1D_BIN=$PWD/target/release/ikev1d
fi

# The userspace path holds one TUN queue (descriptor) a tunnel, one per core for the
# first 64 (docs/design.md, Scale); the spokes' N addresses share one wildcard pair of
# IKE sockets (src/daemon/ike_socket.rs): N is bounded by the descriptor limit (hard
# limit 20,000 here: about 19,800 tunnels on either side).
ulimit -n "$(ulimit -Hn)"

IKT_RUN=$(mktemp -d /tmp/ikt-bench-scale.XXXXXX)
IKT_BIN=$IKEV1D_BIN
. tests/lib.sh
CHARON=/usr/lib/ipsec/charon
trap 'set +eu; stop_all; ikt_cleanup; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$IKT_RUN"' EXIT
HUB=$IKT_NS-bh SPOKES=$IKT_NS-bs
CLK=$(getconf CLK_TCK)
PAGE_KIB=$(($(getconf PAGESIZE) / 1024))

# cpu_s PID: user+system CPU seconds so far
cpu_s() { awk -v t="$CLK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"; }
# rss_kib PID: resident set size
rss_kib() { awk -v p="$PAGE_KIB" '{ print $2 * p }' "/proc/$1/statm"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# pairs NS: IPsec SA pairs the ikev1d in NS lists ("?" while it does not answer)
pairs() { ip netns exec "$1" timeout 60 "$IKT_BIN" show ipsec --json --socket "$IKT_RUN/$1.sock" 2>/dev/null | jq length 2>/dev/null || echo "?"; }
# ssw_pairs NS: installed CHILD_SAs of the charon in NS
ssw_pairs() { swanctl --list-sas --raw --uri "unix://$IKT_RUN/ssw-$1/charon.vici" 2>/dev/null | grep -o 'state=INSTALLED' | wc -l; }

# wait_for SECONDS N CMD...: until CMD prints N (polled every 0.5 s)
wait_for() {
    local secs=$1 want=$2 t0=$SECONDS; shift 2
    while [ $((SECONDS - t0)) -lt "$secs" ]; do
        [ "$("$@")" = "$want" ] && return 0
        sleep 0.5
    done
    return 1
}

stop_pid() {
    local pid=$1 t0=$SECONDS
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - t0)) -lt 120 ]; do sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
}
declare -a CHARONS=()
stop_all() { local p; for p in "${CHARONS[@]}"; do stop_pid "$p"; done; CHARONS=(); }

# fresh_pair N: the two namespaces, the spokes holding N addresses
fresh_pair() {
    local n=$1 i
    ikt_cleanup
    routers "$HUB" 2001:db8::1 "$SPOKES" 2001:db8::a:1 64
    for ((i = 2; i <= n; i++)); do fan_addrs "$i" && echo "address add $FAN_OUTER/64 dev eth0 nodad"; done |
        ip -n "$SPOKES" -batch -
    # The hub reaches the spokes' addresses through one next hop, as a head-end reaches
    # branches through its upstream router: on the link each would be a neighbour
    # entry, and past the kernel's gc_thresh3 (1,024) the hub's sends fail with EINVAL
    # (every tunnel past about 1,020 then waits out MM2 timeouts: N = 3,000 took 125 s).
    ip -n "$SPOKES" addr add fe80::2/64 dev eth0 nodad
    ip -n "$HUB" route add 2001:db8::8:0/109 via fe80::2 dev eth0
}

# ikev1d_start NS CONF [ARG...]: pid in $IKT_RUN/NS.pid once its control socket answers
ikev1d_start() {
    local ns=$1 conf=$2
    shift 2
    ip netns exec "$ns" env RUST_LOG=ikev1d=info "$IKT_BIN" run --config "$conf" --dataplane userspace \
        --socket "$IKT_RUN/$ns.sock" "$@" >>"$IKT_RUN/$ns.log" 2>&1 &
    IKT_PIDS+=($!)
    echo $! >"$IKT_RUN/$ns.pid"
    until ip netns exec "$ns" "$IKT_BIN" show isakmp --json --socket "$IKT_RUN/$ns.sock" >/dev/null 2>&1; do
        kill -0 "$(cat "$IKT_RUN/$ns.pid")" 2>/dev/null || { tail "$IKT_RUN/$ns.log" >&2; return 1; }
        sleep 0.1
    done
}

# charon_start NS: a charon in NS (kernel-libipsec); pid in $IKT_RUN/ssw-NS/pid.
# kernel-libipsec routes each CHILD_SA's remote selector (::/0 here, as the VTI tunnels
# negotiate) into the TUN device through its own table (220), whatever install_routes
# says. With the rule for that table ahead of main (the default, priority 220), a hub's
# IKE packets to every spoke not yet up followed the first child's ::/0 route into
# libipsec and left as ESP to that first spoke: only 2..8 of N came up. The rule after
# main (routing_table_prio) keeps the underlay (the on-link 2001:db8::/64) on eth0, as a
# router's more specific underlay route would; only inner traffic uses table 220.
charon_start() {
    local ns=$1 dir=$IKT_RUN/ssw-$1 pid
    mkdir -p "$dir/run"
    cat >"$dir/strongswan.conf" <<-EOF
	charon {
	  load = random nonce openssl kernel-libipsec kernel-netlink socket-default vici
	  install_routes = no
	  routing_table_prio = 32800
	  retransmit_timeout = 4.0
	  plugins { vici { socket = unix://$dir/charon.vici } }
	  filelog { peer { path = $dir/charon.log
	    default = 0 } }
	  syslog { daemon { default = -1 } }
	}
	EOF
    # shellcheck disable=SC2016  # expanded by the inner sh
    setsid ip netns exec "$ns" sh -c \
        'mount --bind "$1/run" /run && STRONGSWAN_CONF="$1/strongswan.conf" exec "$2"' \
        sh "$dir" "$CHARON" </dev/null >"$dir/charon.out" 2>&1 &
    until swanctl --stats --uri "unix://$dir/charon.vici" >/dev/null 2>&1; do sleep 0.1; done
    pid=$(cat "$dir/run/charon.pid")
    CHARONS+=("$pid")
    echo "$pid" >"$dir/pid"
}

# swanctl_conf FILE N SIDE START: N IKEv1 connections as fan_conf's (SIDE hub: local
# 2001:db8::1, remote fan_addrs' I; SIDE spokes: the reverse); START: start_action
swanctl_conf() {
    local out=$1 n=$2 side=$3 start=$4 i l r
    {
        echo "connections {"
        for ((i = 1; i <= n; i++)); do
            fan_addrs "$i"
            if [ "$side" = hub ]; then l=2001:db8::1 r=$FAN_OUTER; else l=$FAN_OUTER r=2001:db8::1; fi
            cat <<-EOF
	  t$i { version = 1
	    local_addrs = $l
	    remote_addrs = $r
	    proposals = aes256-sha256-modp2048
	    local { auth = psk
	      id = $l }
	    remote { auth = psk
	      id = $r }
	    children { t$i { local_ts = ::/0
	      remote_ts = ::/0
	      esp_proposals = aes256-sha256
	      start_action = $start } } }
	EOF
        done
        echo "}"
        echo "secrets { ike-fan { secret = Fan-Key } }"
    } >"$out"
}

# charon_load NS FILE
charon_load() { swanctl --load-all --file "$2" --uri "unix://$IKT_RUN/ssw-$1/charon.vici" >"$IKT_RUN/ssw-$1/load.out" 2>&1; }

# empty_rss: the hub with one tunnel and no peer
empty_rss() {
    fresh_pair 1
    fan_conf "$IKT_RUN/empty.conf" 1 one
    ikev1d_start "$HUB" "$IKT_RUN/empty.conf" "${HUB_ARGS[@]}"
    sleep 1
    rss_kib "$(cat "$IKT_RUN/$HUB.pid")"
    # a command substitution's shell: its namespaces go with it
    ikt_cleanup
}

# The ikev1d hub answers only, as hubs of many spokes do (and as tests/scale.sh's): with
# both sides initiating on every tunnel, simultaneous negotiations collide.
HUB_ARGS=(--passive)

ROWS=()
FMT='%-11s %6s %8s %6s %8s %8s %8s %8s'
row() { ROWS+=("$(printf "$FMT   %s" "$@")"); printf "$FMT   %s\n" "$@"; }
header() { printf "$FMT\n" spokes N "up s" "spk s" "cpu s" KiB/tun "show s" "down s"; }

# hub_figures COUNT PID BASE_KIB N LIMIT T0: once COUNT (pairs or ssw_pairs) shows the
# hub's N pairs, or LIMIT s passed, sets the row's up (s since T0, or ">LIMIT") and note
# (how many came up), cpu (the hub's CPU s) and rss (its KiB per tunnel above BASE_KIB,
# the same hub with one tunnel: the fixed buffers cancel out)
hub_figures() {
    if wait_for "$5" "$4" "$1" "$HUB"; then up=$(since "$6"); else up=">$5"; note="only $("$1" "$HUB") up"; fi
    cpu=$(cpu_s "$2")
    rss=$(awk -v a="$(rss_kib "$2")" -v b="$3" -v n="$4" 'BEGIN { printf "%.1f", (a - b) / n }')
}

# An ikev1d hub against ikev1d or strongSwan spokes.
bench_ikev1d_hub() {
    local n=$1 spokes=$2 limit=$((60 + n / 5)) hub t0 up spk cpu rss show down note=
    fresh_pair "$n"
    fan_conf "$IKT_RUN/hub.conf" "$n" one
    ikev1d_start "$HUB" "$IKT_RUN/hub.conf" "${HUB_ARGS[@]}"
    hub=$(cat "$IKT_RUN/$HUB.pid")
    t0=$(now)
    if [ "$spokes" = ikev1d ]; then
        fan_conf "$IKT_RUN/spokes.conf" "$n" many
        ikev1d_start "$SPOKES" "$IKT_RUN/spokes.conf"
        spk=$(since "$t0")
    else
        charon_start "$SPOKES"
        swanctl_conf "$IKT_RUN/ssw-spokes.conf" "$n" spokes start
        charon_load "$SPOKES" "$IKT_RUN/ssw-spokes.conf"
        spk=$(since "$t0")
    fi
    hub_figures pairs "$hub" "$EMPTY_RSS" "$n" "$limit" "$t0"
    t0=$(now)
    ip netns exec "$HUB" "$IKT_BIN" show ipsec --json --socket "$IKT_RUN/$HUB.sock" >"$IKT_RUN/show.json"
    show=$(since "$t0")
    [ "$(jq length "$IKT_RUN/show.json")" = "$(pairs "$HUB")" ] || note="$note show --json invalid"
    t0=$(now)
    stop_pid "$hub"
    down=$(since "$t0")
    row "$spokes" "$n" "$up" "$spk" "$cpu" "$rss" "$show" "$down" "$note"
    stop_all
}

# A strongSwan hub against the ikev1d spokes (SPOKES ikev1d) or strongSwan spokes (ssw).
bench_ssw_hub() {
    local n=$1 spokes=$2 limit=$((60 + n / 5)) hub t0 up spk cpu rss show down note= base
    fresh_pair "$n"
    charon_start "$HUB"
    hub=$(cat "$IKT_RUN/ssw-$HUB/pid")
    swanctl_conf "$IKT_RUN/ssw-hub1.conf" 1 hub none
    charon_load "$HUB" "$IKT_RUN/ssw-hub1.conf"
    sleep 1
    base=$(rss_kib "$hub")
    swanctl_conf "$IKT_RUN/ssw-hub.conf" "$n" hub none
    charon_load "$HUB" "$IKT_RUN/ssw-hub.conf"
    t0=$(now)
    if [ "$spokes" = ikev1d ]; then
        fan_conf "$IKT_RUN/spokes.conf" "$n" many
        ikev1d_start "$SPOKES" "$IKT_RUN/spokes.conf"
    else
        charon_start "$SPOKES"
        swanctl_conf "$IKT_RUN/ssw-spokes.conf" "$n" spokes start
        charon_load "$SPOKES" "$IKT_RUN/ssw-spokes.conf"
    fi
    spk=$(since "$t0")
    hub_figures ssw_pairs "$hub" "$base" "$n" "$limit" "$t0"
    t0=$(now)
    swanctl --list-sas --uri "unix://$IKT_RUN/ssw-$HUB/charon.vici" >/dev/null 2>&1
    show=$(since "$t0")
    t0=$(now)
    stop_pid "$hub"
    down=$(since "$t0")
    row "$([ "$spokes" = ikev1d ] && echo ssw-hub || echo ssw-ssw)" "$n" "$up" "$spk" "$cpu" "$rss" "$show" "$down" "$note"
    stop_all
}

EMPTY_RSS=$(empty_rss)
echo "ikev1d: $IKT_BIN; hub with 1 tunnel and no peer: $EMPTY_RSS KiB RSS"
echo "(userspace data path buffers, in that figure and not per tunnel: see docs/design.md, Scale)"
header
# fits ROW N DEVICES: whether DEVICES userspace-path TUN devices fit the kernel's free
# memory; 128 KiB is counted per device. Measured: MemAvailable fell 130 MiB at most
# during the N=1000 row (2,000 devices, both daemons), now that a device past the 64th
# has one queue and no IFF_MULTI_QUEUE (its slab 57 KiB, 263 KiB with the flag) and the
# noqueue qdisc (link::no_queue; the default mq qdisc made it 3.5 MiB a device, and
# 2 x 10,000 devices ran this 24 GiB machine out of memory). Half of MemAvailable at most.
fits() {
    local avail
    avail=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
    [ $(($3 * 128)) -le $((avail / 2)) ] && return 0
    echo "$1 N=$2: skipped, $3 TUN devices need about $(($3 / 8)) MiB of kernel memory, $((avail / 1024)) MiB available" >&2
    return 1
}
for n in "${sizes[@]}"; do
    if [ -z "$only" ] || [ "$only" = ikev1d ]; then fits ikev1d "$n" $((2 * n)) && bench_ikev1d_hub "$n" ikev1d; fi
    if [ -z "$only" ] || [ "$only" = ssw-spokes ]; then fits ssw-spokes "$n" "$n" && bench_ikev1d_hub "$n" ssw-spokes; fi
    if [ -z "$only" ] || [ "$only" = ssw-hub ]; then fits ssw-hub "$n" "$n" && bench_ssw_hub "$n" ikev1d; fi
    # strongSwan spokes start all N at once: against this row the ssw-spokes row compares
    # the two hubs under the same unpaced load
    if [ -z "$only" ] || [ "$only" = ssw-ssw ]; then bench_ssw_hub "$n" ssw; fi
done
echo
echo "hub ikev1d for ikev1d/ssw-spokes, strongSwan $(dpkg-query -W -f='${Version}' strongswan-charon 2>/dev/null || true) for ssw-hub/ssw-ssw; machine: $(nproc) cores"
header
printf '%s\n' "${ROWS[@]}"
