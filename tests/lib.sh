# lib.sh - the one helper library of the network suites (tests/*.sh), of the scripts they
# run inside the VM (tests/vm/*.sh) and of scripts/demo.sh, soak.sh and bench-esp.sh.
# Sourced, not run, from the repository's top directory.
#
# A suite:
#     . tests/lib.sh
#     suite_begin netns-userspace        # fresh binaries, $IKT_RUN, cleanup on exit
#     routers "$IKT_NS-us-r2" 2001:db8::2 "$IKT_NS-us-r3" 2001:db8::3 64
#     start_ikev1d "$IKT_NS-us-r2" examples/r2.conf "$IKT_RUN/r2.log"
#     check "Tunnel23 up within 20 s" wait_sa "$IKT_NS-us-r2" 20
#     suite_end                          # "netns-userspace: 5 passed, 0 failed in 23 s"
#
# Names: every namespace is "$IKT_NS-..." (IKT_NS, default "ikt"), so two runs with
# different IKT_NS never collide: the same suite from two worktrees, or two suites at
# once (IKT_NS=ikt-h bash tests/stay-up.sh). Interfaces inside a namespace keep fixed
# names (eth0, Tunnel23): they live in that namespace only.
#
# Binaries: the dev profile's, the ones `cargo test` builds: $IKT_BIN (ikev1d) and
# $IKT_DRIVER (examples/dp_driver) under $CARGO_TARGET_DIR (default target/).
# suite_begin runs `cargo build --bins --examples` first, so a suite never tests a
# stale binary, unless IKT_BUILT=1 says that was just done (scripts/test.sh, and the
# host half of a VM suite for its guest half).
#
# On a failed check: the tail of every daemon log of the shell that ran it (start_ikev1d
# registers them, as does watch_log), and where everything is: $IKT_RUN (logs,
# configurations, sockets) is kept when a check failed and removed otherwise.
#
# Waits are on the clock (SECONDS), never by counting tries: under the VM's emulated CPU
# one try takes seconds.

IKT_NS=${IKT_NS:-ikt}
IKT_TARGET=$(realpath -m "${CARGO_TARGET_DIR:-target}")
IKT_BIN=${IKT_BIN:-$IKT_TARGET/debug/ikev1d}
IKT_DRIVER=${IKT_DRIVER:-$IKT_TARGET/debug/examples/dp_driver}
IKT_PIDS=()
IKT_NETNS=()
IKT_LOGS=()
IKT_ON_EXIT=()
IKT_PASSED=0
IKT_FAILED=0
IKT_SCENARIOS=()

# --- a suite's frame --------------------------------------------------------------

# ikt_build: ikev1d and the examples, fresh (a no-op when nothing changed)
ikt_build() {
    [ "${IKT_BUILT:-}" = 1 ] && return 0
    cargo build -q --bins --examples || return 1
    export IKT_BUILT=1
}

# suite_begin NAME: build, make $IKT_RUN, clean up on exit (suite_end's summary)
suite_begin() {
    IKT_SUITE=$1
    IKT_T0=$SECONDS
    ikt_build || { echo "FAIL $IKT_SUITE: cargo build failed"; exit 1; }
    IKT_RUN=$(mktemp -d "${TMPDIR:-/tmp}/$IKT_NS-$IKT_SUITE.XXXXXX")
    export IKT_RUN
    set -o errtrace
    trap 'IKT_LAST_ERR="line $LINENO: $BASH_COMMAND (exit $?)"' ERR
    trap 'suite_exit $?' EXIT
    trap 'IKT_LAST_ERR="a signal from outside (test.sh stops a suite after IKT_SUITE_TIMEOUT)"; exit 1' TERM INT HUP
}

# on_exit CMD...: run CMD when the suite (or the scenario) ends, before the daemons stop
on_exit() { IKT_ON_EXIT+=("$*"); }

# ikt_cleanup: run the on_exit commands, stop every process started, remove every
# namespace made (in this shell: a scenario cleans up its own)
ikt_cleanup() {
    local p ns c t0
    set +e
    for c in "${IKT_ON_EXIT[@]}"; do eval "$c" >/dev/null 2>&1; done
    for p in "${IKT_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${IKT_PIDS[@]}"; do
        t0=$SECONDS
        while kill -0 "$p" 2>/dev/null && [ $((SECONDS - t0)) -lt 5 ]; do sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    for ns in "${IKT_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    IKT_ON_EXIT=() IKT_PIDS=() IKT_NETNS=()
}

# suite_exit STATUS (the EXIT trap): clean up, summary, exit 1 if anything failed
suite_exit() {
    local rc=$1
    set +e
    trap - ERR
    trap '' TERM INT HUP
    stop_scenarios
    ikt_cleanup
    if [ "$rc" != 0 ] && [ "$IKT_FAILED" = 0 ]; then
        # set -e stopped the suite before a check could fail: say where
        echo "FAIL $IKT_SUITE: aborted (exit $rc) at ${IKT_LAST_ERR:-an unknown command}"
        IKT_FAILED=1
    fi
    echo "$IKT_SUITE${IKT_IN_VM:+ (in the VM)}: $IKT_PASSED passed, $IKT_FAILED failed in $((SECONDS - IKT_T0)) s"
    if [ "$IKT_FAILED" = 0 ]; then
        rm -rf "$IKT_RUN"
        exit 0
    fi
    [ -n "${IKT_IN_VM:-}" ] || echo "$IKT_SUITE: logs, configurations and sockets kept in $IKT_RUN"
    exit 1
}

# suite_end: the end of a suite's checks
suite_end() { exit 0; }

# need_cargo_deb: cargo-deb (tests/packaging.sh), one known version, compiled when
# missing (about 3 min of CPU: scripts/test.sh does it before the suites run, so that
# it does not take the CPU from a VM suite running beside them)
need_cargo_deb() { command -v cargo-deb >/dev/null || cargo install cargo-deb --version 3.8.0 --locked -q; }

# --- checks -----------------------------------------------------------------------

# check NAME CMD...: run CMD, print PASS NAME or FAIL NAME (and the log tails); checks
# that take a while say how long
check() {
    local name=$1 t0=$SECONDS took=; shift
    if "$@"; then
        [ $((SECONDS - t0)) -lt 2 ] || took=" ($((SECONDS - t0)) s)"
        echo "PASS $name$took"
        IKT_PASSED=$((IKT_PASSED + 1))
    else
        echo "FAIL $name ($((SECONDS - t0)) s)"
        IKT_FAILED=$((IKT_FAILED + 1))
        log_tails
    fi
}

# watch_log FILE...: show FILE's tail when a check fails (daemon logs are registered)
watch_log() { IKT_LOGS+=("$@"); }

# log_tails: the last lines of every watched log
log_tails() {
    local f
    for f in "${IKT_LOGS[@]}"; do
        echo "    --- $f (last ${IKT_TAIL:-15} lines)"
        tail -n "${IKT_TAIL:-15}" "$f" 2>/dev/null | sed 's/^/    | /'
    done
}

# --- namespaces and daemons ---------------------------------------------------------

# add_netns NS: a namespace with lo up, removed at exit; refuses one that exists (another
# run with the same IKT_NS, or leftovers)
add_netns() {
    if ! ip netns add "$1"; then
        echo "namespace $1 exists: another run with IKT_NS=$IKT_NS? (set IKT_NS to run beside it)" >&2
        return 1
    fi
    IKT_NETNS+=("$1")
    ip -n "$1" link set lo up
}

# routers NS_A ADDR_A NS_B ADDR_B PREFIXLEN: two namespaces joined by eth0<->eth0 (the
# seed's IOS configuration says `tunnel source eth0`)
routers() {
    local a=$1 aa=$2 b=$3 ba=$4 len=$5 ns addr dad=
    add_netns "$a" && add_netns "$b" || return 1
    ip link add eth0 netns "$a" type veth peer name eth0 netns "$b"
    [[ $aa != *:* ]] || dad=nodad
    for ns in "$a" "$b"; do
        [ "$ns" = "$a" ] && addr=$aa || addr=$ba
        ip -n "$ns" addr add "$addr/$len" dev eth0 $dad
        ip -n "$ns" link set eth0 up
    done
}

# start_ikev1d NS CONFIG LOG [ARGS...]: the daemon in NS, socket $IKT_RUN/NS.sock, pid in
# $IKT_RUN/NS.pid; LOG is watched
start_ikev1d() {
    local ns=$1 conf=$2 log=$3; shift 3
    ip netns exec "$ns" env RUST_LOG="${RUST_LOG:-ikev1d=debug}" "$IKT_BIN" run --config "$conf" \
        --socket "$IKT_RUN/$ns.sock" "$@" >"$log" 2>&1 &
    IKT_PIDS+=($!)
    echo $! >"$IKT_RUN/$ns.pid"
    watch_log "$log"
}

# show NS isakmp|ipsec [--json]: bounded, so that a hung daemon fails a check instead of
# hanging the suite
show() {
    local ns=$1; shift
    ip netns exec "$ns" timeout 5 "$IKT_BIN" show "$@" --socket "$IKT_RUN/$ns.sock"
}

# json_field NS ipsec|isakmp JQ-FILTER: the filter applied to `show ... --json`
json_field() { show "$1" "$2" --json | jq -r "$3"; }

# count_sas NS isakmp|ipsec: how many SAs `show ... --json` lists ("?": no answer)
count_sas() {
    local out
    out=$(show "$1" "$2" --json 2>/dev/null) || { echo "?"; return; }
    jq length <<<"$out"
}

# until_true SECONDS CMD...: CMD succeeds within SECONDS (tried every 0.25 s)
until_true() {
    local t0=$SECONDS secs=$1; shift
    while :; do
        "$@" && return 0
        [ $((SECONDS - t0)) -lt "$secs" ] || return 1
        sleep 0.25
    done
}

# wait_sa NS SECONDS: until `show ipsec` lists an SA pair
wait_sa() { until_true "$2" has_sa "$1"; }
has_sa() { [ "$(count_sas "$1" ipsec)" -gt 0 ] 2>/dev/null; }

# wait_pairs NS N SECONDS: until `show ipsec` lists N SA pairs
wait_pairs() { until_true "$3" pairs_are "$1" "$2"; }
pairs_are() { [ "$(count_sas "$1" ipsec)" = "$2" ]; }

# sa_counts NS: "<ISAKMP SAs> <IPsec SA pairs>"
sa_counts() { echo "$(count_sas "$1" isakmp) $(count_sas "$1" ipsec)"; }

# wait_counts NS "P1 P2" SECONDS: until sa_counts NS is exactly "P1 P2"
wait_counts() {
    until_true "$3" counts_are "$1" "$2" && return 0
    echo "    $1 holds $(sa_counts "$1") (ISAKMP SAs, IPsec SA pairs), expected $2"
    return 1
}
counts_are() { [ "$(sa_counts "$1")" = "$2" ]; }

# listening NS SECONDS: the daemon in NS answers on its control socket
listening() { until_true "$2" answers "$1"; }
answers() { show "$1" isakmp >/dev/null 2>&1; }

# outbound_spi NS: the outbound SPI of the first pair `show ipsec` lists (empty: none)
outbound_spi() { json_field "$1" ipsec '.[0].outbound.spi // empty' 2>/dev/null; }

# new_sa_within NS OLD_SPI SECONDS: until NS sends on another SA than OLD_SPI (after a
# peer's restart: the tunnel is back on SAs negotiated anew); says how long it took
new_sa_within() {
    local ns=$1 old=$2 t0=$SECONDS spi
    while [ $((SECONDS - t0)) -lt "$3" ]; do
        spi=$(outbound_spi "$ns")
        if [ -n "$spi" ] && [ "$spi" != "$old" ]; then
            echo "    new SA pair (outbound spi $old -> $spi) after $((SECONDS - t0)) s"
            return 0
        fi
        sleep 0.25
    done
    echo "    still outbound spi ${spi:-none} after $3 s"
    return 1
}

# pings NS TARGET N: N of N echoes answered (-i 0.1); shows ping's summary line
pings() {
    local out
    out=$(ip netns exec "$1" ping -n -q -c "$3" -i 0.1 -W 2 "$2" 2>&1) || true
    echo "    ping $2: $(grep 'packets transmitted' <<<"$out")"
    [[ $out =~ (^|$'\n')$3\ packets\ transmitted,\ $3\ received ]]
}

# logged REGEX SECONDS LOG...: within SECONDS a WARN or ERROR line of one of the LOGs
# matches REGEX (extended); it is shown, or else what the logs do say
logged() {
    local re=$1 secs=$2 t0=$SECONDS f line=; shift 2
    while :; do
        for f in "$@"; do
            line=$(grep -E "^[^ ]+ +(WARN|ERROR) .*$re" "$f" 2>/dev/null | head -n 1) || true
            [ -z "$line" ] || { echo "    ${f##*/}: $(cut -d' ' -f2- <<<"$line")"; return 0; }
        done
        [ $((SECONDS - t0)) -lt "$secs" ] || break
        sleep 0.25
    done
    echo "    no WARN/ERROR line matches /$re/; what they say:"
    for f in "$@"; do
        grep -hE '^[^ ]+ +(WARN|ERROR) ' "$f" 2>/dev/null | sort -u -k2 | head -n 5 | sed "s|^|    ${f##*/}: |"
    done
    return 1
}

# count LOG REGEX: lines of LOG matching REGEX (extended)
count() { grep -cE "$2" "$1" 2>/dev/null || true; }

# --- configuration variants of the seed ---------------------------------------------

# variant SRC OUT SED-SCRIPT...: OUT is SRC edited by sed (e.g. one line changed); the
# edit must change something, so that a typo in a test cannot silently test the seed
variant() {
    local src=$1 out=$2 args=() e; shift 2
    for e in "$@"; do args+=(-e "$e"); done
    sed "${args[@]}" "$src" >"$out"
    if cmp -s "$src" "$out"; then
        echo "variant: sed $* did not change $src" >&2
        return 1
    fi
}

# short_lifetimes SRC OUT P2_S P1_S [SED-SCRIPT...]: the seed with `lifetime P1_S` in
# isakmp policy 10 and `set security-association lifetime seconds P2_S` in the profile
short_lifetimes() {
    local src=$1 out=$2 p2=$3 p1=$4; shift 4
    variant "$src" "$out" \
        "/^ *authentication pre-share/a lifetime $p1" \
        "/^ *set transform-set TRA/a set security-association lifetime seconds $p2" "$@"
}

# dpd_line S R: a sed script for variant: `crypto isakmp keepalive S R` after the key
dpd_line() { echo "/^crypto isakmp key/a crypto isakmp keepalive $1 $2"; }

# --- long pings and rekeys ----------------------------------------------------------

# ping_bg NS TARGET COUNT OUT: COUNT pings every 0.1 s (or $PING_INTERVAL) in the
# background (pid in PING_PID), summary to OUT. A loaded machine sends them slower than
# asked: the deadline is twice the time they should take (plus 15 s).
ping_bg() {
    local iv=${PING_INTERVAL:-0.1}
    ip netns exec "$1" ping -n -q -i "$iv" -c "$3" -w "$(awk "BEGIN {print int($3 * $iv * 2 + 15)}")" \
        -W 2 "$2" >"$4" 2>&1 &
    PING_PID=$!
    IKT_PIDS+=("$PING_PID")
}

# lossless OUT MIN: every echo the ping in OUT sent was answered, and it sent at least
# MIN. Loss is sent != received only: how many a loaded machine manages to send in the
# time (ping paces itself by the clock, -i is a minimum) says nothing about the tunnel.
lossless() {
    local line
    line=$(grep 'packets transmitted' "$1" || true)
    echo "    ping: ${line:-no summary: $(tail -n 2 "$1" | tr '\n' ' ')}"
    [[ $line =~ ^([0-9]+)\ packets\ transmitted,\ ([0-9]+)\ received ]] || return 1
    [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] || return 1
    [ "${BASH_REMATCH[1]}" -ge "$2" ] || { echo "    fewer than $2 sent"; return 1; }
}

# stay_params: the rekey scenarios' duration and lifetimes (STAY_RUN_S 100, STAY_P2_S 30,
# STAY_P1_S 60), the pings over that time (COUNT at -i 0.1; at least MIN_SENT, one a
# second, must go out) and the rekeys it must see (one every P2_S, soft expiry comes
# earlier)
stay_params() {
    RUN_S=${STAY_RUN_S:-100} P2_S=${STAY_P2_S:-30} P1_S=${STAY_P1_S:-60}
    COUNT=$((RUN_S * 10)) MIN_SENT=$RUN_S
    P2_REKEYS=$((RUN_S / P2_S)) P1_REKEYS=$((RUN_S / P1_S))
}

# rekeys TAG LOG: the counts of SAs LOG saw come up, as checks (stay_params)
rekeys() {
    local tag=$1 log=$2 p2 p1
    p2=$(spis_in "$log") p1=$(phase1_ups "$log")
    echo "    $tag: $p2 IPsec SA pairs (inbound SPIs), $p1 ISAKMP SAs came up"
    check "$tag: >= $P2_REKEYS phase 2 rekeys in $RUN_S s" test "$p2" -ge $((P2_REKEYS + 1))
    check "$tag: >= $P1_REKEYS phase 1 rekey(s) in $RUN_S s" test "$p1" -ge $((P1_REKEYS + 1))
}

# spis_in LOG: distinct inbound SPIs of the IPsec SAs LOG says came up
spis_in() { grep -oE 'IPsec SA up on [^ ]+ with [^ ]+: inbound spi 0x[0-9A-Fa-f]+' "$1" | awk '{print $NF}' | sort -u | wc -l; }

# phase1_ups LOG: ISAKMP SAs LOG says came up
phase1_ups() { count "$1" 'ISAKMP SA [0-9]+ with .* is up'; }

# --- scenarios run concurrently, each in a background subshell with its own namespaces
# and daemons, output in $IKT_RUN/NAME.out, shown when it ends

# scenario NAME FUNC [ARGS...]: run FUNC in the background (with STAY_TRACE=1 traced on
# stderr as it runs: for a scenario that hangs)
scenario() {
    local name=$1; shift
    exec 9>&2
    (
        IKT_PIDS=() IKT_NETNS=() IKT_LOGS=() IKT_ON_EXIT=() IKT_PASSED=0 IKT_FAILED=0
        trap 'exit 1' TERM INT HUP
        # a TERM must not cut the cleanup short
        trap 'trap "" TERM INT HUP; ikt_cleanup; echo "$IKT_PASSED $IKT_FAILED" >"$IKT_RUN/'"$name"'.counts"' EXIT
        if [ "${STAY_TRACE:-}" = 1 ]; then
            PS4="+ $name: " BASH_XTRACEFD=9
            set -x
        fi
        "$@"
        [ "$IKT_FAILED" = 0 ]
    ) >"$IKT_RUN/$name.out" 2>&1 &
    IKT_SCENARIOS+=("$name:$!")
}

# wait_scenarios [SECONDS]: wait for every scenario (at most SECONDS, default 300: then
# the rest are stopped and fail), show its output, count its checks
wait_scenarios() {
    local e name pid rc p f deadline=$((SECONDS + ${1:-300}))
    for e in "${IKT_SCENARIOS[@]}"; do
        name=${e%%:*} pid=${e#*:}
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
        rc=0
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            pkill -TERM -P "$pid" 2>/dev/null
            echo "FAIL $name: scenario still running after ${1:-300} s; stopped" >>"$IKT_RUN/$name.out"
        fi
        wait "$pid" 2>/dev/null || rc=$?
        p=0 f=0
        [ ! -f "$IKT_RUN/$name.counts" ] || read -r p f <"$IKT_RUN/$name.counts"
        if [ "$rc" != 0 ] && ! grep -q '^FAIL' "$IKT_RUN/$name.out"; then
            # e.g. its namespaces exist already: say so even if no check ran
            echo "FAIL $name: scenario aborted (exit $rc) before its checks" >>"$IKT_RUN/$name.out"
        fi
        [ "$rc" = 0 ] || [ "$f" -gt 0 ] || f=1
        IKT_PASSED=$((IKT_PASSED + p)) IKT_FAILED=$((IKT_FAILED + f))
        cat "$IKT_RUN/$name.out"
    done
    IKT_SCENARIOS=()
}

# stop_scenarios: TERM every scenario still running and wait for its cleanup
stop_scenarios() {
    local e
    for e in "${IKT_SCENARIOS[@]}"; do kill -TERM "${e#*:}" 2>/dev/null; done
    # the shell acts on TERM once its command in the foreground ends: end that too
    for e in "${IKT_SCENARIOS[@]}"; do pkill -TERM -P "${e#*:}" 2>/dev/null; done
    for e in "${IKT_SCENARIOS[@]}"; do wait "${e#*:}" 2>/dev/null; done
    IKT_SCENARIOS=()
}

# serially ... serial_end: what a scenario does between them, it does while no other
# scenario of the suite is between its own (under the VM's emulated CPU, handshakes at
# once would each take the time of all, and their time limits would say nothing)
serially() {
    exec {IKT_SERIAL_FD}>>"$IKT_RUN/serially.lock"
    flock "$IKT_SERIAL_FD"
}
serial_end() {
    flock -u "$IKT_SERIAL_FD"
    exec {IKT_SERIAL_FD}>&-
}

# --- examples/dp_driver: a data path with fixed SAs and no IKE ----------------------
declare -A IKT_DP_FD=() IKT_DP_PID=()

# dp_start ID NS ARGS...: dp_driver ARGS in NS, commands from a fifo this shell keeps
# open, replies in $IKT_RUN/ID.dp; waits for READY (up to 60 s: under the VM's emulated
# CPU the first one loads esp6, xfrm_interface, ...)
dp_start() {
    local id=$1 ns=$2 fifo=$IKT_RUN/$1.fifo out=$IKT_RUN/$1.dp fd t0=$SECONDS; shift 2
    rm -f "$fifo" "$out"
    mkfifo "$fifo"
    ip netns exec "$ns" "$IKT_DRIVER" "$@" <"$fifo" >"$out" 2>&1 &
    IKT_PIDS+=($!)
    IKT_DP_PID[$id]=$!
    exec {fd}>"$fifo"
    IKT_DP_FD[$id]=$fd
    while [ $((SECONDS - t0)) -lt 60 ]; do
        grep -q READY "$out" 2>/dev/null && return 0
        kill -0 "${IKT_DP_PID[$id]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "    dp_driver $id in $ns did not get READY:"
    sed 's/^/    | /' "$out"
    return 1
}

# dp_counters ID: the driver's SA counters, one JSON object {inbound, outbound}
dp_counters() {
    local out=$IKT_RUN/$1.dp n t0=$SECONDS
    n=$(grep -c '^{' "$out")
    echo counters >&"${IKT_DP_FD[$1]}"
    while [ $((SECONDS - t0)) -lt 10 ]; do
        [ "$(grep -c '^{' "$out")" -gt "$n" ] && { grep '^{' "$out" | tail -n 1; return 0; }
        sleep 0.05
    done
    return 1
}

# dp_stop ID: the driver quits (removing what it made), exit status 0 within 30 s
dp_stop() {
    local id=$1 pid=${IKT_DP_PID[$1]} fd=${IKT_DP_FD[$1]} rc=0 t0=$SECONDS
    echo quit >&"$fd" 2>/dev/null
    exec {fd}>&-
    while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - t0)) -lt 30 ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null && echo "    dp_driver $id did not exit after quit"
    wait "$pid" || rc=$?
    unset "IKT_DP_PID[$id]" "IKT_DP_FD[$id]"
    [ $rc = 0 ] || { echo "    dp_driver $id exited $rc:"; sed 's/^/    | /' "$IKT_RUN/$id.dp"; }
    return $rc
}

# --- the VM ------------------------------------------------------------------------

# in_vm SCRIPT [ARGS...]: SCRIPT (tests/vm/*.sh, a suite of its own) inside a VM that
# boots a stock Debian kernel (scripts/run-in-vm.sh); its output is shown as it comes,
# its checks count as this suite's
in_vm() {
    local out=$IKT_RUN/vm-${1##*/}.out rc p=0 f=0
    if ! command -v qemu-system-x86_64 >/dev/null; then
        check "qemu-system-x86_64 installed (scripts/test.sh installs qemu-system-x86)" false
        return
    fi
    # `|| rc=$?`: a failed VM half must not stop this suite (set -e) before its counts
    { rc=0; IKT_IN_VM=1 VM_MEM=${VM_MEM:-1G} scripts/run-in-vm.sh /bin/bash "$@" || rc=$?; echo $rc >"$out.rc"; } | tee "$out"
    rc=$(cat "$out.rc")
    # no summary line (the VM died or timed out): read fails, and must not stop the suite
    read -r p f < <(sed -nE 's/^[^ ]+ \(in the VM\): ([0-9]+) passed, ([0-9]+) failed in .*/\1 \2/p' "$out" | tail -n 1) || true
    IKT_PASSED=$((IKT_PASSED + ${p:-0})) IKT_FAILED=$((IKT_FAILED + ${f:-0}))
    if [ -z "$f" ] || { [ "$rc" != 0 ] && [ "$f" = 0 ]; }; then
        echo "FAIL VM: $1 exited $rc with no failed check${f:- and no summary} (run-in-vm: 124 timed out, 125 the VM failed)"
        IKT_FAILED=$((IKT_FAILED + 1))
    fi
}

# --- many tunnels between one address and many (tests/multi-tunnel.sh, tests/vm/multi-tunnel.sh)

# fan_addrs I: tunnel I's spoke address in $FAN_OUTER, 2001:db8::a:I, and its inside
# prefix in $FAN_INNER, 2001:db8:1:I:: (I in decimal digits, read as a hex group); from
# I = 10,000 on, the next group up (10,000 -> 2001:db8::b:0 and 2001:db8:2:0::), still
# in 2001:db8::/64. Variables, not output: no subshell per tunnel at N = 10,000.
fan_addrs() {
    printf -v FAN_OUTER '2001:db8::%x:%d' $((0xa + $1 / 10000)) $(($1 % 10000))
    printf -v FAN_INNER '2001:db8:%d:%d::' $((1 + $1 / 10000)) $(($1 % 10000))
}

# fan_conf OUT N SIDE: the IOS configuration of Tunnel1..N between one address,
# 2001:db8::1 (SIDE one), and N addresses (fan_addrs) (SIDE many, `tunnel source` the
# tunnel's own address: a branch with an uplink per tunnel); inside, ${FAN_INNER}1
# (one) and ${FAN_INNER}2 (many). $FAN_GROUP: the DH group (14)
fan_conf() {
    local out=$1 n=$2 side=$3 i src dst me
    {
        echo "crypto isakmp policy 10"; echo " encr aes 256"; echo " hash sha256"
        echo " authentication pre-share"; echo " group ${FAN_GROUP:-14}"
        echo "crypto isakmp key Fan-Key address ipv6 2001:db8::/64"
        echo "crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac"
        echo "crypto ipsec profile VTI"; echo " set transform-set TS"
        for ((i = 1; i <= n; i++)); do
            fan_addrs "$i"
            if [ "$side" = one ]; then src=eth0 dst=$FAN_OUTER me=1
            else src=$FAN_OUTER dst=2001:db8::1 me=2; fi
            echo "interface Tunnel$i"; echo " ipv6 address $FAN_INNER$me/64"
            echo " tunnel source $src"; echo " tunnel mode ipsec ipv6"
            echo " tunnel destination $dst"; echo " tunnel protection ipsec profile VTI"
        done
    } >"$out"
    chmod 600 "$out"
}

# fan_pings NS N ME: from NS, every tunnel's far end (${FAN_INNER}ME) answers 2 of 2
# (all tunnels at once)
fan_pings() {
    local ns=$1 n=$2 me=$3 i pids=() failed=()
    for ((i = 1; i <= n; i++)); do
        fan_addrs "$i"
        ip netns exec "$ns" ping -n -q -c 2 -i 0.2 -W 5 "$FAN_INNER$me" >/dev/null 2>&1 &
        pids+=($!)
    done
    for ((i = 1; i <= n; i++)); do wait "${pids[i - 1]}" || failed+=("Tunnel$i"); done
    echo "    $ns: $((n - ${#failed[@]})) of $n tunnels answer 2/2${failed:+; not: ${failed[*]}}"
    [ ${#failed[@]} = 0 ]
}

# only_duplicates_down LOG...: every IPsec SA pair that went down in LOG was a duplicate
# of a simultaneous negotiation (no tunnel lost its pair); says how many. Where one end
# took the other's colliding Quick Mode for a replacement (it arrived after its own
# completed), that end logs the pair the peer dropped as replaced by the newer one.
only_duplicates_down() {
    local f down others dup='duplicate from a simultaneous negotiation|replaced by a newer SA'
    for f; do
        down=$(count "$f" 'IPsec SA down on')
        others=$(grep 'IPsec SA down on' "$f" | grep -Evc "$dup" || true)
        echo "    ${f##*/}: $down pairs down, $others of them not duplicates"
        [ "$others" = 0 ] || { grep 'IPsec SA down on' "$f" | grep -Ev "$dup" | head -n 3 | sed 's/^/    | /'; return 1; }
    done
}

# each_tunnel_once LOG N REASON: LOG has one "IPsec SA down on TunnelI ...: REASON" for
# each of Tunnel1..N, and no other with REASON. A pair the traffic had left (e.g. the
# loser of a Quick Mode collision at setup, "deleting inbound spi S", still in its grace
# period) is logged with the reason it was left for, not REASON; a loser named in the
# log is not counted either way: REASON names each tunnel's pair in use.
each_tunnel_once() {
    local lines distinct lost
    lost=$(grep -oE 'Quick Mode collision: .*deleting inbound spi 0x[0-9A-F]+' "$1" |
        sed -E 's/.* (0x[0-9A-F]+)$/inbound spi \1,/' || true)
    lines=$(grep -E "IPsec SA down on Tunnel[0-9]+ .*: $3( |$)" "$1" |
        { [ -n "$lost" ] && grep -vF -f <(printf '%s\n' "$lost") || cat; } |
        grep -oE 'on Tunnel[0-9]+ ' || true)
    distinct=$(sort -u <<<"$lines" | grep -c . || true)
    echo "    ${1##*/}: $(grep -c . <<<"$lines" || true) pairs down ($3), $distinct tunnels"
    [ "$distinct" = "$2" ] && [ "$(grep -c . <<<"$lines")" = "$2" ]
}

# fan TAG N FIRST [ARGS...]: Tunnel1..N between one address ($IKT_NS-TAG-one) and N
# addresses ($IKT_NS-TAG-many); FIRST (one|many) starts first, the other once the first
# listens; ARGS go to both daemons. Every tunnel comes up and passes a ping, no tunnel's
# pair goes down on the way; then the many side is killed (-9) and restarted: every
# tunnel is back, the one side having cleared each tunnel's old SAs on that tunnel's
# own INITIAL-CONTACT, N ISAKMP SAs and N pairs on each side. With $FAN_KERNEL=1 the
# kernel's ESP states are exactly the pairs `show ipsec` lists, on both sides.
fan() {
    local tag=$1 n=$2 first=$3; shift 3
    local one=$IKT_NS-$tag-one many=$IKT_NS-$tag-many i second t0 limit=$((30 + n * ${FAN_S_PER_TUNNEL:-1}))
    routers "$one" 2001:db8::1 "$many" 2001:db8::a:1 64 || return 1
    for ((i = 2; i <= n; i++)); do fan_addrs "$i" && ip -n "$many" addr add "$FAN_OUTER/64" dev eth0 nodad; done
    fan_conf "$IKT_RUN/$tag-one.conf" "$n" one
    fan_conf "$IKT_RUN/$tag-many.conf" "$n" many
    second=$([ "$first" = one ] && echo many || echo one)
    t0=$SECONDS
    start_ikev1d "$IKT_NS-$tag-$first" "$IKT_RUN/$tag-$first.conf" "$IKT_RUN/$tag-$first.log" "$@"
    listening "$IKT_NS-$tag-$first" 60 || true
    start_ikev1d "$IKT_NS-$tag-$second" "$IKT_RUN/$tag-$second.conf" "$IKT_RUN/$tag-$second.log" "$@"
    check "$tag: $n tunnels up, $n ISAKMP SAs and $n pairs on each side within $limit s" \
        eval "wait_counts $one '$n $n' $limit && wait_counts $many '$n $n' 10"
    echo "    $tag: up after $((SECONDS - t0)) s ($first started first)"
    check "$tag: every tunnel passes a ping" fan_pings "$many" "$n" 1
    local socks=$((n > 16 ? 2 : 2 * n))
    check "$tag: the many side serves its $n addresses with $socks IKE sockets, one receive thread" \
        ike_sockets_are "$many" "$socks"
    check "$tag: no Main Mode of a tunnel was refused or dropped for another" \
        eval "none_refused $one && none_refused $many"
    check "$tag: no tunnel's SA pair went down during setup" \
        only_duplicates_down "$IKT_RUN/$tag-one.log" "$IKT_RUN/$tag-many.log"
    [ "${FAN_KERNEL:-}" != 1 ] || check "$tag: kernel ESP states are the shown pairs" \
        eval "kernel_is_show $one 30 && kernel_is_show $many 10"

    local pid
    pid=$(cat "$IKT_RUN/$many.pid")
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    t0=$SECONDS
    start_ikev1d "$many" "$IKT_RUN/$tag-many.conf" "$IKT_RUN/$tag-many2.log" "$@"
    check "$tag: after kill -9 and restart of the many side, $n ISAKMP SAs and $n pairs on each side within $limit s" \
        eval "wait_counts $many '$n $n' $limit && wait_counts $one '$n $n' 10"
    echo "    $tag: back after $((SECONDS - t0)) s"
    check "$tag: after the restart every tunnel passes a ping" fan_pings "$many" "$n" 1
    check "$tag: each INITIAL-CONTACT cleared its own tunnel's old pair, once" \
        each_tunnel_once "$IKT_RUN/$tag-one.log" "$n" "peer sent INITIAL-CONTACT"
    [ "${FAN_KERNEL:-}" != 1 ] || check "$tag: after the restart, kernel ESP states are the shown pairs" \
        eval "kernel_is_show $one 30 && kernel_is_show $many 10"
}

# ike_sockets_are NS WANT: the daemon in NS holds WANT UDP sockets on 500/4500 and
# reads them all with one thread (ike-rx): two per local address up to 16 addresses of
# a family, a family's wildcard pair above (src/daemon/ike_socket.rs)
ike_sockets_are() {
    local pid socks readers
    pid=$(cat "$IKT_RUN/$1.pid")
    socks=$(ip netns exec "$1" ss -Huan '( sport = :500 or sport = :4500 )' | wc -l)
    readers=$(cat /proc/"$pid"/task/*/comm | grep -c '^ike-rx')
    echo "    $1: $socks IKE sockets ($(ip netns exec "$1" ss -Huan '( sport = :500 or sport = :4500 )' |
        awk '{print $4}' | sort -u | head -3 | tr '\n' ' ')...), $readers receive thread"
    [ "$socks" = "$2" ] && [ "$readers" = 1 ]
}

# none_refused NS: admission control turned no MM1 away in NS (no per-peer refusal,
# no embryonic SA dropped to make room)
none_refused() {
    local n
    n=$(show "$1" admission --json | jq '.incoming_rejected + .evicted_embryonic')
    [ "$n" = 0 ] && return 0
    echo "    $1: $n MM1s refused or dropped by admission control"
    show "$1" admission | sed 's/^/    | /'
    return 1
}

# kernel_is_show NS SECONDS: until the kernel's ESP states are exactly the SA pairs
# `show ipsec` lists (same SPIs, nothing else: no state left from before). SPI 0 is
# left out: that is the larval state the kernel itself makes while an ACQUIRE is
# pending (a router solicitation into a VTI whose SAs DPD just removed makes one), not
# an SA anybody installed, and it expires on its own.
kernel_is_show() {
    local ns=$1 t0=$SECONDS kernel shown
    while [ $((SECONDS - t0)) -lt "$2" ]; do
        kernel=$(for h in $(ip -n "$ns" xfrm state | grep -oE 'spi 0x[0-9a-f]+' | cut -d' ' -f2); do
            [ $((h)) -eq 0 ] || printf '%d\n' "$h"; done | sort | tr '\n' ' ')
        shown=$(json_field "$ns" ipsec '.[] | .inbound.spi, .outbound.spi' 2>/dev/null | sort | tr '\n' ' ')
        [ "$kernel" = "$shown" ] && return 0
        sleep 0.5
    done
    echo "    $ns: kernel ESP SPIs: ${kernel:-none}; show ipsec: ${shown:-none}"
    ip -n "$ns" xfrm state | sed 's/^/    | /' | head -n 20
    return 1
}
